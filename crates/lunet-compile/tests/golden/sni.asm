; 234 instructions, 0 bytes of stack, 104 values (0 spilled)
; golden/sni.lua:35: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
    2: r0 = r9
    3: r0 += 14
    4: if r0 > r8 goto 232
    5: r2 = *(u16 *)(r9 +12)
    6: r2 = be16 r2
; golden/sni.lua:36: if u16(packet, 12) ~= 0x0800 then return xdp.PASS end
    7: if r2 == 0x800 goto 10
    8: r0 = 2
    9: exit
; golden/sni.lua:37: if packet:getuint8(23) ~= 6 then return xdp.PASS end
   10: r0 = r9
   11: r0 += 24
   12: if r0 > r8 goto 232
   13: r2 = *(u8 *)(r9 +23)
   14: if r2 == 0x6 goto 17
   15: r0 = 2
   16: exit
; golden/sni.lua:38: local ihl = (packet:getuint8(14) & 0x0f) * 4
   17: r2 = *(u8 *)(r9 +14)
   18: r2 &= 15
   19: r2 *= 4
; golden/sni.lua:39: local tcp = 14 + ihl
   20: r3 = r2
   21: r3 += 14
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
   22: if r2 > 0x7fff goto 232
   23: r4 = r2
   24: r4 += r9
   25: r0 = r4
   26: r0 += 18
   27: if r0 > r8 goto 232
   28: r4 = *(u16 *)(r4 +16)
   29: r4 = be16 r4
; golden/sni.lua:40: if u16(packet, tcp + 2) ~= 443 then return xdp.PASS end
   30: if r4 == 0x1bb goto 33
   31: r0 = 2
   32: exit
; golden/sni.lua:41: local tls = tcp + (packet:getuint8(tcp + 12) >> 4) * 4
   33: if r2 > 0x7fff goto 232
   34: r2 += r9
   35: r0 = r2
   36: r0 += 27
   37: if r0 > r8 goto 232
   38: r2 = *(u8 *)(r2 +26)
   39: r2 >>= 4
   40: r2 *= 4
   41: r3 += r2
; golden/sni.lua:42: if #packet < tls + 6 then return xdp.PASS end
   42: r2 = r8
   43: r2 -= r9
   44: r4 = r3
   45: r4 += 6
   46: if r2 s>= r4 goto 49
   47: r0 = 2
   48: exit
; golden/sni.lua:43: if packet:getuint8(tls) ~= 22 or packet:getuint8(tls + 5) ~= 1 then return xdp.PASS end
   49: if r3 > 0x7fff goto 232
   50: r2 = r3
   51: r2 += r9
   52: r0 = r2
   53: r0 += 1
   54: if r0 > r8 goto 232
   55: r4 = *(u8 *)(r2 +0)
   56: if r4 != 0x16 goto 62
   57: r0 = r2
   58: r0 += 6
   59: if r0 > r8 goto 232
   60: r2 = *(u8 *)(r2 +5)
   61: if r2 == 0x1 goto 64
   62: r0 = 2
   63: exit
; golden/sni.lua:44: local off, len = server_name(packet, tls + 5, tls + 5 + u16(packet, tls + 3))
   64: r2 = r3
   65: r2 += 5
   66: r4 = r3
   67: r4 += 5
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
   68: if r3 > 0x7fff goto 232
   69: r5 = r3
   70: r5 += r9
   71: r0 = r5
   72: r0 += 5
   73: if r0 > r8 goto 232
   74: r5 = *(u16 *)(r5 +3)
   75: r5 = be16 r5
; golden/sni.lua:44: local off, len = server_name(packet, tls + 5, tls + 5 + u16(packet, tls + 3))
   76: r4 += r5
; golden/sni.lua:15: local off = hs + 4 + 2 + 32
   77: r2 += 4
   78: r2 += 2
   79: r2 += 32
; golden/sni.lua:16: off = off + 1 + packet:getuint8(off)      -- session id
   80: r2 += 1
   81: if r3 > 0x7fff goto 232
   82: r3 += r9
   83: r0 = r3
   84: r0 += 44
   85: if r0 > r8 goto 232
   86: r3 = *(u8 *)(r3 +43)
   87: r2 += r3
; golden/sni.lua:17: off = off + 2 + u16(packet, off)          -- cipher suites
   88: r3 = r2
   89: r3 += 2
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
   90: if r2 > 0x7fff goto 232
   91: r2 += r9
   92: r0 = r2
   93: r0 += 2
   94: if r0 > r8 goto 232
   95: r2 = *(u16 *)(r2 +0)
   96: r2 = be16 r2
; golden/sni.lua:17: off = off + 2 + u16(packet, off)          -- cipher suites
   97: r3 += r2
; golden/sni.lua:18: off = off + 1 + packet:getuint8(off)      -- compression methods
   98: r2 = r3
   99: r2 += 1
  100: if r3 > 0x7fff goto 232
  101: r3 += r9
  102: r0 = r3
  103: r0 += 1
  104: if r0 > r8 goto 232
  105: r3 = *(u8 *)(r3 +0)
  106: r2 += r3
