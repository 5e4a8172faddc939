local xdp = require("xdp")

local function hook(packet)
  local s = packet:getstring(0, 8)
  local _, _, word = s:find("(%a+)")
  if word == "drop" then return xdp.DROP end
  if s:find("%b()") then return xdp.DROP end
  return xdp.PASS
end

xdp.attach(hook)
