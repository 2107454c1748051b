#include "textflag.h"

// The bytes broadcast into Y1-Y5: 0x20 (bytes below it, as signed numbers,
// are the control characters and every non-ASCII byte), 0x02 and 0x3E
// (b|0x02 == 0x3E for < and >), 0x04 and 0x26 (b|0x04 == 0x26 for " and &).
DATA prefixConsts<>+0(SB)/1, $0x20
DATA prefixConsts<>+1(SB)/1, $0x02
DATA prefixConsts<>+2(SB)/1, $0x3e
DATA prefixConsts<>+3(SB)/1, $0x04
DATA prefixConsts<>+4(SB)/1, $0x26
GLOBL prefixConsts<>(SB), RODATA|NOPTR, $8

// NOTPLAIN sets in m a byte of 0xFF for each of the 32 bytes at src that is
// not plain (Y0, Y6, Y7 and Y9 are scratch).
#define NOTPLAIN(src, m) \
	VMOVDQU  src, Y0;    \
	VPCMPGTB Y0, Y1, Y6; \
	VPOR     Y2, Y0, Y7; \
	VPCMPEQB Y3, Y7, Y7; \
	VPOR     Y4, Y0, Y9; \
	VPCMPEQB Y5, Y9, Y9; \
	VPOR     Y6, Y7, Y7; \
	VPOR     Y7, Y9, m

// func plainPrefixAVX2(s string) int
// len(s) >= 32. Returns the index of the first byte of s that is not
// plain, or len(s). The last block is read overlapping the one before it
// rather than past the end of s: its first bytes, already found plain,
// set no bit.
TEXT ·plainPrefixAVX2(SB), NOSPLIT, $0-24
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), BX
	VPBROADCASTB prefixConsts<>+0(SB), Y1
	VPBROADCASTB prefixConsts<>+1(SB), Y2
	VPBROADCASTB prefixConsts<>+2(SB), Y3
	VPBROADCASTB prefixConsts<>+3(SB), Y4
	VPBROADCASTB prefixConsts<>+4(SB), Y5
	XORQ AX, AX
	LEAQ -32(BX), DX // start of the last whole block

loop64:
	// Two blocks at a time while they fit.
	LEAQ 32(AX), R8
	CMPQ R8, DX
	JA   loop32
	NOTPLAIN((SI)(AX*1), Y8)
	NOTPLAIN(32(SI)(AX*1), Y13)
	VPOR   Y8, Y13, Y14
	VPTEST Y14, Y14
	JNZ    found64
	ADDQ   $64, AX
	JMP    loop64

found64:
	VPMOVMSKB Y8, CX
	TESTL     CX, CX
	JNZ       found
	ADDQ      $32, AX
	VPMOVMSKB Y13, CX
	JMP       found

loop32:
	CMPQ AX, DX
	JA   last
	NOTPLAIN((SI)(AX*1), Y8)
	VPMOVMSKB Y8, CX
	TESTL     CX, CX
	JNZ       found
	ADDQ      $32, AX
	JMP       loop32

last:
	// Fewer than 32 bytes left (AX > DX): test the last block.
	CMPQ AX, BX
	JEQ  done
	MOVQ DX, AX
	NOTPLAIN((SI)(AX*1), Y8)
	VPMOVMSKB Y8, CX
	TESTL     CX, CX
	JNZ       found
	MOVQ      BX, AX
	JMP       done

found:
	BSFL CX, CX
	ADDQ CX, AX

done:
	VZEROUPPER
	MOVQ AX, ret+16(FP)
	RET
