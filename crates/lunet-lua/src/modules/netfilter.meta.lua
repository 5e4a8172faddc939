---@meta netfilter
---Netfilter hooks (Lunatik's `netfilter`): compiled to netfilter eBPF programs at their hook
---and priority when they are in the kernel-tier subset, else run in the Lua tier, fed by NFQUEUE.
local netfilter = {}

---What `netfilter.register` takes.
---@class netfilter.RegisterOptions
---@field hook fun(skb: lunet.skb): integer, integer? The hook: a verdict (`linux.nf.action`) and, optionally, a new mark.
---@field pf integer The family: `linux.nf.proto.INET`, `IPV4` or `IPV6`.
---@field hooknum integer Where: one of `linux.nf.inet`.
---@field priority? integer Default 0 (`linux.nf.ip.pri`); in the Lua tier it decides the iptables table.
---@field mark? integer The hook sees only packets with this mark (default 0).
---@field default? integer The verdict on an error or a stop: `DROP` or `ACCEPT` (default).
---@field tier? "auto"|"kernel"|"lua" The tier this hook demands.
---@field name? string Its name in `lunet stats` (default `<HOOK>:<line>`).
---@field budget? integer Lua instructions one call may run.
---@field timeout? integer Milliseconds one call may take.
---@field overload? "pass"|"drop" What a full queue does with packets (default "pass").

---What `netfilter.register` returns.
---@class netfilter.handle
local handle = {}

---Removes the hook before anything is attached (only while the body runs).
function handle:unregister() end

---Registers a hook; call it in the script's body.
---@param opts netfilter.RegisterOptions
---@return netfilter.handle
function netfilter.register(opts) end
