-- golden: count_verdicts
-- Verdict counters: every exit, the default verdict's too, adds one to its slot of the
-- per-CPU array lunet_verdicts.
local xdp = require("xdp")

local function hook(packet)
  if packet:getuint8(23) == 17 then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(hook)
