-- Lunatik-style: refuses the TCP connections an nft rule marked 0x403 with a reset of its own
-- making, as Lunatik's examples/tcpreject does (the same calls, written anew for lunet's
-- tests): a copy of the packet turned around (Ethernet addresses, IP addresses, ports), cut
-- to its headers, its checksums recomputed, sent back out of the interface it came in on.

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux.nf")

local RST_ACK = 0x14

local function turn_around(frame, ip, hl)
	local dst, src = frame:getstring(0, 6), frame:getstring(6, 6)
	frame:setstring(0, src)
	frame:setstring(6, dst)
	local a, b = ip:getuint32(12), ip:getuint32(16)
	ip:setuint32(12, b)
	ip:setuint32(16, a)
	local sport, dport = ip:getuint16(hl), ip:getuint16(hl + 2)
	ip:setuint16(hl, dport)
	ip:setuint16(hl + 2, sport)
end

local function refuse(skb)
	local hl = (skb:data("net"):getuint8(0) & 0x0f) * 4
	local reset = skb:copy()
	local frame, ip = reset:data("mac"), reset:data("net")
	turn_around(frame, ip, hl)
	-- The reset acknowledges the SYN (which counts one) and takes its sequence from the
	-- acknowledgement number the SYN carried.
	local seq = byteorder.ntoh32(ip:getuint32(hl + 4))
	ip:setuint32(hl + 4, ip:getuint32(hl + 8))
	ip:setuint32(hl + 8, byteorder.hton32((seq + 1) & 0xffffffff))
	ip:setuint8(hl + 12, 0x50)
	ip:setuint8(hl + 13, RST_ACK)
	ip:setuint16(hl + 14, 0)
	ip:setuint16(hl + 18, 0)
	reset:resize(hl + 20)
	ip:setuint16(2, byteorder.hton16(hl + 20))
	reset:checksum()
	reset:forward()
	return nf.action.DROP
end

netfilter.register{
	hook = refuse,
	pf = nf.proto.IPV4,
	hooknum = nf.inet.FORWARD,
	priority = nf.ip.pri.FILTER,
	mark = 0x403,
}
