// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl gadget, user-space half: options and fields, the programs this run
 * needs, each call's records joined back into one event, and the rows of
 * calls.  Which files to probe is discover.c's; what is particular to a TLS
 * library is its backend's (openssl.c...); what is made of the calls is the
 * analyses' (analysis_*.c).  See internal.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "audit.h"
#include "grow.h"
#include "internal.h"
#include "kfeatures.h"
#include "metrics.h"
#include "proto.h"
#include "ssl.skel.h"

LOUPE_SKELETON(ssl_skeleton, ssl_bpf);

static const struct field ssl_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_LIBRARY] = { "library", FT_STR, FIELD_HIDDEN, 9,
			"openssl, gnutls, nss, go, or libcrypto (--crypto)" },
	[F_OPERATION] = { "operation", FT_STR, 0, 18, "function called, e.g. SSL_read" },
	[F_DIRECTION] = { "direction", FT_STR, FIELD_HIDDEN, 9,
			  "read, write, handshake, crypto or verify" },
	[F_LATENCY] = { "latency", FT_DURATION, FIELD_RIGHT, 9,
			"time spent in the call (ns in JSON)" },
	[F_LEN] = { "len", FT_U64, FIELD_RIGHT, 7, "bytes the call reported" },
	[F_CAPTURED] = { "captured", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 7, "bytes kept in data" },
	[F_TRUNCATED] = { "truncated", FT_BOOL, FIELD_HIDDEN, 5,
			  "true when data holds less than len bytes" },
	[F_CONN] = { "conn", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 6,
		     "connection id: one connection's calls, never another's in this run "
		     "(0: not known)" },
	[F_ERROR] = { "error", FT_STR, 0, 10, "why the call failed; empty on success" },
	[F_FD] = { "fd", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 4,
		   "the connection's socket descriptor" },
	[F_LOCAL] = { "local", FT_STR, FIELD_HIDDEN, 21, "local address:port of the socket" },
	[F_REMOTE] = { "remote", FT_STR, FIELD_HIDDEN, 21, "remote address:port of the socket" },
	[F_HTTP] = { "http", FT_STR, FIELD_HIDDEN, 8, "--http rows: HTTP/1.0, HTTP/1.1 or HTTP/2" },
	[F_METHOD] = { "method", FT_STR, FIELD_HIDDEN, 7,
		       "decoded rows: HTTP method, gRPC method, SQL command, Redis command" },
	[F_PATH] = { "path", FT_STR, FIELD_HIDDEN, 24, "--http rows: request path" },
	[F_AUTHORITY] = { "authority", FT_STR, FIELD_HIDDEN, 20,
			  "--http rows: :authority or Host" },
	[F_STATUS] = { "status", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 3,
		       "responses: HTTP status, grpc-status, MySQL error number" },
	[F_STREAM] = { "stream", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 6,
		       "--http rows: HTTP/2 stream id; HTTP/1: request number on the connection" },
	[F_RESPONSE_TIME] = { "response_time", FT_DURATION, FIELD_HIDDEN | FIELD_RIGHT, 9,
			      "decoded responses: time since the request (ns in JSON)" },
	[F_BODY_LEN] = { "body_len", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 7,
			 "--http rows: body bytes (Content-Length, chunked total); grpc: "
			 "bytes of the server's messages" },
	[F_VERIFY_RESULT] = { "verify_result", FT_S64, FIELD_HIDDEN, 6,
			      "--verify rows: verify mode, X509 result or GnuTLS status" },
	[F_DATA] = { "data", FT_BYTES, 0, 0,
		     "plaintext, escaped; decoded rows: the request or response; --certs rows in "
		     "columns: a summary" },
	[F_PROTO] = { "proto", FT_STR, FIELD_HIDDEN, 8,
		      "decoded rows: http, grpc, postgres, mysql or redis" },
	[F_REQUEST] = { "request", FT_STR, FIELD_HIDDEN, 32,
			"decoded rows: SQL text, Redis command line, gRPC or HTTP path" },
	[F_RESULT] = { "result", FT_STR, FIELD_HIDDEN, 16,
		       "decoded responses: command tags, OK, the reply, the gRPC status" },
	[F_CODE] = { "code", FT_STR, FIELD_HIDDEN, 8,
		     "decoded errors: SQLSTATE, gRPC status name, Redis error prefix" },
	[F_KEY] = { "key", FT_STR, FIELD_HIDDEN, 16, "redis rows: the command's first key" },
	[F_SERVICE] = { "service", FT_STR, FIELD_HIDDEN, 20, "grpc rows: package.Service" },
	[F_ROWS] = { "rows", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 5,
		     "SQL responses: rows returned or affected" },
	[F_MESSAGES] = { "messages", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 4,
			 "grpc responses: messages the server sent" },
	[F_REQ_MESSAGES] = { "req_messages", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 4,
			     "grpc responses: messages the client sent" },
	[F_SNI] = { "sni", FT_STR, FIELD_HIDDEN, 20,
		    "--certs rows: the server name the client asked for (SNI)" },
	[F_SUBJECT] = { "subject", FT_STR, FIELD_HIDDEN, 30,
			"--certs rows: the peer certificate's subject (RFC 2253)" },
	[F_ISSUER] = { "issuer", FT_STR, FIELD_HIDDEN, 30, "--certs rows: its issuer (RFC 2253)" },
	[F_SERIAL] = { "serial", FT_STR, FIELD_HIDDEN, 20, "--certs rows: its serial number, hex" },
	[F_NOT_BEFORE] = { "not_before", FT_STR, FIELD_HIDDEN, 20,
			   "--certs rows: valid from (UTC)" },
	[F_NOT_AFTER] = { "not_after", FT_STR, FIELD_HIDDEN, 20, "--certs rows: valid until (UTC)" },
	[F_SANS] = { "sans", FT_STR, FIELD_HIDDEN, 30,
		     "--certs rows: subject alternative names (DNS:, IP:, email:, URI:)" },
	[F_FINGERPRINT] = { "fingerprint", FT_STR, FIELD_HIDDEN, 20,
			    "--certs rows: SHA-256 of the certificate's DER bytes" },
	[F_KEY_TYPE] = { "key_type", FT_STR, FIELD_HIDDEN, 8,
			 "--certs rows: public key algorithm (RSA, EC, ED25519...)" },
	[F_KEY_BITS] = { "key_bits", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 5,
			 "--certs rows: public key size in bits" },
	[F_SIGNATURE] = { "signature", FT_STR, FIELD_HIDDEN, 24,
			  "--certs rows: signature algorithm" },
	[F_CHAIN_LEN] = { "chain_len", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 3,
			  "--certs rows: certificates the peer sent" },
	[F_CHAIN] = { "chain", FT_STR, FIELD_HIDDEN, 30,
		      "--certs rows: every certificate: subject, issuer, SHA-256 (' | ' between)" },
	[F_FINDINGS] = { "findings", FT_STR, FIELD_HIDDEN, 20,
			 "--certs rows: expired, not_yet_valid, self_signed, name_mismatch, "
			 "weak_key, sha1_signature, verification_disabled, verification_failed" },
	[F_VERIFICATION] = { "verification", FT_STR, FIELD_HIDDEN, 30,
			     "--certs rows: what the program's verification calls said" },
	[F_HANDLE] = { "handle", FT_HEX, FIELD_HIDDEN, 14,
		       "the library's handle (SSL *, gnutls_session_t, PRFileDesc *, *tls.Conn): "
		       "reused by later connections" },
	{},
};

