-- Port filter at XDP, compiled to eBPF: drops IPv4 TCP and UDP packets to the listed ports
-- before the kernel allocates anything for them.
--
--   lunet check examples/xdp-port-filter.lua --emit asm
--   sudo lunet run examples/xdp-port-filter.lua --dev eth0

local xdp = require("xdp")
local byteorder = require("byteorder")

local blocked = { [9] = true, [7777] = true }

---@param packet lunet.data
local function filter(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then
    return xdp.PASS -- not IPv4
  end
  local proto = packet:getuint8(23)
  if proto ~= 6 and proto ~= 17 then
    return xdp.PASS
  end
  if byteorder.ntoh16(packet:getuint16(20)) & 0x1fff ~= 0 then
    return xdp.PASS -- only the first fragment carries the ports
  end
  local ihl = (packet:getuint8(14) & 0x0f) * 4
  local dport = byteorder.ntoh16(packet:getuint16(14 + ihl + 2))
  if blocked[dport] then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(filter, { name = "port-filter" })
