-- lunet bench, filter `udp-port` in the kernel tier at netfilter: examples/xdp-port-filter.lua's
-- filter as a netfilter hook (the packet from its IP header on), which lunet compiles to a
-- netfilter eBPF program. Drops the first fragment of IPv4 TCP or UDP to port 9 or 7777.

local netfilter = require("netfilter")
local nf = require("linux").nf
local byteorder = require("byteorder")

local blocked = { [9] = true, [7777] = true }

netfilter.register{
  name = "bench-udp-port",
  hook = function(skb)
    if skb:getuint8(0) >> 4 ~= 4 then
      return nf.action.ACCEPT
    end
    local proto = skb:getuint8(9)
    if proto ~= 6 and proto ~= 17 then
      return nf.action.ACCEPT
    end
    if byteorder.ntoh16(skb:getuint16(6)) & 0x1fff ~= 0 then
      return nf.action.ACCEPT -- only the first fragment carries the ports
    end
    local ihl = (skb:getuint8(0) & 0x0f) * 4
    if blocked[byteorder.ntoh16(skb:getuint16(ihl + 2))] then
      return nf.action.DROP
    end
    return nf.action.ACCEPT
  end,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.PRE_ROUTING,
  priority = nf.ip.pri.RAW,
}
