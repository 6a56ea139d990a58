/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Masking secrets in captured plaintext.
 *
 * Every mask keeps the length: each secret byte becomes '*' (REDACT_CHAR), so
 * Content-Length, HTTP/2 frame lengths and pcap sequence numbers stay valid
 * and a masked capture still decodes.  The price is that a secret's length
 * shows.  Patterns (names case-insensitive):
 *   header lines   Authorization, Proxy-Authorization (the scheme word such
 *                  as "Bearer" stays), Cookie, Set-Cookie (cookie names stay,
 *                  values go), X-Api-Key, Api-Key, X-Auth-Token, X-Csrf-Token,
 *                  X-Amz-Security-Token, Private-Token, and any name (HTTP
 *                  header, gRPC metadata) containing token, secret, password,
 *                  passwd, apikey, api-key, api_key, credential, private-key,
 *                  sessionid or session-id (whole value)
 *   key=value      password, passwd, pwd, pass, secret, client_secret, token,
 *                  access_token, refresh_token, id_token, api_key, apikey,
 *                  api-key, auth, key, session, sessionid, otp (value up to &
 *                  ; , space, quote or end of line), also "key": "value" JSON
 *   Bearer/Basic   the credential after "Bearer " or "Basic " anywhere
 *   e-mail         local@domain.tld: everything but the '@'
 * A secret split across two calls is only masked where the pattern still
 * matches in each part.
 */
#ifndef LOUPE_SSL_REDACT_H
#define LOUPE_SSL_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACT_CHAR '*'

/* Mask in place; returns the number of secrets masked. */
size_t redact_buffer(void *buf, size_t len);

/* Copy src into dst (len bytes) and mask the copy. */
size_t redact_copy(void *dst, const void *src, size_t len);

/* A decoded header (HTTP/2) whose whole value is a secret. */
bool redact_header_is_secret(const char *name, size_t nlen);

/*
 * Mask a decoded header value in place, as its header line would be masked;
 * returns true when something was masked.
 */
bool redact_header_value(const char *name, size_t nlen, char *val, size_t vlen);

#endif /* LOUPE_SSL_REDACT_H */
