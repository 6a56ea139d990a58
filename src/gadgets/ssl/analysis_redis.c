// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --proto redis: a row per request and response, decoded by resp.c (which
 * says what is shown and what is masked); decode.c does the rest.
 */
#include "decode.h"
#include "resp.h"

DECODE_ANALYSIS(ssl_analysis_redis, "redis", AN_REDIS, PROTO_REDIS, redis_decoder);