static const struct gadget_counter ssl_counters[] = {
	{ "calls_without_data", false },
	{ "handshakes_incomplete", false }, { "nspr_not_tls", false },
	{ "nspr_no_libssl3", false },	    {},
};

#define SSL_FIELD struct ssl_state

static const struct gadget_option ssl_options[] = {
	OPT_OWN("lib", "PATH", "also probe this library (repeatable)"),
	OPT_OWN("bin", "PATH",
		"also probe this executable with TLS linked in, or a Go program (repeatable)"),
	OPT_FLAG("crypto", "libcrypto signing, verification, key agreement latency", SSL_FIELD,
		 crypto, "trace_crypto"),
	OPT_FLAG("no-follow", "do not look at processes started after loupe", SSL_FIELD, no_follow,
		 NULL),
	OPT_SZ("data-size", "SIZE", "bytes kept per call (default 1M, at most 2M)", SSL_FIELD,
	       data_size, NULL, 0, SSL_MAX_DATA),
	OPT_FLAG("no-data", "metadata only, no plaintext", SSL_FIELD, no_data, NULL),
	OPT_NUM("sample", "N", "trace one read/write call in N", SSL_FIELD, sample, "sample_every",
		1, UINT32_MAX),
	OPT_FLAG_KNOB_OFF("no-reads", "do not trace reads", SSL_FIELD, no_reads, "trace_reads"),
	OPT_FLAG_KNOB_OFF("no-writes", "do not trace writes", SSL_FIELD, no_writes, "trace_writes"),
	{ .name = "hex", .short_name = 'x', .help = "hex dump of the plaintext under each row" },
	OPT_FLAG("http", "decode HTTP/1.x and HTTP/2: a row per request and response", SSL_FIELD,
		 http, NULL),
	OPT_FLAG("decode",
		 "decode HTTP, gRPC, PostgreSQL, MySQL/MariaDB and Redis: a row per "
		 "request and response",
		 SSL_FIELD, decode, NULL),
	OPT_OWN("proto", "LIST",
		"decode only these (comma-separated): http, grpc, postgres, mysql, "
		"redis"),
	OPT_OWN("pcap", "FILE", "write the plaintext as TCP streams to a pcap file (0600)"),
	OPT_FLAG("verify", "report certificate verification turned off or failed", SSL_FIELD,
		 verify, "trace_verify"),
	OPT_FLAG("redact", "mask passwords, tokens, cookies, e-mail addresses everywhere",
		 SSL_FIELD, redact, NULL),
	OPT_FLAG("no-endpoints", "no fd/local/remote: spares socket I/O (before Linux 6.3 every read/write) a lookup",
		 SSL_FIELD, no_endpoints, NULL),
	OPT_FLAG("certs", "a row per handshake: the peer's certificate chain, with findings",
		 SSL_FIELD, certs, NULL),
	OPT_FLAG("certs-findings-only",
		 "--certs, and only the handshakes with a finding: no call rows", SSL_FIELD,
		 certs_findings_only, NULL),
	{},
};

