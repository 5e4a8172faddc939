-- ipairs and pairs over constant tables (unrolled, with break), #t of a sequence. (pairs
-- over string keys visits them in an order that changes between Lua states, so this golden
-- walks the array part; tests/subset.rs also walks a hash.)
local xdp = require("xdp")
local action = require("linux.xdp")

local ports = { 3, 5, 7, 11 }
local weights = { a = 1, b = 20, c = 300 }
local steps = { 1, 20, 300 }
local names = { "a", "b", "c", "zz" }

local function hook(packet)
  local x = packet:getuint8(0)
  local sum = 0
  for i, p in ipairs(ports) do
    if p == x then sum = sum + i end
    if p > 6 and x == 0 then break end
  end
  for _, w in pairs(steps) do
    if packet:getuint8(1) % 3 == w % 3 then sum = sum + w end
  end
  for _, n in ipairs(names) do
    if weights[n] == nil then sum = sum + #n end
  end
  for i = 1, #ports do sum = sum + ports[i] end
  if sum > 400 then return action.DROP end
  return sum % 5
end

xdp.attach(hook)
