; 293 instructions, 96 bytes of stack, 75 values (5 spilled)
; golden/scan.lua:6: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/scan.lua:7: local a = packet:getstring(2, packet:getuint8(0) % 8)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 291
    5: r2 = *(u8 *)(r9 +0)
    6: *(u64 *)(r10 -8) = r2
    7: r0 = *(u64 *)(r10 -8)
    8: r0 &= 7
    9: *(u64 *)(r10 -8) = r0
   10: r0 = *(u64 *)(r10 -8)
   11: if r0 > 0x7fff goto 291
   12: r3 = 2
   13: if r3 > 0x7fff goto 291
   14: r3 += r9
   15: r0 = r3
   16: r1 = *(u64 *)(r10 -8)
   17: r0 += r1
   18: if r0 > r8 goto 291
; golden/scan.lua:8: local b = packet:getstring(10, packet:getuint8(1) % 8)
   19: r0 = r9
   20: r0 += 2
   21: if r0 > r8 goto 291
   22: r3 = *(u8 *)(r9 +1)
   23: r3 &= 7
   24: if r3 > 0x7fff goto 291
   25: r4 = 10
   26: if r4 > 0x7fff goto 291
   27: r4 += r9
   28: r0 = r4
   29: r0 += r3
   30: if r0 > r8 goto 291
; golden/scan.lua:10: if a == b then score = score + 1 end
   31: r0 = *(u64 *)(r10 -8)
   32: if r0 != r3 goto 61
   33: r4 = *(u64 *)(r10 -8)
   34: r5 = *(u64 *)(r10 -8)
   35: r4 -= r5
   36: may_goto 291
   37: if r4 > 0x7fff goto 291
   38: r1 = *(u64 *)(r10 -8)
   39: if r4 s>= r1 goto 59
   40: r5 = 2
   41: r5 += r4
   42: if r5 > 0x7fff goto 291
   43: r5 += r9
   44: r0 = r5
   45: r0 += 1
   46: if r0 > r8 goto 291
   47: r5 = *(u8 *)(r5 +0)
   48: r6 = 10
   49: r6 += r4
   50: if r6 > 0x7fff goto 291
   51: r6 += r9
   52: r0 = r6
   53: r0 += 1
   54: if r0 > r8 goto 291
   55: r6 = *(u8 *)(r6 +0)
   56: if r5 != r6 goto 61
   57: r4 += 1
   58: goto 36
   59: r4 = 1
   60: goto 62
   61: r4 = 0
; golden/scan.lua:11: if a ~= b:sub(2) then score = score + 2 end
   62: r5 = r3
   63: r5 += -1
   64: r5 += 1
   65: if r5 s>= 0x0 goto 67
   66: r5 = 0
   67: r5 -= 2
   68: r5 += 1
   69: r6 = 10
   70: if r5 s<= 0x0 goto 73
   71: r6 = 11
   72: goto 74
   73: r5 = 0
   74: r0 = *(u64 *)(r10 -8)
   75: if r0 != r5 goto 102
   76: r5 = *(u64 *)(r10 -8)
   77: r7 = *(u64 *)(r10 -8)
   78: r5 -= r7
   79: may_goto 291
   80: if r5 > 0x7fff goto 291
   81: r1 = *(u64 *)(r10 -8)
   82: if r5 s>= r1 goto 105
   83: r7 = 2
   84: r7 += r5
   85: if r7 > 0x7fff goto 291
   86: r7 += r9
   87: r0 = r7
   88: r0 += 1
   89: if r0 > r8 goto 291
   90: r7 = *(u8 *)(r7 +0)
   91: r2 = r6
   92: r2 += r5
   93: if r2 > 0x7fff goto 291
   94: r2 += r9
   95: r0 = r2
   96: r0 += 1
   97: if r0 > r8 goto 291
   98: r2 = *(u8 *)(r2 +0)
   99: if r7 != r2 goto 102
  100: r5 += 1
  101: goto 79
  102: r2 = r4
  103: r2 += 2
  104: goto 106
  105: r2 = r4
; golden/scan.lua:12: local i, j = a:find("ab", 1, true)
  106: r0 = 0
  107: *(u64 *)(r10 -16) = r0
  108: r5 = 0
  109: r6 = *(u64 *)(r10 -8)
  110: r6 += 1
  111: if r6 s< 0x1 goto 136
  112: r6 = *(u64 *)(r10 -8)
  113: r7 = *(u64 *)(r10 -8)
  114: r6 -= r7
  115: r7 = *(u64 *)(r10 -8)
  116: r7 += -2
  117: may_goto 291
  118: if r6 > 0x7fff goto 291
  119: if r6 s> r7 goto 136
  120: r4 = 2
  121: r4 += r6
  122: if r4 > 0x7fff goto 291
  123: r4 += r9
  124: r0 = r4
  125: r0 += 2
  126: if r0 > r8 goto 291
  127: r4 = *(u16 *)(r4 +0)
  128: if r4 != 0x6261 goto 134
  129: r0 = 1
  130: *(u64 *)(r10 -16) = r0
  131: r5 = r6
  132: r5 += 1
  133: goto 136
  134: r6 += 1
  135: goto 117
  136: *(u64 *)(r10 -40) = r5
  137: r0 = *(u64 *)(r10 -40)
  138: r0 += 1
  139: *(u64 *)(r10 -40) = r0
; golden/scan.lua:13: if i then score = score + i * 10 + j end
  140: r0 = *(u64 *)(r10 -16)
  141: if r0 == 0x0 goto 154
  142: r0 = *(u64 *)(r10 -16)
  143: if r0 == 0x0 goto 291
  144: r6 = r5
  145: r6 *= 10
  146: r7 = r2
  147: r7 += r6
  148: r0 = *(u64 *)(r10 -16)
  149: if r0 == 0x0 goto 291
  150: r1 = *(u64 *)(r10 -40)
  151: r7 += r1
  152: r6 = r7
  153: goto 155
  154: r6 = r2
