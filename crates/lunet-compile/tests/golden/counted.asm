; 26 instructions, 8 bytes of stack, 1 values (0 spilled)
; golden/counted.lua:6: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/counted.lua:7: if packet:getuint8(23) == 17 then
    2: r0 = r9
    3: r0 += 24
    4: if r0 > r8 goto 11
    5: r2 = *(u8 *)(r9 +23)
    6: if r2 != 0x11 goto 9
; golden/counted.lua:8: return xdp.DROP
    7: r0 = 1
    8: goto 13
; golden/counted.lua:10: return xdp.PASS
    9: r0 = 2
   10: goto 13
; golden/counted.lua:11: end
   11: r0 = 2
   12: goto 13
   13: r6 = r0
   14: *(u32 *)(r10 -8) = r6
   15: r1 = map[lunet_verdicts] ll
   17: r2 = r10
   18: r2 += -8
   19: call bpf_map_lookup_elem#1
   20: if r0 == 0x0 goto 24
   21: r1 = *(u64 *)(r0 +0)
   22: r1 += 1
   23: *(u64 *)(r0 +0) = r1
   24: r0 = r6
   25: exit
