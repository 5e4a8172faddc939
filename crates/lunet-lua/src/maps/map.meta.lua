---@meta bpf.map
---Maps declared in the body: kernel maps pinned for other tools in the daemon, memory
---elsewhere. `key` and `value` are `string.pack` layouts of fixed size.
local map = {}

---What a map declaration takes.
---@class bpf.map.Spec
---@field key string The key's layout (`"I"`, `">I4"`, `"c4"` ...).
---@field value string The value's layout.
---@field entries integer How many entries it holds.
---@field name? string Its name in `lunet map` and under the pin root (default `mapN`).

---A map: `m[k]` reads (nil when absent), `m[k] = v` writes, `m[k] = nil` deletes,
---`pairs(m)` walks. A one-field layout is a plain value, several fields an array.
---@class bpf.map.object
---@field [any] any

---A hash map.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.hash(spec) end

---An array: every index from 0 to entries - 1 holds a value from the start.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.array(spec) end

---A hash map that forgets its least recently used key when full.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.lru_hash(spec) end

---An array of one integer per CPU: a read is the sum, a write goes to CPU 0.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.percpu_array(spec) end

---Not built yet: raises an error.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.lpm(spec) end
