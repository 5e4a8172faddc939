local xdp = require("xdp")

local function pick(...)
  return select(...)
end

local function hook(packet)
  return pick(packet:getuint8(0), 1, 2, 3)
end

xdp.attach(hook)