; golden/scan.lua:14: local k = string.find(b, "z", -3)
  155: r2 = r3
  156: r2 += -3
  157: r2 += 1
  158: if r2 s>= 0x1 goto 160
  159: r2 = 1
  160: r0 = 0
  161: *(u64 *)(r10 -32) = r0
  162: r0 = 0
  163: *(u64 *)(r10 -24) = r0
  164: r7 = r3
  165: r7 += 1
  166: if r2 s> r7 goto 194
  167: r2 += -1
  168: r7 = r3
  169: r4 = r3
  170: r7 -= r4
  171: r7 += r2
  172: r3 += -1
  173: may_goto 291
  174: if r7 > 0x7fff goto 291
  175: if r7 s> r3 goto 194
  176: r2 = 10
  177: r2 += r7
  178: if r2 > 0x7fff goto 291
  179: r2 += r9
  180: r0 = r2
  181: r0 += 1
  182: if r0 > r8 goto 291
  183: r2 = *(u8 *)(r2 +0)
  184: if r2 != 0x7a goto 192
  185: r0 = 1
  186: *(u64 *)(r10 -32) = r0
  187: *(u64 *)(r10 -24) = r7
  188: r0 = *(u64 *)(r10 -24)
  189: r0 += 1
  190: *(u64 *)(r10 -24) = r0
  191: goto 194
  192: r7 += 1
  193: goto 173
; golden/scan.lua:15: if k then score = score + 100 * k end
  194: r0 = *(u64 *)(r10 -32)
  195: if r0 == 0x0 goto 204
  196: r0 = *(u64 *)(r10 -32)
  197: if r0 == 0x0 goto 291
  198: r2 = *(u64 *)(r10 -24)
  199: r2 *= 100
  200: r3 = r6
  201: r3 += r2
  202: r2 = r3
  203: goto 205
  204: r2 = r6
; golden/scan.lua:16: local e1, e2 = a:find("", 3, true)
  205: r3 = 0
  206: r4 = 0
  207: r6 = *(u64 *)(r10 -8)
  208: r6 += 1
  209: if r6 s< 0x3 goto 221
  210: r6 = *(u64 *)(r10 -8)
  211: r7 = *(u64 *)(r10 -8)
  212: r6 -= r7
  213: r6 += 2
  214: r7 = *(u64 *)(r10 -8)
  215: may_goto 291
  216: if r6 > 0x7fff goto 291
  217: if r6 s> r7 goto 221
  218: r3 = 1
  219: r4 = r6
  220: r4 += 1
  221: r6 = r4
  222: r6 += -1
; golden/scan.lua:17: if e1 then score = score + 1000 end
  223: if r3 == 0x0 goto 227
  224: r7 = r2
  225: r7 += 1000
  226: goto 228
  227: r7 = r2
; golden/scan.lua:18: if ("hello.world"):find(".", 1, true) == 6 then score = score + 1 end
  228: r7 += 1
; golden/scan.lua:19: print(i, j, k, e1, e2)
  229: *(u64 *)(r10 -96) = 17104896
  230: r0 = 0x101010101 ll
  232: *(u64 *)(r10 -88) = r0
  233: r2 = 1
  234: r0 = *(u64 *)(r10 -16)
  235: if r0 != 0x0 goto 237
  236: r2 = 0
  237: *(u8 *)(r10 -88) = r2
  238: *(u64 *)(r10 -80) = r5
  239: r2 = 1
  240: r0 = *(u64 *)(r10 -16)
  241: if r0 != 0x0 goto 243
  242: r2 = 0
  243: *(u8 *)(r10 -87) = r2
  244: r0 = *(u64 *)(r10 -40)
  245: *(u64 *)(r10 -72) = r0
  246: r2 = 1
  247: r0 = *(u64 *)(r10 -32)
  248: if r0 != 0x0 goto 250
  249: r2 = 0
  250: *(u8 *)(r10 -86) = r2
  251: r0 = *(u64 *)(r10 -24)
  252: *(u64 *)(r10 -64) = r0
  253: r2 = 1
  254: if r3 != 0x0 goto 256
  255: r2 = 0
  256: *(u8 *)(r10 -85) = r2
  257: *(u64 *)(r10 -56) = r4
  258: r2 = 1
  259: if r3 != 0x0 goto 261
  260: r2 = 0
  261: *(u8 *)(r10 -84) = r2
  262: *(u64 *)(r10 -48) = r6
  263: r1 = map[lunet_print] ll
  265: r2 = r10
  266: r2 += -96
  267: r3 = 56
  268: r4 = 0
  269: call bpf_ringbuf_output#130
  270: if r0 == 0x0 goto 281
  271: *(u32 *)(r10 -96) = 0
  272: r1 = map[lunet_printlost] ll
  274: r2 = r10
  275: r2 += -96
  276: call bpf_map_lookup_elem#1
  277: if r0 == 0x0 goto 281
  278: r1 = *(u64 *)(r0 +0)
  279: r1 += 1
  280: *(u64 *)(r0 +0) = r1
; golden/scan.lua:20: return score % 5
  281: if r7 s< 0x0 goto 284
  282: r7 %= 5
  283: goto 288
  284: r7 ^= -1
  285: r7 %= 5
  286: r7 = -r7
  287: r7 += 4
  288: if r7 > 0x4 goto 291
  289: r0 = r7
  290: exit
; golden/scan.lua:21: end
  291: r0 = 2
  292: exit
