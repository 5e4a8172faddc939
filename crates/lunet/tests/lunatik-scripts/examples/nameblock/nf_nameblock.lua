-- A Lunatik-style filter (lunet's own text), laid out as Lunatik's examples are: run as
-- `lunet run examples/nameblock/nf_nameblock softirq` from the folder above `examples/`,
-- its helper module comes from a script root by a dotted name.

local netfilter = require("netfilter")
local nf        = require("linux.nf")
local names     = require("examples.nameblock.common")

local function filter(skb)
	local ip = skb:data("net")
	local hdrlen = (ip:getuint8(0) & 0x0F) * 4
	if names.blocked(ip, hdrlen, ip:getuint8(9)) then
		return nf.action.DROP
	end
	return nf.action.ACCEPT
end

netfilter.register{
	hook     = filter,
	pf       = nf.proto.INET,
	hooknum  = nf.inet.LOCAL_OUT,
	priority = nf.ip.pri.FILTER,
}
