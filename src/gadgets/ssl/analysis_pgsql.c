// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --proto pgsql: a row per request and response, decoded by pgsql.c (which
 * says what is shown and what is masked); decode.c does the rest.
 */
#include "decode.h"
#include "pgsql.h"

DECODE_ANALYSIS(ssl_analysis_pgsql, "postgres", AN_PGSQL, PROTO_PGSQL, pgsql_decoder);
