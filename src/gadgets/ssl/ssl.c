// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl gadget, user-space half: which libraries to probe, and joining each
 * call's records back into one event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gadget.h"
#include "kfeatures.h"
#include "uprobe.h"
#include "ssl.h"
#include "ssl.skel.h"

#define MAX_PENDING 256

/* A call whose records are still arriving. */
struct pending {
	bool used;
	struct ssl_record hdr;
	uint8_t *buf;
	size_t len, cap;
	bool gap;
};

struct ssl_state {
	struct ssl_bpf *skel;
	uint64_t data_size;
	bool no_data, no_reads, no_writes;
	uint32_t sample;
	bool bounded;			/* no bpf_loop: the bounded-loop emitter */
	struct lib_list extra_libs;	/* --lib */
	struct pending pending[MAX_PENDING];
};

/* The probed functions, in the order of the programs below. */
static const struct ssl_func {
	const char *func;
	enum ssl_op op;
} openssl_funcs[] = {
	{ "SSL_read", SSL_OP_READ },
	{ "SSL_write", SSL_OP_WRITE },
	{ "SSL_read_ex", SSL_OP_READ_EX },
	{ "SSL_write_ex", SSL_OP_WRITE_EX },
	{ "SSL_do_handshake", SSL_OP_HANDSHAKE },
};
#define NR_OPENSSL_FUNCS (sizeof(openssl_funcs) / sizeof(openssl_funcs[0]))

static const char *const op_names[SSL_OP_MAX] = {
	[SSL_OP_READ] = "SSL_read",
	[SSL_OP_WRITE] = "SSL_write",
	[SSL_OP_READ_EX] = "SSL_read_ex",
	[SSL_OP_WRITE_EX] = "SSL_write_ex",
	[SSL_OP_HANDSHAKE] = "SSL_do_handshake",
};

static const char *const lib_names[SSL_LIB_MAX] = {
	[SSL_LIB_OPENSSL] = "openssl",
};

enum {
	F_LIBRARY = LOUPE_PROC_NR_FIELDS,
	F_OPERATION,
	F_DIRECTION,
	F_LATENCY,
	F_LEN,
	F_CAPTURED,
	F_TRUNCATED,
	F_CONN,
	F_ERROR,
	F_DATA,
	F_MAX,
};

static const struct field ssl_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_LIBRARY] = { "library", FT_STR, FIELD_HIDDEN, 8, "TLS library (openssl)" },
	[F_OPERATION] = { "operation", FT_STR, 0, 16, "function called, e.g. SSL_read" },
	[F_DIRECTION] = { "direction", FT_STR, FIELD_HIDDEN, 9, "read, write or handshake" },
	[F_LATENCY] = { "latency", FT_DURATION, FIELD_RIGHT, 9,
			"time spent in the call (ns in JSON)" },
	[F_LEN] = { "len", FT_U64, FIELD_RIGHT, 7, "bytes the call reported" },
	[F_CAPTURED] = { "captured", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 7, "bytes kept in data" },
	[F_TRUNCATED] = { "truncated", FT_BOOL, FIELD_HIDDEN, 5,
			  "true when data holds less than len bytes" },
	[F_CONN] = { "conn", FT_HEX, FIELD_HIDDEN, 14, "connection handle (SSL *)" },
	[F_ERROR] = { "error", FT_STR, 0, 10, "why the call failed; empty on success" },
	[F_DATA] = { "data", FT_BYTES, 0, 0, "plaintext, escaped" },
	{},
};

static const struct gadget_counter ssl_counters[] = {
	{ "sampled_out", false },
	{ "calls_without_data", false },
	{ "handshakes_incomplete", false },
	{},
};

static const struct gadget_option ssl_options[] = {
	{ "lib", 0, "PATH", "also probe this library (repeatable)" },
	{ "data-size", 0, "SIZE", "bytes kept per call (default 1M, at most 2M)" },
	{ "no-data", 0, NULL, "metadata only, no plaintext" },
	{ "sample", 0, "N", "trace one read/write call in N" },
	{ "no-reads", 0, NULL, "do not trace reads" },
	{ "no-writes", 0, NULL, "do not trace writes" },
	{ "hex", 'x', NULL, "hex dump of the plaintext under each row" },
	{},
};

