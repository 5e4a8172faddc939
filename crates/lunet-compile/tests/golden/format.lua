-- string.format inside print: every conversion of the subset with flags, widths and
-- precisions, on run-time integers, packet strings, a choice of strings and a boolean;
-- constant pieces folded when compiling; `..` of strings and integers.
local xdp = require("xdp")
local action = require("linux.xdp")

local why = { DROP = "listed", PASS = "fine" }

local function hook(packet)
  local a = packet:getint8(0)
  local u = packet:getuint8(1)
  local s = packet:getstring(2, u % 6)
  local v = a > 0 and "DROP" or "PASS"
  print(string.format("%d|%5d|%-5d|%05d|%+d|% d|%.3d|%i", a, a, a, a, a, a, a, u))
  print(string.format("%x|%X|%#x|%04x|%u|%c|%%|%3c", a, u, u, u, a, 65 + u % 26, 97 + u % 26))
  print(string.format("%s|%8s|%-8s|%.2s|%s|%s", s, s, v, v, why[v], a > 3), "tab", string.format("%d", 42))
  print(string.format("const %s %d %5.3s", "x", 12, "abcdef"), string.format("%s=%s", "n", nil))
  print("v=" .. v .. " s=" .. s .. " a=" .. a .. " u+1=" .. u + 1, 1 .. "", "" .. why[v])
  return action.PASS
end

xdp.attach(hook)
