-- Floor division and modulo, shifts, with Lua 5.4's rules.
local xdp = require("xdp")

local function hook(packet)
  local a = packet:getint32(0)
  local b = packet:getint8(4)
  local q = a // b          -- b == 0: the default verdict
  local r = a % 10
  local s = a << b          -- counts >= 64 give 0, negative counts shift right
  return (q + r + s + (a // 4)) & 3
end

xdp.attach(hook)
