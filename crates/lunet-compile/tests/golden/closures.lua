-- Closures: a counter closing over its maker's local (two closures of one maker share it),
-- a function returned by a function, a function expression in a local, a local function
-- of the hook writing the hook's local. All inlined.
local xdp = require("xdp")
local action = require("linux.xdp")

local function counter(start)
  local n = start
  local function step(k) n = n + k return n end
  local function get() return n end
  return step, get
end

local function reader(packet, base)
  return function(off) return packet:getuint8(base + off) end
end

local function hook(packet)
  local step, get = counter(packet:getuint8(0))
  step(2)
  step(get())
  local at = reader(packet, 1)
  local twice = function(x) return x * 2 end
  local last = 0
  local function keep(v) last = v end
  keep(twice(at(0)) + get())
  if last > 20 then return action.DROP end
  return last % 5
end

xdp.attach(hook)
