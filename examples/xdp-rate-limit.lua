-- Per-source packet quota at XDP, compiled to eBPF: counts the IPv4 packets of each source
-- address in a map and drops a source's packets once it has sent more than `limit[0]`. The
-- shell reads the counts and resets them (or changes the limit) while the hook runs:
--
--   sudo lunet run examples/xdp-rate-limit.lua --dev eth0 --name quota
--   lunet map quota counts                  # source (as a big-endian integer) = packets
--   lunet map quota counts del 3323068417   # forget 198.18.0.1: its quota starts again
--   lunet map quota limit set 0 1000        # a new limit for every source
--
-- A periodic reset from the shell (or a timer) turns the quota into a rate limit.

local xdp = require("xdp")
local byteorder = require("byteorder")
local map = require("bpf.map")

local counts = map.lru_hash{ name = "counts", key = ">I4", value = "I8", entries = 65536 }
local limit = map.array{ name = "limit", key = "I4", value = "I8", entries = 1 }
limit[0] = 100

---@param packet lunet.data
local function quota(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then
    return xdp.PASS -- not IPv4
  end
  local src = byteorder.ntoh32(packet:getuint32(26))
  local n = (counts[src] or 0) + 1
  counts[src] = n
  if n > (limit[0] or 0) then
    return xdp.DROP
  end
  return xdp.PASS
end

xdp.attach(quota, { name = "quota" })
