; 593 instructions, 80 bytes of stack, 191 values (5 spilled)
; golden/patterns.lua:15: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/patterns.lua:16: local s = packet:getstring(2, packet:getuint8(0) % 24)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 591
    5: r2 = *(u8 *)(r9 +0)
    6: *(u64 *)(r10 -32) = r2
    7: r0 = *(u64 *)(r10 -32)
    8: if r0 s< 0x0 goto 13
    9: r0 = *(u64 *)(r10 -32)
   10: r0 %= 24
   11: *(u64 *)(r10 -32) = r0
   12: goto 25
   13: r0 = *(u64 *)(r10 -32)
   14: r0 ^= -1
   15: *(u64 *)(r10 -32) = r0
   16: r0 = *(u64 *)(r10 -32)
   17: r0 %= 24
   18: *(u64 *)(r10 -32) = r0
   19: r0 = *(u64 *)(r10 -32)
   20: r0 = -r0
   21: *(u64 *)(r10 -32) = r0
   22: r0 = *(u64 *)(r10 -32)
   23: r0 += 23
   24: *(u64 *)(r10 -32) = r0
   25: r0 = *(u64 *)(r10 -32)
   26: if r0 > 0x7fff goto 591
   27: r3 = 2
   28: if r3 > 0x7fff goto 591
   29: r3 += r9
   30: r0 = r3
   31: r1 = *(u64 *)(r10 -32)
   32: r0 += r1
   33: if r0 > r8 goto 591
; golden/patterns.lua:11: local _, _, name = s:find("([^\0]*)")
   34: r3 = 0
   35: r4 = 0
   36: r5 = *(u64 *)(r10 -32)
   37: r6 = *(u64 *)(r10 -32)
   38: r5 -= r6
   39: r1 = *(u64 *)(r10 -32)
   40: if r5 s> r1 goto 64
   41: may_goto 591
   42: if r5 > 0x7fff goto 591
   43: r3 = r5
   44: may_goto 591
   45: if r5 > 0x7fff goto 591
   46: r1 = *(u64 *)(r10 -32)
   47: if r5 s>= r1 goto 61
   48: r6 = 2
   49: r6 += r5
   50: if r6 > 0x7fff goto 591
   51: r6 += r9
   52: r0 = r6
   53: r0 += 1
   54: if r0 > r8 goto 591
   55: r6 = *(u8 *)(r6 +0)
   56: r6 += -1
   57: if r6 <= 0xfe goto 59
   58: goto 61
   59: r5 += 1
   60: goto 44
   61: may_goto 591
   62: if r5 > 0x7fff goto 591
   63: r4 = r5
   64: r0 = 2
   65: *(u64 *)(r10 -16) = r0
   66: r0 = *(u64 *)(r10 -16)
   67: r0 += r3
   68: *(u64 *)(r10 -16) = r0
   69: *(u64 *)(r10 -8) = r4
   70: r0 = *(u64 *)(r10 -8)
   71: r0 -= r3
   72: *(u64 *)(r10 -8) = r0
