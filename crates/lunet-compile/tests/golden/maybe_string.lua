-- Packet strings that may be nil: captures and string.match results of patterns that may
-- not match, a local given a string on one path only; tested, compared, measured, looked
-- up and printed.
local xdp = require("xdp")

local known = { ["ab"] = 1, ["xyz"] = 2 }

local function hook(packet)
  local s = packet:getstring(2, packet:getuint8(0) % 8)
  local word = s:match("(%a+)")
  local digits = s:match("%d+")
  local _, _, first, rest = s:find("^(%a)(%w*)$")
  local name = nil
  if packet:getuint8(1) > 3 then name = s:sub(2) end
  local score = 0
  if word then score = score + #word end
  if word == "ab" then score = score + 10 end
  if known[word] then score = score + 100 * known[word] end
  if digits ~= nil then score = score + 1000 end
  if name == "bc" then score = score + 7 end
  if first and rest ~= "" then score = score + 3 end
  print(word, digits, name)
  print(first, rest)
  return score % 5
end

xdp.attach(hook)
