local xdp = require("xdp")

local ports = { 53, 443 }

local function hook(packet)
  print("ports", ports)
  return xdp.PASS
end

xdp.attach(hook)
