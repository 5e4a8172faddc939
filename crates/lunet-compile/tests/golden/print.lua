-- Prints each UDP packet's destination port, whether it is DNS, and the first bytes of its
-- payload; other packets print a constant line.
local xdp = require("xdp")
local byteorder = require("byteorder")

local function hook(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 or packet:getuint8(23) ~= 17 then
    print("not udp", nil)
    return xdp.PASS
  end
  local dport = byteorder.ntoh16(packet:getuint16(36))
  print("udp", dport, dport == 53, packet:getstring(42))
  return xdp.PASS
end

xdp.attach(hook)
