-- Values drawn from a set of constants: strings chosen at run time (two, three, with nil
-- among them), constant tables looked up with them, compared, measured, tested for truth;
-- and a global of one call holding one.
local xdp = require("xdp")
local action = require("linux.xdp")

local codes = { DROP = action.DROP, PASS = action.PASS, TX = action.TX }
local nested = { DROP = { n = 1 }, PASS = { n = 2 } }

local function note(x)
  seen = x
  total = (total or 0) + x
end

local function hook(packet)
  local a = packet:getuint8(0)
  local v = a > 3 and "DROP" or "PASS"
  local w = a % 3 == 0 and "TX" or (a % 3 == 1 and "PASS" or "DROP")
  local maybe = nil
  if packet:getuint8(1) > 4 then maybe = "TX" end
  local score = #v + nested[v].n
  if v == w then score = score + 10 end
  if w ~= "TX" then score = score + 100 end
  if maybe then score = score + 1000 end
  if maybe == "TX" and not (v == "PASS") then return codes[maybe] end
  total = 0
  note(a)
  note(packet:getuint8(1))
  if seen > 4 then verdict = "DROP" else verdict = "PASS" end
  if total > 12 then return action.TX end
  if score > 1000 then return codes[w] end
  return codes[verdict == "DROP" and v or w]
end

xdp.attach(hook)
