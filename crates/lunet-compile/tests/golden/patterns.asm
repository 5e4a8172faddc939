; 605 instructions, 88 bytes of stack, 191 values (6 spilled)
; golden/patterns.lua:15: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/patterns.lua:16: local s = packet:getstring(2, packet:getuint8(0) % 24)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 603
    5: r2 = *(u8 *)(r9 +0)
    6: *(u64 *)(r10 -40) = r2
    7: r0 = *(u64 *)(r10 -40)
    8: if r0 s< 0x0 goto 13
    9: r0 = *(u64 *)(r10 -40)
   10: r0 %= 24
   11: *(u64 *)(r10 -40) = r0
   12: goto 25
   13: r0 = *(u64 *)(r10 -40)
   14: r0 ^= -1
   15: *(u64 *)(r10 -40) = r0
   16: r0 = *(u64 *)(r10 -40)
   17: r0 %= 24
   18: *(u64 *)(r10 -40) = r0
   19: r0 = *(u64 *)(r10 -40)
   20: r0 = -r0
   21: *(u64 *)(r10 -40) = r0
   22: r0 = *(u64 *)(r10 -40)
   23: r0 += 23
   24: *(u64 *)(r10 -40) = r0
   25: r0 = *(u64 *)(r10 -40)
   26: if r0 > 0x7fff goto 603
   27: r3 = 2
   28: if r3 > 0x7fff goto 603
   29: r3 += r9
   30: r0 = r3
   31: r1 = *(u64 *)(r10 -40)
   32: r0 += r1
   33: if r0 > r8 goto 603
; golden/patterns.lua:11: local _, _, name = s:find("([^\0]*)")
   34: r0 = 0
   35: *(u64 *)(r10 -16) = r0
   36: r4 = 0
   37: r5 = 0
   38: r6 = *(u64 *)(r10 -40)
   39: r7 = *(u64 *)(r10 -40)
   40: r6 -= r7
   41: r1 = *(u64 *)(r10 -40)
   42: if r6 s> r1 goto 68
   43: may_goto 603
   44: if r6 > 0x7fff goto 603
   45: r4 = r6
   46: may_goto 603
   47: if r6 > 0x7fff goto 603
   48: r1 = *(u64 *)(r10 -40)
   49: if r6 s>= r1 goto 63
   50: r7 = 2
   51: r7 += r6
   52: if r7 > 0x7fff goto 603
   53: r7 += r9
   54: r0 = r7
   55: r0 += 1
   56: if r0 > r8 goto 603
   57: r7 = *(u8 *)(r7 +0)
   58: r7 += -1
   59: if r7 <= 0xfe goto 61
   60: goto 63
   61: r6 += 1
   62: goto 46
   63: may_goto 603
   64: if r6 > 0x7fff goto 603
   65: r5 = r6
   66: r0 = 1
   67: *(u64 *)(r10 -16) = r0
   68: r0 = 2
   69: *(u64 *)(r10 -24) = r0
   70: r0 = *(u64 *)(r10 -24)
   71: r0 += r4
   72: *(u64 *)(r10 -24) = r0
   73: *(u64 *)(r10 -8) = r5
   74: r0 = *(u64 *)(r10 -8)
   75: r0 -= r4
   76: *(u64 *)(r10 -8) = r0
