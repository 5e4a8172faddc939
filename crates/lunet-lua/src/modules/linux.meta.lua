---@meta linux
---The kernel's constants (`linux.nf`, `linux.xdp`), clock, random numbers and devices, as
---Lunatik's `lib/lualinux.c`. `linux.schedule`, `linux.tracing` and `linux.lookup` raise an
---error saying why lunet leaves them out.
local linux = {}

---Nanoseconds since the epoch on the real-time clock (as Lunatik's `ktime_get_real_ns`).
---@return integer
function linux.time() end

---`t2 - t1` in nanoseconds, for two values of `linux.time()`.
---@param t2 integer the later time
---@param t1 integer the earlier time
---@return integer
function linux.difftime(t2, t1) end

---A random integer from the kernel: 64 random bits with no argument, one in [1, m] with
---one, one in [m, n] with two (as `math.random`).
---@param m? integer
---@param n? integer
---@return integer
function linux.random(m, n) end

---The index of device `name` in the state's network namespace; raises when there is none.
---@param name string
---@return integer
function linux.ifindex(name) end

---The hardware address (bytes) of the device with index `ifindex` in the state's network
---namespace; raises when there is none.
---@param ifindex integer
---@return string
function linux.ifaddr(ifindex) end

---The kernel's name for an error number (`2` -> `"ENOENT"`, either sign), or `"unknown"`.
---@param n integer
---@return string
function linux.errname(n) end

---The number of possible CPU ids (CPUs are `0 .. numcpus() - 1`).
---@return integer
function linux.numcpus() end
