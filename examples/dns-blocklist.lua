-- DNS blocklist: drops DNS queries (UDP, port 53) this host sends for a listed name or any of
-- its subdomains. Attach point: IPv4 and IPv6 LOCAL_OUT, so local resolvers and programs alike
-- are covered. A packet that does not parse as a DNS query is accepted (fail-open).
--
--   sudo lunet run examples/dns-blocklist.lua

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux").nf

local blocklist = {
  "blocked.example",
  "ads.test",
  "tracker.invalid",
}

local blocked = {}
for _, name in ipairs(blocklist) do
  blocked[name:lower()] = true
end

-- The query name at `off`, lower-cased and dotted, or nil when it is malformed.
---@param skb lunet.skb
local function query_name(skb, off)
  local labels = {}
  for _ = 1, 127 do
    local len = skb:getuint8(off)
    if len == 0 then
      return table.concat(labels, ".")
    end
    if len > 63 then
      return nil -- a compression pointer or a reserved label type: not a plain query name
    end
    labels[#labels + 1] = skb:getstring(off + 1, len):lower()
    off = off + 1 + len
  end
  return nil
end

-- True when `name` or one of its parent domains is listed.
local function is_blocked(name)
  while name do
    if blocked[name] then
      return true
    end
    name = name:match("^[^.]+%.(.+)$")
  end
  return false
end

---@param skb lunet.skb
local function filter(skb)
  local version = skb:getuint8(0) >> 4
  local l4, proto
  if version == 4 then
    l4, proto = (skb:getuint8(0) & 0x0f) * 4, skb:getuint8(9)
  elseif version == 6 then
    l4, proto = 40, skb:getuint8(6)
  else
    return nf.action.ACCEPT
  end
  if proto ~= 17 or byteorder.ntoh16(skb:getuint16(l4 + 2)) ~= 53 then
    return nf.action.ACCEPT
  end
  local dns = l4 + 8
  if skb:getuint8(dns + 2) & 0x80 ~= 0 then
    return nf.action.ACCEPT -- a response, not a query
  end
  local name = query_name(skb, dns + 12)
  if name and is_blocked(name) then
    print("blocked DNS query for " .. name)
    return nf.action.DROP
  end
  return nf.action.ACCEPT
end

netfilter.register{
  name = "dns-blocklist",
  hook = filter,
  pf = nf.proto.INET,
  hooknum = nf.inet.LOCAL_OUT,
  priority = nf.ip.pri.FILTER,
}
