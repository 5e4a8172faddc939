; 30 instructions, 0 bytes of stack, 7 values (0 spilled)
; golden/closures.lua:18: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/closures.lua:19: local step, get = counter(packet:getuint8(0))
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 28
    5: r2 = *(u8 *)(r9 +0)
; golden/closures.lua:9: local function step(k) n = n + k return n end
    6: r2 += 2
    7: r3 = r2
    8: r3 += r2
; golden/closures.lua:15: return function(off) return packet:getuint8(base + off) end
    9: r0 = r9
   10: r0 += 2
   11: if r0 > r8 goto 28
   12: r2 = *(u8 *)(r9 +1)
; golden/closures.lua:23: local twice = function(x) return x * 2 end
   13: r2 *= 2
; golden/closures.lua:26: keep(twice(at(0)) + get())
   14: r2 += r3
; golden/closures.lua:27: if last > 20 then return action.DROP end
   15: if r2 s<= 0x14 goto 18
   16: r0 = 1
   17: exit
; golden/closures.lua:28: return last % 5
   18: if r2 s< 0x0 goto 21
   19: r2 %= 5
   20: goto 25
   21: r2 ^= -1
   22: r2 %= 5
   23: r2 = -r2
   24: r2 += 4
   25: if r2 > 0x4 goto 28
   26: r0 = r2
   27: exit
; golden/closures.lua:29: end
   28: r0 = 2
   29: exit
