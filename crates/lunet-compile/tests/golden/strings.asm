; 354 instructions, 240 bytes of stack, 56 values (8 spilled)
; golden/strings.lua:9: local function hook(packet)
    0: *(u64 *)(r10 -72) = r1
    1: r9 = *(u32 *)(r1 +0)
    2: r8 = *(u32 *)(r1 +4)
; golden/strings.lua:10: local s = packet:getstring(2, packet:getuint8(0) % 8)
    3: r0 = r9
    4: r0 += 1
    5: if r0 > r8 goto 352
    6: r2 = *(u8 *)(r9 +0)
    7: *(u64 *)(r10 -8) = r2
    8: r0 = *(u64 *)(r10 -8)
    9: r0 &= 7
   10: *(u64 *)(r10 -8) = r0
   11: r0 = *(u64 *)(r10 -8)
   12: if r0 > 0x7fff goto 352
   13: r2 = 2
   14: if r2 > 0x7fff goto 352
   15: r2 += r9
   16: r0 = r2
   17: r1 = *(u64 *)(r10 -8)
   18: r0 += r1
   19: if r0 > r8 goto 352
; golden/strings.lua:11: local first, last = s:byte(1), s:byte(-1)
   20: r2 = 0
   21: r3 = 0
   22: r0 = *(u64 *)(r10 -8)
   23: if r0 s< 0x1 goto 30
   24: r0 = r9
   25: r0 += 3
   26: if r0 > r8 goto 352
   27: r4 = *(u8 *)(r9 +2)
   28: r3 = r4
   29: r2 = 1
   30: r4 = *(u64 *)(r10 -8)
   31: r4 += -1
   32: r4 += 1
   33: if r4 s>= 0x1 goto 35
   34: r4 = 1
   35: r5 = 0
   36: r7 = 0
   37: r1 = *(u64 *)(r10 -8)
   38: if r4 s> r1 goto 51
   39: r6 = 2
   40: r6 += r4
   41: r6 += -1
   42: if r6 > 0x7fff goto 352
   43: r4 = r6
   44: r4 += r9
   45: r0 = r4
   46: r0 += 1
   47: if r0 > r8 goto 352
   48: r4 = *(u8 *)(r4 +0)
   49: r7 = r4
   50: r5 = 1
; golden/strings.lua:12: local far = string.byte(s, 6)
   51: r0 = 0
   52: *(u64 *)(r10 -40) = r0
   53: r0 = 0
   54: *(u64 *)(r10 -16) = r0
   55: r0 = *(u64 *)(r10 -8)
   56: if r0 s< 0x6 goto 64
   57: r0 = r9
   58: r0 += 8
   59: if r0 > r8 goto 352
   60: r6 = *(u8 *)(r9 +7)
   61: *(u64 *)(r10 -16) = r6
   62: r0 = 1
   63: *(u64 *)(r10 -40) = r0
; golden/strings.lua:13: local inner = s:sub(2, -2)
   64: r6 = *(u64 *)(r10 -8)
   65: r6 += -2
   66: r6 += 1
   67: if r6 s>= 0x0 goto 69
   68: r6 = 0
   69: *(u64 *)(r10 -32) = r6
   70: r0 = *(u64 *)(r10 -32)
   71: r0 -= 2
   72: *(u64 *)(r10 -32) = r0
   73: r0 = *(u64 *)(r10 -32)
   74: r0 += 1
   75: *(u64 *)(r10 -32) = r0
   76: r0 = 2
   77: *(u64 *)(r10 -24) = r0
   78: r0 = *(u64 *)(r10 -32)
   79: if r0 s<= 0x0 goto 83
   80: r0 = 3
   81: *(u64 *)(r10 -24) = r0
   82: goto 85
   83: r0 = 0
   84: *(u64 *)(r10 -32) = r0
; golden/strings.lua:14: local tail = string.sub(s, -3)
   85: r6 = *(u64 *)(r10 -8)
   86: r6 += -3
   87: r6 += 1
   88: if r6 s>= 0x1 goto 90
   89: r6 = 1
   90: r4 = *(u64 *)(r10 -8)
   91: r4 += -1
   92: r4 += 1
   93: if r4 s>= 0x0 goto 95
   94: r4 = 0
   95: *(u64 *)(r10 -48) = r4
   96: r0 = *(u64 *)(r10 -48)
   97: r0 -= r6
   98: *(u64 *)(r10 -48) = r0
   99: r0 = *(u64 *)(r10 -48)
  100: r0 += 1
  101: *(u64 *)(r10 -48) = r0
  102: r0 = 2
  103: *(u64 *)(r10 -56) = r0
  104: r0 = *(u64 *)(r10 -48)
  105: if r0 s<= 0x0 goto 111
  106: r4 = 2
  107: r4 += r6
  108: r4 += -1
  109: *(u64 *)(r10 -56) = r4
  110: goto 113
  111: r0 = 0
  112: *(u64 *)(r10 -48) = r0
