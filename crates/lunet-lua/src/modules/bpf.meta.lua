---@meta bpf
---Lunatik's pinned-map access (`lib/luabpf.c`): open a map pinned on the BPF filesystem
---(under /sys/fs/bpf or lunet's pin root) by its path. Keys and values are strings of
---exactly the map's key and value sizes (`string.pack` them).
local bpf = {}

---An open key-value map (`bpf.hash`, `bpf.array`, `bpf.lru_hash`); `#m` is its `max_entries`.
---@class bpf.handle
---@field lookup fun(self: bpf.handle, key: string): string? the value, or nil when absent
---@field update fun(self: bpf.handle, key: string, value: string, flags?: integer): boolean false when `flags` (BPF_NOEXIST 1, BPF_EXIST 2) is not met
---@field delete fun(self: bpf.handle, key: string): boolean whether a key was removed
---@field remove fun(self: bpf.handle, key: string): string? the value, removed
---@field next fun(self: bpf.handle, key?: string): string? the key after `key` (the first without)
---@field info fun(self: bpf.handle): {type: integer, key_size: integer, value_size: integer, max_entries: integer}
---@field close fun(self: bpf.handle) releases the map (also `<close>`)

---An open queue (FIFO) or stack (LIFO) map; `#m` is its `max_entries`.
---@class bpf.queue
---@field push fun(self: bpf.queue, value: string, flags?: integer): boolean false when full (BPF_EXIST 2: drop the oldest instead)
---@field pop fun(self: bpf.queue): string? the next value, removed; nil when empty
---@field peek fun(self: bpf.queue): string? the next value, left in the map
---@field info fun(self: bpf.queue): {type: integer, key_size: integer, value_size: integer, max_entries: integer}
---@field close fun(self: bpf.queue) releases the map (also `<close>`)

---Opens the hash map pinned at `path`.
---@param path string
---@return bpf.handle
function bpf.hash(path) end

---Opens the array map pinned at `path` (keys are 4-byte indexes).
---@param path string
---@return bpf.handle
function bpf.array(path) end

---Opens the LRU hash map pinned at `path`.
---@param path string
---@return bpf.handle
function bpf.lru_hash(path) end

---Opens the queue map pinned at `path`.
---@param path string
---@return bpf.queue
function bpf.queue(path) end

---Opens the stack map pinned at `path`.
---@param path string
---@return bpf.queue
function bpf.stack(path) end
