---@meta byteorder
---Byte order conversions; an input is truncated to the width first.
local byteorder = {}

---Converts between big-endian (network order) and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.ntoh16(x) end

---Converts between big-endian (network order) and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.hton16(x) end

---Converts between big-endian (network order) and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.be16(x) end

---Converts between big-endian (network order) and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.htobe16(x) end

---Converts between big-endian (network order) and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.be16toh(x) end

---Converts between big-endian (network order) and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.ntoh32(x) end

---Converts between big-endian (network order) and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.hton32(x) end

---Converts between big-endian (network order) and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.be32(x) end

---Converts between big-endian (network order) and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.htobe32(x) end

---Converts between big-endian (network order) and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.be32toh(x) end

---Converts between big-endian (network order) and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.ntoh64(x) end

---Converts between big-endian (network order) and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.hton64(x) end

---Converts between big-endian (network order) and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.be64(x) end

---Converts between big-endian (network order) and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.htobe64(x) end

---Converts between big-endian (network order) and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.be64toh(x) end

---Converts between little-endian and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.le16(x) end

---Converts between little-endian and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.htole16(x) end

---Converts between little-endian and host order, 16 bits.
---@param x integer
---@return integer
function byteorder.le16toh(x) end

---Converts between little-endian and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.le32(x) end

---Converts between little-endian and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.htole32(x) end

---Converts between little-endian and host order, 32 bits.
---@param x integer
---@return integer
function byteorder.le32toh(x) end

---Converts between little-endian and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.le64(x) end

---Converts between little-endian and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.htole64(x) end

---Converts between little-endian and host order, 64 bits.
---@param x integer
---@return integer
function byteorder.le64toh(x) end
