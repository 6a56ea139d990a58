// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: src/inspect/analyze.c src/inspect/render.c
// FUZZ_LIBS: -lelf
// FUZZ_ARGS: -max_len=262144
/*
 * libFuzzer target for the inspect analyzer: any bytes go through
 * inspect_analyze() in both register modes and, when analysis succeeds,
 * through every renderer.  Seeded with our own BPF objects (mk/inspect.mk).
 */
#include <stdint.h>
#include <stdio.h>

#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct inspect_result res;

	if (!sink)
		sink = fopen("/dev/null", "w");
	for (int mode = 0; mode < 2; mode++) {
		struct inspect_opts opts = { .precise = mode, .ig_compat = !mode };

		if (!inspect_analyze(data, size, &opts, &res) && sink) {
			inspect_flowchart(sink, &res);
			inspect_sequence(sink, &res);
			inspect_markdown(sink, &res, "fuzz", "A description.", "loupe inspect");
			inspect_json(sink, &res, "fuzz");
		}
		inspect_free(&res);
	}
	return 0;
}
