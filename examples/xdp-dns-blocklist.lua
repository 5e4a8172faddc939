-- DNS blocklist at XDP, compiled to eBPF: drops IPv4 DNS queries (UDP port 53) for a listed
-- name or any of its subdomains. The body turns the readable list into wire-format names
-- (each label prefixed by its length, ending in a 0 byte); the hook walks the query name's
-- labels and looks up every suffix that starts at a label. Names compare as sent (no case
-- folding in the kernel tier), and names of more than MAX_LABELS labels pass: the verifier
-- checks every path through both loops, so their bounds are kept small.
--
--   lunet check examples/xdp-dns-blocklist.lua
--   sudo lunet run examples/xdp-dns-blocklist.lua --dev eth0

local xdp = require("xdp")
local byteorder = require("byteorder")

local blocklist = { "blocked.example", "ads.test", "tracker.invalid" }
local MAX_LABELS = 16

local blocked = {}
for _, name in ipairs(blocklist) do
  local wire = {}
  for label in name:gmatch("[^.]+") do
    wire[#wire + 1] = string.char(#label) .. label
  end
  blocked[table.concat(wire) .. "\0"] = true
end

---@param packet lunet.data
local function filter(packet)
  if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then return xdp.PASS end
  if packet:getuint8(23) ~= 17 then return xdp.PASS end
  local udp = 14 + (packet:getuint8(14) & 0x0f) * 4
  if byteorder.ntoh16(packet:getuint16(udp + 2)) ~= 53 then return xdp.PASS end
  local dns = udp + 8
  if packet:getuint8(dns + 2) & 0x80 ~= 0 then return xdp.PASS end -- a response
  local qname = dns + 12

  -- Find the end of the name first (labels of at most 63 bytes, a name of at most 255).
  local stop = qname
  for _ = 1, MAX_LABELS do
    local len = packet:getuint8(stop)
    if len == 0 then break end
    if len > 63 then return xdp.PASS end -- compression or a reserved label type
    stop = stop + 1 + len
  end
  if packet:getuint8(stop) ~= 0 or stop - qname > 254 then return xdp.PASS end

  -- Every suffix that starts at a label: "www.blocked.example", "blocked.example", ...
  local at = qname
  for _ = 1, MAX_LABELS do
    if at >= stop then break end
    if blocked[packet:getstring(at, stop + 1 - at)] then
      return xdp.DROP
    end
    at = at + 1 + packet:getuint8(at)
  end
  return xdp.PASS
end

xdp.attach(filter, { name = "dns-blocklist" })
