---A netfilter hook's packet: the network layer's bytes (`skb:getuint8(9)` is the IP
---protocol), one object for the hook's life showing the packet of its current call.
---`#skb` is the network layer's length.
---@class lunet.skb
---@operator len: integer
local skb = {}

---Reads an unsigned byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getbyte(offset) end

---Writes an unsigned byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setbyte(offset, value) end

---Reads a signed byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getint8(offset) end

---Writes a signed byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setint8(offset, value) end

---Reads an unsigned byte at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getuint8(offset) end

---Writes an unsigned byte at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setuint8(offset, value) end

---Reads a signed 16-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getint16(offset) end

---Writes a signed 16-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setint16(offset, value) end

---Reads an unsigned 16-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getuint16(offset) end

---Writes an unsigned 16-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setuint16(offset, value) end

---Reads a signed 32-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getint32(offset) end

---Writes a signed 32-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setint32(offset, value) end

---Reads an unsigned 32-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getuint32(offset) end

---Writes an unsigned 32-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setuint32(offset, value) end

---Reads a signed 64-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getint64(offset) end

---Writes a signed 64-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setint64(offset, value) end

---Reads a signed 64-bit integer at `offset` (0-based, host byte order); out of bounds raises.
---@param offset integer
---@return integer
function skb:getnumber(offset) end

---Writes a signed 64-bit integer at `offset` (0-based, host byte order; truncated to the width).
---@param offset integer
---@param value integer
function skb:setnumber(offset, value) end

---The bytes from `offset`: `length` of them, or to the end.
---@param offset integer
---@param length? integer
---@return string
function skb:getstring(offset, length) end

---Writes the bytes of `s` at `offset`.
---@param offset integer
---@param s string
function skb:setstring(offset, s) end

---A view of this call's `"net"` layer (the default) or its read-only `"mac"` layer
---(a link-layer header lunet makes up: only the source address and EtherType are known).
---@param layer? "net"|"mac"
---@return lunet.data
function skb:data(layer) end

---The index of the interface the packet came in on (or goes out of).
---@return integer
function skb:ifindex() end

---The packet's mark.
---@return integer
function skb:mark() end
