-- The name check of nf_nameblock.lua, as a module under a script root.

local byteorder = require("byteorder")
local string    = require("string")

local names = {}

local UDP, DNS_PORT = 17, 53
-- Plain-text label patterns: '.' also matches a label's length byte on the wire.
local listed = { "blocked.test", "ads.example" }

function names.blocked(ip, hdrlen, proto)
	if proto ~= UDP or byteorder.ntoh16(ip:getuint16(hdrlen + 2)) ~= DNS_PORT then
		return false
	end
	-- The question starts after the UDP header (8 bytes) and the DNS header (12).
	local qname = ip:getstring(hdrlen + 20):match("^[^\0]*")
	for _, pattern in ipairs(listed) do
		if string.find(qname, pattern) then
			print("query for " .. qname:gsub("%c", ".") .. " dropped")
			return true
		end
	end
	return false
end

return names
