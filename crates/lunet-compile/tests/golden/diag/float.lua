local xdp = require("xdp")

local function hook(packet)
  local rate = packet:getuint8(0) / 2
  return xdp.PASS
end

xdp.attach(hook)
