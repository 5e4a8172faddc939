local xdp = require("xdp")

local function hook(packet)
  local get = function(off) return packet:getuint8(off) end
  return get(0) % 5
end

xdp.attach(hook)
