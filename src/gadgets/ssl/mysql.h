/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * MySQL and MariaDB client/server protocol, decoded from one connection's
 * plaintext, both directions, fed in call order.
 *
 * Inside TLS the client's first packet is its HandshakeResponse (the
 * server's greeting and the client's SSLRequest went before the handshake,
 * in the clear): that is how a connection is recognised (protocol 4.1
 * capabilities, TLS asked for, the 19 zero bytes of its filler), so a
 * connection opened before loupe is not decoded.  Rows:
 *   login      request: the user and database; response at the server's OK
 *              or ERR after the authentication exchange (never shown)
 *   query      COM_QUERY: OK (affected rows), ERR (number, SQLSTATE,
 *              message) or a result set (rows counted, text and binary,
 *              with or without EOF packets, several results in a row)
 *   prepare    COM_STMT_PREPARE: the statement id, parameters, columns
 *   execute    COM_STMT_EXECUTE, with the text of the prepared statement
 *   and the other commands that have a response (ping, init-db...).
 *
 * With redact, in place and length kept: string literals of COM_QUERY and
 * COM_STMT_PREPARE ('...', "..."), COM_STMT_EXECUTE parameters, and every
 * byte of authentication data (HandshakeResponse after the user name,
 * auth switch answers, COM_CHANGE_USER).
 *
 * Memory per connection: at most about 36 KiB (two 4 KiB packet buffers,
 * 32 pending commands, 64 prepared statements).
 */
#ifndef LOUPE_SSL_MYSQL_H
#define LOUPE_SSL_MYSQL_H

#include "proto.h"

extern const struct proto_decoder mysql_decoder;

#endif /* LOUPE_SSL_MYSQL_H */
