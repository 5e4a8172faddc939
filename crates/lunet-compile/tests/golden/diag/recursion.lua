local xdp = require("xdp")

local function hook(packet)
  local function skip(off)
    if packet:getuint8(off) == 0 then return off end
    return skip(off + 1)
  end
  return skip(0) % 5
end

xdp.attach(hook)