; golden/strings.lua:15: local score = string.len(s) + #inner * 10 + ("abc"):byte(2) + #("hello"):sub(2, 3)
  113: r4 = *(u64 *)(r10 -32)
  114: r4 *= 10
  115: r6 = *(u64 *)(r10 -8)
  116: r6 += r4
  117: r6 += 98
  118: r6 += 2
; golden/strings.lua:16: if first then score = score + first end
  119: if r2 == 0x0 goto 124
  120: if r2 == 0x0 goto 352
  121: r2 = r6
  122: r2 += r3
  123: goto 125
  124: r2 = r6
; golden/strings.lua:17: if last == 0x7a then score = score + 1000 end
  125: if r5 == 0x0 goto 130
  126: if r7 != 0x7a goto 130
  127: r3 = r2
  128: r3 += 1000
  129: goto 131
  130: r3 = r2
; golden/strings.lua:18: if far == nil then score = score + 7 end
  131: r0 = *(u64 *)(r10 -40)
  132: if r0 != 0x0 goto 136
  133: r2 = r3
  134: r2 += 7
  135: goto 137
  136: r2 = r3
; golden/strings.lua:19: if listed[inner] then score = score + 100 end
  137: r3 = 0
  138: r0 = *(u64 *)(r10 -32)
  139: if r0 != 0x2 goto 151
  140: r1 = *(u64 *)(r10 -24)
  141: if r1 > 0x7fff goto 352
  142: r4 = r1
  143: r4 += r9
  144: r0 = r4
  145: r0 += 2
  146: if r0 > r8 goto 352
  147: r4 = *(u16 *)(r4 +0)
  148: if r4 != 0x6261 goto 165
  149: r3 = 1
  150: goto 165
  151: r0 = *(u64 *)(r10 -32)
  152: if r0 != 0x3 goto 165
  153: r1 = *(u64 *)(r10 -24)
  154: if r1 > 0x7fff goto 352
  155: r4 = r1
  156: r4 += r9
  157: r0 = r4
  158: r0 += 3
  159: if r0 > r8 goto 352
  160: r5 = *(u16 *)(r4 +0)
  161: r4 = *(u8 *)(r4 +2)
  162: if r5 != 0x7978 goto 165
  163: if r4 != 0x7a goto 165
  164: r3 = 1
  165: if r3 == 0x0 goto 169
  166: r3 = r2
  167: r3 += 100
  168: goto 170
  169: r3 = r2
; golden/strings.lua:20: if tail == "xyz" then score = score + 200 end
  170: r0 = *(u64 *)(r10 -48)
  171: if r0 != 0x3 goto 187
  172: r1 = *(u64 *)(r10 -56)
  173: if r1 > 0x7fff goto 352
  174: r2 = r1
  175: r2 += r9
  176: r0 = r2
  177: r0 += 3
  178: if r0 > r8 goto 352
  179: r4 = *(u16 *)(r2 +0)
  180: r2 = *(u8 *)(r2 +2)
  181: if r4 != 0x7978 goto 187
  182: if r2 != 0x7a goto 187
  183: r2 = r3
  184: r2 += 200
  185: *(u64 *)(r10 -64) = r2
  186: goto 188
  187: *(u64 *)(r10 -64) = r3
; golden/strings.lua:21: print(inner, tail, far)
  188: *(u64 *)(r10 -240) = 16973824
  189: *(u64 *)(r10 -232) = 66821
  190: r0 = *(u64 *)(r10 -32)
  191: *(u64 *)(r10 -224) = r0
  192: *(u64 *)(r10 -216) = 0
  193: *(u64 *)(r10 -208) = 0
  194: *(u64 *)(r10 -200) = 0
  195: *(u64 *)(r10 -192) = 0
  196: *(u64 *)(r10 -184) = 0
  197: *(u64 *)(r10 -176) = 0
  198: *(u64 *)(r10 -168) = 0
  199: *(u64 *)(r10 -160) = 0
  200: r0 = *(u64 *)(r10 -48)
  201: *(u64 *)(r10 -152) = r0
  202: *(u64 *)(r10 -144) = 0
  203: *(u64 *)(r10 -136) = 0
  204: *(u64 *)(r10 -128) = 0
  205: *(u64 *)(r10 -120) = 0
  206: *(u64 *)(r10 -112) = 0
  207: *(u64 *)(r10 -104) = 0
  208: *(u64 *)(r10 -96) = 0
  209: *(u64 *)(r10 -88) = 0
  210: r2 = 1
  211: r0 = *(u64 *)(r10 -40)
  212: if r0 != 0x0 goto 214
  213: r2 = 0
  214: *(u8 *)(r10 -230) = r2
  215: r0 = *(u64 *)(r10 -16)
  216: *(u64 *)(r10 -80) = r0
  217: r0 = *(u64 *)(r10 -32)
  218: if r0 <= 0x40 goto 220
  219: r0 = 64
  220: if r0 >= 0x1 goto 222
  221: r0 = 1
  222: r2 = *(u64 *)(r10 -24)
  223: r4 = r0
  224: r3 = r10
  225: r3 += -216
  226: r1 = *(u64 *)(r10 -72)
  227: call bpf_xdp_load_bytes#189
  228: r0 = *(u64 *)(r10 -48)
  229: if r0 <= 0x40 goto 231
  230: r0 = 64
  231: if r0 >= 0x1 goto 233
  232: r0 = 1
  233: r2 = *(u64 *)(r10 -56)
  234: r4 = r0
  235: r3 = r10
  236: r3 += -144
  237: r1 = *(u64 *)(r10 -72)
  238: call bpf_xdp_load_bytes#189
  239: r1 = map[lunet_print] ll
  241: r2 = r10
  242: r2 += -240
  243: r3 = 168
  244: r4 = 0
  245: call bpf_ringbuf_output#130
  246: if r0 == 0x0 goto 257
  247: *(u32 *)(r10 -240) = 0
  248: r1 = map[lunet_printlost] ll
  250: r2 = r10
  251: r2 += -240
  252: call bpf_map_lookup_elem#1
  253: if r0 == 0x0 goto 257
  254: r1 = *(u64 *)(r0 +0)
  255: r1 += 1
  256: *(u64 *)(r0 +0) = r1
