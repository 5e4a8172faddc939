-- A per-source packet counter in a map the shell can read and reset, with a limit held in
-- a second map: past it, a source's packets are dropped.
local xdp = require("xdp")
local map = require("bpf.map")

local counts = map.hash{ key = "I4", value = "I8", entries = 1024, name = "counts" }
local limit = map.array{ key = "I4", value = "I8", entries = 1, name = "limit" }

local function hook(packet)
  local src = packet:getuint32(26)
  local n = (counts[src] or 0) + 1
  counts[src] = n
  local max = limit[0]
  if max ~= 0 and n > max then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(hook)
