-- A checksum-like sum over the first bytes: a constant-bound for, and a while with a cap.
local xdp = require("xdp")

local function hook(packet)
  local sum = 0
  for i = 0, 15 do
    sum = sum + packet:getuint8(i)
  end
  local n = 16
  while packet:getuint8(n) ~= 0 do
    n = n + 1
  end
  return (sum + n) % 3
end

xdp.attach(hook)
