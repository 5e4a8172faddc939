local xdp = require("xdp")

local function hook(packet)
  local ok, v = pcall(packet.getuint8, packet, 100)
  return ok and v or xdp.PASS
end

xdp.attach(hook)
