local xdp = require("xdp")
local seen = 0

local function hook(packet)
  seen = seen + 1
  return xdp.PASS
end

xdp.attach(hook)