; golden/patterns.lua:20: if string.find(name, v) ~= nil then score = score + 1 end
   77: r0 = *(u64 *)(r10 -16)
   78: if r0 == 0x0 goto 603
   79: r4 = 0
   80: r7 = *(u64 *)(r10 -8)
   81: r5 = *(u64 *)(r10 -8)
   82: r7 -= r5
   83: r1 = *(u64 *)(r10 -8)
   84: if r7 s> r1 goto 219
   85: may_goto 603
   86: if r7 > 0x7fff goto 603
   87: r5 = r7
   88: r1 = *(u64 *)(r10 -8)
   89: if r5 s>= r1 goto 216
   90: r3 = *(u64 *)(r10 -24)
   91: r3 += r5
   92: if r3 > 0x7fff goto 603
   93: r3 += r9
   94: r0 = r3
   95: r0 += 1
   96: if r0 > r8 goto 603
   97: r3 = *(u8 *)(r3 +0)
   98: if r3 == 0x67 goto 100
   99: goto 216
  100: r5 += 1
  101: r1 = *(u64 *)(r10 -8)
  102: if r5 s>= r1 goto 216
  103: r3 = *(u64 *)(r10 -24)
  104: r3 += r5
  105: if r3 > 0x7fff goto 603
  106: r3 += r9
  107: r0 = r3
  108: r0 += 1
  109: if r0 > r8 goto 603
  110: r3 = *(u8 *)(r3 +0)
  111: if r3 == 0x69 goto 113
  112: goto 216
  113: r5 += 1
  114: r1 = *(u64 *)(r10 -8)
  115: if r5 s>= r1 goto 216
  116: r3 = *(u64 *)(r10 -24)
  117: r3 += r5
  118: if r3 > 0x7fff goto 603
  119: r3 += r9
  120: r0 = r3
  121: r0 += 1
  122: if r0 > r8 goto 603
  123: r3 = *(u8 *)(r3 +0)
  124: if r3 == 0x74 goto 126
  125: goto 216
  126: r5 += 1
  127: r1 = *(u64 *)(r10 -8)
  128: if r5 s>= r1 goto 216
  129: r3 = *(u64 *)(r10 -24)
  130: r3 += r5
  131: if r3 > 0x7fff goto 603
  132: r3 += r9
  133: r0 = r3
  134: r0 += 1
  135: if r0 > r8 goto 603
  136: r3 = *(u8 *)(r3 +0)
  137: if r3 == 0x68 goto 139
  138: goto 216
  139: r5 += 1
  140: r1 = *(u64 *)(r10 -8)
  141: if r5 s>= r1 goto 216
  142: r3 = *(u64 *)(r10 -24)
  143: r3 += r5
  144: if r3 > 0x7fff goto 603
  145: r3 += r9
  146: r0 = r3
  147: r0 += 1
  148: if r0 > r8 goto 603
  149: r3 = *(u8 *)(r3 +0)
  150: if r3 == 0x75 goto 152
  151: goto 216
  152: r5 += 1
  153: r1 = *(u64 *)(r10 -8)
  154: if r5 s>= r1 goto 216
  155: r3 = *(u64 *)(r10 -24)
  156: r3 += r5
  157: if r3 > 0x7fff goto 603
  158: r3 += r9
  159: r0 = r3
  160: r0 += 1
  161: if r0 > r8 goto 603
  162: r3 = *(u8 *)(r3 +0)
  163: if r3 == 0x62 goto 165
  164: goto 216
  165: r5 += 1
  166: r1 = *(u64 *)(r10 -8)
  167: if r5 s>= r1 goto 216
  168: r3 = *(u64 *)(r10 -24)
  169: r3 += r5
  170: if r3 > 0x7fff goto 603
  171: r3 += r9
  172: r0 = r3
  173: r0 += 1
  174: if r0 > r8 goto 603
  175: r5 += 1
  176: r1 = *(u64 *)(r10 -8)
  177: if r5 s>= r1 goto 216
  178: r3 = *(u64 *)(r10 -24)
  179: r3 += r5
  180: if r3 > 0x7fff goto 603
  181: r3 += r9
  182: r0 = r3
  183: r0 += 1
  184: if r0 > r8 goto 603
  185: r3 = *(u8 *)(r3 +0)
  186: if r3 == 0x63 goto 188
  187: goto 216
  188: r5 += 1
  189: r1 = *(u64 *)(r10 -8)
  190: if r5 s>= r1 goto 216
  191: r3 = *(u64 *)(r10 -24)
  192: r3 += r5
  193: if r3 > 0x7fff goto 603
  194: r3 += r9
  195: r0 = r3
  196: r0 += 1
  197: if r0 > r8 goto 603
  198: r3 = *(u8 *)(r3 +0)
  199: if r3 == 0x6f goto 201
  200: goto 216
  201: r5 += 1
  202: r1 = *(u64 *)(r10 -8)
  203: if r5 s>= r1 goto 216
  204: r3 = *(u64 *)(r10 -24)
  205: r3 += r5
  206: if r3 > 0x7fff goto 603
  207: r3 += r9
  208: r0 = r3
  209: r0 += 1
  210: if r0 > r8 goto 603
  211: r3 = *(u8 *)(r3 +0)
  212: if r3 == 0x6d goto 214
  213: goto 216
  214: r4 = 1
  215: goto 219
  216: r7 += 1
  217: r1 = *(u64 *)(r10 -8)
  218: if r7 s<= r1 goto 85
  219: if r4 == 0x0 goto 222
  220: r3 = 1
  221: goto 223
  222: r3 = 0
  223: r0 = *(u64 *)(r10 -16)
  224: if r0 == 0x0 goto 603
  225: r4 = 0
  226: r5 = *(u64 *)(r10 -8)
  227: r7 = *(u64 *)(r10 -8)
  228: r5 -= r7
  229: r1 = *(u64 *)(r10 -8)
  230: if r5 s> r1 goto 365
  231: may_goto 603
  232: if r5 > 0x7fff goto 603
  233: r7 = r5
  234: r1 = *(u64 *)(r10 -8)
  235: if r7 s>= r1 goto 362
  236: r6 = *(u64 *)(r10 -24)
  237: r6 += r7
  238: if r6 > 0x7fff goto 603
  239: r6 += r9
  240: r0 = r6
  241: r0 += 1
  242: if r0 > r8 goto 603
  243: r6 = *(u8 *)(r6 +0)
  244: if r6 == 0x67 goto 246
  245: goto 362
  246: r7 += 1
  247: r1 = *(u64 *)(r10 -8)
  248: if r7 s>= r1 goto 362
  249: r6 = *(u64 *)(r10 -24)
  250: r6 += r7
  251: if r6 > 0x7fff goto 603
  252: r6 += r9
  253: r0 = r6
  254: r0 += 1
  255: if r0 > r8 goto 603
  256: r6 = *(u8 *)(r6 +0)
  257: if r6 == 0x69 goto 259
  258: goto 362
  259: r7 += 1
  260: r1 = *(u64 *)(r10 -8)
  261: if r7 s>= r1 goto 362
  262: r6 = *(u64 *)(r10 -24)
  263: r6 += r7
  264: if r6 > 0x7fff goto 603
  265: r6 += r9
  266: r0 = r6
  267: r0 += 1
  268: if r0 > r8 goto 603
  269: r6 = *(u8 *)(r6 +0)
  270: if r6 == 0x74 goto 272
  271: goto 362
  272: r7 += 1
  273: r1 = *(u64 *)(r10 -8)
  274: if r7 s>= r1 goto 362
  275: r6 = *(u64 *)(r10 -24)
  276: r6 += r7
  277: if r6 > 0x7fff goto 603
  278: r6 += r9
  279: r0 = r6
  280: r0 += 1
  281: if r0 > r8 goto 603
  282: r6 = *(u8 *)(r6 +0)
  283: if r6 == 0x6c goto 285
  284: goto 362
  285: r7 += 1
  286: r1 = *(u64 *)(r10 -8)
  287: if r7 s>= r1 goto 362
  288: r6 = *(u64 *)(r10 -24)
  289: r6 += r7
  290: if r6 > 0x7fff goto 603
  291: r6 += r9
  292: r0 = r6
  293: r0 += 1
  294: if r0 > r8 goto 603
  295: r6 = *(u8 *)(r6 +0)
  296: if r6 == 0x61 goto 298
  297: goto 362
  298: r7 += 1
  299: r1 = *(u64 *)(r10 -8)
  300: if r7 s>= r1 goto 362
  301: r6 = *(u64 *)(r10 -24)
  302: r6 += r7
  303: if r6 > 0x7fff goto 603
  304: r6 += r9
  305: r0 = r6
  306: r0 += 1
  307: if r0 > r8 goto 603
  308: r6 = *(u8 *)(r6 +0)
  309: if r6 == 0x62 goto 311
  310: goto 362
  311: r7 += 1
  312: r1 = *(u64 *)(r10 -8)
  313: if r7 s>= r1 goto 362
  314: r6 = *(u64 *)(r10 -24)
  315: r6 += r7
  316: if r6 > 0x7fff goto 603
  317: r6 += r9
  318: r0 = r6
  319: r0 += 1
  320: if r0 > r8 goto 603
  321: r7 += 1
  322: r1 = *(u64 *)(r10 -8)
  323: if r7 s>= r1 goto 362
  324: r6 = *(u64 *)(r10 -24)
  325: r6 += r7
  326: if r6 > 0x7fff goto 603
  327: r6 += r9
  328: r0 = r6
  329: r0 += 1
  330: if r0 > r8 goto 603
  331: r6 = *(u8 *)(r6 +0)
  332: if r6 == 0x63 goto 334
  333: goto 362
  334: r7 += 1
  335: r1 = *(u64 *)(r10 -8)
  336: if r7 s>= r1 goto 362
  337: r6 = *(u64 *)(r10 -24)
  338: r6 += r7
  339: if r6 > 0x7fff goto 603
  340: r6 += r9
  341: r0 = r6
  342: r0 += 1
  343: if r0 > r8 goto 603
  344: r6 = *(u8 *)(r6 +0)
  345: if r6 == 0x6f goto 347
  346: goto 362
  347: r7 += 1
  348: r1 = *(u64 *)(r10 -8)
  349: if r7 s>= r1 goto 362
  350: r6 = *(u64 *)(r10 -24)
  351: r6 += r7
  352: if r6 > 0x7fff goto 603
  353: r6 += r9
  354: r0 = r6
  355: r0 += 1
  356: if r0 > r8 goto 603
  357: r6 = *(u8 *)(r6 +0)
  358: if r6 == 0x6d goto 360
  359: goto 362
  360: r4 = 1
  361: goto 365
  362: r5 += 1
  363: r1 = *(u64 *)(r10 -8)
  364: if r5 s<= r1 goto 231
  365: if r4 == 0x0 goto 369
  366: r4 = r3
  367: r4 += 1
  368: goto 370
  369: r4 = r3
