// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --proto mysql: a row per request and response, decoded by mysql.c (which
 * says what is shown and what is masked); decode.c does the rest.
 */
#include "decode.h"
#include "mysql.h"

DECODE_ANALYSIS(ssl_analysis_mysql, "mysql", AN_MYSQL, PROTO_MYSQL, mysql_decoder);