static int ssl_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct ssl_state *st = s->state;

	if (!strcmp(opt->name, "lib") || !strcmp(opt->name, "bin"))
		return discover_check_file(s, opt->name[0] == 'b' ? "--bin" : "--lib", arg,
					   opt->name[0] == 'b');
	if (!strcmp(opt->name, "hex")) {
		s->hex_dump = true;
	} else if (!strcmp(opt->name, "proto")) {
		unsigned int mask;
		const char *bad;
		size_t len;

		if (proto_parse_list(arg, &mask, &bad, &len)) {
			loupe_err(
				"--proto: unknown protocol '%.*s': use http, grpc, postgres, mysql, "
				"redis or all",
				(int)len, bad);
			return -EINVAL;
		}
		st->proto_list |= mask;
		st->proto_given = true;
	} else if (!strcmp(opt->name, "pcap")) {
		st->pcap_path = arg;
		audit_add_output("pcap", arg);
	}
	return 0;
}

static int ssl_check(struct session *s)
{
	struct ssl_state *st = s->state;

	if (st->no_reads && st->no_writes) {
		loupe_err("--no-reads and --no-writes together leave nothing to trace");
		return -EINVAL;
	}
	st->certs |= st->certs_findings_only;
	/* --proto restricts --decode; --http is one of them. */
	st->protos = st->proto_given ? st->proto_list : st->decode ? PROTO_ALL : 0;
	if (st->http)
		st->protos |= 1u << PROTO_HTTP;
	if ((st->protos || st->pcap_path || st->redact) && (st->no_data || st->sample > 1)) {
		loupe_err("--http, --decode, --proto, --pcap and --redact need every call's data: "
			  "drop %s",
			  st->no_data ? "--no-data" : "--sample");
		return -EINVAL;
	}
	return 0;
}

