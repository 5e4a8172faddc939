---@meta bpf.map
---Maps declared in the body: kernel maps pinned for other tools in the daemon, memory
---elsewhere. `key` and `value` are `string.pack` layouts of fixed size. As in Lunatik
---(`lib/bpf/map.lua`), `map.hash(path, keyspec, valuespec)` (and `array`, `lru_hash`)
---opens a pinned map as the same kind of table, `map.queue` / `map.stack` a keyless one.
local map = {}

---A queue or stack opened by `map.queue` / `map.stack`: values follow its spec.
---@class bpf.map.keyless
---@field push fun(self: bpf.map.keyless, value: any): boolean false when full
---@field pop fun(self: bpf.map.keyless): any the next value, removed; nil when empty
---@field peek fun(self: bpf.map.keyless): any the next value, left in the map
---@field info fun(self: bpf.map.keyless): table
---@field close fun(self: bpf.map.keyless) releases the map (also `<close>`)

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

---A hash map. With a path (Lunatik's form): the hash map pinned there, with `string.pack`
---specs of its sizes.
---@param spec bpf.map.Spec
---@return bpf.map.object
---@overload fun(path: string, keyspec: string, valuespec: string): bpf.map.object
function map.hash(spec) end

---An array: every index from 0 to entries - 1 holds a value from the start. With a path
---(Lunatik's form): the array map pinned there, with `string.pack` specs of its sizes.
---@param spec bpf.map.Spec
---@return bpf.map.object
---@overload fun(path: string, keyspec: string, valuespec: string): bpf.map.object
function map.array(spec) end

---A hash map that forgets its least recently used key when full. With a path (Lunatik's
---form): the lru_hash map pinned there, with `string.pack` specs of its sizes.
---@param spec bpf.map.Spec
---@return bpf.map.object
---@overload fun(path: string, keyspec: string, valuespec: string): bpf.map.object
function map.lru_hash(spec) end

---An array of one integer per CPU: a read is the sum, a write goes to CPU 0.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.percpu_array(spec) end

---Not built yet: raises an error.
---@param spec bpf.map.Spec
---@return bpf.map.object
function map.lpm(spec) end

---Opens the queue (FIFO) map pinned at `path`, its values packed with `valuespec`.
---@param path string
---@param valuespec string
---@return bpf.map.keyless
function map.queue(path, valuespec) end

---Opens the stack (LIFO) map pinned at `path`, its values packed with `valuespec`.
---@param path string
---@param valuespec string
---@return bpf.map.keyless
function map.stack(path, valuespec) end

---Releases a map opened by path (a declared map stays: the state owns it).
---@param m bpf.map.object|bpf.map.keyless
function map.close(m) end

---`type`, `key_size`, `value_size` and `max_entries` of a map.
---@param m bpf.map.object|bpf.map.keyless
---@return {type: integer, key_size: integer, value_size: integer, max_entries: integer}
function map.info(m) end
