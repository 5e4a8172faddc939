; 124 instructions, 0 bytes of stack, 27 values (0 spilled)
; golden/choice.lua:15: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/choice.lua:16: local a = packet:getuint8(0)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 122
    5: r2 = *(u8 *)(r9 +0)
; golden/choice.lua:17: local v = a > 3 and "DROP" or "PASS"
    6: if r2 s<= 0x3 goto 9
    7: r3 = 0
    8: goto 10
    9: r3 = 1
; golden/choice.lua:18: local w = a % 3 == 0 and "TX" or (a % 3 == 1 and "PASS" or "DROP")
   10: r4 = r2
   11: if r4 s< 0x0 goto 14
   12: r4 %= 3
   13: goto 18
   14: r4 ^= -1
   15: r4 %= 3
   16: r4 = -r4
   17: r4 += 2
   18: if r4 != 0x0 goto 20
   19: goto 33
   20: r4 = r2
   21: if r4 s< 0x0 goto 24
   22: r4 %= 3
   23: goto 28
   24: r4 ^= -1
   25: r4 %= 3
   26: r4 = -r4
   27: r4 += 2
   28: if r4 != 0x1 goto 31
   29: r4 = 1
   30: goto 35
   31: r4 = 0
   32: goto 35
   33: r5 = 2
   34: goto 36
   35: r5 = r4
; golden/choice.lua:20: if packet:getuint8(1) > 4 then maybe = "TX" end
   36: r0 = r9
   37: r0 += 2
   38: if r0 > r8 goto 122
   39: r4 = *(u8 *)(r9 +1)
   40: if r4 s<= 0x4 goto 43
   41: r4 = 2
   42: goto 44
   43: r4 = 3
; golden/choice.lua:21: local score = #v + nested[v].n
   44: if r3 != 0x0 goto 47
   45: r6 = 4
   46: goto 48
   47: r6 = 5
   48: if r6 != 0x4 goto 51
   49: r6 = 1
   50: goto 52
   51: r6 = 2
   52: r6 += 4
; golden/choice.lua:22: if v == w then score = score + 10 end
   53: if r5 != r3 goto 57
   54: r7 = r6
   55: r7 += 10
   56: goto 58
   57: r7 = r6
; golden/choice.lua:23: if w ~= "TX" then score = score + 100 end
   58: if r5 == 0x2 goto 62
   59: r6 = r7
   60: r6 += 100
   61: goto 63
   62: r6 = r7
; golden/choice.lua:24: if maybe then score = score + 1000 end
   63: r7 = 1
   64: if r4 != 0x3 goto 66
   65: r7 = 0
   66: if r7 == 0x0 goto 70
   67: r7 = r6
   68: r7 += 1000
   69: goto 71
   70: r7 = r6
; golden/choice.lua:25: if maybe == "TX" and not (v == "PASS") then return codes[maybe] end
   71: if r4 != 0x2 goto 83
   72: if r3 == 0x1 goto 83
   73: if r4 != 0x2 goto 77
   74: r4 = 1
   75: r6 = 3
   76: goto 79
   77: r4 = 0
   78: r6 = 0
   79: if r4 == 0x0 goto 122
   80: if r6 > 0x4 goto 122
   81: r0 = r6
   82: exit
; golden/choice.lua:12: total = (total or 0) + x
   83: r2 += 0
; golden/choice.lua:28: note(packet:getuint8(1))
   84: r4 = *(u8 *)(r9 +1)
; golden/choice.lua:12: total = (total or 0) + x
   85: r2 += r4
; golden/choice.lua:29: if seen > 4 then verdict = "DROP" else verdict = "PASS" end
   86: if r4 s<= 0x4 goto 89
   87: r4 = 0
   88: goto 90
   89: r4 = 1
; golden/choice.lua:30: if total > 12 then return action.TX end
   90: if r2 s<= 0xc goto 93
   91: r0 = 3
   92: exit
; golden/choice.lua:31: if score > 1000 then return codes[w] end
   93: if r7 s<= 0x3e8 goto 106
   94: if r5 != 0x0 goto 96
   95: goto 98
   96: if r5 != 0x1 goto 102
   97: goto 100
   98: r2 = 1
   99: goto 103
  100: r2 = 2
  101: goto 103
  102: r2 = 3
  103: if r2 > 0x4 goto 122
  104: r0 = r2
  105: exit
; golden/choice.lua:32: return codes[verdict == "DROP" and v or w]
  106: if r4 != 0x0 goto 109
  107: r2 = r3
  108: goto 110
  109: r2 = r5
  110: if r2 != 0x0 goto 112
  111: goto 114
  112: if r2 != 0x1 goto 118
  113: goto 116
  114: r2 = 1
  115: goto 119
  116: r2 = 2
  117: goto 119
  118: r2 = 3
  119: if r2 > 0x4 goto 122
  120: r0 = r2
  121: exit
; golden/choice.lua:33: end
  122: r0 = 2
  123: exit
