/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The length of x86-64 instructions, and which ones return: enough to walk a
 * compiled function from its entry to its end and find every RET (Go code
 * cannot take return probes; see src/gobin.c).  Not a disassembler: operands
 * are skipped, never named.
 */
#ifndef LOUPE_X86LEN_H
#define LOUPE_X86LEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_insn {
	uint8_t len;
	uint8_t map;	/* 0: one-byte opcodes, 1: 0F, 2: 0F 38, 3: 0F 3A (VEX/EVEX too) */
	uint8_t opcode; /* the opcode byte in that map */
	bool vex;	/* VEX or EVEX encoded */
};

/*
 * Decode the instruction at p (n bytes available) in 64-bit mode.  Returns
 * its length (1 to 15), or -1 when the bytes are no instruction this
 * decoder knows or run past n.
 */
int x86_insn_decode(const uint8_t *p, size_t n, struct x86_insn *insn);

/* RET or RET imm16 (near returns: the only ones compiled code uses). */
static inline bool x86_insn_is_ret(const struct x86_insn *insn)
{
	return !insn->vex && insn->map == 0 && (insn->opcode == 0xc3 || insn->opcode == 0xc2);
}

#endif /* LOUPE_X86LEN_H */
