-- lunet bench, filter `accept-all`: a hook that accepts every packet, at IPv4 PRE_ROUTING,
-- priority RAW. It measures the Lua tier's fixed cost: the queue round trip and one hook call.

local netfilter = require("netfilter")
local nf = require("linux").nf

netfilter.register{
  name = "bench-accept-all",
  hook = function()
    return nf.action.ACCEPT
  end,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.PRE_ROUTING,
  priority = nf.ip.pri.RAW,
}
