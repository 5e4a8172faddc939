-- Lunatik-style: tells, for each UDP datagram, what the skb API shows of it: the `mac`
-- view's Ethernet header (copied through a `data.new` buffer), the interface, the VLAN id,
-- the checksum over the IPv4 header (0 for a right one), and the connection's mark, which
-- it then counts up by one.

local netfilter = require("netfilter")
local nf = require("linux.nf")
local data = require("data")

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

netfilter.register{
	pf = nf.proto.IPV4,
	hooknum = nf.inet.LOCAL_IN,
	priority = nf.ip.pri.FILTER,
	hook = function(skb)
		if skb:getuint8(9) ~= 17 then
			return nf.action.ACCEPT
		end
		local mac = skb:data("mac")
		local header = data.new(14)
		header:setstring(0, mac:getstring(0, 14))
		local h = tostring(header)
		print(string.format("mac dst=%s src=%s type=%s ifindex=%s vlan=%s",
			hex(h:sub(1, 6)), hex(h:sub(7, 12)), hex(h:sub(13, 14)),
			tostring(skb:ifindex()), tostring(skb:vlan())))
		local ip = skb:data("net")
		header:resize(20)
		header:setstring(0, ip:getstring(0, 20))
		print(string.format("iphdr sum=%d length=%d", header:checksum(), #header))
		local mark = skb:connmark()
		print("connmark " .. tostring(mark))
		if mark then
			skb:connmark(mark + 1)
		end
		return nf.action.ACCEPT
	end,
}
