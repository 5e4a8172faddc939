local xdp = require("xdp")

local function hook(packet)
  local seen = { packet:getuint8(0) }
  return xdp.PASS
end

xdp.attach(hook)
