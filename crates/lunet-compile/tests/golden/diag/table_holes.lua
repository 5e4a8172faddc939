local xdp = require("xdp")
local t = { 1, 2, nil, 4 }

local function hook(packet)
  return #t
end

xdp.attach(hook)
