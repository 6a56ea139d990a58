// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Connections as the analyses know them: by process and the id the kernel
 * gave the connection (conn.bpf.h), a fixed table, the least recently used
 * one forgotten (and counted) when it is full.  A connection ends when the
 * kernel says its library freed or reset it, when its process execs or
 * exits (then the kernel's entries of that process are swept too), or at
 * exit.
 */
#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

static uint64_t conn_key(const struct ssl_record *r)
{
	return r->conn ? r->conn : r->handle | CONN_NO_ID;
}

struct ssl_conn *conn_get(struct session *s, const struct ssl_record *r)
{
	struct ssl_state *st = s->state;
	struct ssl_conn *c = NULL, *oldest = NULL;
	uint64_t id = conn_key(r);

	if (!st->conns)
		return NULL;
	for (int i = 0; i < SSL_MAX_CONNS; i++) {
		struct ssl_conn *x = &st->conns[i];

		if (x->used && x->pid == r->proc.pid && x->id == id) {
			x->last_ns = r->proc.ts_ns;
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
	*c = (struct ssl_conn){ .used = true,
				.pid = r->proc.pid,
				.id = id,
				.handle = r->handle,
				.last_ns = r->proc.ts_ns,
				.client_dir = -1 };
	return c;
}

static void conn_end(struct session *s, struct ssl_conn *c)
{
	analyses_conn_end(s, c);
	c->used = false;
}

/*
 * The kernel's entries of a process that exec'd or exited, made before
 * then (a new image, or a new process with the same pid, may have made
 * its own since).
 */
static void sweep_kernel(struct session *s, uint32_t tgid, uint64_t before_ns, bool exited)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "ssl_conns");
	struct bpf_map *procs = bpf_object__find_map_by_name(s->obj, "ssl_conn_procs");
	struct ssl_conn_key prev, cur;
	struct ssl_conn_val v;
	bool first = true;
	__u8 any;
	int fd;

	/* Every exec is told: walk the map only for a process that had connections. */
	if (!map || !procs || (!exited && bpf_map_lookup_elem(bpf_map__fd(procs), &tgid, &any)))
		return;
	fd = bpf_map__fd(map);
	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &cur)) {
		if (cur.tgid == tgid && !bpf_map_lookup_elem(fd, &cur, &v) &&
		    v.born_ns < before_ns && !bpf_map_delete_elem(fd, &cur))
			continue; /* the next key after prev is the one after cur now */
		prev = cur;
		first = false;
	}
}

void conn_notice(struct session *s, const struct ssl_record *r)
{
	struct ssl_state *st = s->state;
	uint64_t id = conn_key(r);

	if (r->flags & SSL_F_CONN_END) {
		st->conns_ended++;
		for (int i = 0; st->conns && i < SSL_MAX_CONNS; i++)
			if (st->conns[i].used && st->conns[i].pid == r->proc.pid &&
			    st->conns[i].id == id)
				conn_end(s, &st->conns[i]);
		return;
	}
	/* An exec or an exit: every connection of the process is over. */
	for (int i = 0; st->conns && i < SSL_MAX_CONNS; i++)
		if (st->conns[i].used && st->conns[i].pid == r->proc.pid) {
			conn_end(s, &st->conns[i]);
			st->conns_swept++;
		}
	sweep_kernel(s, r->proc.pid, r->proc.ts_ns, r->op == SSL_OP_PROC_EXIT);
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
