; 233 instructions, 216 bytes of stack, 13 values (2 spilled)
; golden/format.lua:9: local function hook(packet)
    0: *(u64 *)(r10 -24) = r1
    1: r9 = *(u32 *)(r1 +0)
    2: r8 = *(u32 *)(r1 +4)
; golden/format.lua:10: local a = packet:getint8(0)
    3: r0 = r9
    4: r0 += 2
    5: if r0 > r8 goto 231
    6: r6 = *(u8 *)(r9 +0)
    7: r6 <<= 56
    8: r6 s>>= 56
; golden/format.lua:11: local u = packet:getuint8(1)
    9: r7 = *(u8 *)(r9 +1)
; golden/format.lua:12: local s = packet:getstring(2, u % 6)
   10: *(u64 *)(r10 -8) = r7
   11: r0 = *(u64 *)(r10 -8)
   12: if r0 s< 0x0 goto 17
   13: r0 = *(u64 *)(r10 -8)
   14: r0 %= 6
   15: *(u64 *)(r10 -8) = r0
   16: goto 29
   17: r0 = *(u64 *)(r10 -8)
   18: r0 ^= -1
   19: *(u64 *)(r10 -8) = r0
   20: r0 = *(u64 *)(r10 -8)
   21: r0 %= 6
   22: *(u64 *)(r10 -8) = r0
   23: r0 = *(u64 *)(r10 -8)
   24: r0 = -r0
   25: *(u64 *)(r10 -8) = r0
   26: r0 = *(u64 *)(r10 -8)
   27: r0 += 5
   28: *(u64 *)(r10 -8) = r0
   29: r0 = *(u64 *)(r10 -8)
   30: if r0 > 0x7fff goto 231
   31: r2 = 2
   32: if r2 > 0x7fff goto 231
   33: r2 += r9
   34: r0 = r2
   35: r1 = *(u64 *)(r10 -8)
   36: r0 += r1
   37: if r0 > r8 goto 231
; golden/format.lua:13: local v = a > 0 and "DROP" or "PASS"
   38: if r6 s<= 0x0 goto 42
   39: r0 = 0
   40: *(u64 *)(r10 -16) = r0
   41: goto 44
   42: r0 = 1
   43: *(u64 *)(r10 -16) = r0
; golden/format.lua:14: print(string.format("%d|%5d|%-5d|%05d|%+d|% d|%.3d|%i", a, a, a, a, a, a, a, u))
   44: *(u64 *)(r10 -216) = 17760256
   45: r0 = 0x401040104010401 ll
   47: *(u64 *)(r10 -208) = r0
   48: r0 = 0x1040104010401 ll
   50: *(u64 *)(r10 -200) = r0
   51: *(u64 *)(r10 -192) = r6
   52: *(u64 *)(r10 -184) = r6
   53: *(u64 *)(r10 -176) = r6
   54: *(u64 *)(r10 -168) = r6
   55: *(u64 *)(r10 -160) = r6
   56: *(u64 *)(r10 -152) = r6
   57: *(u64 *)(r10 -144) = r6
   58: *(u64 *)(r10 -136) = r7
   59: r1 = map[lunet_print] ll
   61: r2 = r10
   62: r2 += -216
   63: r3 = 88
   64: r4 = 0
   65: call bpf_ringbuf_output#130
   66: if r0 == 0x0 goto 77
   67: *(u32 *)(r10 -216) = 0
   68: r1 = map[lunet_printlost] ll
   70: r2 = r10
   71: r2 += -216
   72: call bpf_map_lookup_elem#1
   73: if r0 == 0x0 goto 77
   74: r1 = *(u64 *)(r0 +0)
   75: r1 += 1
   76: *(u64 *)(r0 +0) = r1
; golden/format.lua:15: print(string.format("%x|%X|%#x|%04x|%u|%c|%%|%3c", a, u, u, u, a, 65 + u % 26, 97 + u % 26))
   77: r2 = r7
   78: if r2 s< 0x0 goto 81
   79: r2 %= 26
   80: goto 85
   81: r2 ^= -1
   82: r2 %= 26
   83: r2 = -r2
   84: r2 += 25
   85: r2 += 65
   86: r3 = r7
   87: if r3 s< 0x0 goto 90
   88: r3 %= 26
   89: goto 94
   90: r3 ^= -1
   91: r3 %= 26
   92: r3 = -r3
   93: r3 += 25
   94: r3 += 97
   95: *(u64 *)(r10 -216) = 17629185
   96: r0 = 0x401040104010401 ll
   98: *(u64 *)(r10 -208) = r0
   99: r0 = 0x104010401 ll
  101: *(u64 *)(r10 -200) = r0
  102: *(u64 *)(r10 -192) = r6
  103: *(u64 *)(r10 -184) = r7
  104: *(u64 *)(r10 -176) = r7
  105: *(u64 *)(r10 -168) = r7
  106: *(u64 *)(r10 -160) = r6
  107: *(u64 *)(r10 -152) = r2
  108: *(u64 *)(r10 -144) = r3
  109: r1 = map[lunet_print] ll
  111: r2 = r10
  112: r2 += -216
  113: r3 = 80
  114: r4 = 0
  115: call bpf_ringbuf_output#130
  116: if r0 == 0x0 goto 127
  117: *(u32 *)(r10 -216) = 0
  118: r1 = map[lunet_printlost] ll
  120: r2 = r10
  121: r2 += -216
  122: call bpf_map_lookup_elem#1
  123: if r0 == 0x0 goto 127
  124: r1 = *(u64 *)(r0 +0)
  125: r1 += 1
  126: *(u64 *)(r0 +0) = r1
