-- lunet bench, filter `udp-port`: the logic of examples/port-filter.lua (drop TCP and UDP to a
-- listed destination port, first fragments only, report a port once), with UDP port 9 listed,
-- attached where the iptables-raw method's rule sits: IPv4 PRE_ROUTING at priority RAW.

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux").nf

local blocked = {
  [9] = "discard service",
}

local reported = {}

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
  name = "bench-udp-port",
  hook = filter,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.PRE_ROUTING,
  priority = nf.ip.pri.RAW,
}