; golden/patterns.lua:20: if string.find(name, v) ~= nil then score = score + 1 end
   73: r3 = 0
   74: r6 = *(u64 *)(r10 -8)
   75: r7 = *(u64 *)(r10 -8)
   76: r6 -= r7
   77: r1 = *(u64 *)(r10 -8)
   78: if r6 s> r1 goto 213
   79: may_goto 591
   80: if r6 > 0x7fff goto 591
   81: r7 = r6
   82: r1 = *(u64 *)(r10 -8)
   83: if r7 s>= r1 goto 210
   84: r4 = *(u64 *)(r10 -16)
   85: r4 += r7
   86: if r4 > 0x7fff goto 591
   87: r4 += r9
   88: r0 = r4
   89: r0 += 1
   90: if r0 > r8 goto 591
   91: r4 = *(u8 *)(r4 +0)
   92: if r4 == 0x67 goto 94
   93: goto 210
   94: r7 += 1
   95: r1 = *(u64 *)(r10 -8)
   96: if r7 s>= r1 goto 210
   97: r4 = *(u64 *)(r10 -16)
   98: r4 += r7
   99: if r4 > 0x7fff goto 591
  100: r4 += r9
  101: r0 = r4
  102: r0 += 1
  103: if r0 > r8 goto 591
  104: r4 = *(u8 *)(r4 +0)
  105: if r4 == 0x69 goto 107
  106: goto 210
  107: r7 += 1
  108: r1 = *(u64 *)(r10 -8)
  109: if r7 s>= r1 goto 210
  110: r4 = *(u64 *)(r10 -16)
  111: r4 += r7
  112: if r4 > 0x7fff goto 591
  113: r4 += r9
  114: r0 = r4
  115: r0 += 1
  116: if r0 > r8 goto 591
  117: r4 = *(u8 *)(r4 +0)
  118: if r4 == 0x74 goto 120
  119: goto 210
  120: r7 += 1
  121: r1 = *(u64 *)(r10 -8)
  122: if r7 s>= r1 goto 210
  123: r4 = *(u64 *)(r10 -16)
  124: r4 += r7
  125: if r4 > 0x7fff goto 591
  126: r4 += r9
  127: r0 = r4
  128: r0 += 1
  129: if r0 > r8 goto 591
  130: r4 = *(u8 *)(r4 +0)
  131: if r4 == 0x68 goto 133
  132: goto 210
  133: r7 += 1
  134: r1 = *(u64 *)(r10 -8)
  135: if r7 s>= r1 goto 210
  136: r4 = *(u64 *)(r10 -16)
  137: r4 += r7
  138: if r4 > 0x7fff goto 591
  139: r4 += r9
  140: r0 = r4
  141: r0 += 1
  142: if r0 > r8 goto 591
  143: r4 = *(u8 *)(r4 +0)
  144: if r4 == 0x75 goto 146
  145: goto 210
  146: r7 += 1
  147: r1 = *(u64 *)(r10 -8)
  148: if r7 s>= r1 goto 210
  149: r4 = *(u64 *)(r10 -16)
  150: r4 += r7
  151: if r4 > 0x7fff goto 591
  152: r4 += r9
  153: r0 = r4
  154: r0 += 1
  155: if r0 > r8 goto 591
  156: r4 = *(u8 *)(r4 +0)
  157: if r4 == 0x62 goto 159
  158: goto 210
  159: r7 += 1
  160: r1 = *(u64 *)(r10 -8)
  161: if r7 s>= r1 goto 210
  162: r4 = *(u64 *)(r10 -16)
  163: r4 += r7
  164: if r4 > 0x7fff goto 591
  165: r4 += r9
  166: r0 = r4
  167: r0 += 1
  168: if r0 > r8 goto 591
  169: r7 += 1
  170: r1 = *(u64 *)(r10 -8)
  171: if r7 s>= r1 goto 210
  172: r4 = *(u64 *)(r10 -16)
  173: r4 += r7
  174: if r4 > 0x7fff goto 591
  175: r4 += r9
  176: r0 = r4
  177: r0 += 1
  178: if r0 > r8 goto 591
  179: r4 = *(u8 *)(r4 +0)
  180: if r4 == 0x63 goto 182
  181: goto 210
  182: r7 += 1
  183: r1 = *(u64 *)(r10 -8)
  184: if r7 s>= r1 goto 210
  185: r4 = *(u64 *)(r10 -16)
  186: r4 += r7
  187: if r4 > 0x7fff goto 591
  188: r4 += r9
  189: r0 = r4
  190: r0 += 1
  191: if r0 > r8 goto 591
  192: r4 = *(u8 *)(r4 +0)
  193: if r4 == 0x6f goto 195
  194: goto 210
  195: r7 += 1
  196: r1 = *(u64 *)(r10 -8)
  197: if r7 s>= r1 goto 210
  198: r4 = *(u64 *)(r10 -16)
  199: r4 += r7
  200: if r4 > 0x7fff goto 591
  201: r4 += r9
  202: r0 = r4
  203: r0 += 1
  204: if r0 > r8 goto 591
  205: r4 = *(u8 *)(r4 +0)
  206: if r4 == 0x6d goto 208
  207: goto 210
  208: r3 = 1
  209: goto 213
  210: r6 += 1
  211: r1 = *(u64 *)(r10 -8)
  212: if r6 s<= r1 goto 79
  213: if r3 == 0x0 goto 216
  214: r3 = 1
  215: goto 217
  216: r3 = 0
  217: r4 = 0
  218: r6 = *(u64 *)(r10 -8)
  219: r7 = *(u64 *)(r10 -8)
  220: r6 -= r7
  221: r1 = *(u64 *)(r10 -8)
  222: if r6 s> r1 goto 357
  223: may_goto 591
  224: if r6 > 0x7fff goto 591
  225: r7 = r6
  226: r1 = *(u64 *)(r10 -8)
  227: if r7 s>= r1 goto 354
  228: r5 = *(u64 *)(r10 -16)
  229: r5 += r7
  230: if r5 > 0x7fff goto 591
  231: r5 += r9
  232: r0 = r5
  233: r0 += 1
  234: if r0 > r8 goto 591
  235: r5 = *(u8 *)(r5 +0)
  236: if r5 == 0x67 goto 238
  237: goto 354
  238: r7 += 1
  239: r1 = *(u64 *)(r10 -8)
  240: if r7 s>= r1 goto 354
  241: r5 = *(u64 *)(r10 -16)
  242: r5 += r7
  243: if r5 > 0x7fff goto 591
  244: r5 += r9
  245: r0 = r5
  246: r0 += 1
  247: if r0 > r8 goto 591
  248: r5 = *(u8 *)(r5 +0)
  249: if r5 == 0x69 goto 251
  250: goto 354
  251: r7 += 1
  252: r1 = *(u64 *)(r10 -8)
  253: if r7 s>= r1 goto 354
  254: r5 = *(u64 *)(r10 -16)
  255: r5 += r7
  256: if r5 > 0x7fff goto 591
  257: r5 += r9
  258: r0 = r5
  259: r0 += 1
  260: if r0 > r8 goto 591
  261: r5 = *(u8 *)(r5 +0)
  262: if r5 == 0x74 goto 264
  263: goto 354
  264: r7 += 1
  265: r1 = *(u64 *)(r10 -8)
  266: if r7 s>= r1 goto 354
  267: r5 = *(u64 *)(r10 -16)
  268: r5 += r7
  269: if r5 > 0x7fff goto 591
  270: r5 += r9
  271: r0 = r5
  272: r0 += 1
  273: if r0 > r8 goto 591
  274: r5 = *(u8 *)(r5 +0)
  275: if r5 == 0x6c goto 277
  276: goto 354
  277: r7 += 1
  278: r1 = *(u64 *)(r10 -8)
  279: if r7 s>= r1 goto 354
  280: r5 = *(u64 *)(r10 -16)
  281: r5 += r7
  282: if r5 > 0x7fff goto 591
  283: r5 += r9
  284: r0 = r5
  285: r0 += 1
  286: if r0 > r8 goto 591
  287: r5 = *(u8 *)(r5 +0)
  288: if r5 == 0x61 goto 290
  289: goto 354
  290: r7 += 1
  291: r1 = *(u64 *)(r10 -8)
  292: if r7 s>= r1 goto 354
  293: r5 = *(u64 *)(r10 -16)
  294: r5 += r7
  295: if r5 > 0x7fff goto 591
  296: r5 += r9
  297: r0 = r5
  298: r0 += 1
  299: if r0 > r8 goto 591
  300: r5 = *(u8 *)(r5 +0)
  301: if r5 == 0x62 goto 303
  302: goto 354
  303: r7 += 1
  304: r1 = *(u64 *)(r10 -8)
  305: if r7 s>= r1 goto 354
  306: r5 = *(u64 *)(r10 -16)
  307: r5 += r7
  308: if r5 > 0x7fff goto 591
  309: r5 += r9
  310: r0 = r5
  311: r0 += 1
  312: if r0 > r8 goto 591
  313: r7 += 1
  314: r1 = *(u64 *)(r10 -8)
  315: if r7 s>= r1 goto 354
  316: r5 = *(u64 *)(r10 -16)
  317: r5 += r7
  318: if r5 > 0x7fff goto 591
  319: r5 += r9
  320: r0 = r5
  321: r0 += 1
  322: if r0 > r8 goto 591
  323: r5 = *(u8 *)(r5 +0)
  324: if r5 == 0x63 goto 326
  325: goto 354
  326: r7 += 1
  327: r1 = *(u64 *)(r10 -8)
  328: if r7 s>= r1 goto 354
  329: r5 = *(u64 *)(r10 -16)
  330: r5 += r7
  331: if r5 > 0x7fff goto 591
  332: r5 += r9
  333: r0 = r5
  334: r0 += 1
  335: if r0 > r8 goto 591
  336: r5 = *(u8 *)(r5 +0)
  337: if r5 == 0x6f goto 339
  338: goto 354
  339: r7 += 1
  340: r1 = *(u64 *)(r10 -8)
  341: if r7 s>= r1 goto 354
  342: r5 = *(u64 *)(r10 -16)
  343: r5 += r7
  344: if r5 > 0x7fff goto 591
  345: r5 += r9
  346: r0 = r5
  347: r0 += 1
  348: if r0 > r8 goto 591
  349: r5 = *(u8 *)(r5 +0)
  350: if r5 == 0x6d goto 352
  351: goto 354
  352: r4 = 1
  353: goto 357
  354: r6 += 1
  355: r1 = *(u64 *)(r10 -8)
  356: if r6 s<= r1 goto 223
  357: if r4 == 0x0 goto 361
  358: r4 = r3
  359: r4 += 1
  360: goto 362
  361: r4 = r3
