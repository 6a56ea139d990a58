/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a fuzz target checks beyond the sanitizers: a promise of the code under test. */
#ifndef LOUPE_FUZZ_EXPECT_H
#define LOUPE_FUZZ_EXPECT_H

#include <stdio.h>
#include <stdlib.h>

/* A broken promise: say which, then abort so that libFuzzer keeps the input. */
#define expect(cond)                                                                        \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

#endif /* LOUPE_FUZZ_EXPECT_H */