; golden/patterns.lua:22: local i, j = s:find("%d+")
  370: r0 = 0
  371: *(u64 *)(r10 -32) = r0
  372: r5 = 0
  373: r6 = 0
  374: r7 = *(u64 *)(r10 -40)
  375: r3 = *(u64 *)(r10 -40)
  376: r7 -= r3
  377: r1 = *(u64 *)(r10 -40)
  378: if r7 s> r1 goto 423
  379: may_goto 603
  380: if r7 > 0x7fff goto 603
  381: r3 = r7
  382: r1 = *(u64 *)(r10 -40)
  383: if r3 s>= r1 goto 420
  384: r2 = 2
  385: r2 += r3
  386: if r2 > 0x7fff goto 603
  387: r2 += r9
  388: r0 = r2
  389: r0 += 1
  390: if r0 > r8 goto 603
  391: r2 = *(u8 *)(r2 +0)
  392: r2 += -48
  393: if r2 <= 0x9 goto 395
  394: goto 420
  395: r3 += 1
  396: may_goto 603
  397: if r3 > 0x7fff goto 603
  398: r1 = *(u64 *)(r10 -40)
  399: if r3 s>= r1 goto 413
  400: r2 = 2
  401: r2 += r3
  402: if r2 > 0x7fff goto 603
  403: r2 += r9
  404: r0 = r2
  405: r0 += 1
  406: if r0 > r8 goto 603
  407: r2 = *(u8 *)(r2 +0)
  408: r2 += -48
  409: if r2 <= 0x9 goto 411
  410: goto 413
  411: r3 += 1
  412: goto 396
  413: may_goto 603
  414: if r3 > 0x7fff goto 603
  415: r0 = 1
  416: *(u64 *)(r10 -32) = r0
  417: r5 = r7
  418: r6 = r3
  419: goto 423
  420: r7 += 1
  421: r1 = *(u64 *)(r10 -40)
  422: if r7 s<= r1 goto 379
  423: r5 += 1
  424: *(u64 *)(r10 -48) = r6