; golden/format.lua:16: print(string.format("%s|%8s|%-8s|%.2s|%s|%s", s, s, v, v, why[v], a > 3), "tab", string.format("%d", 42))
  127: r0 = *(u64 *)(r10 -16)
  128: if r0 != 0x0 goto 131
  129: r2 = 2
  130: goto 132
  131: r2 = 3
  132: r3 = 0
  133: if r6 s<= 0x3 goto 135
  134: r3 = 1
  135: *(u64 *)(r10 -216) = 17629186
  136: r0 = 0x406040604050405 ll
  138: *(u64 *)(r10 -208) = r0
  139: r0 = 0x404020406 ll
  141: *(u64 *)(r10 -200) = r0
  142: r0 = *(u64 *)(r10 -8)
  143: *(u64 *)(r10 -192) = r0
  144: *(u64 *)(r10 -184) = 0
  145: *(u64 *)(r10 -176) = 0
  146: *(u64 *)(r10 -168) = 0
  147: *(u64 *)(r10 -160) = 0
  148: *(u64 *)(r10 -152) = 0
  149: *(u64 *)(r10 -144) = 0
  150: *(u64 *)(r10 -136) = 0
  151: *(u64 *)(r10 -128) = 0
  152: r0 = *(u64 *)(r10 -8)
  153: *(u64 *)(r10 -120) = r0
  154: *(u64 *)(r10 -112) = 0
  155: *(u64 *)(r10 -104) = 0
  156: *(u64 *)(r10 -96) = 0
  157: *(u64 *)(r10 -88) = 0
  158: *(u64 *)(r10 -80) = 0
  159: *(u64 *)(r10 -72) = 0
  160: *(u64 *)(r10 -64) = 0
  161: *(u64 *)(r10 -56) = 0
  162: r0 = *(u64 *)(r10 -16)
  163: *(u64 *)(r10 -48) = r0
  164: r0 = *(u64 *)(r10 -16)
  165: *(u64 *)(r10 -40) = r0
  166: *(u64 *)(r10 -32) = r2
  167: r3 += 2
  168: *(u8 *)(r10 -198) = r3
  169: r0 = *(u64 *)(r10 -8)
  170: if r0 <= 0x40 goto 172
  171: r0 = 64
  172: if r0 >= 0x1 goto 174
  173: r0 = 1
  174: r2 = 2
  175: r4 = r0
  176: r3 = r10
  177: r3 += -184
  178: r1 = *(u64 *)(r10 -24)
  179: call bpf_xdp_load_bytes#189
  180: r0 = *(u64 *)(r10 -8)
  181: if r0 <= 0x40 goto 183
  182: r0 = 64
  183: if r0 >= 0x1 goto 185
  184: r0 = 1
  185: r2 = 2
  186: r4 = r0
  187: r3 = r10
  188: r3 += -112
  189: r1 = *(u64 *)(r10 -24)
  190: call bpf_xdp_load_bytes#189
  191: r1 = map[lunet_print] ll
  193: r2 = r10
  194: r2 += -216
  195: r3 = 192
  196: r4 = 0
  197: call bpf_ringbuf_output#130
  198: if r0 == 0x0 goto 209
  199: *(u32 *)(r10 -216) = 0
  200: r1 = map[lunet_printlost] ll
  202: r2 = r10
  203: r2 += -216
  204: call bpf_map_lookup_elem#1
  205: if r0 == 0x0 goto 209
  206: r1 = *(u64 *)(r0 +0)
  207: r1 += 1
  208: *(u64 *)(r0 +0) = r1
; golden/format.lua:17: print(string.format("const %s %d %5.3s", "x", 12, "abcdef"), string.format("%s=%s", "n", nil))
  209: *(u64 *)(r10 -216) = 16908291
  210: *(u64 *)(r10 -208) = 1028
  211: r1 = map[lunet_print] ll
  213: r2 = r10
  214: r2 += -216
  215: r3 = 16
  216: r4 = 0
  217: call bpf_ringbuf_output#130
  218: if r0 == 0x0 goto 229
  219: *(u32 *)(r10 -216) = 0
  220: r1 = map[lunet_printlost] ll
  222: r2 = r10
  223: r2 += -216
  224: call bpf_map_lookup_elem#1
  225: if r0 == 0x0 goto 229
  226: r1 = *(u64 *)(r0 +0)
  227: r1 += 1
  228: *(u64 *)(r0 +0) = r1
; golden/format.lua:18: return action.PASS
  229: r0 = 2
  230: exit
; golden/format.lua:19: end
  231: r0 = 2
  232: exit