/* An operation is probed in this run: its backend is, and its option is given. */
static bool op_wanted(const struct ssl_state *st, enum ssl_op op)
{
	const struct ssl_backend *b = ssl_op_backend(op);
	unsigned int flags = ssl_ops[op].flags;

	/* --certs reports what the verification calls say too. */
	return !(b && b->enabled && !b->enabled(st)) &&
	       (st->verify || st->certs || !(flags & PROBE_VERIFY)) &&
	       (st->certs || !(flags & PROBE_CERTS)) &&
	       (st->disc.cookies || !(flags & PROBE_IMAGE_COOKIE));
}

/* Only what is asked for is loaded: start-up time grows with every program. */
static void choose_programs(struct ssl_state *st, struct ssl_bpf *skel)
{
	struct bpf_program *prog;

	for (size_t op = 0; op < SSL_OP_EXEC; op++)
		for (int ret = 0; ret < 2; ret++)
			if ((prog = ssl_prog(skel->obj, op, ret)))
				bpf_program__set_autoload(prog, op_wanted(st, op));
	bpf_object__for_each_program (prog, skel->obj)
		if (!strncmp(bpf_program__name(prog), "trace_sys_enter_", 16))
			bpf_program__set_autoload(prog, !st->no_endpoints && !st->sock_hooks);
	bpf_program__set_autoload(skel->progs.trace_sock_send_length,
				  !st->no_endpoints && st->sock_hooks);
	bpf_program__set_autoload(skel->progs.trace_sock_recv_length,
				  !st->no_endpoints && st->sock_hooks);
	/* One data emitter is loaded: bpf_loop where the kernel has it (5.17+). */
	bpf_program__set_autoload(skel->progs.trace_ssl_emit_data, !st->bounded);
	bpf_program__set_autoload(skel->progs.trace_ssl_emit_data_bounded, st->bounded);
	bpf_program__set_autoload(skel->progs.trace_sched_process_exec, !st->no_follow);
}

/* --config: --sample, --data-size and --no-data change without a restart. */
static const char *const ssl_reloadable[] = { "sample", "data-size", "no-data", NULL };

static uint64_t ssl_max_data(const struct ssl_state *st)
{
	/* --certs-findings-only shows no plaintext: the calls only tell when a handshake is over. */
	if (st->no_data || (st->certs_findings_only && !st->protos && !st->pcap_path))
		return 0;
	return st->data_size ? st->data_size : SSL_DEFAULT_DATA;
}

static void ssl_reconfigure(struct session *s, const struct session *parsed,
			    struct loupe_config *cfg)
{
	struct ssl_state *st = s->state;
	const struct ssl_state *p = parsed->state;

	st->sample = p->sample;
	st->data_size = p->data_size;
	st->no_data = p->no_data;
	cfg->slot[SSL_SLOT_SAMPLE] = st->sample ? st->sample : 1;
	cfg->slot[SSL_SLOT_MAX_DATA] = ssl_max_data(st);
}

static int ssl_configure(struct session *s)
{
	struct ssl_state *st = s->state;
	struct ssl_bpf *skel = s->skel;
	int err;

	/* Before anything is loaded: files that cannot be written stop us here. */
	if ((err = analyses_open(s)))
		return err == -ENOMEM ? (loupe_err("out of memory"), err) : err;
	skel->rodata->max_data = ssl_max_data(st);
	skel->rodata->trace_certs = st->certs;
	skel->rodata->trace_verify |= st->certs;
	if (s->metrics)
		st->m_calls = metrics_histogram(s->metrics, "loupe_tls_call_duration_seconds",
						"time spent in TLS library calls", "library,operation",
						metric_latency_buckets, metric_latency_nbuckets);
	st->bounded = !feature_helper(BPF_FUNC_loop);
	st->sock_hooks = !getenv("LOUPE_SYSCALL_ENDPOINTS") && feature_tp_btf("sock_send_length") &&
			 feature_tp_btf("sock_recv_length");
	/* Without attach cookies (< 5.15) libssl3 is only found in /proc/PID/maps. */
	st->disc.cookies = feature_helper(BPF_FUNC_get_attach_cookie);
	choose_programs(st, skel);
	return 0;
}

