// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --redact: passwords, tokens, cookies and e-mail addresses masked, length
 * kept, before any other analysis or the data row sees the bytes (redact.c
 * knows the patterns).  The ring buffer is read-only to us: the masked bytes
 * are a copy.
 */
#include <stdlib.h>

#include "grow.h"
#include "internal.h"
#include "redact.h"

struct redact_state {
	uint8_t *buf;
	size_t cap;
};

static bool redact_wanted(const struct ssl_state *st)
{
	return st->redact;
}

static int redact_open(struct session *s)
{
	struct ssl_state *st = s->state;

	st->an->priv[AN_REDACT] = calloc(1, sizeof(struct redact_state));
	return st->an->priv[AN_REDACT] ? 0 : -ENOMEM;
}

static int redact_feed(struct session *s, struct ssl_call *c)
{
	struct ssl_state *st = s->state;
	struct redact_state *rs = st->an->priv[AN_REDACT];

	if (!ssl_kind_has_data(c->op->kind) || !c->len)
		return 0;
	if (grow(&rs->buf, &rs->cap, c->len, 1, 65536))
		return -ENOMEM;
	redact_copy(rs->buf, c->data, c->len);
	c->data = rs->buf;
	return 0;
}

static void redact_close(struct session *s)
{
	struct ssl_state *st = s->state;
	struct redact_state *rs = st->an->priv[AN_REDACT];

	if (rs)
		free(rs->buf);
	free(rs);
}

const struct ssl_analysis ssl_analysis_redact = {
	.name = "redact",
	.wanted = redact_wanted,
	.open = redact_open,
	.feed = redact_feed,
	.close = redact_close,
};
