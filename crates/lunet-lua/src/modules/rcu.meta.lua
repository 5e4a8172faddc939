---@meta rcu
---Lunatik's shared table (`lib/luarcu.c`): string keys, values that are booleans, integers
---or objects; `t[k] = nil` removes a key. A lunet script has one state, so every hook and
---the body see the same table at once.
local rcu = {}

---A shared table; `size` (Lunatik's bucket count, default 256) is accepted and not needed.
---@param size? integer
---@return table
function rcu.table(size) end

---Calls `fn(key, value)` for each entry of `t`, in no promised order.
---@param t table an rcu table
---@param fn fun(key: string, value: boolean|integer|userdata)
function rcu.map(t, fn) end
