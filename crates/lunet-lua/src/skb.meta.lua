---A netfilter hook's packet: the network layer's bytes (`skb:getuint8(9)` is the IP
---protocol), one object for the hook's life showing the packet of its current call; it has
---every method of a data object. `#skb` is the network layer's length.
---@class lunet.skb: lunet.data
---@operator len: integer
local skb = {}
