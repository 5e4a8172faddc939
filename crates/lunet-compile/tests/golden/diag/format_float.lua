local xdp = require("xdp")

local function hook(packet)
  print(string.format("%5.2f", packet:getuint8(0)))
  return xdp.PASS
end

xdp.attach(hook)
