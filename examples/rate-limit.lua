-- Rate limiter: each IPv4 source address may send RATE packets a second to this host, with
-- bursts of up to BURST; packets beyond that are dropped. A token bucket per source, refilled
-- from the clock (`linux.time()`, nanoseconds since the epoch, as in Lunatik).
--
--   sudo lunet run examples/rate-limit.lua

local netfilter = require("netfilter")
local linux = require("linux")
local nf = linux.nf

local RATE = 20 -- packets per second, per source
local BURST = 10 -- packets a source may send at once
local MAX_SOURCES = 65536 -- forget every bucket past this many sources (a flood of spoofed ones)

local buckets = {}
local sources = 0

---@param skb lunet.skb
local function limit(skb)
  local src = skb:getstring(12, 4)
  local now = linux.time()
  local b = buckets[src]
  if not b then
    if sources >= MAX_SOURCES then
      buckets, sources = {}, 0
    end
    b = { tokens = BURST, last = now }
    buckets[src] = b
    sources = sources + 1
  end
  b.tokens = math.min(BURST, b.tokens + (now - b.last) * RATE / 1e9)
  b.last = now
  if b.tokens < 1 then
    return nf.action.DROP
  end
  b.tokens = b.tokens - 1
  return nf.action.ACCEPT
end

netfilter.register{
  name = "rate-limit",
  hook = limit,
  pf = nf.proto.IPV4,
  hooknum = nf.inet.LOCAL_IN,
  priority = nf.ip.pri.FILTER,
}