; golden/patterns.lua:23: if i then score = score + i * 10 + j end
  425: r0 = *(u64 *)(r10 -32)
  426: if r0 == 0x0 goto 439
  427: r0 = *(u64 *)(r10 -32)
  428: if r0 == 0x0 goto 603
  429: r2 = r5
  430: r2 *= 10
  431: r3 = r4
  432: r3 += r2
  433: r0 = *(u64 *)(r10 -32)
  434: if r0 == 0x0 goto 603
  435: r1 = *(u64 *)(r10 -48)
  436: r3 += r1
  437: r2 = r3
  438: goto 440
  439: r2 = r4
; golden/patterns.lua:24: if s:find("^git") then score = score + 100 end
  440: r3 = 0
  441: r4 = *(u64 *)(r10 -40)
  442: r7 = *(u64 *)(r10 -40)
  443: r4 -= r7
  444: r1 = *(u64 *)(r10 -40)
  445: if r4 s> r1 goto 488
  446: may_goto 603
  447: if r4 > 0x7fff goto 603
  448: r1 = *(u64 *)(r10 -40)
  449: if r4 s>= r1 goto 488
  450: r7 = 2
  451: r7 += r4
  452: if r7 > 0x7fff goto 603
  453: r7 += r9
  454: r0 = r7
  455: r0 += 1
  456: if r0 > r8 goto 603
  457: r7 = *(u8 *)(r7 +0)
  458: if r7 == 0x67 goto 460
  459: goto 488
  460: r4 += 1
  461: r1 = *(u64 *)(r10 -40)
  462: if r4 s>= r1 goto 488
  463: r7 = 2
  464: r7 += r4
  465: if r7 > 0x7fff goto 603
  466: r7 += r9
  467: r0 = r7
  468: r0 += 1
  469: if r0 > r8 goto 603
  470: r7 = *(u8 *)(r7 +0)
  471: if r7 == 0x69 goto 473
  472: goto 488
  473: r4 += 1
  474: r1 = *(u64 *)(r10 -40)
  475: if r4 s>= r1 goto 488
  476: r7 = 2
  477: r7 += r4
  478: if r7 > 0x7fff goto 603
  479: r4 = r7
  480: r4 += r9
  481: r0 = r4
  482: r0 += 1
  483: if r0 > r8 goto 603
  484: r4 = *(u8 *)(r4 +0)
  485: if r4 == 0x74 goto 487
  486: goto 488
  487: r3 = 1
  488: if r3 == 0x0 goto 492
  489: r3 = r2
  490: r3 += 100
  491: goto 493
  492: r3 = r2