static int ssl_attach(struct session *s)
{
	struct ssl_state *st = s->state;
	struct ssl_bpf *skel = s->skel;
	struct bpf_program *emitter = st->bounded ? skel->progs.trace_ssl_emit_data_bounded
						  : skel->progs.trace_ssl_emit_data;
	int fd = bpf_program__fd(emitter), err;
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ssl_emitter), &zero, &fd, 0)) {
		err = -errno;
		loupe_err("cannot install the ssl data emitter: %s", strerror(-err));
		return err;
	}
	if ((err = session_attach_programs(s)))
		return err;
	return discover_attach(s);
}

/* --- rows ----------------------------------------------------------------------------- */

const char *ssl_dir_name(enum ssl_dir dir)
{
	static const char *const names[] = {
		[SSL_DIR_READ] = "read",	   [SSL_DIR_WRITE] = "write",
		[SSL_DIR_HANDSHAKE] = "handshake", [SSL_DIR_CRYPTO] = "crypto",
		[SSL_DIR_VERIFY] = "verify",	   [SSL_DIR_NONE] = "",
		[SSL_DIR_CERT] = "certificate",
	};

	return dir <= SSL_DIR_CERT ? names[dir] : "";
}

/* fd, local, remote of a record: set only when the kernel learned an IP socket. */
static void set_endpoints(struct value *v, const struct ssl_sock *k, struct row_bufs *b)
{
	const struct loupe_tuple *t = &k->tuple;

	if (!k->known)
		return;
	if (k->fd >= 0)
		v[F_FD] = val_s64(k->fd);
	if (t->family != AF_INET && t->family != AF_INET6)
		return;
	v[F_LOCAL] =
		val_str(format_endpoint(b->local, sizeof(b->local), t->family, t->laddr, t->lport));
	v[F_REMOTE] = val_str(
		format_endpoint(b->remote, sizeof(b->remote), t->family, t->raddr, t->rport));
}

void ssl_row_begin(struct value *v, const struct ssl_record *r, struct row_bufs *b)
{
	const struct ssl_backend *backend = ssl_op_backend(r->op);
	const struct ssl_op_info *op = ssl_op(r->op);

	values_set_proc(v, &r->proc);
	v[F_LIBRARY] = val_str(backend ? backend->name : "unknown");
	v[F_OPERATION] = val_str(op ? ssl_op_name(op) : "unknown");
	v[F_DIRECTION] = val_str(op ? ssl_dir_name(op->dir) : "");
	if (!op || op->dir != SSL_DIR_CRYPTO) {
		v[F_CONN] = val_u64(r->conn);
		v[F_HANDLE] = val_u64(r->handle);
	}
	set_endpoints(v, &r->sock, b);
}

/* The row of a call itself: data, a handshake, or a libcrypto call. */
static void emit_call_row(struct session *s, const struct ssl_call *c)
{
	struct ssl_state *st = s->state;
	const struct ssl_record *r = c->r;
	struct value v[F_MAX] = {};
	const char *error = NULL;
	char errbuf[64];
	struct row_bufs bufs;

	if (st->m_calls) {
		const struct ssl_backend *b = ssl_op_backend(r->op);

		metric_observe(st->m_calls,
			       (const char *const[]){ b ? b->name : "unknown", c->op->name },
			       r->latency_ns / 1e9);
	}
	if (ssl_kind_has_data(c->op->kind)) {
		s->bytes += c->len;
		/* Columns: decoded rows (--http, --proto) stand for the data. */
		if (c->decoded && !s->json)
			return;
	}
	/* An alert stream: only the handshakes with findings. */
	if (st->certs_findings_only)
		return;
	ssl_row_begin(v, r, &bufs);
	v[F_LATENCY] = val_u64(r->latency_ns);
	if (ssl_kind_has_data(c->op->kind)) {
		v[F_LEN] = val_u64(r->len);
		v[F_CAPTURED] = val_u64(c->len);
		v[F_TRUNCATED] = val_bool(c->truncated);
		v[F_DATA] = val_bytes(c->data, c->len);
		if (r->flags & SSL_F_LEN_UNKNOWN)
			error = "byte count unreadable";
		else if (r->flags & SSL_F_READ_FAULT)
			error = "buffer unreadable";
	} else if (c->op->dir == SSL_DIR_CRYPTO ? r->ret <= 0 : r->ret != 1) {
		/*
		 * Crypto: 1 (or a byte count for rsa_ossl_*) is success.  Handshake:
		 * 1 is success, 0 a clean failure; < 0 (retry or error) is only counted.
		 */
		snprintf(errbuf, sizeof(errbuf), "failed (ret %lld)", (long long)r->ret);
		error = errbuf;
	}
	v[F_ERROR] = val_str(error ? error : "");
	session_emit(s, v);
}

