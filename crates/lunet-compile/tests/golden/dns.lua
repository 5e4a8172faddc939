local xdp = require("xdp")
local byteorder = require("byteorder")

-- wire-format names: each label prefixed by its length, ending in 0
local blocked = {
  ["\7blocked\7example\0"] = true,
  ["\3ads\4test\0"] = true,
  ["\7tracker\7invalid\0"] = true,
}

-- the length of the name at off (labels and the final 0), or nil when malformed
local function name_length(packet, off)
  local start = off
  for _ = 1, 127 do
    local len = packet:getuint8(off)
    if len == 0 then
      return off + 1 - start
    end
    if len > 63 then
      return nil
    end
    off = off + 1 + len
  end
  return nil
end

local function hook(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then return xdp.PASS end
  local ihl = (packet:getuint8(14) & 0x0f) * 4
  if packet:getuint8(23) ~= 17 then return xdp.PASS end
  local udp = 14 + ihl
  if byteorder.ntoh16(packet:getuint16(udp + 2)) ~= 53 then return xdp.PASS end
  local dns = udp + 8
  if packet:getuint8(dns + 2) & 0x80 ~= 0 then return xdp.PASS end
  local qname = dns + 12
  local n = name_length(packet, qname)
  if n and blocked[packet:getstring(qname, n)] then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(hook)
