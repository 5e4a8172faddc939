-- Lunatik-style: rewrites the A records of answers about lunatik.com on their way to the
-- client, as Lunatik's examples/dnsdoctor does (the same path, written anew for lunet's
-- tests): it reads the answer through the `mac` view (so past the 14-byte Ethernet header)
-- and writes the new address through it, leaving the UDP checksum to lunet.

local netfilter = require("netfilter")
local byteorder = require("byteorder")
local nf = require("linux.nf")

local ETH = 14
local NAME = string.pack("s1s1", "lunatik", "com")

local function addr(text)
	local n = 0
	text:gsub("%d+", function(d) n = n * 256 + tonumber(d) end)
	return n
end

local CLIENT = addr("198.18.0.2")
local REWRITTEN = addr("198.18.0.99")

local function doctor(skb)
	local frame = skb:data("mac")
	if frame:getuint8(ETH + 9) ~= 17 or frame:getuint32(ETH + 16) ~= byteorder.hton32(CLIENT) then
		return nf.action.ACCEPT
	end
	local udp = ETH + (frame:getuint8(ETH) & 0x0f) * 4
	if byteorder.ntoh16(frame:getuint16(udp)) ~= 53 then
		return nf.action.ACCEPT
	end
	local dns = udp + 8
	local answers = byteorder.ntoh16(frame:getuint16(dns + 6))
	local at = dns + 12
	local name = frame:getstring(at):match("^([^\0]*)")
	if name ~= NAME then
		return nf.action.ACCEPT
	end
	at = at + #name + 1 + 4
	for _ = 1, answers do
		-- Each answer: a 2-byte name pointer, type, class, TTL, length, then the data.
		if byteorder.ntoh16(frame:getuint16(at + 2)) == 1 then
			frame:setuint32(at + 12, byteorder.hton32(REWRITTEN))
		end
		at = at + 16
	end
	return nf.action.ACCEPT
end

netfilter.register{
	hook = doctor,
	pf = nf.proto.INET,
	hooknum = nf.inet.PRE_ROUTING,
	priority = nf.ip.pri.MANGLE + 1,
}
