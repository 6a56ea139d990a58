// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --verify: a row when a program turns certificate verification off or goes
 * on after it failed.  The kernel sends only those calls (verify.bpf.h); the
 * backend says what its result means.
 */
#include "internal.h"

static bool verify_wanted(const struct ssl_state *st)
{
	return st->verify;
}

static int verify_feed(struct session *s, struct ssl_call *c)
{
	const struct ssl_backend *b = ssl_op_backend(c->r->op);
	struct value v[F_MAX] = {};
	struct row_bufs bufs;
	char msg[256] = "certificate verification failed";

	/* Modes other than 0 come only for --certs, which follows every change. */
	if (c->op->dir != SSL_DIR_VERIFY || (c->op->kind == SSL_KIND_VERIFY_MODE && c->r->ret))
		return 0;
	ssl_row_begin(v, c->r, &bufs);
	v[F_VERIFY_RESULT] = val_s64(c->r->ret);
	if (b && b->verify_text)
		b->verify_text(c->r, msg, sizeof(msg));
	v[F_ERROR] = val_str(msg);
	session_emit(s, v);
	return 0;
}

const struct ssl_analysis ssl_analysis_verify = {
	.name = "verify",
	.wanted = verify_wanted,
	.feed = verify_feed,
};
