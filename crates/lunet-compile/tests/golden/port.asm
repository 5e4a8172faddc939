; 47 instructions, 0 bytes of stack, 16 values (0 spilled)
; golden/port.lua:7: local function filter(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/port.lua:8: if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then
    2: r0 = r9
    3: r0 += 14
    4: if r0 > r8 goto 45
    5: r2 = *(u16 *)(r9 +12)
    6: r2 = be16 r2
    7: if r2 == 0x800 goto 10
; golden/port.lua:9: return xdp.PASS
    8: r0 = 2
    9: exit
; golden/port.lua:11: local proto = packet:getuint8(23)
   10: r0 = r9
   11: r0 += 24
   12: if r0 > r8 goto 45
   13: r2 = *(u8 *)(r9 +23)
; golden/port.lua:12: if proto ~= 6 and proto ~= 17 then
   14: if r2 == 0x6 goto 18
   15: if r2 == 0x11 goto 18
; golden/port.lua:13: return xdp.PASS
   16: r0 = 2
   17: exit
; golden/port.lua:15: if byteorder.ntoh16(packet:getuint16(20)) & 0x1fff ~= 0 then
   18: r2 = *(u16 *)(r9 +20)
   19: r2 = be16 r2
   20: r2 &= 8191
   21: if r2 == 0x0 goto 24
; golden/port.lua:16: return xdp.PASS -- not the first fragment
   22: r0 = 2
   23: exit
; golden/port.lua:18: local ihl = (packet:getuint8(14) & 0x0f) * 4
   24: r2 = *(u8 *)(r9 +14)
   25: r2 &= 15
   26: r2 *= 4
; golden/port.lua:19: local dport = byteorder.ntoh16(packet:getuint16(14 + ihl + 2))
   27: if r2 > 0x7fff goto 45
   28: r2 += r9
   29: r0 = r2
   30: r0 += 18
   31: if r0 > r8 goto 45
   32: r2 = *(u16 *)(r2 +16)
   33: r2 = be16 r2
; golden/port.lua:20: if blocked[dport] then
   34: r3 = 0
   35: if r2 != 0x9 goto 38
   36: r3 = 1
   37: goto 40
   38: if r2 != 0x1e61 goto 40
   39: r3 = 1
   40: if r3 == 0x0 goto 43
; golden/port.lua:21: return xdp.DROP
   41: r0 = 1
   42: exit
; golden/port.lua:23: return xdp.PASS
   43: r0 = 2
   44: exit
; golden/port.lua:24: end
   45: r0 = 2
   46: exit
