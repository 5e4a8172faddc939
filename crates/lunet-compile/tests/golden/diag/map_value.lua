local xdp = require("xdp")
local map = require("bpf.map")

local seen = map.lru_hash{ key = "I4", value = "B", entries = 4096, name = "seen" }

local function hook(packet)
  local src = packet:getuint32(26)
  seen[src] = true
  return xdp.PASS
end

xdp.attach(hook)