static int ssl_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct ssl_state *st = s->state;
	uint64_t v;
	int err;

	if (!strcmp(opt->name, "lib")) {
		bool found[NR_OPENSSL_FUNCS];
		const char *names[NR_OPENSSL_FUNCS];

		for (size_t i = 0; i < NR_OPENSSL_FUNCS; i++)
			names[i] = openssl_funcs[i].func;
		err = elf_find_functions(arg, names, found, NULL, NR_OPENSSL_FUNCS);
		if (err == -ENOEXEC) {
			loupe_err("--lib %s: not an ELF file (give the path of a shared library)",
				  arg);
			return EXIT_USAGE;
		}
		if (err) {
			loupe_err("--lib %s: %s", arg, strerror(-err));
			return EXIT_USAGE;
		}
		if (lib_list_add(&st->extra_libs, arg) < 0) {
			loupe_err("--lib %s: not a regular file", arg);
			return EXIT_USAGE;
		}
	} else if (!strcmp(opt->name, "data-size")) {
		if ((err = parse_size("--data-size", arg, 0, SSL_MAX_DATA, &v)))
			return err;
		st->data_size = v;
	} else if (!strcmp(opt->name, "no-data")) {
		st->no_data = true;
	} else if (!strcmp(opt->name, "sample")) {
		if ((err = parse_u64("--sample", arg, 1, UINT32_MAX, &v)))
			return err;
		st->sample = v;
	} else if (!strcmp(opt->name, "no-reads")) {
		st->no_reads = true;
	} else if (!strcmp(opt->name, "no-writes")) {
		st->no_writes = true;
	} else if (!strcmp(opt->name, "hex")) {
		s->hex_dump = true;
	}
	return 0;
}

static struct bpf_object *ssl_open(struct session *s)
{
	struct ssl_state *st = s->state;
	struct ssl_bpf *skel;

	if (st->no_reads && st->no_writes) {
		loupe_err("--no-reads and --no-writes together leave nothing to trace");
		return NULL;
	}
	skel = ssl_bpf__open();
	if (!skel) {
		loupe_err("cannot open the ssl BPF object: %s", strerror(errno));
		return NULL;
	}
	st->skel = skel;
	skel->rodata->trace_reads = !st->no_reads;
	skel->rodata->trace_writes = !st->no_writes;
	skel->rodata->sample_every = st->sample ? st->sample : 1;
	skel->rodata->max_data = st->no_data ? 0 : st->data_size ? st->data_size : SSL_DEFAULT_DATA;
	/* One data emitter is loaded: bpf_loop where the kernel has it (5.17+). */
	st->bounded = !feature_helper(BPF_FUNC_loop);
	bpf_program__set_autoload(skel->progs.trace_ssl_emit_data, !st->bounded);
	bpf_program__set_autoload(skel->progs.trace_ssl_emit_data_bounded, st->bounded);
	return skel->obj;
}

static struct bpf_program *prog_for(struct ssl_bpf *skel, enum ssl_op op, bool ret)
{
	switch (op) {
	case SSL_OP_READ:
		return ret ? skel->progs.trace_uretprobe_libssl_SSL_read :
			     skel->progs.trace_uprobe_libssl_SSL_read;
	case SSL_OP_WRITE:
		return ret ? skel->progs.trace_uretprobe_libssl_SSL_write :
			     skel->progs.trace_uprobe_libssl_SSL_write;
	case SSL_OP_READ_EX:
		return ret ? skel->progs.trace_uretprobe_libssl_SSL_read_ex :
			     skel->progs.trace_uprobe_libssl_SSL_read_ex;
	case SSL_OP_WRITE_EX:
		return ret ? skel->progs.trace_uretprobe_libssl_SSL_write_ex :
			     skel->progs.trace_uprobe_libssl_SSL_write_ex;
	case SSL_OP_HANDSHAKE:
		return ret ? skel->progs.trace_uretprobe_libssl_SSL_do_handshake :
			     skel->progs.trace_uprobe_libssl_SSL_do_handshake;
	default:
		return NULL;
	}
}

