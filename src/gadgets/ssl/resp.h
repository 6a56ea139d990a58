/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Redis RESP2 and RESP3, decoded from one connection's plaintext, both
 * directions, fed in call order.
 *
 * A connection is recognised by a call that starts with a command as
 * clients send them (an array of bulk strings whose first is a word), in
 * either direction, within its first calls: a connection opened before
 * loupe is decoded from its first such call on.  Commands (arrays, and
 * inline commands once the connection is known) are paired in order with
 * the replies, so pipelines pair right; a (P|S)SUBSCRIBE gets one reply
 * per channel, pub/sub messages and RESP3 pushes are rows of their own
 * (method "push"), attributes are skipped.  Rows: the command (method), its
 * first key (key), the command line (request, arguments cut at 64 bytes);
 * the reply's type and value (result, as redis-cli shows it), error
 * replies (error, and their first word in code).
 *
 * Aggregates nest without recursion (a counter stack, 32 levels: deeper is
 * malformed); bulk strings stream through, only their first bytes kept.
 *
 * With redact, in place and length kept: AUTH arguments, HELLO ... AUTH
 * user password, MIGRATE ... AUTH/AUTH2, CONFIG SET requirepass/masterauth
 * values, ACL SETUSER >password, <password, #hash and !hash rules.
 *
 * Memory per connection: about 16 KiB (64 pending commands).
 */
#ifndef LOUPE_SSL_RESP_H
#define LOUPE_SSL_RESP_H

#include "proto.h"

extern const struct proto_decoder redis_decoder;

#endif /* LOUPE_SSL_RESP_H */