; golden/patterns.lua:25: if name:find("com$") then score = score + 200 end
  493: r0 = *(u64 *)(r10 -16)
  494: if r0 == 0x0 goto 603
  495: r2 = 0
  496: r4 = *(u64 *)(r10 -8)
  497: r7 = *(u64 *)(r10 -8)
  498: r4 -= r7
  499: r1 = *(u64 *)(r10 -8)
  500: if r4 s> r1 goto 550
  501: may_goto 603
  502: if r4 > 0x7fff goto 603
  503: r7 = r4
  504: r1 = *(u64 *)(r10 -8)
  505: if r7 s>= r1 goto 547
  506: r6 = *(u64 *)(r10 -24)
  507: r6 += r7
  508: if r6 > 0x7fff goto 603
  509: r6 += r9
  510: r0 = r6
  511: r0 += 1
  512: if r0 > r8 goto 603
  513: r6 = *(u8 *)(r6 +0)
  514: if r6 == 0x63 goto 516
  515: goto 547
  516: r7 += 1
  517: r1 = *(u64 *)(r10 -8)
  518: if r7 s>= r1 goto 547
  519: r6 = *(u64 *)(r10 -24)
  520: r6 += r7
  521: if r6 > 0x7fff goto 603
  522: r6 += r9
  523: r0 = r6
  524: r0 += 1
  525: if r0 > r8 goto 603
  526: r6 = *(u8 *)(r6 +0)
  527: if r6 == 0x6f goto 529
  528: goto 547
  529: r7 += 1
  530: r1 = *(u64 *)(r10 -8)
  531: if r7 s>= r1 goto 547
  532: r6 = *(u64 *)(r10 -24)
  533: r6 += r7
  534: if r6 > 0x7fff goto 603
  535: r6 += r9
  536: r0 = r6
  537: r0 += 1
  538: if r0 > r8 goto 603
  539: r6 = *(u8 *)(r6 +0)
  540: if r6 == 0x6d goto 542
  541: goto 547
  542: r7 += 1
  543: r1 = *(u64 *)(r10 -8)
  544: if r7 != r1 goto 547
  545: r2 = 1
  546: goto 550
  547: r4 += 1
  548: r1 = *(u64 *)(r10 -8)
  549: if r4 s<= r1 goto 501
  550: if r2 == 0x0 goto 555
  551: r2 = r3
  552: r2 += 200
  553: r6 = r2
  554: goto 556
  555: r6 = r3
