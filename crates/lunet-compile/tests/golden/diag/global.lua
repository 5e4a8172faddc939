local xdp = require("xdp")

local function hook(packet)
  counter = (counter or 0) + 1
  return xdp.PASS
end

xdp.attach(hook)
