local xdp = require("xdp")
local byteorder = require("byteorder")

local blocked = {
  ["blocked.example"] = true,
  ["ads.test"] = true,
}

local function u16(packet, off)
  return byteorder.ntoh16(packet:getuint16(off))
end

-- the offset and length of the server name in a ClientHello at `hs`, or nil
local function server_name(packet, hs, stop)
  local off = hs + 4 + 2 + 32
  off = off + 1 + packet:getuint8(off)      -- session id
  off = off + 2 + u16(packet, off)          -- cipher suites
  off = off + 1 + packet:getuint8(off)      -- compression methods
  local ext_end = off + 2 + u16(packet, off)
  if ext_end > stop then ext_end = stop end
  off = off + 2
  while off + 4 <= ext_end do
    local kind = u16(packet, off)
    local len = u16(packet, off + 2)
    if kind == 0 then
      -- server_name_list: list length, type (0 = host_name), name length, name
      if packet:getuint8(off + 6) ~= 0 then return nil end
      return off + 9, u16(packet, off + 7)
    end
    off = off + 4 + len
  end
  return nil
end

local function hook(packet)
  if u16(packet, 12) ~= 0x0800 then return xdp.PASS end
  if packet:getuint8(23) ~= 6 then return xdp.PASS end
  local ihl = (packet:getuint8(14) & 0x0f) * 4
  local tcp = 14 + ihl
  if u16(packet, tcp + 2) ~= 443 then return xdp.PASS end
  local tls = tcp + (packet:getuint8(tcp + 12) >> 4) * 4
  if #packet < tls + 6 then return xdp.PASS end
  if packet:getuint8(tls) ~= 22 or packet:getuint8(tls + 5) ~= 1 then return xdp.PASS end
  local off, len = server_name(packet, tls + 5, tls + 5 + u16(packet, tls + 3))
  if off and blocked[packet:getstring(off, len)] then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(hook)
