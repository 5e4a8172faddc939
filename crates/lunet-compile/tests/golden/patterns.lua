-- Lua patterns on a packet string: dnsblock's name up to the first zero byte (a capture
-- of a pattern that always matches) and its blocklist walk with string.find, where `.`
-- is a pattern character; a class with `+`, anchors. (Each search is a loop the verifier
-- walks: a hook with many of them may be too complex for it; tests/subset.rs has more
-- patterns, one hook each.)
local xdp = require("xdp")

local blacklist = { "github.com", "gitlab.com" }

local function get_domain(s)
  local _, _, name = s:find("([^\0]*)")
  return name
end

local function hook(packet)
  local s = packet:getstring(2, packet:getuint8(0) % 24)
  local score = 0
  local name = get_domain(s)
  for _, v in ipairs(blacklist) do
    if string.find(name, v) ~= nil then score = score + 1 end
  end
  local i, j = s:find("%d+")
  if i then score = score + i * 10 + j end
  if s:find("^git") then score = score + 100 end
  if name:find("com$") then score = score + 200 end
  print(#name, i, j)
  return score % 5
end

xdp.attach(hook)
