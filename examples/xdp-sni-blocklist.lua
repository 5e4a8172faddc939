-- TLS SNI blocklist at XDP, compiled to eBPF: drops IPv4 TCP segments to port 443 that carry
-- a TLS ClientHello whose server name is listed, or is a subdomain of a listed name. The hook
-- walks the ClientHello's extensions with a bounded loop to find server_name (type 0).
--
--   lunet check examples/xdp-sni-blocklist.lua --emit asm
--   sudo lunet run examples/xdp-sni-blocklist.lua --dev eth0

local xdp = require("xdp")
local byteorder = require("byteorder")

---@type table<string, boolean>
local blocked = {
  ["blocked.example"] = true,
  ["ads.test"] = true,
  ["tracker.invalid"] = true,
}

---@param packet lunet.data
---@param off integer
local function u16(packet, off)
  return byteorder.ntoh16(packet:getuint16(off))
end

-- The offset and length of the host name in the ClientHello handshake at `hs`, or nil.
---@param packet lunet.data
---@param hs integer
---@param stop integer
---@return integer? offset
---@return integer? length
local function server_name(packet, hs, stop)
  local off = hs + 4 + 2 + 32                -- type, length, version, random
  off = off + 1 + packet:getuint8(off)       -- session id
  off = off + 2 + u16(packet, off)           -- cipher suites
  off = off + 1 + packet:getuint8(off)       -- compression methods
  local ext_end = off + 2 + u16(packet, off)
  if ext_end > stop then ext_end = stop end
  off = off + 2
  while off + 4 <= ext_end do
    local kind = u16(packet, off)
    if kind == 0 then
      -- server_name_list: list length (2), name type (1; 0 = host_name), name length (2), name
      if packet:getuint8(off + 6) ~= 0 then return nil end
      return off + 9, u16(packet, off + 7)
    end
    off = off + 4 + u16(packet, off + 2)
  end
  return nil
end

---@param packet lunet.data
local function filter(packet)
  if u16(packet, 12) ~= 0x0800 then return xdp.PASS end
  if packet:getuint8(23) ~= 6 then return xdp.PASS end
  local tcp = 14 + (packet:getuint8(14) & 0x0f) * 4
  if u16(packet, tcp + 2) ~= 443 then return xdp.PASS end
  local tls = tcp + (packet:getuint8(tcp + 12) >> 4) * 4
  if #packet < tls + 6 then return xdp.PASS end
  if packet:getuint8(tls) ~= 22 or packet:getuint8(tls + 5) ~= 1 then return xdp.PASS end
  local off, len = server_name(packet, tls + 5, tls + 5 + u16(packet, tls + 3))
  if not off then return xdp.PASS end
  ---@cast len integer (an offset comes with its length)
  -- The name and each of its parent domains: "www.blocked.example", "blocked.example", ...
  -- (A constant trip count lets the compiler bound the loop without a run-time counter.)
  for i = 0, 255 do
    if i >= len then
      break
    end
    if i == 0 or packet:getuint8(off + i - 1) == 0x2e then -- at the start, or after a '.'
      if blocked[packet:getstring(off + i, len - i)] then
        return xdp.DROP
      end
    end
  end
  return xdp.PASS
end

xdp.attach(filter, { name = "sni-blocklist" })
