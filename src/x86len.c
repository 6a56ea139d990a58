// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * x86-64 instruction lengths, from the encoding rules of the Intel SDM
 * (volume 2, chapter 2 and appendix A): prefixes, REX, VEX/EVEX, the opcode
 * maps, ModRM/SIB/displacement and the immediate each opcode takes.
 *
 * Why not Capstone (Debian's libcapstone-dev): all we need is where each
 * instruction ends, for the code one compiler emits; a full multi-architecture
 * disassembler is an 8 MB static archive for that.  This one is checked
 * against binutils' objdump on every function of real Go binaries
 * (tests/ssl/test_go_decoder.py) and on hand-made cases (tests/unit).
 */
#include "x86len.h"

/* Immediate sizes. */
enum {
	I0,  /* none */
	IB,  /* 1 byte */
	IW,  /* 2 bytes */
	IZ,  /* 2 or 4 bytes (operand size) */
	IV,  /* 2, 4 or 8 bytes (MOV r64, imm64) */
	IWB, /* ENTER: 2 + 1 */
	IM,  /* moffs: 8 bytes, 4 with 0x67 */
	IG3, /* F6/F7: TEST has an immediate (reg 0 or 1), the others none */
	BAD, /* not an instruction in 64-bit mode */
};

/* Tables by rows of 16 opcodes. */
/* clang-format off */
/* One-byte map: 1 when the opcode has a ModRM byte. */
static const uint8_t modrm1[256] = {
	/* 00 */ 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0,
	/* 10 */ 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0,
	/* 20 */ 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0,
	/* 30 */ 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0,
	/* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 60 */ 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0,
	/* 70 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 80 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* a0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* b0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* c0 */ 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
	/* d0 */ 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
	/* e0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* f0 */ 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1,
};

/* One-byte map: the immediate of each opcode (prefixes and escapes are handled before). */
static const uint8_t imm1[256] = {
	/* 00 */ I0, I0, I0, I0, IB, IZ, BAD, BAD, I0, I0, I0, I0, IB, IZ, BAD, I0,
	/* 10 */ I0, I0, I0, I0, IB, IZ, BAD, BAD, I0, I0, I0, I0, IB, IZ, BAD, BAD,
	/* 20 */ I0, I0, I0, I0, IB, IZ, I0, BAD, I0, I0, I0, I0, IB, IZ, I0, BAD,
	/* 30 */ I0, I0, I0, I0, IB, IZ, I0, BAD, I0, I0, I0, I0, IB, IZ, I0, BAD,
	/* 40 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* 50 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* 60 */ BAD, BAD, BAD, I0, I0, I0, I0, I0, IZ, IZ, IB, IB, I0, I0, I0, I0,
	/* 70 */ IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB,
	/* 80 */ IB, IZ, BAD, IB, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* 90 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, BAD, I0, I0, I0, I0, I0,
	/* a0 */ IM, IM, IM, IM, I0, I0, I0, I0, IB, IZ, I0, I0, I0, I0, I0, I0,
	/* b0 */ IB, IB, IB, IB, IB, IB, IB, IB, IV, IV, IV, IV, IV, IV, IV, IV,
	/* c0 */ IB, IB, IW, I0, BAD, BAD, IB, IZ, IWB, I0, IW, I0, I0, IB, BAD, I0,
	/* d0 */ I0, I0, I0, I0, BAD, BAD, BAD, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* e0 */ IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, BAD, IB, I0, I0, I0, I0,
	/* f0 */ I0, I0, I0, I0, I0, I0, IG3, IG3, I0, I0, I0, I0, I0, I0, I0, I0,
};
/* clang-format on */

/* 0F map: the opcodes without a ModRM byte. */
static bool map1_no_modrm(uint8_t op)
{
	return (op >= 0x04 && op <= 0x0c) || op == 0x0e || (op >= 0x30 && op <= 0x3f) ||
	       op == 0x77 || (op >= 0x80 && op <= 0x8f) || op == 0xa0 || op == 0xa1 || op == 0xa2 ||
	       op == 0xa8 || op == 0xa9 || op == 0xaa || (op >= 0xc8 && op <= 0xcf);
}

/* 0F map (legacy, VEX and EVEX alike): the immediate of each opcode. */
static int map1_imm(uint8_t op)
{
	if (op >= 0x80 && op <= 0x8f)
		return IZ; /* Jcc rel32 */
	if ((op >= 0x70 && op <= 0x73) || op == 0xa4 || op == 0xac || op == 0xba || op == 0xc2 ||
	    (op >= 0xc4 && op <= 0xc6) || op == 0x0f)
		return IB;
	return I0;
}

/* ModRM, SIB and displacement starting at p[i]; returns the new index or -1. */
/* 64-bit and 32-bit (0x67) addressing share these rules. */
static int skip_modrm(const uint8_t *p, size_t n, size_t i)
{
	uint8_t modrm, mod, rm;

	if (i >= n)
		return -1;
	modrm = p[i++];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod != 3 && rm == 4) {
		if (i >= n)
			return -1;
		/* SIB with base 101 and mod 00: a 32-bit displacement, no base. */
		if (mod == 0 && (p[i] & 7) == 5)
			i += 4;
		i++;
	}
	if (mod == 1)
		i += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		i += 4; /* disp32, or RIP-relative */
	return i <= n ? (int)i : -1;
}

