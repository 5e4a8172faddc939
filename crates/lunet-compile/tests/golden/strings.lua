-- string.len, string.byte and string.sub (and their methods) on a packet string whose
-- length is known at run time, with positions from the start, from the end, past the end;
-- on constant strings they fold. Sub-strings are looked up, compared and printed; positions
-- known at run time (a loop's index, a byte of the packet).
local xdp = require("xdp")
local action = require("linux.xdp")

local listed = { ["ab"] = true, ["xyz"] = true }

local function hook(packet)
  local s = packet:getstring(2, packet:getuint8(0) % 8)
  local first, last = s:byte(1), s:byte(-1)
  local far = string.byte(s, 6)
  local inner = s:sub(2, -2)
  local tail = string.sub(s, -3)
  local score = string.len(s) + #inner * 10 + ("abc"):byte(2) + #("hello"):sub(2, 3)
  if first then score = score + first end
  if last == 0x7a then score = score + 1000 end
  if far == nil then score = score + 7 end
  if listed[inner] then score = score + 100 end
  if tail == "xyz" then score = score + 200 end
  print(inner, tail, far)
  print(s:sub(9), s:sub(3, 2), ("abc"):sub(-2))
  local sum = 0
  for i = 1, #s do sum = sum + s:byte(i) end
  local k = packet:getuint8(1) % 8 - 4
  print(sum, s:sub(k, k + 2), s:byte(k), s:sub(-k), string.sub(s, 2, k))
  return (score + sum) % 5
end

xdp.attach(hook)
