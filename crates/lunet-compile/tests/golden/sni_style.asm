; 383 instructions, 192 bytes of stack, 156 values (8 spilled)
; golden/sni_style.lua:58: local function filter_sni(packet)
    0: *(u64 *)(r10 -64) = r1
    1: r9 = *(u32 *)(r1 +0)
    2: r8 = *(u32 *)(r1 +4)
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
    3: r0 = r9
    4: r0 += 14
    5: if r0 > r8 goto 381
    6: r2 = *(u8 *)(r9 +12)
    7: r2 <<= 8
    8: r3 = *(u8 *)(r9 +13)
    9: r2 |= r3
; golden/sni_style.lua:42: if short(-2) ~= 0x0800 or byte(9) ~= 6 then
   10: if r2 != 0x800 goto 64
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
   11: r0 = r9
   12: r0 += 24
   13: if r0 > r8 goto 381
   14: r2 = *(u8 *)(r9 +23)
; golden/sni_style.lua:42: if short(-2) ~= 0x0800 or byte(9) ~= 6 then
   15: if r2 == 0x6 goto 17
; golden/sni_style.lua:43: return nil
   16: goto 64
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
   17: r2 = *(u8 *)(r9 +14)
; golden/sni_style.lua:45: local tcp = 14 + (byte(0) & 0x0f) * 4
   18: r2 &= 15
   19: r2 *= 4
   20: r3 = r2
   21: r3 += 14
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
   22: if r2 > 0x7fff goto 381
   23: r4 = r2
   24: r4 += r9
   25: r0 = r4
   26: r0 += 18
   27: if r0 > r8 goto 381
   28: r5 = *(u8 *)(r4 +16)
   29: r5 <<= 8
   30: r4 = *(u8 *)(r4 +17)
   31: r5 |= r4
; golden/sni_style.lua:47: for i = 1, #watched do
   32: r0 = 1
   33: *(u64 *)(r10 -8) = r0
   34: r6 = *(u64 *)(r10 -8)
; golden/sni_style.lua:48: if watched[i] == port then
   35: r7 = 0
   36: r4 = 0
   37: if r6 != 0x1 goto 41
   38: r7 = 1
   39: r4 = 443
   40: goto 44
   41: if r6 != 0x2 goto 44
   42: r7 = 1
   43: r4 = 8443
   44: if r7 == 0x0 goto 58
   45: if r4 != r5 goto 58
; golden/sni_style.lua:49: return tcp + (packet:getbyte(tcp + 12) >> 4) * 4
   46: if r2 > 0x7fff goto 381
   47: r4 = r2
   48: r4 += r9
   49: r0 = r4
   50: r0 += 27
   51: if r0 > r8 goto 381
   52: r4 = *(u8 *)(r4 +26)
   53: r4 >>= 4
   54: r4 *= 4
   55: r6 = r3
   56: r6 += r4
   57: goto 69
   58: r0 = *(u64 *)(r10 -8)
   59: if r0 == 0x2 goto 73
   60: r0 = *(u64 *)(r10 -8)
   61: r0 += 1
   62: *(u64 *)(r10 -8) = r0
   63: goto 34
; golden/sni_style.lua:59: local base = payload(packet)
   64: r0 = 0
   65: *(u64 *)(r10 -32) = r0
   66: r0 = 0
   67: *(u64 *)(r10 -8) = r0
   68: goto 77
   69: r0 = 1
   70: *(u64 *)(r10 -32) = r0
   71: *(u64 *)(r10 -8) = r6
   72: goto 77
   73: r0 = 0
   74: *(u64 *)(r10 -32) = r0
   75: r0 = 0
   76: *(u64 *)(r10 -8) = r0
; golden/sni_style.lua:60: if not base then
   77: r0 = *(u64 *)(r10 -32)
   78: if r0 != 0x0 goto 81
; golden/sni_style.lua:61: return action.PASS
   79: r0 = 2
   80: exit
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
   81: r0 = *(u64 *)(r10 -32)
   82: if r0 == 0x0 goto 381
   83: r2 = *(u64 *)(r10 -8)
   84: r2 += 0
   85: if r2 > 0x7fff goto 381
   86: r2 += r9
   87: r0 = r2
   88: r0 += 1
   89: if r0 > r8 goto 381
   90: r2 = *(u8 *)(r2 +0)
