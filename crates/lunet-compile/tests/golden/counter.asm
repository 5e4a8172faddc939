; 56 instructions, 16 bytes of stack, 10 values (0 spilled)
; golden/counter.lua:9: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/counter.lua:10: local src = packet:getuint32(26)
    2: r0 = r9
    3: r0 += 30
    4: if r0 > r8 goto 54
    5: r6 = *(u32 *)(r9 +26)
; golden/counter.lua:11: local n = (counts[src] or 0) + 1
    6: *(u32 *)(r10 -8) = r6
    7: r1 = map[counts] ll
    9: r2 = r10
   10: r2 += -8
   11: call bpf_map_lookup_elem#1
   12: r2 = r0
   13: r3 = 0
   14: r4 = 0
   15: if r2 == 0x0 goto 18
   16: r3 = 1
   17: r4 = *(u64 *)(r2 +0)
   18: if r3 != 0x0 goto 20
   19: r4 = 0
   20: r7 = r4
   21: r7 += 1
; golden/counter.lua:12: counts[src] = n
   22: *(u32 *)(r10 -8) = r6
   23: *(u64 *)(r10 -16) = r7
   24: r1 = map[counts] ll
   26: r2 = r10
   27: r2 += -8
   28: r3 = r10
   29: r3 += -16
   30: r4 = 0
   31: call bpf_map_update_elem#2
   32: r2 = r0
   33: if r2 != 0x0 goto 54
; golden/counter.lua:13: local max = limit[0]
   34: *(u32 *)(r10 -8) = 0
   35: r1 = map[limit] ll
   37: r2 = r10
   38: r2 += -8
   39: call bpf_map_lookup_elem#1
   40: r2 = r0
   41: r3 = 0
   42: r4 = 0
   43: if r2 == 0x0 goto 46
   44: r3 = 1
   45: r4 = *(u64 *)(r2 +0)
; golden/counter.lua:14: if max ~= 0 and n > max then
   46: if r3 == 0x0 goto 48
   47: if r4 == 0x0 goto 52
   48: if r3 == 0x0 goto 54
   49: if r4 s>= r7 goto 52
; golden/counter.lua:15: return xdp.DROP
   50: r0 = 1
   51: exit
; golden/counter.lua:17: return xdp.PASS
   52: r0 = 2
   53: exit
; golden/counter.lua:18: end
   54: r0 = 2
   55: exit
