; 63 instructions, 0 bytes of stack, 13 values (0 spilled)
; golden/values.lua:10: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/values.lua:11: local kind = packet:getuint8(0)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 61
    5: r2 = *(u8 *)(r9 +0)
; golden/values.lua:12: local w = weights[kind] or 0
    6: r3 = 0
    7: r4 = 0
    8: if r2 != 0x1 goto 12
    9: r3 = 1
   10: r4 = 10
   11: goto 19
   12: if r2 != 0x2 goto 16
   13: r3 = 1
   14: r4 = 20
   15: goto 19
   16: if r2 != 0x3 goto 19
   17: r3 = 1
   18: r4 = 30
   19: if r3 != 0x0 goto 21
   20: r4 = 0
; golden/values.lua:14: if kind == 1 then
   21: if r2 != 0x1 goto 23
; golden/values.lua:15: l4 = 20
   22: goto 25
; golden/values.lua:16: elseif kind == 2 then
   23: if r2 != 0x2 goto 31
; golden/values.lua:17: l4 = 40
   24: goto 28
   25: r2 = 1
   26: r3 = 20
   27: goto 33
   28: r2 = 1
   29: r3 = 40
   30: goto 33
   31: r2 = 0
   32: r3 = 0
; golden/values.lua:19: local big = w > 15 and 1 or 0
   33: if r4 s<= 0xf goto 36
   34: r4 = 1
   35: goto 37
   36: r4 = 0
; golden/values.lua:20: if l4 == nil then
   37: if r2 != 0x0 goto 40
; golden/values.lua:21: return xdp.PASS
   38: r0 = 2
   39: exit
; golden/values.lua:23: return (u16(packet, l4 - 18) + big) % 5
   40: if r2 == 0x0 goto 61
   41: r3 -= 18
; golden/values.lua:7: return byteorder.ntoh16(packet:getuint16(off))
   42: if r3 > 0x7fff goto 61
   43: r2 = r3
   44: r2 += r9
   45: r0 = r2
   46: r0 += 2
   47: if r0 > r8 goto 61
   48: r2 = *(u16 *)(r2 +0)
   49: r2 = be16 r2
; golden/values.lua:23: return (u16(packet, l4 - 18) + big) % 5
   50: r2 += r4
   51: if r2 s< 0x0 goto 54
   52: r2 %= 5
   53: goto 58
   54: r2 ^= -1
   55: r2 %= 5
   56: r2 = -r2
   57: r2 += 4
   58: if r2 > 0x4 goto 61
   59: r0 = r2
   60: exit
; golden/values.lua:24: end
   61: r0 = 2
   62: exit
