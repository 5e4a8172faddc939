-- A TLS server-name filter written the way Lunatik's examples/filter/sni.lua is (closures
-- from a helper, select, a global verdict chosen from two strings, string.format in print),
-- with the payload offset found from the packet itself instead of a calling program.
local xdp    = require("xdp")
local action = require("linux.xdp")

local function set(t)
	local s = {}
	for _, key in ipairs(t) do s[key] = true end
	return s
end

local blocked = set{ "blocked.example", "ebpf.io" }
local why = { DROP = "listed", PASS = "not listed" }
local watched = { 443, 8443 }
local verdicts = { "DROP", "PASS" }

local function log(...)
	print(string.format("sni[%d]: %s %-5s(%s) %x%c%%", select("#", ...), ...))
end

local function unpacker(packet, base)
	local byte = function (offset)
		return packet:getbyte(base + offset)
	end

	local short = function (offset)
		local offset = base + offset
		return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
	end

	local str = function (offset, length)
		return packet:getstring(base + offset, length)
	end

	return byte, short, str
end

-- The TCP payload's offset for a watched port, or nil.
local function payload(packet)
	local byte, short = unpacker(packet, 14)
	if short(-2) ~= 0x0800 or byte(9) ~= 6 then
		return nil
	end
	local tcp = 14 + (byte(0) & 0x0f) * 4
	local port = select(2, unpacker(packet, tcp))(2)
	for i = 1, #watched do
		if watched[i] == port then
			return tcp + (packet:getbyte(tcp + 12) >> 4) * 4
		end
	end
	return nil
end

local handshake, client_hello, server_name = 0x16, 0x01, 0x00
local session = 43

local function filter_sni(packet)
	local base = payload(packet)
	if not base then
		return action.PASS
	end
	local byte, short, str = unpacker(packet, base)
	if byte(0) ~= handshake or byte(5) ~= client_hello then
		return action.PASS
	end

	local cipher = (session + 1) + byte(session)
	local compression = cipher + 2 + short(cipher)
	local extension = compression + 3 + byte(compression)

	for i = 1, 17 do
		local data = extension + 4
		if short(extension) == server_name then
			local length = short(data + 3)
			local sni = str(data + 5, length)

			verdict = blocked[sni] and "DROP" or "PASS"
			log(sni, verdict, why[verdict], #verdict + i, 0x40 + i)
			for _, name in pairs(verdicts) do
				if name == verdict and action[name] ~= action[verdict] then
					return action.ABORTED
				end
			end
			return action[verdict]
		end
		extension = data + short(extension + 2)
	end

	return action.PASS
end

xdp.attach(filter_sni)
