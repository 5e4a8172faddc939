local xdp = require("xdp")

local function hook(packet)
  local v = packet:getuint8(0) == 1 and 7
  if v then return xdp.DROP end
  return xdp.PASS
end

xdp.attach(hook)