; golden/sni_style.lua:64: if byte(0) ~= handshake or byte(5) ~= client_hello then
   91: if r2 != 0x16 goto 103
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
   92: r0 = *(u64 *)(r10 -32)
   93: if r0 == 0x0 goto 381
   94: r2 = *(u64 *)(r10 -8)
   95: r2 += 5
   96: if r2 > 0x7fff goto 381
   97: r2 += r9
   98: r0 = r2
   99: r0 += 1
  100: if r0 > r8 goto 381
  101: r2 = *(u8 *)(r2 +0)
; golden/sni_style.lua:64: if byte(0) ~= handshake or byte(5) ~= client_hello then
  102: if r2 == 0x1 goto 105
; golden/sni_style.lua:65: return action.PASS
  103: r0 = 2
  104: exit
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
  105: r0 = *(u64 *)(r10 -32)
  106: if r0 == 0x0 goto 381
  107: r2 = *(u64 *)(r10 -8)
  108: r2 += 43
  109: if r2 > 0x7fff goto 381
  110: r2 += r9
  111: r0 = r2
  112: r0 += 1
  113: if r0 > r8 goto 381
  114: r2 = *(u8 *)(r2 +0)
; golden/sni_style.lua:68: local cipher = (session + 1) + byte(session)
  115: r2 += 44
; golden/sni_style.lua:69: local compression = cipher + 2 + short(cipher)
  116: r3 = r2
  117: r3 += 2
; golden/sni_style.lua:28: local offset = base + offset
  118: r0 = *(u64 *)(r10 -32)
  119: if r0 == 0x0 goto 381
  120: r4 = *(u64 *)(r10 -8)
  121: r4 += r2
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
  122: if r4 > 0x7fff goto 381
  123: r2 = r4
  124: r2 += r9
  125: r0 = r2
  126: r0 += 1
  127: if r0 > r8 goto 381
  128: r2 = *(u8 *)(r2 +0)
  129: r2 <<= 8
  130: r4 += 1
  131: if r4 > 0x7fff goto 381
  132: r4 += r9
  133: r0 = r4
  134: r0 += 1
  135: if r0 > r8 goto 381
  136: r4 = *(u8 *)(r4 +0)
  137: r2 |= r4
; golden/sni_style.lua:69: local compression = cipher + 2 + short(cipher)
  138: r3 += r2
; golden/sni_style.lua:70: local extension = compression + 3 + byte(compression)
  139: r2 = r3
  140: r2 += 3
; golden/sni_style.lua:24: return packet:getbyte(base + offset)
  141: r0 = *(u64 *)(r10 -32)
  142: if r0 == 0x0 goto 381
  143: r4 = *(u64 *)(r10 -8)
  144: r4 += r3
  145: if r4 > 0x7fff goto 381
  146: r3 = r4
  147: r3 += r9
  148: r0 = r3
  149: r0 += 1
  150: if r0 > r8 goto 381
  151: r3 = *(u8 *)(r3 +0)
; golden/sni_style.lua:70: local extension = compression + 3 + byte(compression)
  152: r2 += r3
; golden/sni_style.lua:87: extension = data + short(extension + 2)
  153: r0 = 1
  154: *(u64 *)(r10 -24) = r0
  155: *(u64 *)(r10 -16) = r2
  156: r2 = *(u64 *)(r10 -24)
; golden/sni_style.lua:73: local data = extension + 4
  157: r0 = *(u64 *)(r10 -16)
  158: *(u64 *)(r10 -40) = r0
  159: r0 = *(u64 *)(r10 -40)
  160: r0 += 4
  161: *(u64 *)(r10 -40) = r0
; golden/sni_style.lua:28: local offset = base + offset
  162: r0 = *(u64 *)(r10 -32)
  163: if r0 == 0x0 goto 381
  164: r3 = *(u64 *)(r10 -8)
  165: r1 = *(u64 *)(r10 -16)
  166: r3 += r1
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
  167: if r3 > 0x7fff goto 381
  168: r4 = r3
  169: r4 += r9
  170: r0 = r4
  171: r0 += 1
  172: if r0 > r8 goto 381
  173: r4 = *(u8 *)(r4 +0)
  174: r4 <<= 8
  175: r3 += 1
  176: if r3 > 0x7fff goto 381
  177: r3 += r9
  178: r0 = r3
  179: r0 += 1
  180: if r0 > r8 goto 381
  181: r3 = *(u8 *)(r3 +0)
  182: r4 |= r3
; golden/sni_style.lua:74: if short(extension) == server_name then
  183: if r4 != 0x0 goto 348
