-- select with a constant n (from the start, from the end, '#'), varargs passed through
-- inlined functions, multiple returns expanded in the last argument.
local xdp = require("xdp")
local action = require("linux.xdp")

local function three(packet)
  return packet:getuint8(0), packet:getuint8(1), packet:getuint8(2)
end

local function pass(...)
  return ...
end

local function count(...)
  return select("#", ...)
end

local function second(...)
  local a, b = ...
  return b
end

local function hook(packet)
  local a = select(2, three(packet))
  local b = select(-1, three(packet))
  local c, d = select(1, pass(three(packet)))
  local n = count(three(packet)) + count() + count(nil, nil)
  local e = second(pass(7, three(packet)))
  if n ~= 5 then return action.ABORTED end
  if a == 5 then return select(4, three(packet)) end
  return (a + b + c + d + e) % 5
end

xdp.attach(hook)