; golden/sni.lua:19: local ext_end = off + 2 + u16(packet, off)
  107: r3 = r2
  108: r3 += 2
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
  109: if r2 > 0x7fff goto 232
  110: r5 = r2
  111: r5 += r9
  112: r0 = r5
  113: r0 += 2
  114: if r0 > r8 goto 232
  115: r5 = *(u16 *)(r5 +0)
  116: r5 = be16 r5
; golden/sni.lua:19: local ext_end = off + 2 + u16(packet, off)
  117: r3 += r5
; golden/sni.lua:20: if ext_end > stop then ext_end = stop end
  118: if r4 s>= r3 goto 120
  119: goto 121
  120: r4 = r3
; golden/sni.lua:21: off = off + 2
  121: r2 += 2
; golden/sni.lua:30: off = off + 4 + len
  122: r3 = r2
  123: r3 += 4
  124: if r3 s> r4 goto 181
  125: may_goto 232
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
  126: if r2 > 0x7fff goto 232
  127: r3 = r2
  128: r3 += r9
  129: r0 = r3
  130: r0 += 2
  131: if r0 > r8 goto 232
  132: r3 = *(u16 *)(r3 +0)
  133: r3 = be16 r3
; golden/sni.lua:24: local len = u16(packet, off + 2)
  134: r5 = r2
  135: r5 += 2
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
  136: if r5 > 0x7fff goto 232
  137: r5 += r9
  138: r0 = r5
  139: r0 += 2
  140: if r0 > r8 goto 232
  141: r5 = *(u16 *)(r5 +0)
  142: r5 = be16 r5
; golden/sni.lua:25: if kind == 0 then
  143: if r3 != 0x0 goto 166
; golden/sni.lua:27: if packet:getuint8(off + 6) ~= 0 then return nil end
  144: r3 = r2
  145: r3 += 6
  146: if r3 > 0x7fff goto 232
  147: r3 += r9
  148: r0 = r3
  149: r0 += 1
  150: if r0 > r8 goto 232
  151: r3 = *(u8 *)(r3 +0)
  152: if r3 == 0x0 goto 154
  153: goto 171
; golden/sni.lua:28: return off + 9, u16(packet, off + 7)
  154: r3 = r2
  155: r3 += 9
  156: r6 = r2
  157: r6 += 7
; golden/sni.lua:10: return byteorder.ntoh16(packet:getuint16(off))
  158: if r6 > 0x7fff goto 232
  159: r6 += r9
  160: r0 = r6
  161: r0 += 2
  162: if r0 > r8 goto 232
  163: r6 = *(u16 *)(r6 +0)
  164: r6 = be16 r6
  165: goto 176
; golden/sni.lua:30: off = off + 4 + len
  166: r7 = r2
  167: r7 += 4
  168: r7 += r5
  169: r2 = r7
  170: goto 122
; golden/sni.lua:44: local off, len = server_name(packet, tls + 5, tls + 5 + u16(packet, tls + 3))
  171: r2 = 0
  172: r4 = 0
  173: r5 = 0
  174: r7 = 0
  175: goto 185
  176: r2 = 1
  177: r4 = r3
  178: r5 = 1
  179: r7 = r6
  180: goto 185
  181: r2 = 0
  182: r4 = 0
  183: r5 = 0
  184: r7 = 0
; golden/sni.lua:45: if off and blocked[packet:getstring(off, len)] then
  185: if r2 == 0x0 goto 230
  186: if r2 == 0x0 goto 232
  187: if r5 == 0x0 goto 232
  188: if r7 > 0x7fff goto 232
  189: if r4 > 0x7fff goto 232
  190: r2 = r4
  191: r2 += r9
  192: r0 = r2
  193: r0 += r7
  194: if r0 > r8 goto 232
  195: r2 = 0
  196: if r7 != 0x8 goto 209
  197: if r4 > 0x7fff goto 232
  198: r3 = r4
  199: r3 += r9
  200: r0 = r3
  201: r0 += 8
  202: if r0 > r8 goto 232
  203: r3 = *(u64 *)(r3 +0)
  204: r1 = 0x747365742e736461 ll
  206: if r3 != r1 goto 227
  207: r2 = 1
  208: goto 227
  209: if r7 != 0xf goto 227
  210: if r4 > 0x7fff goto 232
  211: r3 = r4
  212: r3 += r9
  213: r0 = r3
  214: r0 += 15
  215: if r0 > r8 goto 232
  216: r4 = *(u64 *)(r3 +0)
  217: r5 = *(u32 *)(r3 +8)
  218: r6 = *(u16 *)(r3 +12)
  219: r3 = *(u8 *)(r3 +14)
  220: r1 = 0x2e64656b636f6c62 ll
  222: if r4 != r1 goto 227
  223: if w5 != 0x6d617865 goto 227
  224: if r6 != 0x6c70 goto 227
  225: if r3 != 0x65 goto 227
  226: r2 = 1
  227: if r2 == 0x0 goto 230
; golden/sni.lua:46: return xdp.DROP
  228: r0 = 1
  229: exit
; golden/sni.lua:48: return xdp.PASS
  230: r0 = 2
  231: exit
; golden/sni.lua:49: end
  232: r0 = 2
  233: exit
