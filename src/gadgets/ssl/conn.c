// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Connections as the analyses know them: by process and library handle, a
 * fixed table, the least recently used one forgotten (and counted) when it
 * is full.
 */
#include <stdlib.h>

#include "internal.h"

struct ssl_conn *conn_get(struct session *s, uint32_t pid, uint64_t handle, uint64_t now)
{
	struct ssl_state *st = s->state;
	struct ssl_conn *c = NULL, *oldest = NULL;

	for (int i = 0; i < SSL_MAX_CONNS; i++) {
		struct ssl_conn *x = &st->conns[i];

		if (x->used && x->pid == pid && x->handle == handle) {
			x->last_ns = now;
			return x;
		}
		if (!x->used && !c)
			c = x;
		if (x->used && (!oldest || x->last_ns < oldest->last_ns))
			oldest = x;
	}
	if (!c) {
		/* The least recently used connection is forgotten, and said so. */
		c = oldest;
		analyses_conn_end(s, c);
		st->conns_evicted++;
	}
	*c = (struct ssl_conn){
		.used = true, .pid = pid, .handle = handle, .last_ns = now, .client_dir = -1
	};
	return c;
}

void conns_free(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; st->conns && i < SSL_MAX_CONNS; i++)
		if (st->conns[i].used)
			analyses_conn_end(s, &st->conns[i]);
	if (st->conns_evicted)
		loupe_warn("%llu connections were forgotten (more than %d at once)",
			   (unsigned long long)st->conns_evicted, SSL_MAX_CONNS);
	free(st->conns);
	st->conns = NULL;
}
