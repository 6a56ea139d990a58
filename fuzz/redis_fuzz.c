// FUZZ_SRCS: src/gadgets/ssl/resp.c src/gadgets/ssl/proto.c
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the redis decoder (resp.c): see proto_fuzz.h. */
#include "proto_fuzz.h"
#include "gadgets/ssl/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_decoder(&redis_decoder, data, size);
}