; golden/sni_style.lua:75: local length = short(data + 3)
  184: r3 = *(u64 *)(r10 -40)
  185: r3 += 3
; golden/sni_style.lua:28: local offset = base + offset
  186: r0 = *(u64 *)(r10 -32)
  187: if r0 == 0x0 goto 381
  188: r4 = *(u64 *)(r10 -8)
  189: r4 += r3
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
  190: if r4 > 0x7fff goto 381
  191: r3 = r4
  192: r3 += r9
  193: r0 = r3
  194: r0 += 1
  195: if r0 > r8 goto 381
  196: r3 = *(u8 *)(r3 +0)
  197: r3 <<= 8
  198: r4 += 1
  199: if r4 > 0x7fff goto 381
  200: r4 += r9
  201: r0 = r4
  202: r0 += 1
  203: if r0 > r8 goto 381
  204: r4 = *(u8 *)(r4 +0)
  205: *(u64 *)(r10 -56) = r3
  206: r0 = *(u64 *)(r10 -56)
  207: r0 |= r4
  208: *(u64 *)(r10 -56) = r0
; golden/sni_style.lua:76: local sni = str(data + 5, length)
  209: r4 = *(u64 *)(r10 -40)
  210: r4 += 5
; golden/sni_style.lua:33: return packet:getstring(base + offset, length)
  211: r0 = *(u64 *)(r10 -32)
  212: if r0 == 0x0 goto 381
  213: r0 = *(u64 *)(r10 -8)
  214: *(u64 *)(r10 -48) = r0
  215: r0 = *(u64 *)(r10 -48)
  216: r0 += r4
  217: *(u64 *)(r10 -48) = r0
  218: r0 = *(u64 *)(r10 -56)
  219: if r0 > 0x7fff goto 381
  220: r1 = *(u64 *)(r10 -48)
  221: if r1 > 0x7fff goto 381
  222: r4 = r1
  223: r4 += r9
  224: r0 = r4
  225: r1 = *(u64 *)(r10 -56)
  226: r0 += r1
  227: if r0 > r8 goto 381
; golden/sni_style.lua:78: verdict = blocked[sni] and "DROP" or "PASS"
  228: r4 = 0
  229: r0 = *(u64 *)(r10 -56)
  230: if r0 != 0x7 goto 246
  231: r1 = *(u64 *)(r10 -48)
  232: if r1 > 0x7fff goto 381
  233: r7 = r1
  234: r7 += r9
  235: r0 = r7
  236: r0 += 7
  237: if r0 > r8 goto 381
  238: r6 = *(u32 *)(r7 +0)
  239: r5 = *(u16 *)(r7 +4)
  240: r7 = *(u8 *)(r7 +6)
  241: if w6 != 0x66706265 goto 266
  242: if r5 != 0x692e goto 266
  243: if r7 != 0x6f goto 266
  244: r4 = 1
  245: goto 266
  246: r0 = *(u64 *)(r10 -56)
  247: if r0 != 0xf goto 266
  248: r1 = *(u64 *)(r10 -48)
  249: if r1 > 0x7fff goto 381
  250: r5 = r1
  251: r5 += r9
  252: r0 = r5
  253: r0 += 15
  254: if r0 > r8 goto 381
  255: r6 = *(u64 *)(r5 +0)
  256: r7 = *(u32 *)(r5 +8)
  257: r3 = *(u16 *)(r5 +12)
  258: r5 = *(u8 *)(r5 +14)
  259: r1 = 0x2e64656b636f6c62 ll
  261: if r6 != r1 goto 266
  262: if w7 != 0x6d617865 goto 266
  263: if r3 != 0x6c70 goto 266
  264: if r5 != 0x65 goto 266
  265: r4 = 1
  266: if r4 == 0x0 goto 269
  267: r6 = 0
  268: goto 270
  269: r6 = 1
