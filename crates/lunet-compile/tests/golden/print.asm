; 95 instructions, 104 bytes of stack, 8 values (0 spilled)
; golden/print.lua:6: local function hook(packet)
    0: *(u64 *)(r10 -8) = r1
    1: r9 = *(u32 *)(r1 +0)
    2: r8 = *(u32 *)(r1 +4)
; golden/print.lua:7: if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 or packet:getuint8(23) ~= 17 then
    3: r0 = r9
    4: r0 += 14
    5: if r0 > r8 goto 93
    6: r2 = *(u16 *)(r9 +12)
    7: r2 = be16 r2
    8: if r2 != 0x800 goto 14
    9: r0 = r9
   10: r0 += 24
   11: if r0 > r8 goto 93
   12: r2 = *(u8 *)(r9 +23)
   13: if r2 == 0x11 goto 36
; golden/print.lua:8: print("not udp", nil)
   14: *(u64 *)(r10 -104) = 16908288
   15: *(u64 *)(r10 -96) = 1028
   16: r1 = map[lunet_print] ll
   18: r2 = r10
   19: r2 += -104
   20: r3 = 16
   21: r4 = 0
   22: call bpf_ringbuf_output#130
   23: if r0 == 0x0 goto 34
   24: *(u32 *)(r10 -104) = 0
   25: r1 = map[lunet_printlost] ll
   27: r2 = r10
   28: r2 += -104
   29: call bpf_map_lookup_elem#1
   30: if r0 == 0x0 goto 34
   31: r1 = *(u64 *)(r0 +0)
   32: r1 += 1
   33: *(u64 *)(r0 +0) = r1
; golden/print.lua:9: return xdp.PASS
   34: r0 = 2
   35: exit
; golden/print.lua:11: local dport = byteorder.ntoh16(packet:getuint16(36))
   36: r0 = r9
   37: r0 += 38
   38: if r0 > r8 goto 93
   39: r2 = *(u16 *)(r9 +36)
   40: r2 = be16 r2
; golden/print.lua:12: print("udp", dport, dport == 53, packet:getstring(42))
   41: r3 = 0
   42: if r2 != 0x35 goto 44
   43: r3 = 1
   44: r4 = r8
   45: r4 -= r9
   46: if r4 < 0x2a goto 93
   47: r4 -= 42
   48: *(u64 *)(r10 -104) = 17039361
   49: *(u64 *)(r10 -96) = 84017412
   50: *(u64 *)(r10 -88) = r2
   51: r3 += 2
   52: *(u8 *)(r10 -94) = r3
   53: *(u64 *)(r10 -80) = r4
   54: *(u64 *)(r10 -72) = 0
   55: *(u64 *)(r10 -64) = 0
   56: *(u64 *)(r10 -56) = 0
   57: *(u64 *)(r10 -48) = 0
   58: *(u64 *)(r10 -40) = 0
   59: *(u64 *)(r10 -32) = 0
   60: *(u64 *)(r10 -24) = 0
   61: *(u64 *)(r10 -16) = 0
   62: r0 = r4
   63: if r0 <= 0x40 goto 65
   64: r0 = 64
   65: if r0 >= 0x1 goto 67
   66: r0 = 1
   67: r2 = 42
   68: r4 = r0
   69: r3 = r10
   70: r3 += -72
   71: r1 = *(u64 *)(r10 -8)
   72: call bpf_xdp_load_bytes#189
   73: r1 = map[lunet_print] ll
   75: r2 = r10
   76: r2 += -104
   77: r3 = 96
   78: r4 = 0
   79: call bpf_ringbuf_output#130
   80: if r0 == 0x0 goto 91
   81: *(u32 *)(r10 -104) = 0
   82: r1 = map[lunet_printlost] ll
   84: r2 = r10
   85: r2 += -104
   86: call bpf_map_lookup_elem#1
   87: if r0 == 0x0 goto 91
   88: r1 = *(u64 *)(r0 +0)
   89: r1 += 1
   90: *(u64 *)(r0 +0) = r1
; golden/print.lua:13: return xdp.PASS
   91: r0 = 2
   92: exit
; golden/print.lua:14: end
   93: r0 = 2
   94: exit
