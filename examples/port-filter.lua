-- Port filter: drops TCP and UDP packets for this host whose destination port is listed below.
-- Attach point: IPv4 LOCAL_IN (packets addressed to this host), priority FILTER.
--
--   sudo lunet run examples/port-filter.lua
--   lunet replay examples/port-filter.lua capture.pcap

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux").nf

-- port -> why it is blocked (printed the first time a packet to it is dropped)
local blocked = {
  [9] = "discard service",
  [7777] = "not allowed on this host",
}

local reported = {}

---@param skb lunet.skb
local function filter(skb)
  local proto = skb:getuint8(9)
  if proto ~= 6 and proto ~= 17 then
    return nf.action.ACCEPT
  end
  -- Only the first fragment carries the ports.
  if byteorder.ntoh16(skb:getuint16(6)) & 0x1fff ~= 0 then
    return nf.action.ACCEPT
  end
  local ihl = (skb:getuint8(0) & 0x0f) * 4
  local dport = byteorder.ntoh16(skb:getuint16(ihl + 2))
  local why = blocked[dport]
  if not why then
    return nf.action.ACCEPT
  end
  if not reported[dport] then
    reported[dport] = true
    print(("dropping %s to port %d: %s"):format(proto == 6 and "TCP" or "UDP", dport, why))
  end
  return nf.action.DROP
end

netfilter.register{
  name = "port-filter",
  hook = filter,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.LOCAL_IN,
  priority = nf.ip.pri.FILTER,
}
