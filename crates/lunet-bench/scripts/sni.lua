-- lunet bench, filter `sni`: the logic of examples/xdp-sni-blocklist.lua (drop IPv4 TCP
-- segments to port 443 that carry a TLS ClientHello whose server name is listed, or is a
-- subdomain of a listed name; walk the extensions with a bounded loop to find server_name)
-- written for an `skb` in the Lua tier, attached where the iptables-raw method's rule sits:
-- IPv4 PRE_ROUTING at priority RAW. The hook sees the packet from its IP header (the network
-- layer), so every offset is the example's minus 14, and the EtherType test is the hook's
-- protocol family.
--
-- A copy, not the example adapted: no example has this filter at netfilter, and the XDP
-- example reads a whole frame and returns XDP verdicts, so every read and every verdict of
-- it would change. Keep the two in step: the bench's tests run both on the same frames
-- (crates/lunet-bench/src/scripts.rs, sni_script_decides_like_the_xdp_example).

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux").nf

local blocked = {
  ["blocked.example"] = true,
  ["ads.test"] = true,
  ["tracker.invalid"] = true,
}

local function u16(skb, off)
  return byteorder.ntoh16(skb:getuint16(off))
end

-- The offset and length of the host name in the ClientHello handshake at `hs`, or nil.
local function server_name(skb, hs, stop)
  local off = hs + 4 + 2 + 32                -- type, length, version, random
  off = off + 1 + skb:getuint8(off)          -- session id
  off = off + 2 + u16(skb, off)              -- cipher suites
  off = off + 1 + skb:getuint8(off)          -- compression methods
  local ext_end = off + 2 + u16(skb, off)
  if ext_end > stop then ext_end = stop end
  off = off + 2
  while off + 4 <= ext_end do
    local kind = u16(skb, off)
    if kind == 0 then
      -- server_name_list: list length (2), name type (1; 0 = host_name), name length (2), name
      if skb:getuint8(off + 6) ~= 0 then return nil end
      return off + 9, u16(skb, off + 7)
    end
    off = off + 4 + u16(skb, off + 2)
  end
  return nil
end

local function filter(skb)
  if skb:getuint8(9) ~= 6 then return nf.action.ACCEPT end
  local tcp = (skb:getuint8(0) & 0x0f) * 4
  if u16(skb, tcp + 2) ~= 443 then return nf.action.ACCEPT end
  local tls = tcp + (skb:getuint8(tcp + 12) >> 4) * 4
  if #skb < tls + 6 then return nf.action.ACCEPT end
  if skb:getuint8(tls) ~= 22 or skb:getuint8(tls + 5) ~= 1 then return nf.action.ACCEPT end
  local off, len = server_name(skb, tls + 5, tls + 5 + u16(skb, tls + 3))
  if not off then return nf.action.ACCEPT end
  -- The name and each of its parent domains: "www.blocked.example", "blocked.example", ...
  local i = 0
  while i < len and i < 256 do
    if i == 0 or skb:getuint8(off + i - 1) == 0x2e then -- at the start, or after a '.'
      if blocked[skb:getstring(off + i, len - i)] then
        return nf.action.DROP
      end
    end
    i = i + 1
  end
  return nf.action.ACCEPT
end

netfilter.register{
  name = "bench-sni",
  hook = filter,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.PRE_ROUTING,
  priority = nf.ip.pri.RAW,
}
