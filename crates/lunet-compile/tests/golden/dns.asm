; 142 instructions, 8 bytes of stack, 47 values (1 spilled)
; golden/dns.lua:27: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/dns.lua:28: if byteorder.ntoh16(packet:getuint16(12)) ~= 0x0800 then return xdp.PASS end
    2: r0 = r9
    3: r0 += 14
    4: if r0 > r8 goto 140
    5: r2 = *(u16 *)(r9 +12)
    6: r2 = be16 r2
    7: if r2 == 0x800 goto 10
    8: r0 = 2
    9: exit
; golden/dns.lua:29: local ihl = (packet:getuint8(14) & 0x0f) * 4
   10: r0 = r9
   11: r0 += 24
   12: if r0 > r8 goto 140
   13: r2 = *(u8 *)(r9 +14)
   14: r2 &= 15
   15: *(u64 *)(r10 -8) = r2
   16: r0 = *(u64 *)(r10 -8)
   17: r0 *= 4
   18: *(u64 *)(r10 -8) = r0
; golden/dns.lua:30: if packet:getuint8(23) ~= 17 then return xdp.PASS end
   19: r3 = *(u8 *)(r9 +23)
   20: if r3 == 0x11 goto 23
   21: r0 = 2
   22: exit
; golden/dns.lua:31: local udp = 14 + ihl
   23: r3 = *(u64 *)(r10 -8)
   24: r3 += 14
; golden/dns.lua:32: if byteorder.ntoh16(packet:getuint16(udp + 2)) ~= 53 then return xdp.PASS end
   25: r1 = *(u64 *)(r10 -8)
   26: if r1 > 0x7fff goto 140
   27: r4 = r1
   28: r4 += r9
   29: r0 = r4
   30: r0 += 18
   31: if r0 > r8 goto 140
   32: r4 = *(u16 *)(r4 +16)
   33: r4 = be16 r4
   34: if r4 == 0x35 goto 37
   35: r0 = 2
   36: exit
; golden/dns.lua:33: local dns = udp + 8
   37: r3 += 8
; golden/dns.lua:34: if packet:getuint8(dns + 2) & 0x80 ~= 0 then return xdp.PASS end
   38: r1 = *(u64 *)(r10 -8)
   39: if r1 > 0x7fff goto 140
   40: r4 = r1
   41: r4 += r9
   42: r0 = r4
   43: r0 += 25
   44: if r0 > r8 goto 140
   45: r4 = *(u8 *)(r4 +24)
   46: r4 &= 128
   47: if r4 == 0x0 goto 50
   48: r0 = 2
   49: exit
; golden/dns.lua:35: local qname = dns + 12
   50: r3 += 12
; golden/dns.lua:22: off = off + 1 + len
   51: r4 = 1
   52: r5 = r3
; golden/dns.lua:15: local len = packet:getuint8(off)
   53: if r5 > 0x7fff goto 140
   54: r6 = r5
   55: r6 += r9
   56: r0 = r6
   57: r0 += 1
   58: if r0 > r8 goto 140
   59: r6 = *(u8 *)(r6 +0)
; golden/dns.lua:16: if len == 0 then
   60: if r6 != 0x0 goto 65
; golden/dns.lua:17: return off + 1 - start
   61: r7 = r5
   62: r7 += 1
   63: r7 -= r3
   64: goto 74
; golden/dns.lua:19: if len > 63 then
   65: if r6 s<= 0x3f goto 67
; golden/dns.lua:20: return nil
   66: goto 76
; golden/dns.lua:22: off = off + 1 + len
   67: r2 = r5
   68: r2 += 1
   69: r2 += r6
   70: if r4 == 0x7f goto 79
   71: r4 += 1
   72: r5 = r2
   73: goto 53
; golden/dns.lua:36: local n = name_length(packet, qname)
   74: r2 = 1
   75: goto 81
   76: r2 = 0
   77: r7 = 0
   78: goto 81
   79: r2 = 0
   80: r7 = 0
; golden/dns.lua:37: if n and blocked[packet:getstring(qname, n)] then
   81: if r2 == 0x0 goto 138
   82: if r2 == 0x0 goto 140
   83: if r7 > 0x7fff goto 140
   84: if r3 > 0x7fff goto 140
   85: r2 = r3
   86: r2 += r9
   87: r0 = r2
   88: r0 += r7
   89: if r0 > r8 goto 140
   90: r2 = 0
   91: if r7 != 0xa goto 107
   92: r1 = *(u64 *)(r10 -8)
   93: if r1 > 0x7fff goto 140
   94: r3 = r1
   95: r3 += r9
   96: r0 = r3
   97: r0 += 44
   98: if r0 > r8 goto 140
   99: r4 = *(u64 *)(r3 +34)
  100: r3 = *(u16 *)(r3 +42)
  101: r1 = 0x7365740473646103 ll
  103: if r4 != r1 goto 135
  104: if r3 != 0x74 goto 135
  105: r2 = 1
  106: goto 135
  107: if r7 != 0x11 goto 135
  108: r1 = *(u64 *)(r10 -8)
  109: if r1 > 0x7fff goto 140
  110: r3 = r1
  111: r3 += r9
  112: r0 = r3
  113: r0 += 51
  114: if r0 > r8 goto 140
  115: r4 = *(u64 *)(r3 +34)
  116: r5 = *(u64 *)(r3 +42)
  117: r3 = *(u8 *)(r3 +50)
  118: r1 = 0x64656b636f6c6207 ll
  120: if r4 != r1 goto 127
  121: r1 = 0x656c706d61786507 ll
  123: if r5 != r1 goto 127
  124: if r3 != 0x0 goto 127
  125: r2 = 1
  126: goto 135
  127: r1 = 0x72656b6361727407 ll
  129: if r4 != r1 goto 135
  130: r1 = 0x64696c61766e6907 ll
  132: if r5 != r1 goto 135
  133: if r3 != 0x0 goto 135
  134: r2 = 1
  135: if r2 == 0x0 goto 138
; golden/dns.lua:38: return xdp.DROP
  136: r0 = 1
  137: exit
; golden/dns.lua:40: return xdp.PASS
  138: r0 = 2
  139: exit
; golden/dns.lua:41: end
  140: r0 = 2
  141: exit