; golden/patterns.lua:22: local i, j = s:find("%d+")
  362: r0 = 0
  363: *(u64 *)(r10 -24) = r0
  364: r5 = 0
  365: r6 = 0
  366: r7 = *(u64 *)(r10 -32)
  367: r3 = *(u64 *)(r10 -32)
  368: r7 -= r3
  369: r1 = *(u64 *)(r10 -32)
  370: if r7 s> r1 goto 415
  371: may_goto 591
  372: if r7 > 0x7fff goto 591
  373: r3 = r7
  374: r1 = *(u64 *)(r10 -32)
  375: if r3 s>= r1 goto 412
  376: r2 = 2
  377: r2 += r3
  378: if r2 > 0x7fff goto 591
  379: r2 += r9
  380: r0 = r2
  381: r0 += 1
  382: if r0 > r8 goto 591
  383: r2 = *(u8 *)(r2 +0)
  384: r2 += -48
  385: if r2 <= 0x9 goto 387
  386: goto 412
  387: r3 += 1
  388: may_goto 591
  389: if r3 > 0x7fff goto 591
  390: r1 = *(u64 *)(r10 -32)
  391: if r3 s>= r1 goto 405
  392: r2 = 2
  393: r2 += r3
  394: if r2 > 0x7fff goto 591
  395: r2 += r9
  396: r0 = r2
  397: r0 += 1
  398: if r0 > r8 goto 591
  399: r2 = *(u8 *)(r2 +0)
  400: r2 += -48
  401: if r2 <= 0x9 goto 403
  402: goto 405
  403: r3 += 1
  404: goto 388
  405: may_goto 591
  406: if r3 > 0x7fff goto 591
  407: r0 = 1
  408: *(u64 *)(r10 -24) = r0
  409: r5 = r7
  410: r6 = r3
  411: goto 415
  412: r7 += 1
  413: r1 = *(u64 *)(r10 -32)
  414: if r7 s<= r1 goto 371
  415: r5 += 1
  416: *(u64 *)(r10 -40) = r6
