---A netfilter hook's packet: the network layer's bytes (`skb:getuint8(9)` is the IP
---protocol), one object for the hook's life showing the packet of its current call; it has
---every method of a data object. `#skb` is the network layer's length.
---@class lunet.skb: lunet.data
---@operator len: integer
local skb = {}

---The VLAN id the kernel reported for the packet, or nil (routed packets have none by the
---time netfilter sees them: the VLAN device took the tag off, as in Lunatik).
---@return integer?
function skb:vlan() end

---The mark of the packet's connection, after setting it to `value` when given; nil when the
---packet has no conntrack entry. The new mark goes to the kernel with the verdict.
---@param value? integer
---@return integer?
function skb:connmark(value) end

---A copy of the packet (Ethernet header included) with its own bytes: change it, then
---`forward` it.
---@return lunet.skb
function skb:copy() end

---Sets the network layer's length to `n` bytes (cut, or zeros added at the end).
---@param n integer
function skb:resize(n) end

---Recomputes the IPv4 header checksum and the TCP or UDP checksum (IPv4, or IPv6 without
---extension headers) in place.
function skb:checksum() end

---Sends the packet, from its Ethernet header on, out of the interface it came in on.
function skb:forward() end

---lunet: the verdict for the rest of this packet's flow (IPv4 TCP or UDP, same mark), applied
---in the kernel before the hook's queue, for `seconds` (default 60, at most 86400).
---@param verdict integer nf.action.DROP or nf.action.ACCEPT
---@param seconds? integer
---@return boolean
function skb:flow(verdict, seconds) end
