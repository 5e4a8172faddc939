local xdp = require("xdp")
local blocked = { ["a.b"] = true }

local function hook(packet)
  local name = packet:getstring(0, 1) .. "." .. packet:getstring(1, 1)
  if blocked[name] then return xdp.DROP end
  return xdp.PASS
end

xdp.attach(hook)