; golden/patterns.lua:23: if i then score = score + i * 10 + j end
  417: r0 = *(u64 *)(r10 -24)
  418: if r0 == 0x0 goto 431
  419: r0 = *(u64 *)(r10 -24)
  420: if r0 == 0x0 goto 591
  421: r2 = r5
  422: r2 *= 10
  423: r3 = r4
  424: r3 += r2
  425: r0 = *(u64 *)(r10 -24)
  426: if r0 == 0x0 goto 591
  427: r1 = *(u64 *)(r10 -40)
  428: r3 += r1
  429: r2 = r3
  430: goto 432
  431: r2 = r4
; golden/patterns.lua:24: if s:find("^git") then score = score + 100 end
  432: r3 = 0
  433: r4 = *(u64 *)(r10 -32)
  434: r7 = *(u64 *)(r10 -32)
  435: r4 -= r7
  436: r1 = *(u64 *)(r10 -32)
  437: if r4 s> r1 goto 480
  438: may_goto 591
  439: if r4 > 0x7fff goto 591
  440: r1 = *(u64 *)(r10 -32)
  441: if r4 s>= r1 goto 480
  442: r7 = 2
  443: r7 += r4
  444: if r7 > 0x7fff goto 591
  445: r7 += r9
  446: r0 = r7
  447: r0 += 1
  448: if r0 > r8 goto 591
  449: r7 = *(u8 *)(r7 +0)
  450: if r7 == 0x67 goto 452
  451: goto 480
  452: r4 += 1
  453: r1 = *(u64 *)(r10 -32)
  454: if r4 s>= r1 goto 480
  455: r7 = 2
  456: r7 += r4
  457: if r7 > 0x7fff goto 591
  458: r7 += r9
  459: r0 = r7
  460: r0 += 1
  461: if r0 > r8 goto 591
  462: r7 = *(u8 *)(r7 +0)
  463: if r7 == 0x69 goto 465
  464: goto 480
  465: r4 += 1
  466: r1 = *(u64 *)(r10 -32)
  467: if r4 s>= r1 goto 480
  468: r7 = 2
  469: r7 += r4
  470: if r7 > 0x7fff goto 591
  471: r4 = r7
  472: r4 += r9
  473: r0 = r4
  474: r0 += 1
  475: if r0 > r8 goto 591
  476: r4 = *(u8 *)(r4 +0)
  477: if r4 == 0x74 goto 479
  478: goto 480
  479: r3 = 1
  480: if r3 == 0x0 goto 484
  481: r3 = r2
  482: r3 += 100
  483: goto 485
  484: r3 = r2
