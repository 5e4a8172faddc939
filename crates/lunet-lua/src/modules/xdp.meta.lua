---@meta xdp
---XDP hooks, compiled to eBPF by lunet (the kernel tier). The verdicts are fields of this
---module too (`xdp.DROP`).
local xdp = {}

---What `xdp.attach` takes.
---@class xdp.AttachOptions
---@field dev? string The device (default: `lunet run --dev`).
---@field name? string Its name in `lunet stats`.
---@field tier? "auto"|"kernel"|"lua" The tier this hook demands.
---@field default? integer The verdict on an error: `xdp.DROP` or `xdp.PASS` (default).
---@field budget? integer Lua instructions one call may run (Lua tier, `lunet replay`).
---@field timeout? integer Milliseconds one call may take (Lua tier, `lunet replay`).

---Attaches `fn` as an XDP hook on the script's device; call it in the body.
---@param fn fun(packet: lunet.data, argument: lunet.data): integer The hook: a verdict of `xdp`.
---@param opts? xdp.AttachOptions
function xdp.attach(fn, opts) end

---Removes the state's XDP hooks (only while the body runs).
function xdp.detach() end
