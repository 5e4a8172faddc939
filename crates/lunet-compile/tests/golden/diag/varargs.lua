local xdp = require("xdp")

local function hook(...)
  return xdp.PASS
end

xdp.attach(hook)
