/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * PostgreSQL frontend/backend protocol 3.x, decoded from one connection's
 * plaintext, both directions, fed in call order.
 *
 * Inside TLS the client's first message is its StartupMessage (SSLRequest
 * went before the handshake, in the clear): that is how a connection is
 * recognised, so a connection opened before loupe is not decoded.  Rows:
 *   startup    request: user, database, application; response at the first
 *              ReadyForQuery or the ErrorResponse (a refused login); the
 *              authentication exchange itself is never shown
 *   query      a simple Query; response at ReadyForQuery: CommandComplete
 *              tags, rows, the ErrorResponse if any
 *   execute    an Execute of the extended protocol, with the text of the
 *              statement its portal was bound to (Parse, Bind); response at
 *              CommandComplete, EmptyQueryResponse, PortalSuspended or error
 * Parse, Bind, Describe and Close have rows only when they fail.
 *
 * With redact, in place and length kept: string literals of Query and
 * Parse text ('...', E'...', $tag$...$tag$), Bind parameter values,
 * PasswordMessage/SASL bodies and FunctionCall arguments.
 *
 * Memory per connection: at most about 40 KiB (two 4 KiB message buffers,
 * 32 pending requests, 64 named statements, 4 portals).
 */
#ifndef LOUPE_SSL_PGSQL_H
#define LOUPE_SSL_PGSQL_H

#include "proto.h"

extern const struct proto_decoder pgsql_decoder;

#endif /* LOUPE_SSL_PGSQL_H */
