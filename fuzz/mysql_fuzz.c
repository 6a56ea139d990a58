// FUZZ_SRCS: src/gadgets/ssl/mysql.c src/gadgets/ssl/proto.c
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the mysql decoder (mysql.c): see proto_fuzz.h. */
#include "proto_fuzz.h"
#include "gadgets/ssl/mysql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_decoder(&mysql_decoder, data, size);
}
