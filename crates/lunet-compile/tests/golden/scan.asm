; 278 instructions, 96 bytes of stack, 69 values (5 spilled)
; golden/scan.lua:6: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/scan.lua:7: local a = packet:getstring(2, packet:getuint8(0) % 8)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 276
    5: r2 = *(u8 *)(r9 +0)
    6: *(u64 *)(r10 -8) = r2
    7: r0 = *(u64 *)(r10 -8)
    8: r0 &= 7
    9: *(u64 *)(r10 -8) = r0
   10: r0 = *(u64 *)(r10 -8)
   11: if r0 > 0x7fff goto 276
   12: r3 = 2
   13: if r3 > 0x7fff goto 276
   14: r3 += r9
   15: r0 = r3
   16: r1 = *(u64 *)(r10 -8)
   17: r0 += r1
   18: if r0 > r8 goto 276
; golden/scan.lua:8: local b = packet:getstring(10, packet:getuint8(1) % 8)
   19: r0 = r9
   20: r0 += 2
   21: if r0 > r8 goto 276
   22: r3 = *(u8 *)(r9 +1)
   23: r3 &= 7
   24: if r3 > 0x7fff goto 276
   25: r4 = 10
   26: if r4 > 0x7fff goto 276
   27: r4 += r9
   28: r0 = r4
   29: r0 += r3
   30: if r0 > r8 goto 276
; golden/scan.lua:10: if a == b then score = score + 1 end
   31: r0 = *(u64 *)(r10 -8)
   32: if r0 != r3 goto 58
   33: r4 = 0
   34: may_goto 276
   35: r1 = *(u64 *)(r10 -8)
   36: if r4 s>= r1 goto 56
   37: r5 = 2
   38: r5 += r4
   39: if r5 > 0x7fff goto 276
   40: r5 += r9
   41: r0 = r5
   42: r0 += 1
   43: if r0 > r8 goto 276
   44: r5 = *(u8 *)(r5 +0)
   45: r6 = 10
   46: r6 += r4
   47: if r6 > 0x7fff goto 276
   48: r6 += r9
   49: r0 = r6
   50: r0 += 1
   51: if r0 > r8 goto 276
   52: r6 = *(u8 *)(r6 +0)
   53: if r5 != r6 goto 58
   54: r4 += 1
   55: goto 34
   56: r4 = 1
   57: goto 59
   58: r4 = 0
; golden/scan.lua:11: if a ~= b:sub(2) then score = score + 2 end
   59: r5 = r3
   60: r5 += -1
   61: r5 += 1
   62: if r5 s>= 0x0 goto 64
   63: r5 = 0
   64: r5 -= 2
   65: r5 += 1
   66: r6 = 10
   67: if r5 s<= 0x0 goto 70
   68: r6 = 11
   69: goto 71
   70: r5 = 0
   71: r0 = *(u64 *)(r10 -8)
   72: if r0 != r5 goto 96
   73: r5 = 0
   74: may_goto 276
   75: r1 = *(u64 *)(r10 -8)
   76: if r5 s>= r1 goto 99
   77: r7 = 2
   78: r7 += r5
   79: if r7 > 0x7fff goto 276
   80: r7 += r9
   81: r0 = r7
   82: r0 += 1
   83: if r0 > r8 goto 276
   84: r7 = *(u8 *)(r7 +0)
   85: r2 = r6
   86: r2 += r5
   87: if r2 > 0x7fff goto 276
   88: r2 += r9
   89: r0 = r2
   90: r0 += 1
   91: if r0 > r8 goto 276
   92: r2 = *(u8 *)(r2 +0)
   93: if r7 != r2 goto 96
   94: r5 += 1
   95: goto 74
   96: r2 = r4
   97: r2 += 2
   98: goto 100
   99: r2 = r4
; golden/scan.lua:12: local i, j = a:find("ab", 1, true)
  100: r0 = 0
  101: *(u64 *)(r10 -16) = r0
  102: r5 = 0
  103: r6 = *(u64 *)(r10 -8)
  104: r6 += 1
  105: if r6 s< 0x1 goto 128
  106: r6 = 1
  107: r6 += -1
  108: r7 = *(u64 *)(r10 -8)
  109: r7 += -2
  110: may_goto 276
  111: if r6 s> r7 goto 128
  112: r4 = 2
  113: r4 += r6
  114: if r4 > 0x7fff goto 276
  115: r4 += r9
  116: r0 = r4
  117: r0 += 2
  118: if r0 > r8 goto 276
  119: r4 = *(u16 *)(r4 +0)
  120: if r4 != 0x6261 goto 126
  121: r0 = 1
  122: *(u64 *)(r10 -16) = r0
  123: r5 = r6
  124: r5 += 1
  125: goto 128
  126: r6 += 1
  127: goto 110
  128: r4 = r5
  129: r4 += 1
; golden/scan.lua:13: if i then score = score + i * 10 + j end
  130: r0 = *(u64 *)(r10 -16)
  131: if r0 == 0x0 goto 143
  132: r0 = *(u64 *)(r10 -16)
  133: if r0 == 0x0 goto 276
  134: r6 = r5
  135: r6 *= 10
  136: r7 = r2
  137: r7 += r6
  138: r0 = *(u64 *)(r10 -16)
  139: if r0 == 0x0 goto 276
  140: r7 += r4
  141: r6 = r7
  142: goto 144
  143: r6 = r2