/* One call, whole: through the analyses, then its own row (verification has its own). */
static void emit_call(struct session *s, const struct ssl_record *r, const uint8_t *data,
		      size_t len, bool incomplete)
{
	struct ssl_call c = { .r = r, .op = ssl_op(r->op), .data = data, .len = len };

	if (!c.op) {
		session_event_dropped(s);
		return;
	}
	c.truncated = len < r->len || incomplete;
	c.write = c.op->dir == SSL_DIR_WRITE;
	if (analyses_feed(s, &c)) {
		session_event_dropped(s);
		return;
	}
	/* Verification and certificate calls have their analyses' rows, if asked for. */
	if (c.op->dir != SSL_DIR_VERIFY && c.op->dir != SSL_DIR_CERT)
		emit_call_row(s, &c);
}

/* --- records back into calls ------------------------------------------------------------ */

static struct pending *pending_find(struct ssl_state *st, uint32_t tid)
{
	if (!st->nr_pending)
		return NULL;
	for (int i = 0; i < MAX_PENDING; i++)
		if (st->pending[i].used && st->pending[i].hdr.proc.tid == tid)
			return &st->pending[i];
	return NULL;
}

static void pending_release(struct ssl_state *st, struct pending *p)
{
	p->used = false;
	p->len = 0;
	st->nr_pending--;
}

/*
 * A call whose last record never came (the ring buffer was full, which the
 * kernel side counted): show what arrived, marked truncated.
 */
static void pending_flush(struct session *s, struct pending *p)
{
	session_event_truncated(s);
	emit_call(s, &p->hdr, p->buf, p->len, true);
	pending_release(s->state, p);
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
	st->nr_pending++;
	p->hdr = *r;
	p->len = 0;
	p->gap = false;
	return p;
}

static int pending_append(struct pending *p, const void *data, size_t len)
{
	if (grow(&p->buf, &p->cap, p->len + len, 1, 65536))
		return -ENOMEM;
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	return 0;
}

static int ssl_handle(struct session *s, const void *data, size_t size)
{
	struct ssl_state *st = s->state;
	const struct ssl_record *r = data;
	struct pending *p;

	if (size < sizeof(*r) || size < sizeof(*r) + r->chunk_len)
		return LOUPE_REC_BAD;
	if (r->op == SSL_OP_EXEC) {
		/* A process --container turns away need not be probed. */
		if (session_keep(s, &r->proc))
			discover_watch(s, r->proc.pid, r->proc.ts_ns);
		conn_notice(s, r);
		return LOUPE_REC_NOTICE;
	}
	if (r->op == SSL_OP_PROC_EXIT || (r->flags & SSL_F_CONN_END)) {
		conn_notice(s, r);
		return LOUPE_REC_NOTICE;
	}
	p = pending_find(st, r->proc.tid);
	if (r->offset == 0 && !session_keep(s, &r->proc))
		return LOUPE_REC_FILTERED; /* its later records find no pending call: parts */
	if (r->offset == 0) {
		if (p)
			pending_flush(s, p);
		if (r->flags & SSL_F_LAST) {
			/* The common case: the whole call in one record, no copy. */
			emit_call(s, r, r->data, r->chunk_len, false);
			return LOUPE_REC_EVENT;
		}
		p = pending_new(s, r);
	} else if (!p || p->hdr.call_id != r->call_id) {
		/*
		 * The rest of a call already shown as truncated (its pending slot
		 * was needed, or memory ran out): the event was counted then.
		 */
		return LOUPE_REC_PART;
	}
	if (r->offset != p->len)
		p->gap = true;
	p->hdr.flags |= r->flags & SSL_F_READ_FAULT;
	if (pending_append(p, r->data, r->chunk_len)) {
		pending_flush(s, p);
	} else if (r->flags & SSL_F_LAST) {
		if (p->gap)
			session_event_truncated(s);
		emit_call(s, &p->hdr, p->buf, p->len, p->gap);
		pending_release(st, p);
	}
	return r->offset ? LOUPE_REC_PART : LOUPE_REC_EVENT;
}