/* Probe every OpenSSL function the library has; a missing one is a warning. */
static int attach_openssl(struct session *s, const char *path)
{
	struct ssl_state *st = s->state;
	const char *names[NR_OPENSSL_FUNCS];
	bool found[NR_OPENSSL_FUNCS];
	unsigned long offs[NR_OPENSSL_FUNCS];
	char missing[256] = "";
	int attached = 0, err;

	for (size_t i = 0; i < NR_OPENSSL_FUNCS; i++)
		names[i] = openssl_funcs[i].func;
	err = elf_find_functions(path, names, found, offs, NR_OPENSSL_FUNCS);
	if (err) {
		loupe_warn("%s: cannot read its symbols (%s), not probed", path, strerror(-err));
		return 0;
	}
	for (size_t i = 0; i < NR_OPENSSL_FUNCS; i++) {
		enum ssl_op op = openssl_funcs[i].op;

		if (!found[i]) {
			size_t len = strlen(missing);

			snprintf(missing + len, sizeof(missing) - len, "%s%s", len ? ", " : "",
				 names[i]);
			continue;
		}
		if (uprobe_attach(s, prog_for(st->skel, op, false), path, names[i], offs[i], false) ||
		    uprobe_attach(s, prog_for(st->skel, op, true), path, names[i], offs[i], true)) {
			loupe_warn("%s: cannot probe %s, not traced there (-v for details)", path,
				   names[i]);
			continue;
		}
		attached++;
	}
	if (missing[0])
		loupe_warn("%s: no %s; those calls are not traced there", path, missing);
	if (attached)
		fprintf(stderr, "loupe: probing %s (%d functions)\n", path, attached);
	return attached;
}

static int ssl_attach(struct session *s)
{
	struct ssl_state *st = s->state;
	struct lib_list libs = {};
	int probed = 0, err;

	struct bpf_program *emitter = st->bounded ? st->skel->progs.trace_ssl_emit_data_bounded :
						    st->skel->progs.trace_ssl_emit_data;
	__u32 zero = 0;
	int fd = bpf_program__fd(emitter);

	if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.ssl_emitter), &zero, &fd, 0)) {
		loupe_err("cannot install the ssl data emitter: %s", strerror(errno));
		return -errno;
	}
	err = session_attach_programs(s);
	if (err)
		return err;
	find_libraries("libssl.so", &libs);
	for (int i = 0; i < st->extra_libs.n; i++)
		lib_list_add(&libs, st->extra_libs.v[i].path);
	for (int i = 0; i < libs.n; i++)
		if (attach_openssl(s, libs.v[i].path) > 0)
			probed++;
	lib_list_free(&libs);
	if (!probed) {
		loupe_err("found no OpenSSL library to probe: install libssl3 or give --lib PATH");
		return -ENOENT;
	}
	return 0;
}

static void emit_call(struct session *s, const struct ssl_record *r, const uint8_t *data,
		      size_t len, bool incomplete)
{
	struct value v[F_MAX] = {};
	bool fault = r->flags & SSL_F_READ_FAULT;
	const char *error = NULL;
	char errbuf[64];

	values_set_proc(v, &r->proc);
	v[F_LIBRARY] = val_str(r->lib < SSL_LIB_MAX ? lib_names[r->lib] : "unknown");
	v[F_OPERATION] = val_str(r->op < SSL_OP_MAX ? op_names[r->op] : "unknown");
	v[F_DIRECTION] = val_str(r->op == SSL_OP_HANDSHAKE		       ? "handshake" :
				 r->op == SSL_OP_READ || r->op == SSL_OP_READ_EX ? "read" :
										   "write");
	v[F_LATENCY] = val_u64(r->latency_ns);
	v[F_CONN] = val_u64(r->conn);
	if (r->op == SSL_OP_HANDSHAKE) {
		/* 1 is success, 0 a clean failure; < 0 (retry or error) is only counted. */
		if (r->ret != 1) {
			snprintf(errbuf, sizeof(errbuf), "failed (ret %lld)", (long long)r->ret);
			error = errbuf;
		}
	} else {
		v[F_LEN] = val_u64(r->len);
		v[F_CAPTURED] = val_u64(len);
		v[F_TRUNCATED] = val_bool(len < r->len || incomplete);
		v[F_DATA] = val_bytes(data, len);
		if (r->flags & SSL_F_LEN_UNKNOWN)
			error = "byte count unreadable";
		else if (fault)
			error = "buffer unreadable";
		s->bytes += len;
	}
	v[F_ERROR] = val_str(error ? error : "");
	session_emit(s, v);
}

