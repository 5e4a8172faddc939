---@meta linux
---The kernel's constants (`linux.nf`, `linux.xdp`) and clock.
local linux = {}

---Nanoseconds on a monotonic clock: only differences mean anything.
---@return integer
function linux.time() end
