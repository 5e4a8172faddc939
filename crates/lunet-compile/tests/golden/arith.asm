; 59 instructions, 0 bytes of stack, 14 values (0 spilled)
; golden/arith.lua:4: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/arith.lua:5: local a = packet:getint32(0)
    2: r0 = r9
    3: r0 += 5
    4: if r0 > r8 goto 57
    5: r2 = *(u32 *)(r9 +0)
    6: r2 <<= 32
    7: r2 s>>= 32
; golden/arith.lua:6: local b = packet:getint8(4)
    8: r3 = *(u8 *)(r9 +4)
    9: r3 <<= 56
   10: r3 s>>= 56
; golden/arith.lua:7: local q = a // b          -- b == 0: the default verdict
   11: if r3 == 0x0 goto 57
   12: if r3 == 0xffffffff goto 29
   13: r4 = r2
   14: if r4 s>= 0x0 goto 16
   15: r4 = -r4
   16: r5 = r3
   17: if r5 s>= 0x0 goto 19
   18: r5 = -r5
   19: r6 = r4
   20: r6 /= r5
   21: r7 = r2
   22: r7 ^= r3
   23: if r7 s>= 0x0 goto 31
   24: r4 %= r5
   25: r6 = -r6
   26: if r4 == 0x0 goto 31
   27: r6 -= 1
   28: goto 31
   29: r6 = r2
   30: r6 = -r6
; golden/arith.lua:8: local r = a % 10
   31: r4 = r2
   32: if r4 s< 0x0 goto 35
   33: r4 %= 10
   34: goto 39
   35: r4 ^= -1
   36: r4 %= 10
   37: r4 = -r4
   38: r4 += 9
; golden/arith.lua:9: local s = a << b          -- counts >= 64 give 0, negative counts shift right
   39: r5 = 0
   40: if r3 s> 0x3f goto 49
   41: if r3 s< 0xffffffc1 goto 49
   42: if r3 s< 0x0 goto 46
   43: r5 = r2
   44: r5 <<= r3
   45: goto 49
   46: r3 = -r3
   47: r5 = r2
   48: r5 >>= r3
; golden/arith.lua:10: return (q + r + s + (a // 4)) & 3
   49: r6 += r4
   50: r6 += r5
   51: r2 s>>= 2
   52: r6 += r2
   53: r6 &= 3
   54: if r6 > 0x4 goto 57
   55: r0 = r6
   56: exit
; golden/arith.lua:11: end
   57: r0 = 2
   58: exit
