; 118 instructions, 0 bytes of stack, 34 values (0 spilled)
; golden/iterate.lua:12: local function hook(packet)
    0: r9 = *(u32 *)(r1 +0)
    1: r8 = *(u32 *)(r1 +4)
; golden/iterate.lua:13: local x = packet:getuint8(0)
    2: r0 = r9
    3: r0 += 1
    4: if r0 > r8 goto 116
    5: r2 = *(u8 *)(r9 +0)
; golden/iterate.lua:16: if p == x then sum = sum + i end
    6: if r2 != 0x3 goto 9
    7: r3 = 1
    8: goto 10
    9: r3 = 0
   10: if r2 != 0x5 goto 14
   11: r4 = r3
   12: r4 += 2
   13: goto 15
   14: r4 = r3
   15: if r2 != 0x7 goto 19
   16: r3 = r4
   17: r3 += 3
   18: goto 20
   19: r3 = r4
; golden/iterate.lua:17: if p > 6 and x == 0 then break end
   20: if r2 != 0x0 goto 22
   21: goto 29
; golden/iterate.lua:16: if p == x then sum = sum + i end
   22: if r2 != 0xb goto 26
   23: r4 = r3
   24: r4 += 4
   25: goto 27
   26: r4 = r3
; golden/iterate.lua:17: if p > 6 and x == 0 then break end
   27: if r2 != 0x0 goto 33
   28: goto 31
   29: r2 = r3
   30: goto 34
   31: r2 = r4
   32: goto 34
   33: r2 = r4
; golden/iterate.lua:20: if packet:getuint8(1) % 3 == w % 3 then sum = sum + w end
   34: r0 = r9
   35: r0 += 2
   36: if r0 > r8 goto 116
   37: r3 = *(u8 *)(r9 +1)
   38: if r3 s< 0x0 goto 41
   39: r3 %= 3
   40: goto 45
   41: r3 ^= -1
   42: r3 %= 3
   43: r3 = -r3
   44: r3 += 2
   45: if r3 != 0x1 goto 49
   46: r3 = r2
   47: r3 += 1
   48: goto 50
   49: r3 = r2
   50: r2 = *(u8 *)(r9 +1)
   51: if r2 s< 0x0 goto 54
   52: r2 %= 3
   53: goto 58
   54: r2 ^= -1
   55: r2 %= 3
   56: r2 = -r2
   57: r2 += 2
   58: if r2 != 0x2 goto 62
   59: r2 = r3
   60: r2 += 20
   61: goto 63
   62: r2 = r3
   63: r3 = *(u8 *)(r9 +1)
   64: if r3 s< 0x0 goto 67
   65: r3 %= 3
   66: goto 71
   67: r3 ^= -1
   68: r3 %= 3
   69: r3 = -r3
   70: r3 += 2
   71: if r3 != 0x0 goto 75
   72: r3 = r2
   73: r3 += 300
   74: goto 76
   75: r3 = r2
; golden/iterate.lua:23: if weights[n] == nil then sum = sum + #n end
   76: r3 += 2
; golden/iterate.lua:25: for i = 1, #ports do sum = sum + ports[i] end
   77: r2 = 1
   78: r4 = r2
   79: r5 = 0
   80: r6 = 0
   81: if r4 != 0x1 goto 85
   82: r5 = 1
   83: r6 = 3
   84: goto 96
   85: if r4 != 0x2 goto 89
   86: r5 = 1
   87: r6 = 5
   88: goto 96
   89: if r4 != 0x3 goto 93
   90: r5 = 1
   91: r6 = 7
   92: goto 96
   93: if r4 != 0x4 goto 96
   94: r5 = 1
   95: r6 = 11
   96: if r5 == 0x0 goto 116
   97: r4 = r3
   98: r4 += r6
   99: if r2 == 0x4 goto 103
  100: r2 += 1
  101: r3 = r4
  102: goto 78
; golden/iterate.lua:26: if sum > 400 then return action.DROP end
  103: if r4 s<= 0x190 goto 106
  104: r0 = 1
  105: exit
; golden/iterate.lua:27: return sum % 5
  106: if r4 s< 0x0 goto 109
  107: r4 %= 5
  108: goto 113
  109: r4 ^= -1
  110: r4 %= 5
  111: r4 = -r4
  112: r4 += 4
  113: if r4 > 0x4 goto 116
  114: r0 = r4
  115: exit
; golden/iterate.lua:28: end
  116: r0 = 2
  117: exit