; golden/scan.lua:14: local k = string.find(b, "z", -3)
  144: r2 = r3
  145: r2 += -3
  146: r2 += 1
  147: if r2 s>= 0x1 goto 149
  148: r2 = 1
  149: r0 = 0
  150: *(u64 *)(r10 -32) = r0
  151: r0 = 0
  152: *(u64 *)(r10 -24) = r0
  153: r7 = r3
  154: r7 += 1
  155: if r2 s> r7 goto 178
  156: r2 += -1
  157: r3 += -1
  158: may_goto 276
  159: if r2 s> r3 goto 178
  160: r7 = 10
  161: r7 += r2
  162: if r7 > 0x7fff goto 276
  163: r7 += r9
  164: r0 = r7
  165: r0 += 1
  166: if r0 > r8 goto 276
  167: r7 = *(u8 *)(r7 +0)
  168: if r7 != 0x7a goto 176
  169: r0 = 1
  170: *(u64 *)(r10 -32) = r0
  171: *(u64 *)(r10 -24) = r2
  172: r0 = *(u64 *)(r10 -24)
  173: r0 += 1
  174: *(u64 *)(r10 -24) = r0
  175: goto 178
  176: r2 += 1
  177: goto 158
; golden/scan.lua:15: if k then score = score + 100 * k end
  178: r0 = *(u64 *)(r10 -32)
  179: if r0 == 0x0 goto 188
  180: r0 = *(u64 *)(r10 -32)
  181: if r0 == 0x0 goto 276
  182: r2 = *(u64 *)(r10 -24)
  183: r2 *= 100
  184: r3 = r6
  185: r3 += r2
  186: r2 = r3
  187: goto 189
  188: r2 = r6
; golden/scan.lua:16: local e1, e2 = a:find("", 3, true)
  189: r0 = 0
  190: *(u64 *)(r10 -40) = r0
  191: r6 = 0
  192: r7 = *(u64 *)(r10 -8)
  193: r7 += 1
  194: if r7 s< 0x3 goto 204
  195: r7 = 3
  196: r7 += -1
  197: r3 = *(u64 *)(r10 -8)
  198: may_goto 276
  199: if r7 s> r3 goto 204
  200: r0 = 1
  201: *(u64 *)(r10 -40) = r0
  202: r6 = r7
  203: r6 += 1
  204: r3 = r6
  205: r3 += -1
; golden/scan.lua:17: if e1 then score = score + 1000 end
  206: r0 = *(u64 *)(r10 -40)
  207: if r0 == 0x0 goto 211
  208: r7 = r2
  209: r7 += 1000
  210: goto 212
  211: r7 = r2
; golden/scan.lua:18: if ("hello.world"):find(".", 1, true) == 6 then score = score + 1 end
  212: r7 += 1
; golden/scan.lua:19: print(i, j, k, e1, e2)
  213: *(u64 *)(r10 -96) = 17104896
  214: r0 = 0x101010101 ll
  216: *(u64 *)(r10 -88) = r0
  217: r2 = 1
  218: r0 = *(u64 *)(r10 -16)
  219: if r0 != 0x0 goto 221
  220: r2 = 0
  221: *(u8 *)(r10 -88) = r2
  222: *(u64 *)(r10 -80) = r5
  223: r2 = 1
  224: r0 = *(u64 *)(r10 -16)
  225: if r0 != 0x0 goto 227
  226: r2 = 0
  227: *(u8 *)(r10 -87) = r2
  228: *(u64 *)(r10 -72) = r4
  229: r2 = 1
  230: r0 = *(u64 *)(r10 -32)
  231: if r0 != 0x0 goto 233
  232: r2 = 0
  233: *(u8 *)(r10 -86) = r2
  234: r0 = *(u64 *)(r10 -24)
  235: *(u64 *)(r10 -64) = r0
  236: r2 = 1
  237: r0 = *(u64 *)(r10 -40)
  238: if r0 != 0x0 goto 240
  239: r2 = 0
  240: *(u8 *)(r10 -85) = r2
  241: *(u64 *)(r10 -56) = r6
  242: r2 = 1
  243: r0 = *(u64 *)(r10 -40)
  244: if r0 != 0x0 goto 246
  245: r2 = 0
  246: *(u8 *)(r10 -84) = r2
  247: *(u64 *)(r10 -48) = r3
  248: r1 = map[lunet_print] ll
  250: r2 = r10
  251: r2 += -96
  252: r3 = 56
  253: r4 = 0
  254: call bpf_ringbuf_output#130
  255: if r0 == 0x0 goto 266
  256: *(u32 *)(r10 -96) = 0
  257: r1 = map[lunet_printlost] ll
  259: r2 = r10
  260: r2 += -96
  261: call bpf_map_lookup_elem#1
  262: if r0 == 0x0 goto 266
  263: r1 = *(u64 *)(r0 +0)
  264: r1 += 1
  265: *(u64 *)(r0 +0) = r1
; golden/scan.lua:20: return score % 5
  266: if r7 s< 0x0 goto 269
  267: r7 %= 5
  268: goto 273
  269: r7 ^= -1
  270: r7 %= 5
  271: r7 = -r7
  272: r7 += 4
  273: if r7 > 0x4 goto 276
  274: r0 = r7
  275: exit
; golden/scan.lua:21: end
  276: r0 = 2
  277: exit
