; 44 instructions, 0 bytes of stack, 18 values (0 spilled)
; golden/loop.lua:4: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/loop.lua:7: sum = sum + packet:getuint8(i)
    2: r2 = 0
    3: r3 = 0
    4: r4 = r2
    5: if r4 > 0x7fff goto 42
    6: r4 += r9
    7: r0 = r4
    8: r0 += 1
    9: if r0 > r8 goto 42
   10: r4 = *(u8 *)(r4 +0)
   11: r5 = r3
   12: r5 += r4
   13: if r2 == 0xf goto 17
   14: r2 += 1
   15: r3 = r5
   16: goto 4
; golden/loop.lua:11: n = n + 1
   17: r2 = 16
   18: if r2 > 0x7fff goto 42
   19: r3 = r2
   20: r3 += r9
   21: r0 = r3
   22: r0 += 1
   23: if r0 > r8 goto 42
   24: r3 = *(u8 *)(r3 +0)
   25: if r3 == 0x0 goto 31
   26: may_goto 42
   27: r3 = r2
   28: r3 += 1
   29: r2 = r3
   30: goto 18
; golden/loop.lua:13: return (sum + n) % 3
   31: r5 += r2
   32: if r5 s< 0x0 goto 35
   33: r5 %= 3
   34: goto 39
   35: r5 ^= -1
   36: r5 %= 3
   37: r5 = -r5
   38: r5 += 2
   39: if r5 > 0x4 goto 42
   40: r0 = r5
   41: exit
; golden/loop.lua:14: end
   42: r0 = 2
   43: exit