; golden/sni_style.lua:79: log(sni, verdict, why[verdict], #verdict + i, 0x40 + i)
  270: if r6 != 0x0 goto 273
  271: r3 = 2
  272: goto 274
  273: r3 = 3
  274: r4 = r2
  275: r4 += 4
  276: r2 += 64
; golden/sni_style.lua:19: print(string.format("sni[%d]: %s %-5s(%s) %x%c%%", select("#", ...), ...))
  277: *(u64 *)(r10 -192) = 17432576
  278: r0 = 0x104060406040504 ll
  280: *(u64 *)(r10 -184) = r0
  281: *(u64 *)(r10 -176) = 1025
  282: r0 = *(u64 *)(r10 -56)
  283: *(u64 *)(r10 -168) = r0
  284: *(u64 *)(r10 -160) = 0
  285: *(u64 *)(r10 -152) = 0
  286: *(u64 *)(r10 -144) = 0
  287: *(u64 *)(r10 -136) = 0
  288: *(u64 *)(r10 -128) = 0
  289: *(u64 *)(r10 -120) = 0
  290: *(u64 *)(r10 -112) = 0
  291: *(u64 *)(r10 -104) = 0
  292: *(u64 *)(r10 -96) = r6
  293: *(u64 *)(r10 -88) = r3
  294: *(u64 *)(r10 -80) = r4
  295: *(u64 *)(r10 -72) = r2
  296: r0 = *(u64 *)(r10 -56)
  297: if r0 <= 0x40 goto 299
  298: r0 = 64
  299: if r0 >= 0x1 goto 301
  300: r0 = 1
  301: r2 = *(u64 *)(r10 -48)
  302: r4 = r0
  303: r3 = r10
  304: r3 += -160
  305: r1 = *(u64 *)(r10 -64)
  306: call bpf_xdp_load_bytes#189
  307: r1 = map[lunet_print] ll
  309: r2 = r10
  310: r2 += -192
  311: r3 = 128
  312: r4 = 0
  313: call bpf_ringbuf_output#130
  314: if r0 == 0x0 goto 325
  315: *(u32 *)(r10 -192) = 0
  316: r1 = map[lunet_printlost] ll
  318: r2 = r10
  319: r2 += -192
  320: call bpf_map_lookup_elem#1
  321: if r0 == 0x0 goto 325
  322: r1 = *(u64 *)(r0 +0)
  323: r1 += 1
  324: *(u64 *)(r0 +0) = r1
; golden/sni_style.lua:81: if name == verdict and action[name] ~= action[verdict] then
  325: if r6 != 0x0 goto 333
  326: if r6 != 0x0 goto 329
  327: r2 = 1
  328: goto 330
  329: r2 = 2
  330: if r2 == 0x1 goto 333
; golden/sni_style.lua:82: return action.ABORTED
  331: r0 = 0
  332: exit
; golden/sni_style.lua:81: if name == verdict and action[name] ~= action[verdict] then
  333: if r6 != 0x1 goto 341
  334: if r6 != 0x0 goto 337
  335: r2 = 1
  336: goto 338
  337: r2 = 2
  338: if r2 == 0x2 goto 341
; golden/sni_style.lua:82: return action.ABORTED
  339: r0 = 0
  340: exit
; golden/sni_style.lua:85: return action[verdict]
  341: if r6 != 0x0 goto 344
  342: r2 = 1
  343: goto 345
  344: r2 = 2
  345: if r2 > 0x4 goto 381
  346: r0 = r2
  347: exit
; golden/sni_style.lua:87: extension = data + short(extension + 2)
  348: r2 = *(u64 *)(r10 -16)
  349: r2 += 2
; golden/sni_style.lua:28: local offset = base + offset
  350: r0 = *(u64 *)(r10 -32)
  351: if r0 == 0x0 goto 381
  352: r3 = *(u64 *)(r10 -8)
  353: r3 += r2
; golden/sni_style.lua:29: return packet:getbyte(offset) << 8 | packet:getbyte(offset + 1)
  354: if r3 > 0x7fff goto 381
  355: r2 = r3
  356: r2 += r9
  357: r0 = r2
  358: r0 += 1
  359: if r0 > r8 goto 381
  360: r2 = *(u8 *)(r2 +0)
  361: r2 <<= 8
  362: r3 += 1
  363: if r3 > 0x7fff goto 381
  364: r3 += r9
  365: r0 = r3
  366: r0 += 1
  367: if r0 > r8 goto 381
  368: r3 = *(u8 *)(r3 +0)
  369: r2 |= r3
; golden/sni_style.lua:87: extension = data + short(extension + 2)
  370: r3 = *(u64 *)(r10 -40)
  371: r3 += r2
  372: r0 = *(u64 *)(r10 -24)
  373: if r0 == 0x11 goto 379
  374: r0 = *(u64 *)(r10 -24)
  375: r0 += 1
  376: *(u64 *)(r10 -24) = r0
  377: *(u64 *)(r10 -16) = r3
  378: goto 156
; golden/sni_style.lua:90: return action.PASS
  379: r0 = 2
  380: exit
; golden/sni_style.lua:91: end
  381: r0 = 2
  382: exit