static void ssl_tick(struct session *s)
{
	const struct ssl_backend *b;

	discover_tick(s);
	for_each_backend (b, i)
		if (b->tick)
			b->tick(s);
	analyses_tick(s);
}

static void ssl_flush(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; i < MAX_PENDING; i++)
		if (st->pending[i].used)
			pending_flush(s, &st->pending[i]);
	analyses_flush(s);
}

static void ssl_stats(struct session *s, gadget_stat_fn fn, void *ctx)
{
	struct ssl_state *st = s->state;

	/* Connections the libraries ended (freed, reset, closed) while traced. */
	fn("conns_ended", st->conns_ended, ctx);
	analyses_stats(s, fn, ctx);
}

static void ssl_close(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; i < MAX_PENDING; i++)
		free(st->pending[i].buf);
	analyses_close(s);
	discover_free(&st->disc);
}

static const char *ssl_variant(void)
{
	static char name[64];
	bool loop = feature_helper(BPF_FUNC_loop);
	bool sock = feature_tp_btf("sock_send_length") && feature_tp_btf("sock_recv_length");

	/* How the data is emitted, and where endpoints come from. */
	snprintf(name, sizeof(name), "%s+%s+%s", feature_uprobe_multi() ? "uprobe_multi" : "uprobe",
		 loop ? "bpf_loop" : "bounded-loop", sock ? "sock_tp" : "syscall_tp");
	return name;
}

static const struct gadget ssl_gadget = {
	.name = "ssl",
	.summary = "TLS plaintext of OpenSSL, GnuTLS, NSS and Go crypto/tls reads and writes",
	.examples =
		"  loupe trace ssl                          every process using libssl\n"
		"  loupe trace ssl --comm curl -x           curl's traffic as a hex dump\n"
		"  loupe trace ssl --pid 1234 -o json       one JSON object per call\n"
		"  loupe trace ssl --no-data --sample 100   cheap call metadata on a busy host\n"
		"  loupe trace ssl --lib /opt/app/lib/libssl.so.3   a private copy of libssl\n"
		"  loupe trace ssl --bin /opt/app/server     TLS linked into an executable\n"
		"  loupe trace ssl --bin /usr/bin/kubelet    a Go program (stripped too)\n"
		"  loupe trace ssl --crypto --no-data        handshake crypto latency too\n"
		"  loupe trace ssl --http --comm curl        one row per HTTP request/response\n"
		"  loupe trace ssl --decode                  HTTP, gRPC, SQL and Redis requests\n"
		"  loupe trace ssl --proto postgres,redis --fields comm,proto,request,result,latency\n"
		"  loupe trace ssl --pcap /tmp/tls.pcap      plaintext for Wireshark/tshark\n"
		"  loupe trace ssl --verify                  who turns certificate checks off\n"
		"  loupe trace ssl --redact -o json          secrets masked in every output\n"
		"  loupe trace ssl --certs --certs-findings-only   who accepted which bad certificate\n",
	.options = ssl_options,
	.fields = ssl_fields,
	.counters = ssl_counters,
	.skeleton = &ssl_skeleton,
	.state_size = sizeof(struct ssl_state),
	.parse_option = ssl_parse_option,
	.check = ssl_check,
	.configure = ssl_configure,
	.reloadable = ssl_reloadable,
	.reconfigure = ssl_reconfigure,
	.attach = ssl_attach,
	.handle = ssl_handle,
	.tick = ssl_tick,
	.flush = ssl_flush,
	.close = ssl_close,
	.variant = ssl_variant,
	.counts_bytes = true,
	.min_btf = true,
	.stats = ssl_stats,
};
LOUPE_GADGET(ssl_gadget);