static int imm_size(int kind, bool opsize16, bool rex_w, bool addr32, uint8_t modrm)
{
	switch (kind) {
	case IB:
		return 1;
	case IW:
		return 2;
	case IZ:
		return opsize16 ? 2 : 4;
	case IV:
		return rex_w ? 8 : opsize16 ? 2 : 4;
	case IWB:
		return 3;
	case IM:
		return addr32 ? 4 : 8;
	case IG3:
		return ((modrm >> 3) & 7) < 2 ? -2 : 0; /* -2: the caller picks IB or IZ */
	default:
		return 0;
	}
}

/* After a VEX/EVEX prefix: opcode, ModRM (all but VZEROUPPER/VZEROALL) and immediate. */
static int decode_vex(const uint8_t *p, size_t n, size_t i, uint8_t map, struct x86_insn *insn)
{
	uint8_t op;
	int j;

	if (map < 1 || map > 3 || i >= n)
		return -1;
	op = p[i++];
	insn->map = map;
	insn->opcode = op;
	insn->vex = true;
	if (map == 1 && op == 0x77) {
		insn->len = i;
		return i;
	}
	j = skip_modrm(p, n, i);
	if (j < 0)
		return -1;
	if (map == 3 || (map == 1 && map1_imm(op) == IB))
		j++;
	if ((size_t)j > n || j > 15)
		return -1;
	insn->len = j;
	return j;
}

int x86_insn_decode(const uint8_t *p, size_t n, struct x86_insn *insn)
{
	bool opsize16 = false, addr32 = false, rex_w = false;
	size_t i = 0;
	int kind, size, j;
	uint8_t op;

	*insn = (struct x86_insn){ 0 };
	/* Legacy prefixes, in any order. */
	for (;; i++) {
		if (i >= n || i >= 14)
			return -1;
		if (p[i] == 0x66)
			opsize16 = true;
		else if (p[i] == 0x67)
			addr32 = true;
		else if (p[i] != 0xf0 && p[i] != 0xf2 && p[i] != 0xf3 && p[i] != 0x2e &&
			 p[i] != 0x36 && p[i] != 0x3e && p[i] != 0x26 && p[i] != 0x64 &&
			 p[i] != 0x65)
			break;
	}
	/* REX: only right before the opcode. */
	if ((p[i] & 0xf0) == 0x40) {
		rex_w = p[i] & 8;
		if (++i >= n)
			return -1;
	}
	op = p[i++];
	/* VEX (C5: 2 bytes, C4: 3 bytes) and EVEX (62: 4 bytes): always so in 64-bit mode. */
	if (op == 0xc5)
		return i < n ? decode_vex(p, n, i + 1, 1, insn) : -1;
	if (op == 0xc4)
		return i + 1 < n ? decode_vex(p, n, i + 2, p[i] & 0x1f, insn) : -1;
	if (op == 0x62)
		return i + 2 < n ? decode_vex(p, n, i + 3, p[i] & 0x07, insn) : -1;
	if (op == 0x0f) {
		if (i >= n)
			return -1;
		op = p[i++];
		if (op == 0x38 || op == 0x3a) {
			/* Three-byte maps: ModRM always, 0F 3A an imm8. */
			insn->map = op == 0x38 ? 2 : 3;
			if (i >= n)
				return -1;
			insn->opcode = p[i++];
			j = skip_modrm(p, n, i);
			if (j < 0)
				return -1;
			j += insn->map == 3;
		} else {
			insn->map = 1;
			insn->opcode = op;
			j = map1_no_modrm(op) ? (int)i : skip_modrm(p, n, i);
			if (j < 0)
				return -1;
			j += imm_size(map1_imm(op), opsize16, rex_w, addr32, 0);
		}
	} else {
		insn->opcode = op;
		kind = imm1[op];
		if (kind == BAD)
			return -1;
		j = modrm1[op] ? skip_modrm(p, n, i) : (int)i;
		if (j < 0)
			return -1;
		size = imm_size(kind, opsize16, rex_w, addr32, modrm1[op] ? p[i] : 0);
		if (size == -2)
			size = op == 0xf6 ? 1 : opsize16 ? 2 : 4;
		j += size;
	}
	if ((size_t)j > n || j > 15)
		return -1;
	insn->len = j;
	return j;
}