static struct pending *pending_find(struct ssl_state *st, uint32_t tid)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (st->pending[i].used && st->pending[i].hdr.proc.tid == tid)
			return &st->pending[i];
	return NULL;
}

/*
 * A call whose last record never came (the ring buffer was full, which the
 * kernel side counted): show what arrived, marked truncated.
 */
static void pending_flush(struct session *s, struct pending *p)
{
	emit_call(s, &p->hdr, p->buf, p->len, true);
	p->used = false;
	p->len = 0;
}

static struct pending *pending_new(struct session *s, const struct ssl_record *r)
{
	struct ssl_state *st = s->state;
	struct pending *p = NULL;

	for (int i = 0; i < MAX_PENDING && !p; i++)
		if (!st->pending[i].used)
			p = &st->pending[i];
	if (!p) {
		p = &st->pending[r->proc.tid % MAX_PENDING];
		pending_flush(s, p);
	}
	p->used = true;
	p->hdr = *r;
	p->len = 0;
	p->gap = false;
	return p;
}

static int pending_append(struct pending *p, const void *data, size_t len)
{
	if (p->len + len > p->cap) {
		size_t cap = p->cap ? p->cap : 65536;
		uint8_t *b;

		while (cap < p->len + len)
			cap *= 2;
		b = realloc(p->buf, cap);
		if (!b)
			return -ENOMEM;
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	return 0;
}

static int ssl_handle(struct session *s, const void *data, size_t size)
{
	struct ssl_state *st = s->state;
	const struct ssl_record *r = data;
	struct pending *p;

	if (size < sizeof(*r) || size < sizeof(*r) + r->chunk_len) {
		s->user_lost++;
		return 0;
	}
	p = pending_find(st, r->proc.tid);
	if (r->offset == 0) {
		if (p)
			pending_flush(s, p);
		if (r->flags & SSL_F_LAST) {
			/* The common case: the whole call in one record, no copy. */
			emit_call(s, r, r->data, r->chunk_len, false);
			return 0;
		}
		p = pending_new(s, r);
	} else if (!p || p->hdr.call_id != r->call_id) {
		/* The start of this call was lost; its loss is already counted. */
		return 0;
	}
	if (r->offset != p->len)
		p->gap = true;
	p->hdr.flags |= r->flags & SSL_F_READ_FAULT;
	if (pending_append(p, r->data, r->chunk_len)) {
		pending_flush(s, p);
		return 0;
	}
	if (r->flags & SSL_F_LAST) {
		emit_call(s, &p->hdr, p->buf, p->len, p->gap);
		p->used = false;
		p->len = 0;
	}
	return 0;
}

static void ssl_flush(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; i < MAX_PENDING; i++)
		if (st->pending[i].used)
			pending_flush(s, &st->pending[i]);
}

static void ssl_close(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; i < MAX_PENDING; i++)
		free(st->pending[i].buf);
	lib_list_free(&st->extra_libs);
	ssl_bpf__destroy(st->skel);
}

static const char *ssl_variant(void)
{
	return feature_helper(BPF_FUNC_loop) ? "uprobe+bpf_loop" : "uprobe+bounded-loop";
}

static const void *ssl_elf_bytes(size_t *size)
{
	return ssl_bpf__elf_bytes(size);
}

static const struct gadget ssl_gadget = {
	.name = "ssl",
	.summary = "TLS plaintext of OpenSSL reads, writes and handshakes",
	.examples =
		"  loupe trace ssl                          every process using libssl\n"
		"  loupe trace ssl --comm curl -x           curl's traffic as a hex dump\n"
		"  loupe trace ssl --pid 1234 -o json       one JSON object per call\n"
		"  loupe trace ssl --no-data --sample 100   cheap call metadata on a busy host\n"
		"  loupe trace ssl --lib /opt/app/lib/libssl.so.3   a private copy of libssl\n",
	.options = ssl_options,
	.fields = ssl_fields,
	.counters = ssl_counters,
	.state_size = sizeof(struct ssl_state),
	.parse_option = ssl_parse_option,
	.open = ssl_open,
	.attach = ssl_attach,
	.handle = ssl_handle,
	.flush = ssl_flush,
	.close = ssl_close,
	.variant = ssl_variant,
	.elf_bytes = ssl_elf_bytes,
	.counts_bytes = true,
};
LOUPE_GADGET(ssl_gadget);