; golden/strings.lua:22: print(s:sub(9), s:sub(3, 2), ("abc"):sub(-2))
  257: r2 = *(u64 *)(r10 -8)
  258: r2 += -1
  259: r2 += 1
  260: if r2 s>= 0x0 goto 262
  261: r2 = 0
  262: r2 -= 9
  263: r2 += 1
  264: r3 = 2
  265: if r2 s<= 0x0 goto 268
  266: r3 = 10
  267: goto 269
  268: r2 = 0
  269: r4 = 2
  270: r1 = *(u64 *)(r10 -8)
  271: if r4 s<= r1 goto 273
  272: r4 = *(u64 *)(r10 -8)
  273: r7 = r4
  274: r7 -= 3
  275: r7 += 1
  276: r6 = 2
  277: if r7 s<= 0x0 goto 280
  278: r6 = 4
  279: goto 281
  280: r7 = 0
  281: *(u64 *)(r10 -240) = 16973825
  282: *(u64 *)(r10 -232) = 263429
  283: *(u64 *)(r10 -224) = r2
  284: *(u64 *)(r10 -216) = 0
  285: *(u64 *)(r10 -208) = 0
  286: *(u64 *)(r10 -200) = 0
  287: *(u64 *)(r10 -192) = 0
  288: *(u64 *)(r10 -184) = 0
  289: *(u64 *)(r10 -176) = 0
  290: *(u64 *)(r10 -168) = 0
  291: *(u64 *)(r10 -160) = 0
  292: *(u64 *)(r10 -152) = r7
  293: *(u64 *)(r10 -144) = 0
  294: *(u64 *)(r10 -136) = 0
  295: *(u64 *)(r10 -128) = 0
  296: *(u64 *)(r10 -120) = 0
  297: *(u64 *)(r10 -112) = 0
  298: *(u64 *)(r10 -104) = 0
  299: *(u64 *)(r10 -96) = 0
  300: *(u64 *)(r10 -88) = 0
  301: r0 = r2
  302: if r0 <= 0x40 goto 304
  303: r0 = 64
  304: if r0 >= 0x1 goto 306
  305: r0 = 1
  306: r2 = r3
  307: r4 = r0
  308: r3 = r10
  309: r3 += -216
  310: r1 = *(u64 *)(r10 -72)
  311: call bpf_xdp_load_bytes#189
  312: r0 = r7
  313: if r0 <= 0x40 goto 315
  314: r0 = 64
  315: if r0 >= 0x1 goto 317
  316: r0 = 1
  317: r2 = r6
  318: r4 = r0
  319: r3 = r10
  320: r3 += -144
  321: r1 = *(u64 *)(r10 -72)
  322: call bpf_xdp_load_bytes#189
  323: r1 = map[lunet_print] ll
  325: r2 = r10
  326: r2 += -240
  327: r3 = 160
  328: r4 = 0
  329: call bpf_ringbuf_output#130
  330: if r0 == 0x0 goto 341
  331: *(u32 *)(r10 -240) = 0
  332: r1 = map[lunet_printlost] ll
  334: r2 = r10
  335: r2 += -240
  336: call bpf_map_lookup_elem#1
  337: if r0 == 0x0 goto 341
  338: r1 = *(u64 *)(r0 +0)
  339: r1 += 1
  340: *(u64 *)(r0 +0) = r1
; golden/strings.lua:23: return score % 5
  341: r2 = *(u64 *)(r10 -64)
  342: if r2 s< 0x0 goto 345
  343: r2 %= 5
  344: goto 349
  345: r2 ^= -1
  346: r2 %= 5
  347: r2 = -r2
  348: r2 += 4
  349: if r2 > 0x4 goto 352
  350: r0 = r2
  351: exit
; golden/strings.lua:24: end
  352: r0 = 2
  353: exit
