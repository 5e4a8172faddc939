---@meta checksum
---Internet checksums over data objects (lunet's own module).
local checksum = {}

---The Internet checksum (RFC 1071) of `len` bytes of `d` from `off` (default: all of it).
---@param d lunet.data
---@param off? integer
---@param len? integer
---@return integer
function checksum.inet(d, off, len) end

---Sets the IPv4 header checksum of the packet `d` in place.
---@param d lunet.data
function checksum.ipv4(d) end

---Sets the TCP or UDP checksum of the IPv4 or IPv6 packet `d` in place.
---@param d lunet.data
function checksum.transport(d) end
