-- luacheck's view of lunet's sandbox (docs/lua-tier.md, "Sandbox"): Lua 5.4's base library,
-- string (without dump), table, math, utf8, coroutine, and os.time and os.clock; no io,
-- debug, package, dofile, loadfile or collectgarbage. lunet's modules come from require:
-- their names and fields are checked against the stubs by emmylua_check (.emmyrc.json).
stds.lunet = {
  read_globals = {
    "_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "load", "next", "pairs",
    "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require", "select",
    "setmetatable", "tonumber", "tostring", "type", "warn", "xpcall",
    string = { fields = {
      "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "pack",
      "packsize", "rep", "reverse", "sub", "unpack", "upper",
    } },
    table = { fields = { "concat", "insert", "move", "pack", "remove", "sort", "unpack" } },
    math = { fields = {
      "abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max", "maxinteger",
      "min", "mininteger", "modf", "pi", "rad", "random", "randomseed", "sin", "sqrt", "tan",
      "tointeger", "type", "ult", "acos", "asin", "atan",
    } },
    utf8 = { fields = { "char", "charpattern", "codepoint", "codes", "len", "offset" } },
    coroutine = { fields = {
      "close", "create", "isyieldable", "resume", "running", "status", "wrap", "yield",
    } },
    os = { fields = { "clock", "time" } },
  },
}
std = "lunet"
max_line_length = 100
