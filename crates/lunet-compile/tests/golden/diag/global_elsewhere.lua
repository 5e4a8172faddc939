local xdp = require("xdp")

local function hook(packet)
  verdict = packet:getuint8(0) > 1 and "DROP" or "PASS"
  return xdp[verdict]
end

local function report()
  return verdict
end

xdp.attach(hook)
