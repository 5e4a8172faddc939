-- A port filter: drop UDP and TCP to the listed ports.
local xdp = require("xdp")
local byteorder = require("byteorder")

local blocked = { [9] = true, [7777] = true }

local function filter(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then
    return xdp.PASS
  end
  local proto = packet:getuint8(23)
  if proto ~= 6 and proto ~= 17 then
    return xdp.PASS
  end
  if byteorder.ntoh16(packet:getuint16(20)) & 0x1fff ~= 0 then
    return xdp.PASS -- not the first fragment
  end
  local ihl = (packet:getuint8(14) & 0x0f) * 4
  local dport = byteorder.ntoh16(packet:getuint16(14 + ihl + 2))
  if blocked[dport] then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(filter)
