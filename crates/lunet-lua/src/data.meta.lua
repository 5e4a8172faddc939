---A data object: bounds-checked bytes (an XDP hook's `packet`, `skb:data()`, `data.new`, and
---the `skb` itself), a packet's valid during the call it was made for. `#d` is its length,
---`tostring(d)` its bytes; `data`, `ifindex` and `mark` are the `skb`'s (nil or an error on
---other views).
---@class lunet.data
---@operator len: integer
local data = {}

---Reads an unsigned byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getbyte(offset) end

---Writes an unsigned byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setbyte(offset, value) end

---Reads a signed byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getint8(offset) end

---Writes a signed byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setint8(offset, value) end

---Reads an unsigned byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getuint8(offset) end

---Writes an unsigned byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setuint8(offset, value) end

---Reads a signed 16-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getint16(offset) end

---Writes a signed 16-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setint16(offset, value) end

---Reads an unsigned 16-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getuint16(offset) end

---Writes an unsigned 16-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setuint16(offset, value) end

---Reads a signed 32-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getint32(offset) end

---Writes a signed 32-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setint32(offset, value) end

---Reads an unsigned 32-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getuint32(offset) end

---Writes an unsigned 32-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setuint32(offset, value) end

---Reads a signed 64-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getint64(offset) end

---Writes a signed 64-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setint64(offset, value) end

---Reads a signed 64-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function data:getnumber(offset) end

---Writes a signed 64-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function data:setnumber(offset, value) end

---The bytes from `offset`: `length` of them, or to the end.
---@param offset integer
---@param length? integer
---@return string
function data:getstring(offset, length) end

---Writes the bytes of `s` at `offset`.
---@param offset integer
---@param s string
function data:setstring(offset, s) end

---A view of this call's `"net"` layer (the default) or its `"mac"` layer (from the Ethernet
---header on: the kernel's when it sends it, else rebuilt, see docs/lua-tier.md; writes to
---the header itself reach `forward`, not the kernel's packet). A packet with no link-layer
---header (sent by a local process) raises for `"mac"`.
---@param layer? "net"|"mac"
---@return lunet.data
function data:data(layer) end

---The index of the interface the packet came in on (or goes out of); nil when none.
---@return integer?
function data:ifindex() end

---The packet's mark.
---@return integer
function data:mark() end

---The Internet checksum of `length` bytes from `offset` (default: all of them), folded and
---inverted, as a 16-bit value in host byte order (store it with `setuint16`).
---@param offset? integer
---@param length? integer
---@return integer
function data:checksum(offset, length) end

---Sets the length of a `data.new` object to `n` bytes (cut, or zeros added); packet views
---raise ("cannot resize external memory").
---@param n integer
function data:resize(n) end
