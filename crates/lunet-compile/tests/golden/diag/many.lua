local xdp = require("xdp")

local function hook(packet)
  local t = {}
  local s = packet:getstring(0, 4) .. "x"
  local n = tonumber("5")
  if pcall(print) then
    coroutine.yield()
  end
  local y = t[1] + #s
  goto done
  ::done::
  return math.floor(n + y)
end

xdp.attach(hook)
