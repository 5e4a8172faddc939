; 29 instructions, 0 bytes of stack, 23 values (0 spilled)
; golden/select.lua:23: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/select.lua:7: return packet:getuint8(0), packet:getuint8(1), packet:getuint8(2)
    2: r0 = r9
    3: r0 += 3
    4: if r0 > r8 goto 27
    5: r2 = *(u8 *)(r9 +1)
    6: r3 = *(u8 *)(r9 +2)
    7: r4 = *(u8 *)(r9 +0)
    8: r5 = *(u8 *)(r9 +1)
    9: r6 = *(u8 *)(r9 +0)
; golden/select.lua:30: if a == 5 then return select(4, three(packet)) end
   10: if r2 != 0x5 goto 13
; golden/select.lua:7: return packet:getuint8(0), packet:getuint8(1), packet:getuint8(2)
   11: r0 = 2
   12: exit
; golden/select.lua:31: return (a + b + c + d + e) % 5
   13: r2 += r3
   14: r2 += r4
   15: r2 += r5
   16: r2 += r6
   17: if r2 s< 0x0 goto 20
   18: r2 %= 5
   19: goto 24
   20: r2 ^= -1
   21: r2 %= 5
   22: r2 = -r2
   23: r2 += 4
   24: if r2 > 0x4 goto 27
   25: r0 = r2
   26: exit
; golden/select.lua:32: end
   27: r0 = 2
   28: exit
