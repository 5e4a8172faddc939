-- Loops over packet bytes: two packet strings compared, text found in a packet string
-- (string.find with plain, or a needle with no pattern character), from the start, from
-- the end, past the end, the empty needle; on a constant string it folds.
local xdp = require("xdp")

local function hook(packet)
  local a = packet:getstring(2, packet:getuint8(0) % 8)
  local b = packet:getstring(10, packet:getuint8(1) % 8)
  local score = 0
  if a == b then score = score + 1 end
  if a ~= b:sub(2) then score = score + 2 end
  local i, j = a:find("ab", 1, true)
  if i then score = score + i * 10 + j end
  local k = string.find(b, "z", -3)
  if k then score = score + 100 * k end
  local e1, e2 = a:find("", 3, true)
  if e1 then score = score + 1000 end
  if ("hello.world"):find(".", 1, true) == 6 then score = score + 1 end
  print(i, j, k, e1, e2)
  return score % 5
end

xdp.attach(hook)