; golden/patterns.lua:25: if name:find("com$") then score = score + 200 end
  485: r2 = 0
  486: r4 = *(u64 *)(r10 -8)
  487: r7 = *(u64 *)(r10 -8)
  488: r4 -= r7
  489: r1 = *(u64 *)(r10 -8)
  490: if r4 s> r1 goto 540
  491: may_goto 591
  492: if r4 > 0x7fff goto 591
  493: r7 = r4
  494: r1 = *(u64 *)(r10 -8)
  495: if r7 s>= r1 goto 537
  496: r6 = *(u64 *)(r10 -16)
  497: r6 += r7
  498: if r6 > 0x7fff goto 591
  499: r6 += r9
  500: r0 = r6
  501: r0 += 1
  502: if r0 > r8 goto 591
  503: r6 = *(u8 *)(r6 +0)
  504: if r6 == 0x63 goto 506
  505: goto 537
  506: r7 += 1
  507: r1 = *(u64 *)(r10 -8)
  508: if r7 s>= r1 goto 537
  509: r6 = *(u64 *)(r10 -16)
  510: r6 += r7
  511: if r6 > 0x7fff goto 591
  512: r6 += r9
  513: r0 = r6
  514: r0 += 1
  515: if r0 > r8 goto 591
  516: r6 = *(u8 *)(r6 +0)
  517: if r6 == 0x6f goto 519
  518: goto 537
  519: r7 += 1
  520: r1 = *(u64 *)(r10 -8)
  521: if r7 s>= r1 goto 537
  522: r6 = *(u64 *)(r10 -16)
  523: r6 += r7
  524: if r6 > 0x7fff goto 591
  525: r6 += r9
  526: r0 = r6
  527: r0 += 1
  528: if r0 > r8 goto 591
  529: r6 = *(u8 *)(r6 +0)
  530: if r6 == 0x6d goto 532
  531: goto 537
  532: r7 += 1
  533: r1 = *(u64 *)(r10 -8)
  534: if r7 != r1 goto 537
  535: r2 = 1
  536: goto 540
  537: r4 += 1
  538: r1 = *(u64 *)(r10 -8)
  539: if r4 s<= r1 goto 491
  540: if r2 == 0x0 goto 545
  541: r2 = r3
  542: r2 += 200
  543: r6 = r2
  544: goto 546
  545: r6 = r3
; golden/patterns.lua:26: print(#name, i, j)
  546: *(u64 *)(r10 -80) = 16973824
  547: *(u64 *)(r10 -72) = 65793
  548: r0 = *(u64 *)(r10 -8)
  549: *(u64 *)(r10 -64) = r0
  550: r2 = 1
  551: r0 = *(u64 *)(r10 -24)
  552: if r0 != 0x0 goto 554
  553: r2 = 0
  554: *(u8 *)(r10 -71) = r2
  555: *(u64 *)(r10 -56) = r5
  556: r2 = 1
  557: r0 = *(u64 *)(r10 -24)
  558: if r0 != 0x0 goto 560
  559: r2 = 0
  560: *(u8 *)(r10 -70) = r2
  561: r0 = *(u64 *)(r10 -40)
  562: *(u64 *)(r10 -48) = r0
  563: r1 = map[lunet_print] ll
  565: r2 = r10
  566: r2 += -80
  567: r3 = 40
  568: r4 = 0
  569: call bpf_ringbuf_output#130
  570: if r0 == 0x0 goto 581
  571: *(u32 *)(r10 -80) = 0
  572: r1 = map[lunet_printlost] ll
  574: r2 = r10
  575: r2 += -80
  576: call bpf_map_lookup_elem#1
  577: if r0 == 0x0 goto 581
  578: r1 = *(u64 *)(r0 +0)
  579: r1 += 1
  580: *(u64 *)(r0 +0) = r1
; golden/patterns.lua:27: return score % 5
  581: if r6 s< 0x0 goto 584
  582: r6 %= 5
  583: goto 588
  584: r6 ^= -1
  585: r6 %= 5
  586: r6 = -r6
  587: r6 += 4
  588: if r6 > 0x4 goto 591
  589: r0 = r6
  590: exit
; golden/patterns.lua:28: end
  591: r0 = 2
  592: exit
