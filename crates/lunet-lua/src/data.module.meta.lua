---@meta data
---Byte buffers of the script's own (Lunatik's `data` module).
local datamod = {}

---A data object of `size` zero bytes of its own (at most 16 MiB), writable and resizable.
---`mode` ("shared", the default, or "single") is accepted for Lunatik's scripts: a lunet state
---is one thread, so both are the same.
---@param size integer
---@param mode? "shared"|"single"
---@return lunet.data
function datamod.new(size, mode) end