; golden/patterns.lua:26: print(#name, i, j)
  556: r0 = *(u64 *)(r10 -16)
  557: if r0 == 0x0 goto 603
  558: *(u64 *)(r10 -88) = 16973824
  559: *(u64 *)(r10 -80) = 65793
  560: r0 = *(u64 *)(r10 -8)
  561: *(u64 *)(r10 -72) = r0
  562: r2 = 1
  563: r0 = *(u64 *)(r10 -32)
  564: if r0 != 0x0 goto 566
  565: r2 = 0
  566: *(u8 *)(r10 -79) = r2
  567: *(u64 *)(r10 -64) = r5
  568: r2 = 1
  569: r0 = *(u64 *)(r10 -32)
  570: if r0 != 0x0 goto 572
  571: r2 = 0
  572: *(u8 *)(r10 -78) = r2
  573: r0 = *(u64 *)(r10 -48)
  574: *(u64 *)(r10 -56) = r0
  575: r1 = map[lunet_print] ll
  577: r2 = r10
  578: r2 += -88
  579: r3 = 40
  580: r4 = 0
  581: call bpf_ringbuf_output#130
  582: if r0 == 0x0 goto 593
  583: *(u32 *)(r10 -88) = 0
  584: r1 = map[lunet_printlost] ll
  586: r2 = r10
  587: r2 += -88
  588: call bpf_map_lookup_elem#1
  589: if r0 == 0x0 goto 593
  590: r1 = *(u64 *)(r0 +0)
  591: r1 += 1
  592: *(u64 *)(r0 +0) = r1
; golden/patterns.lua:27: return score % 5
  593: if r6 s< 0x0 goto 596
  594: r6 %= 5
  595: goto 600
  596: r6 ^= -1
  597: r6 %= 5
  598: r6 = -r6
  599: r6 += 4
  600: if r6 > 0x4 goto 603
  601: r0 = r6
  602: exit
; golden/patterns.lua:28: end
  603: r0 = 2
  604: exit
