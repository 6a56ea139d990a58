// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl gadget, user-space half: which libraries to probe, and joining each
 * call's records back into one event.
 */
#include <ctype.h>
#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "grow.h"
#include "gadget.h"
#include "kfeatures.h"
#include "uprobe.h"
#include "ssl.h"
#include "ssl.skel.h"
#include "audit.h"
#include "http.h"
#include "pcap.h"
#include "redact.h"

#define MAX_PENDING 256
#define MAX_CONNS 1024

struct conn_state;
struct session;
static int analysis_open(struct session *s);
static void analysis_close(struct session *s);

/* A call whose records are still arriving. */
struct pending {
	bool used;
	struct ssl_record hdr;
	uint8_t *buf;
	size_t len, cap;
	bool gap;
};

/* A new process whose maps are looked at again a few times while it loads. */
struct watch {
	int pid;
	int round;
	double due;
};

#define MAX_WATCH 1024

struct ssl_state {
	struct ssl_bpf *skel;
	uint64_t data_size;
	bool no_data, no_reads, no_writes;
	bool crypto, no_follow;
	uint32_t sample;
	bool bounded;		    /* no bpf_loop: the bounded-loop emitter */
	bool cookies;		    /* bpf_get_attach_cookie: learn libssl3 at SSL_ImportFD */
	struct lib_list extra_libs; /* --lib */
	struct lib_list bins;	    /* --bin */
	struct lib_list seen;	    /* every file looked at, probed or not (kind = groups) */
	int probed;		    /* files with at least one probe */
	struct watch watch[MAX_WATCH];
	int nr_watch;
	struct pending pending[MAX_PENDING];
	int nr_pending;		/* used slots: most records need no search */
	/* Analyses (--http, --pcap, --verify, --redact). */
	bool http, verify, redact, json, attached, no_endpoints;
	const char *pcap_path;
	struct pcap_out *pcap;
	struct conn_state *conns;
	uint64_t conns_evicted, http_errors, late_masks;
	unsigned int eph_lo, eph_hi; /* ip_local_port_range */
	uint8_t *scratch;
	size_t scratch_cap;
};

/* Which family a probed function belongs to; names the programs' <lib> part. */
enum func_group {
	G_OPENSSL, /* libssl, or OpenSSL/BoringSSL in an executable */
	G_GNUTLS,
	G_NSPR,	   /* PR_Read & co., kept only on SSL sockets */
	G_NSS_SSL, /* SSL_ImportFD in libssl3.so: where libssl3 lies */
	G_CRYPTO,  /* --crypto */
	G_MAX,
};

static const char *const group_prog_lib[G_MAX] = {
	[G_OPENSSL] = "libssl", [G_GNUTLS] = "libgnutls", [G_NSPR] = "libnss",
	[G_NSS_SSL] = "libnss", [G_CRYPTO] = "libcrypto",
};

static const char *const group_names[G_MAX] = {
	[G_OPENSSL] = "openssl", [G_GNUTLS] = "gnutls",	   [G_NSPR] = "nss",
	[G_NSS_SSL] = "nss-ssl", [G_CRYPTO] = "libcrypto",
};

/* Every probed function; programs are trace_u{,ret}probe_<lib>_<func>. */
static const struct ssl_func {
	const char *func;
	enum ssl_op op;
	enum func_group group;
	bool entry_only;
	bool optional; /* no warning when missing: endpoints and --verify helpers */
} probe_funcs[] = {
	{ "SSL_read", SSL_OP_READ, G_OPENSSL },
	{ "SSL_write", SSL_OP_WRITE, G_OPENSSL },
	{ "SSL_read_ex", SSL_OP_READ_EX, G_OPENSSL },
	{ "SSL_write_ex", SSL_OP_WRITE_EX, G_OPENSSL },
	{ "SSL_do_handshake", SSL_OP_HANDSHAKE, G_OPENSSL },
	{ "gnutls_record_send", SSL_OP_GNUTLS_SEND, G_GNUTLS },
	{ "gnutls_record_recv", SSL_OP_GNUTLS_RECV, G_GNUTLS },
	{ "PR_Write", SSL_OP_PR_WRITE, G_NSPR },
	{ "PR_Send", SSL_OP_PR_SEND, G_NSPR },
	{ "PR_Read", SSL_OP_PR_READ, G_NSPR },
	{ "PR_Recv", SSL_OP_PR_RECV, G_NSPR },
	{ "SSL_ImportFD", SSL_OP_MAX, G_NSS_SSL, true },
	{ "RSA_sign", SSL_OP_RSA_SIGN, G_CRYPTO },
	{ "RSA_verify", SSL_OP_RSA_VERIFY, G_CRYPTO },
	{ "ossl_ecdsa_sign", SSL_OP_OSSL_ECDSA_SIGN, G_CRYPTO },
	{ "ossl_ecdsa_verify", SSL_OP_OSSL_ECDSA_VERIFY, G_CRYPTO },
	{ "ossl_ecdh_compute_key", SSL_OP_OSSL_ECDH_COMPUTE_KEY, G_CRYPTO },
	{ "rsa_ossl_public_encrypt", SSL_OP_RSA_OSSL_PUBLIC_ENCRYPT, G_CRYPTO },
	{ "rsa_ossl_public_decrypt", SSL_OP_RSA_OSSL_PUBLIC_DECRYPT, G_CRYPTO },
	{ "rsa_ossl_private_encrypt", SSL_OP_RSA_OSSL_PRIVATE_ENCRYPT, G_CRYPTO },
	{ "rsa_ossl_private_decrypt", SSL_OP_RSA_OSSL_PRIVATE_DECRYPT, G_CRYPTO },
	{ "EVP_PKEY_sign", SSL_OP_EVP_PKEY_SIGN, G_CRYPTO },
	{ "EVP_PKEY_verify", SSL_OP_EVP_PKEY_VERIFY, G_CRYPTO },
	{ "EVP_PKEY_derive", SSL_OP_EVP_PKEY_DERIVE, G_CRYPTO },
	{ "EVP_PKEY_encrypt", SSL_OP_EVP_PKEY_ENCRYPT, G_CRYPTO },
	{ "EVP_PKEY_decrypt", SSL_OP_EVP_PKEY_DECRYPT, G_CRYPTO },
	{ "EVP_DigestSign", SSL_OP_EVP_DIGESTSIGN, G_CRYPTO },
	{ "EVP_DigestSignFinal", SSL_OP_EVP_DIGESTSIGNFINAL, G_CRYPTO },
	{ "EVP_DigestVerify", SSL_OP_EVP_DIGESTVERIFY, G_CRYPTO },
	{ "EVP_DigestVerifyFinal", SSL_OP_EVP_DIGESTVERIFYFINAL, G_CRYPTO },
	/* Handshakes that make no event: their system calls tell the endpoints early. */
	{ "SSL_connect", SSL_OP_MAX, G_OPENSSL, false, true },
	{ "SSL_accept", SSL_OP_MAX, G_OPENSSL, false, true },
	{ "gnutls_handshake", SSL_OP_MAX, G_GNUTLS, false, true },
	/* --verify */
	{ "SSL_CTX_set_verify", SSL_OP_CTX_SET_VERIFY, G_OPENSSL, true, true },
	{ "SSL_set_verify", SSL_OP_SET_VERIFY, G_OPENSSL, true, true },
	{ "SSL_get_verify_result", SSL_OP_VERIFY_RESULT, G_OPENSSL, false, true },
	{ "gnutls_certificate_verify_peers2", SSL_OP_GNUTLS_VERIFY, G_GNUTLS, false, true },
	{ "gnutls_certificate_verify_peers3", SSL_OP_GNUTLS_VERIFY3, G_GNUTLS, false, true },
};
#define NR_FUNCS (sizeof(probe_funcs) / sizeof(probe_funcs[0]))

static const char *const op_names[SSL_OP_MAX] = {
	[SSL_OP_READ] = "SSL_read",
	[SSL_OP_WRITE] = "SSL_write",
	[SSL_OP_READ_EX] = "SSL_read_ex",
	[SSL_OP_WRITE_EX] = "SSL_write_ex",
	[SSL_OP_HANDSHAKE] = "SSL_do_handshake",
	[SSL_OP_GNUTLS_SEND] = "gnutls_record_send",
	[SSL_OP_GNUTLS_RECV] = "gnutls_record_recv",
	[SSL_OP_PR_WRITE] = "PR_Write",
	[SSL_OP_PR_SEND] = "PR_Send",
	[SSL_OP_PR_READ] = "PR_Read",
	[SSL_OP_PR_RECV] = "PR_Recv",
	[SSL_OP_RSA_SIGN] = "RSA_sign",
	[SSL_OP_RSA_VERIFY] = "RSA_verify",
	[SSL_OP_OSSL_ECDSA_SIGN] = "ossl_ecdsa_sign",
	[SSL_OP_OSSL_ECDSA_VERIFY] = "ossl_ecdsa_verify",
	[SSL_OP_OSSL_ECDH_COMPUTE_KEY] = "ossl_ecdh_compute_key",
	[SSL_OP_RSA_OSSL_PUBLIC_ENCRYPT] = "rsa_ossl_public_encrypt",
	[SSL_OP_RSA_OSSL_PUBLIC_DECRYPT] = "rsa_ossl_public_decrypt",
	[SSL_OP_RSA_OSSL_PRIVATE_ENCRYPT] = "rsa_ossl_private_encrypt",
	[SSL_OP_RSA_OSSL_PRIVATE_DECRYPT] = "rsa_ossl_private_decrypt",
	[SSL_OP_EVP_PKEY_SIGN] = "EVP_PKEY_sign",
	[SSL_OP_EVP_PKEY_VERIFY] = "EVP_PKEY_verify",
	[SSL_OP_EVP_PKEY_DERIVE] = "EVP_PKEY_derive",
	[SSL_OP_EVP_PKEY_ENCRYPT] = "EVP_PKEY_encrypt",
	[SSL_OP_EVP_PKEY_DECRYPT] = "EVP_PKEY_decrypt",
	[SSL_OP_EVP_DIGESTSIGN] = "EVP_DigestSign",
	[SSL_OP_EVP_DIGESTSIGNFINAL] = "EVP_DigestSignFinal",
	[SSL_OP_EVP_DIGESTVERIFY] = "EVP_DigestVerify",
	[SSL_OP_EVP_DIGESTVERIFYFINAL] = "EVP_DigestVerifyFinal",
	[SSL_OP_CTX_SET_VERIFY] = "SSL_CTX_set_verify",
	[SSL_OP_SET_VERIFY] = "SSL_set_verify",
	[SSL_OP_VERIFY_RESULT] = "SSL_get_verify_result",
	[SSL_OP_GNUTLS_VERIFY] = "gnutls_certificate_verify_peers2",
	[SSL_OP_GNUTLS_VERIFY3] = "gnutls_certificate_verify_peers3",
};

static const char *const lib_names[SSL_LIB_MAX] = {
	[SSL_LIB_OPENSSL] = "openssl",
	[SSL_LIB_GNUTLS] = "gnutls",
	[SSL_LIB_NSS] = "nss",
	[SSL_LIB_CRYPTO] = "libcrypto",
};

static bool op_is_crypto(unsigned int op)
{
	return op >= SSL_OP_CRYPTO_FIRST && op <= SSL_OP_CRYPTO_LAST;
}

static const char *op_direction(unsigned int op)
{
	switch (op) {
	case SSL_OP_HANDSHAKE:
		return "handshake";
	case SSL_OP_READ:
	case SSL_OP_READ_EX:
	case SSL_OP_GNUTLS_RECV:
	case SSL_OP_PR_READ:
	case SSL_OP_PR_RECV:
		return "read";
	default:
		return op_is_crypto(op) ? "crypto" : "write";
	}
}

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
	F_FD,
	F_LOCAL,
	F_REMOTE,
	F_HTTP,
	F_METHOD,
	F_PATH,
	F_AUTHORITY,
	F_STATUS,
	F_STREAM,
	F_RESPONSE_TIME,
	F_BODY_LEN,
	F_VERIFY_RESULT,
	F_DATA,
	F_MAX,
};

static const struct field ssl_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_LIBRARY] = { "library", FT_STR, FIELD_HIDDEN, 9,
			"openssl, gnutls, nss, or libcrypto (--crypto)" },
	[F_OPERATION] = { "operation", FT_STR, 0, 18, "function called, e.g. SSL_read" },
	[F_DIRECTION] = { "direction", FT_STR, FIELD_HIDDEN, 9,
			  "read, write, handshake or crypto" },
	[F_LATENCY] = { "latency", FT_DURATION, FIELD_RIGHT, 9,
			"time spent in the call (ns in JSON)" },
	[F_LEN] = { "len", FT_U64, FIELD_RIGHT, 7, "bytes the call reported" },
	[F_CAPTURED] = { "captured", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 7, "bytes kept in data" },
	[F_TRUNCATED] = { "truncated", FT_BOOL, FIELD_HIDDEN, 5,
			  "true when data holds less than len bytes" },
	[F_CONN] = { "conn", FT_HEX, FIELD_HIDDEN, 14,
		     "connection handle (SSL *, gnutls_session_t, PRFileDesc *)" },
	[F_ERROR] = { "error", FT_STR, 0, 10, "why the call failed; empty on success" },
	[F_FD] = { "fd", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 4,
		   "the connection's socket descriptor" },
	[F_LOCAL] = { "local", FT_STR, FIELD_HIDDEN, 21, "local address:port of the socket" },
	[F_REMOTE] = { "remote", FT_STR, FIELD_HIDDEN, 21, "remote address:port of the socket" },
	[F_HTTP] = { "http", FT_STR, FIELD_HIDDEN, 8, "--http rows: HTTP/1.0, HTTP/1.1 or HTTP/2" },
	[F_METHOD] = { "method", FT_STR, FIELD_HIDDEN, 7, "--http rows: request method" },
	[F_PATH] = { "path", FT_STR, FIELD_HIDDEN, 24, "--http rows: request path" },
	[F_AUTHORITY] = { "authority", FT_STR, FIELD_HIDDEN, 20,
			  "--http rows: :authority or Host" },
	[F_STATUS] = { "status", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 3,
		       "--http responses: status code" },
	[F_STREAM] = { "stream", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 6,
		       "--http rows: HTTP/2 stream id; HTTP/1: request number on the connection" },
	[F_RESPONSE_TIME] = { "response_time", FT_DURATION, FIELD_HIDDEN | FIELD_RIGHT, 9,
			      "--http responses: time since the request (ns in JSON)" },
	[F_BODY_LEN] = { "body_len", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 7,
			 "--http rows: body bytes (Content-Length, chunked total)" },
	[F_VERIFY_RESULT] = { "verify_result", FT_S64, FIELD_HIDDEN, 6,
			      "--verify rows: verify mode, X509 result or GnuTLS status" },
	[F_DATA] = { "data", FT_BYTES, 0, 0,
		     "plaintext, escaped; --http rows: the request or response" },
	{},
};

static const struct gadget_counter ssl_counters[] = {
	{ "sampled_out", false },	    { "calls_without_data", false },
	{ "handshakes_incomplete", false }, { "nspr_not_tls", false },
	{ "nspr_no_libssl3", false },	    {},
};

static const struct gadget_option ssl_options[] = {
	{ "lib", 0, "PATH", "also probe this library (repeatable)" },
	{ "bin", 0, "PATH", "also probe this executable with TLS linked in (repeatable)" },
	{ "crypto", 0, NULL, "libcrypto signing, verification, key agreement latency" },
	{ "no-follow", 0, NULL, "do not look at processes started after loupe" },
	{ "data-size", 0, "SIZE", "bytes kept per call (default 1M, at most 2M)" },
	{ "no-data", 0, NULL, "metadata only, no plaintext" },
	{ "sample", 0, "N", "trace one read/write call in N" },
	{ "no-reads", 0, NULL, "do not trace reads" },
	{ "no-writes", 0, NULL, "do not trace writes" },
	{ "hex", 'x', NULL, "hex dump of the plaintext under each row" },
	{ "http", 0, NULL, "decode HTTP/1.x and HTTP/2: a row per request and response" },
	{ "pcap", 0, "FILE", "write the plaintext as TCP streams to a pcap file (0600)" },
	{ "verify", 0, NULL, "report certificate verification turned off or failed" },
	{ "redact", 0, NULL, "mask passwords, tokens, cookies, e-mail addresses everywhere" },
	{ "no-endpoints", 0, NULL, "no fd/local/remote: spares every read/write syscall a lookup" },
	{},
};

static int ssl_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct ssl_state *st = s->state;
	uint64_t v;
	int err;

	if (!strcmp(opt->name, "lib") || !strcmp(opt->name, "bin")) {
		bool bin = opt->name[0] == 'b';
		struct elf_func f[NR_FUNCS];
		bool any = false;

		for (size_t i = 0; i < NR_FUNCS; i++)
			f[i].name = probe_funcs[i].func;
		err = elf_find_funcs(arg, f, NR_FUNCS, NULL);
		if (err == -ENOEXEC) {
			loupe_err("--%s %s: not an ELF file (give the path of %s)", opt->name, arg,
				  bin ? "an executable" : "a shared library");
			return EXIT_USAGE;
		}
		if (err) {
			loupe_err("--%s %s: %s", opt->name, arg, strerror(-err));
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < NR_FUNCS; i++)
			any |= f[i].found && probe_funcs[i].group != G_CRYPTO;
		if (bin && !any) {
			loupe_err(
				"--bin %s: no SSL_read/SSL_write, gnutls_record_* or PR_* symbols "
				"(stripped, or no TLS linked in)",
				arg);
			return EXIT_USAGE;
		}
		if (lib_list_add(bin ? &st->bins : &st->extra_libs, arg) < 0) {
			loupe_err("--%s %s: not a regular file", opt->name, arg);
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
	} else if (!strcmp(opt->name, "crypto")) {
		st->crypto = true;
	} else if (!strcmp(opt->name, "no-follow")) {
		st->no_follow = true;
	} else if (!strcmp(opt->name, "hex")) {
		s->hex_dump = true;
	} else if (!strcmp(opt->name, "http")) {
		st->http = true;
	} else if (!strcmp(opt->name, "pcap")) {
		st->pcap_path = arg;
		audit_add_output("pcap", arg);
	} else if (!strcmp(opt->name, "verify")) {
		st->verify = true;
	} else if (!strcmp(opt->name, "redact")) {
		st->redact = true;
	} else if (!strcmp(opt->name, "no-endpoints")) {
		st->no_endpoints = true;
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
	if ((st->http || st->pcap_path || st->redact) && (st->no_data || st->sample > 1)) {
		loupe_err("--http, --pcap and --redact need every call's data: drop %s",
			  st->no_data ? "--no-data" : "--sample");
		return NULL;
	}
	if (analysis_open(s))
		return NULL;
	skel = ssl_bpf__open_opts(s->open_opts);
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
	skel->rodata->trace_crypto = st->crypto;
	/* Only what is asked for is loaded: start-up time grows with every program. */
	if (!st->crypto) {
		struct bpf_program *prog;

		bpf_object__for_each_program(
			prog, skel->obj) if (strstr(bpf_program__name(prog), "probe_libcrypto_"))
			bpf_program__set_autoload(prog, false);
	}
	bpf_program__set_autoload(skel->progs.trace_sched_process_exec, !st->no_follow);
	/* Without attach cookies (< 5.15) libssl3 is only found in /proc/PID/maps. */
	st->cookies = feature_helper(BPF_FUNC_get_attach_cookie);
	bpf_program__set_autoload(skel->progs.trace_uprobe_libnss_SSL_ImportFD, st->cookies);
	skel->rodata->trace_verify = st->verify;
	{
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, skel->obj)
		{
			const char *name = bpf_program__name(prog);

			if ((!st->verify && strstr(name, "_verify")) ||
			    (st->no_endpoints && !strncmp(name, "trace_sys_enter_", 16)))
				bpf_program__set_autoload(prog, false);
		}
	}
	return skel->obj;
}

static struct bpf_program *prog_for(struct ssl_bpf *skel, const struct ssl_func *f, bool ret)
{
	char name[128];

	snprintf(name, sizeof(name), "trace_%s_%s_%s", ret ? "uretprobe" : "uprobe",
		 group_prog_lib[f->group], f->func);
	return bpf_object__find_program_by_name(skel->obj, name);
}

/* Paths come from processes (containers): never print their bytes raw. */
static const char *printable(const char *in, char *buf, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		buf[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
	buf[i] = '\0';
	return buf;
}

/*
 * Probe every TLS function the file has (path is what we open and attach,
 * shown names it, why says how it was found).  Each file (device and inode)
 * is looked at once; returns its entry in st->seen (kind = groups found), or
 * NULL when it cannot be read.
 */
static struct lib_entry *probe_file(struct session *s, const char *path, const char *shown,
				    const char *why)
{
	struct ssl_state *st = s->state;
	struct elf_func f[NR_FUNCS];
	struct lib_entry *e = lib_list_get(&st->seen, path);
	unsigned int groups = 0, probed = 0;
	unsigned long image_end = 0;
	char missing[256] = "", pbuf[PATH_MAX], gbuf[64] = "";
	int attached = 0, failed = 0, err;

	if (e)
		return e;
	if (lib_list_add(&st->seen, path) < 0 || !(e = lib_list_get(&st->seen, path)))
		return NULL;
	shown = printable(shown, pbuf, sizeof(pbuf));
	for (size_t i = 0; i < NR_FUNCS; i++)
		f[i].name = probe_funcs[i].func;
	err = elf_find_funcs(path, f, NR_FUNCS, &image_end);
	if (err) {
		loupe_warn("%s: cannot read its symbols (%s), not probed", shown, strerror(-err));
		return e;
	}
	for (size_t i = 0; i < NR_FUNCS; i++)
		if (f[i].found)
			groups |= 1u << probe_funcs[i].group;
	/*
	 * A library with one OpenSSL function and not the others is not OpenSSL
	 * (e.g. an application's own SSL_read wrapper): ask for SSL_write too.
	 */
	if (!((f[0].found || f[2].found) && (f[1].found || f[3].found)))
		groups &= ~(1u << G_OPENSSL);
	if (!st->crypto)
		groups &= ~(1u << G_CRYPTO);
	e->kind = groups;
	e->image_end = image_end;
	if (!groups) {
		/* Found by us: normal.  Named by the user (--lib): say it. */
		if (!strncmp(why, "by --", 5))
			loupe_warn("%s: no TLS functions found, not probed", shown);
		else
			loupe_info(s, "%s (%s): no TLS functions, not probed", shown, why);
		return e;
	}
	for (size_t i = 0; i < NR_FUNCS; i++) {
		const struct ssl_func *fn = &probe_funcs[i];
		__u64 cookie = 0;

		if (!(groups & (1u << fn->group)) ||
		    !bpf_program__autoload(prog_for(st->skel, fn, false)))
			continue;
		if (!f[i].found && fn->optional)
			continue;
		if (!f[i].found) {
			size_t len = strlen(missing);

			/* Only the TLS calls matter to the user; crypto and NSS helpers vary. */
			if (fn->group != G_CRYPTO && fn->group != G_NSS_SSL)
				snprintf(missing + len, sizeof(missing) - len, "%s%s",
					 len ? ", " : "", fn->func);
			continue;
		}
		if (fn->group == G_NSS_SSL) {
			if (!st->cookies || f[i].vaddr > UINT32_MAX || image_end > UINT32_MAX)
				continue;
			cookie = (__u64)image_end << 32 | f[i].vaddr;
		}
		if (uprobe_attach_cookie(s, prog_for(st->skel, fn, false), path, fn->func,
					 f[i].offset, false, cookie) ||
		    (!fn->entry_only && uprobe_attach(s, prog_for(st->skel, fn, true), path,
						      fn->func, f[i].offset, true))) {
			failed++;
			continue;
		}
		attached++;
		probed |= 1u << fn->group;
	}
	if (missing[0])
		loupe_warn("%s: no %s; those calls are not traced there", shown, missing);
	if (failed)
		loupe_warn("%s: %d functions could not be probed (-v for details)", shown, failed);
	for (int g = 0; g < G_MAX; g++) {
		size_t len = strlen(gbuf);

		if (probed & (1u << g))
			snprintf(gbuf + len, sizeof(gbuf) - len, "%s%s", len ? "," : "",
				 group_names[g]);
	}
	if (attached) {
		st->probed++;
		fprintf(stderr, "loupe: probing %s (%d function%s: %s)\n", shown, attached,
			attached == 1 ? "" : "s", gbuf);
		loupe_info(s, "  %s was found %s", shown, why);
	}
	return e;
}

/* Names worth opening when seen in a process's maps (the executable always is). */
static bool tls_candidate(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	/* GnuTLS's OpenSSL compatibility wraps gnutls_record_*: probed there already. */
	if (!strncmp(base, "libgnutls-openssl", 17))
		return false;
	return strstr(base, "ssl") || strstr(base, "tls") || strstr(base, "nspr") ||
	       strstr(base, "crypto") || strstr(base, "boring") || strstr(base, "node");
}

struct scan_ctx {
	struct session *s;
	int pid;
};

static void nss_range_set(struct session *s, int pid, unsigned long lo, unsigned long end)
{
	struct ssl_state *st = s->state;
	struct nss_range r = { .lo = lo, .hi = lo + end };
	__u32 key = pid;

	if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.nss_ranges), &key, &r, BPF_ANY))
		loupe_info(s, "cannot record libssl3.so of pid %d: %s", pid, strerror(errno));
}

static int scan_map(const struct proc_map *m, void *ctx)
{
	struct scan_ctx *c = ctx;
	char path[PATH_MAX + 32], why[64];
	struct lib_entry *e;

	if (!tls_candidate(m->path) || strstr(m->path, " (deleted)"))
		return 0;
	/* The process's own view of its files: a container's private copy. */
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, m->path);
	if (!m->exec && m->offset)
		return 0;
	snprintf(why, sizeof(why), "mapped by pid %d", c->pid);
	e = probe_file(c->s, path, m->path, why);
	/* The first mapping of libssl3.so is where its image starts. */
	if (e && (e->kind & (1u << G_NSS_SSL)) && m->offset == 0)
		nss_range_set(c->s, c->pid, m->start, e->image_end);
	return 0;
}

/* Look at one process: its executable and the TLS libraries it maps. */
static void scan_pid(struct session *s, int pid)
{
	struct scan_ctx c = { s, pid };
	char exe[64], target[PATH_MAX], why[64];
	ssize_t n;

	if (pid == getpid())
		return;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	n = readlink(exe, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		snprintf(why, sizeof(why), "as the executable of pid %d", pid);
		probe_file(s, exe, target, why);
	}
	proc_maps_foreach(pid, scan_map, &c);
}

static void scan_all(struct session *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (pid > 0 && !*end)
			scan_pid(s, pid);
	}
	closedir(d);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * After exec the loader maps libraries, and the program may dlopen more:
 * look again a little later, then once more after a few seconds.
 */
static const double watch_delays[] = { 0, 0.15, 1.0, 3.0 };
#define NR_WATCH_ROUNDS (sizeof(watch_delays) / sizeof(watch_delays[0]))

static void watch_pid(struct session *s, int pid)
{
	struct ssl_state *st = s->state;
	struct watch *w;

	if (st->nr_watch == MAX_WATCH) {
		/* An exec storm: the oldest watch loses its last rounds. */
		memmove(st->watch, st->watch + 1, (MAX_WATCH - 1) * sizeof(*w));
		st->nr_watch--;
	}
	w = &st->watch[st->nr_watch++];
	w->pid = pid;
	w->round = 0;
	w->due = mono_s();
}

static void ssl_tick(struct session *s)
{
	struct ssl_state *st = s->state;
	double now;
	int j = 0;

	if (!st->nr_watch)
		return;
	now = mono_s();
	for (int i = 0; i < st->nr_watch; i++) {
		struct watch *w = &st->watch[i];

		if (w->due <= now) {
			scan_pid(s, w->pid);
			if (++w->round < (int)NR_WATCH_ROUNDS)
				w->due += watch_delays[w->round] - watch_delays[w->round - 1];
			else
				continue; /* done: dropped */
		}
		st->watch[j++] = *w;
	}
	st->nr_watch = j;
}

static int ssl_attach(struct session *s)
{
	struct ssl_state *st = s->state;
	static const char *const prefixes[] = { "libssl.so", "libgnutls.so", "libnspr4.so",
						"libssl3.so", "libcrypto.so" };
	struct bpf_program *emitter = st->bounded ? st->skel->progs.trace_ssl_emit_data_bounded
						  : st->skel->progs.trace_ssl_emit_data;
	__u32 zero = 0;
	int fd = bpf_program__fd(emitter), err;

	if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.ssl_emitter), &zero, &fd, 0)) {
		loupe_err("cannot install the ssl data emitter: %s", strerror(errno));
		return -errno;
	}
	err = session_attach_programs(s);
	if (err)
		return err;
	/* The system's libraries first: processes started later load them too. */
	for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		struct lib_list libs = {};

		if (!st->crypto && !strcmp(prefixes[p], "libcrypto.so"))
			continue;
		find_libraries(prefixes[p], &libs);
		for (int i = 0; i < libs.n; i++)
			probe_file(s, libs.v[i].path, libs.v[i].path,
				   "in ld.so.cache or a standard library directory");
		lib_list_free(&libs);
	}
	for (int i = 0; i < st->extra_libs.n; i++)
		probe_file(s, st->extra_libs.v[i].path, st->extra_libs.v[i].path, "by --lib");
	for (int i = 0; i < st->bins.n; i++)
		probe_file(s, st->bins.v[i].path, st->bins.v[i].path, "by --bin");
	/* Running processes: private copies, containers, TLS linked into executables. */
	if (s->filter.by_pid)
		scan_pid(s, s->filter.pid);
	else
		scan_all(s);
	st->attached = true;
	if (!st->probed) {
		if (st->no_follow) {
			loupe_err("found no TLS library to probe: install libssl3, or give --lib "
				  "PATH or --bin PATH");
			return -ENOENT;
		}
		loupe_warn("found no TLS library yet; watching processes that start");
	}
	return 0;
}

/* --- analysis: endpoints, HTTP, pcap, verification, redaction -------------- */

/* A connection's decoder, by process and handle. */
struct conn_state {
	bool used;
	uint32_t pid;
	uint64_t conn;
	uint64_t last_ns;
	bool broken; /* bytes went missing: the decoder would guess */
	struct http_conn *http;
};

static void conn_forget(struct ssl_state *st, struct conn_state *c)
{
	const struct http_stats *hs = c->http ? http_conn_stats(c->http) : NULL;

	if (hs) {
		st->http_errors += hs->hpack_errors + hs->parse_errors;
		st->late_masks += hs->late_masks;
	}
	http_conn_free(c->http);
	c->http = NULL;
	c->used = false;
}

static struct conn_state *conn_get(struct ssl_state *st, uint32_t pid, uint64_t conn, uint64_t now)
{
	struct conn_state *c = NULL, *oldest = NULL;

	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn_state *x = &st->conns[i];

		if (x->used && x->pid == pid && x->conn == conn) {
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
		conn_forget(st, c);
		st->conns_evicted++;
	}
	c->used = true;
	c->broken = false;
	c->pid = pid;
	c->conn = conn;
	c->last_ns = now;
	c->http = http_conn_new();
	return c;
}

static const char *fmt_endpoint(char *buf, size_t len, int family, const uint8_t *addr,
				uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	if ((family != AF_INET && family != AF_INET6) || !inet_ntop(family, addr, a, sizeof(a)))
		return NULL;
	snprintf(buf, len, family == AF_INET ? "%s:%u" : "[%s]:%u", a, port);
	return buf;
}

/* fd, local, remote of a record (set only when the kernel learned them). */
static void set_endpoints(struct value *v, const struct ssl_sock *k, char *lbuf, char *rbuf,
			  size_t len)
{
	if (k->fd < 0)
		return;
	v[F_FD] = val_s64(k->fd);
	v[F_LOCAL] = val_str(fmt_endpoint(lbuf, len, k->family, k->laddr, k->lport));
	v[F_REMOTE] = val_str(fmt_endpoint(rbuf, len, k->family, k->raddr, k->rport));
}

struct http_emit_ctx {
	struct session *s;
	const struct ssl_record *r;
};

static const char *http_version(int v)
{
	return v == 20 ? "HTTP/2" : v == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

/* One --http row: a request or a response. */
static void emit_http(void *ctx, const struct http_msg *m)
{
	struct http_emit_ctx *hc = ctx;
	struct session *s = hc->s;
	struct ssl_state *st = s->state;
	const struct ssl_record *r = hc->r;
	struct value v[F_MAX] = {};
	char lbuf[64], rbuf[64], summary[3072], lat[32] = "";

	if (!st->http)
		return;
	values_set_proc(v, &r->proc);
	v[F_LIBRARY] = val_str(r->lib < SSL_LIB_MAX ? lib_names[r->lib] : "unknown");
	v[F_OPERATION] = val_str(m->kind == HTTP_REQUEST ? "http-request" : "http-response");
	v[F_DIRECTION] = val_str(op_direction(r->op));
	v[F_CONN] = val_u64(r->conn);
	set_endpoints(v, &r->sock, lbuf, rbuf, sizeof(lbuf));
	v[F_HTTP] = val_str(http_version(m->version));
	v[F_METHOD] = val_str(m->method);
	v[F_PATH] = val_str(m->path);
	v[F_AUTHORITY] = val_str(m->authority);
	v[F_STREAM] = val_u64(m->stream_id);
	if (m->body_len >= 0)
		v[F_BODY_LEN] = val_s64(m->body_len);
	if (m->kind == HTTP_RESPONSE) {
		v[F_STATUS] = val_u64(m->status);
		if (m->has_latency) {
			v[F_RESPONSE_TIME] = val_u64(m->latency_ns);
			v[F_LATENCY] = val_u64(m->latency_ns);
			format_duration(lat, sizeof(lat), m->latency_ns);
		}
	}
	v[F_ERROR] = val_str("");
	if (st->json) {
		/* JSON keeps the head itself: HTTP/1 as received, HTTP/2 decoded. */
		v[F_DATA] = val_bytes(m->head, m->head_len);
	} else {
		if (m->kind == HTTP_REQUEST)
			snprintf(summary, sizeof(summary), "%s %s%s%s %s stream %u", m->method,
				 m->authority[0] ? "https://" : "", m->authority, m->path,
				 http_version(m->version), m->stream_id);
		else
			snprintf(summary, sizeof(summary), "%d for %s %s %s stream %u%s%s",
				 m->status, m->method[0] ? m->method : "?", m->path,
				 http_version(m->version), m->stream_id, lat[0] ? " after " : "",
				 lat);
		v[F_DATA] = val_bytes(summary, strlen(summary));
	}
	session_emit(s, v);
}

/*
 * Which side opened the connection, for the pcap's SYN: what the library
 * said (SSL_connect/SSL_accept), else where the HTTP client spoke, else the
 * side with an ephemeral port; -1: the pcap writer guesses (higher port).
 */
static int local_is_client(struct ssl_state *st, const struct ssl_record *r, struct conn_state *c)
{
	int cd = c && c->http ? http_conn_client_dir(c->http) : -1;
	bool le, re;

	if (r->sock.role == SSL_ROLE_CLIENT || r->sock.role == SSL_ROLE_SERVER)
		return r->sock.role == SSL_ROLE_CLIENT;
	if (cd >= 0)
		return cd == 1; /* the client's bytes are the local writes */
	le = r->sock.lport >= st->eph_lo && r->sock.lport <= st->eph_hi;
	re = r->sock.rport >= st->eph_lo && r->sock.rport <= st->eph_hi;
	return le != re ? le : -1;
}

static bool op_has_data(unsigned int op)
{
	const char *d = op_direction(op);

	return op < SSL_OP_CRYPTO_FIRST && (!strcmp(d, "read") || !strcmp(d, "write"));
}

/*
 * The bytes of one call through the analyses, in this order: redaction
 * (patterns), HTTP decoding (which masks HPACK literals too), pcap.  Returns
 * the bytes the data event shows: a redacted copy, or data itself.
 */
static const uint8_t *analyse(struct session *s, const struct ssl_record *r, const uint8_t *data,
			      size_t len, bool truncated)
{
	struct ssl_state *st = s->state;
	bool write = !strcmp(op_direction(r->op), "write");
	uint8_t *buf = (uint8_t *)data;
	struct conn_state *c = NULL;

	if (!len || !op_has_data(r->op))
		return data;
	if (st->redact) {
		/* The ring buffer is read-only here: mask a copy. */
		if (len > st->scratch_cap) {
			uint8_t *n = realloc(st->scratch, len);

			if (!n)
				return NULL;
			st->scratch = n;
			st->scratch_cap = len;
		}
		buf = st->scratch;
		redact_copy(buf, data, len);
	}
	if (st->conns) {
		struct http_emit_ctx hc = { s, r };

		c = conn_get(st, r->proc.pid, r->conn, r->proc.ts_ns);
		if (c->http && !c->broken)
			http_conn_feed(c->http, write, buf, len, r->proc.ts_ns, st->redact,
				       emit_http, &hc);
		/* After a gap every later byte would be parsed at the wrong place. */
		if (truncated && !c->broken) {
			c->broken = true;
			st->http_errors++;
		}
	}
	if (st->pcap) {
		struct pcap_endpoint l = {}, rm = {};
		const struct ssl_sock *k = &r->sock;

		if (k->fd >= 0 && (k->family == AF_INET || k->family == AF_INET6)) {
			l.family = rm.family = k->family;
			memcpy(l.addr, k->laddr, 16);
			memcpy(rm.addr, k->raddr, 16);
			l.port = k->lport;
			rm.port = k->rport;
		}
		pcap_out_data(st->pcap, r->conn ^ (uint64_t)r->proc.pid << 48, &l, &rm,
			      local_is_client(st, r, c), write, buf, len,
			      boot_to_wall_ns(r->proc.ts_ns));
	}
	return buf;
}

static const char *x509_error(long code)
{
	switch (code) {
	case 2:
		return "unable to get issuer certificate";
	case 7:
		return "certificate signature failure";
	case 9:
		return "certificate is not yet valid";
	case 10:
		return "certificate has expired";
	case 18:
		return "self-signed certificate";
	case 19:
		return "self-signed certificate in certificate chain";
	case 20:
		return "unable to get local issuer certificate";
	case 21:
		return "unable to verify the first certificate";
	case 23:
		return "certificate revoked";
	case 26:
		return "unsupported certificate purpose";
	case 62:
		return "hostname mismatch";
	case 64:
		return "IP address mismatch";
	default:
		return "see openssl verify(1) for the code";
	}
}

/* GnuTLS gnutls_certificate_status_t bits, most telling first. */
static void gnutls_status(char *buf, size_t len, unsigned long st)
{
	static const struct {
		unsigned long bit;
		const char *name;
	} bits[] = {
		{ 1 << 6, "signer not found" },
		{ 1 << 7, "signer not a CA" },
		{ 1 << 5, "revoked" },
		{ 1 << 10, "expired" },
		{ 1 << 9, "not yet activated" },
		{ 1 << 8, "insecure algorithm" },
		{ 1 << 14, "unexpected owner (hostname)" },
		{ 1 << 3, "signature failure" },
	};
	size_t o = snprintf(buf, len, "certificate verification failed: status 0x%lx", st);

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && o < len; i++)
		if (st & bits[i].bit)
			o += snprintf(buf + o, len - o, ", %s", bits[i].name);
}

/* --verify events: verification turned off, or failed. */
static void emit_verify(struct session *s, const struct ssl_record *r)
{
	struct value v[F_MAX] = {};
	char lbuf[64], rbuf[64], msg[256];

	values_set_proc(v, &r->proc);
	v[F_LIBRARY] = val_str(r->lib < SSL_LIB_MAX ? lib_names[r->lib] : "unknown");
	v[F_OPERATION] = val_str(op_names[r->op]);
	v[F_DIRECTION] = val_str("verify");
	v[F_CONN] = val_u64(r->conn);
	v[F_VERIFY_RESULT] = val_s64(r->ret);
	set_endpoints(v, &r->sock, lbuf, rbuf, sizeof(lbuf));
	if (r->op == SSL_OP_VERIFY_RESULT)
		snprintf(msg, sizeof(msg), "certificate verification failed: %s (%lld)",
			 x509_error(r->ret), (long long)r->ret);
	else if (r->op == SSL_OP_GNUTLS_VERIFY)
		gnutls_status(msg, sizeof(msg), r->ret);
	else
		snprintf(msg, sizeof(msg), "certificate verification disabled (SSL_VERIFY_NONE)%s",
			 r->op == SSL_OP_CTX_SET_VERIFY ? " for every connection of this context"
							: "");
	v[F_ERROR] = val_str(msg);
	session_emit(s, v);
}



/* Before anything is loaded: files that cannot be written stop us here. */
static int analysis_open(struct session *s)
{
	struct ssl_state *st = s->state;
	char err[256];
	FILE *fp;

	st->json = s->json;
	st->eph_lo = 32768;
	st->eph_hi = 60999;
	fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (fp) {
		if (fscanf(fp, "%u %u", &st->eph_lo, &st->eph_hi) != 2)
			st->eph_lo = st->eph_hi = 0;
		fclose(fp);
	}
	if (st->http || st->redact || st->pcap_path) {
		st->conns = calloc(MAX_CONNS, sizeof(*st->conns));
		if (!st->conns) {
			loupe_err("out of memory");
			return -1;
		}
	}
	if (st->pcap_path) {
		st->pcap = pcap_out_open(st->pcap_path, PCAP_LINK_ETHERNET, err, sizeof(err));
		if (!st->pcap) {
			loupe_err("cannot write --pcap %s: %s", st->pcap_path, err);
			return -1;
		}
	}
	return 0;
}

static void analysis_close(struct session *s)
{
	struct ssl_state *st = s->state;

	for (int i = 0; st->conns && i < MAX_CONNS; i++)
		if (st->conns[i].used)
			conn_forget(st, &st->conns[i]);
	if (st->http && st->http_errors)
		loupe_warn("%llu HTTP connection directions could not be decoded (not HTTP, "
			   "started before loupe, or bytes missing)",
			   (unsigned long long)st->http_errors);
	if (st->conns_evicted)
		loupe_warn("%llu connections were forgotten (more than %d at once)",
			   (unsigned long long)st->conns_evicted, MAX_CONNS);
	if (st->redact && st->late_masks)
		loupe_warn("%llu HTTP/2 header values split across calls were shown unmasked in "
			   "the raw data (the decoded rows are masked)",
			   (unsigned long long)st->late_masks);
	if (st->pcap && pcap_out_close(st->pcap, loupe_clock_ns(CLOCK_REALTIME)))
		loupe_warn("writing --pcap %s failed", st->pcap_path);
	st->pcap = NULL;
	free(st->conns);
	free(st->scratch);
}

/* One event: the values of one call.  Decoders of the data hook in here. */
static void emit_call(struct session *s, const struct ssl_record *r, const uint8_t *data,
		      size_t len, bool incomplete)
{
	struct value v[F_MAX] = {};
	struct ssl_state *st = s->state;
	bool fault = r->flags & SSL_F_READ_FAULT;
	const char *error = NULL;
	char errbuf[64], lbuf[64], rbuf[64];

	if (r->op >= SSL_OP_CTX_SET_VERIFY && r->op < SSL_OP_MAX) {
		emit_verify(s, r);
		return;
	}
	/* Redaction, HTTP decoding and pcap see the bytes first. */
	data = analyse(s, r, data, len, len < r->len || incomplete);
	if (!data) {
		session_event_dropped(s);
		return;
	}
	if (st->http && !st->json && op_has_data(r->op)) {
		s->bytes += len;
		return; /* columns: the HTTP rows stand for the data */
	}
	values_set_proc(v, &r->proc);
	set_endpoints(v, &r->sock, lbuf, rbuf, sizeof(lbuf));
	v[F_LIBRARY] = val_str(r->lib < SSL_LIB_MAX ? lib_names[r->lib] : "unknown");
	v[F_OPERATION] =
		val_str(r->op < SSL_OP_MAX && op_names[r->op] ? op_names[r->op] : "unknown");
	v[F_DIRECTION] = val_str(op_direction(r->op));
	v[F_LATENCY] = val_u64(r->latency_ns);
	if (op_is_crypto(r->op)) {
		/* 1 (or a byte count for rsa_ossl_*) is success; 0 and < 0 are failures. */
		if (r->ret <= 0) {
			snprintf(errbuf, sizeof(errbuf), "failed (ret %lld)", (long long)r->ret);
			error = errbuf;
		}
	} else if (r->op == SSL_OP_HANDSHAKE) {
		v[F_CONN] = val_u64(r->conn);
		/* 1 is success, 0 a clean failure; < 0 (retry or error) is only counted. */
		if (r->ret != 1) {
			snprintf(errbuf, sizeof(errbuf), "failed (ret %lld)", (long long)r->ret);
			error = errbuf;
		}
	} else {
		v[F_CONN] = val_u64(r->conn);
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
	if (!st->nr_pending)
		return NULL;
	for (int i = 0; i < MAX_PENDING; i++)
		if (st->pending[i].used && st->pending[i].hdr.proc.tid == tid)
			return &st->pending[i];
	return NULL;
}

/*
 * A call whose last record never came (the ring buffer was full, which the
 * kernel side counted): show what arrived, marked truncated.
 */
static void pending_release(struct ssl_state *st, struct pending *p)
{
	p->used = false;
	p->len = 0;
	st->nr_pending--;
}

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
		watch_pid(s, r->proc.pid);
		return LOUPE_REC_NOTICE;
	}
	p = pending_find(st, r->proc.tid);
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
	if (pending_append(p, r->data, r->chunk_len))
		pending_flush(s, p);
	else if (r->flags & SSL_F_LAST) {
		if (p->gap)
			session_event_truncated(s);
		emit_call(s, &p->hdr, p->buf, p->len, p->gap);
		pending_release(st, p);
	}
	return r->offset ? LOUPE_REC_PART : LOUPE_REC_EVENT;
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
	analysis_close(s);
	lib_list_free(&st->extra_libs);
	lib_list_free(&st->bins);
	lib_list_free(&st->seen);
	ssl_bpf__destroy(st->skel);
}

static const char *ssl_variant(void)
{
	bool loop = feature_helper(BPF_FUNC_loop);

	if (feature_uprobe_multi())
		return loop ? "uprobe_multi+bpf_loop" : "uprobe_multi+bounded-loop";
	return loop ? "uprobe+bpf_loop" : "uprobe+bounded-loop";
}

static const void *ssl_elf_bytes(size_t *size)
{
	return ssl_bpf__elf_bytes(size);
}

static const struct gadget ssl_gadget = {
	.name = "ssl",
	.summary = "TLS plaintext of OpenSSL, GnuTLS and NSS reads and writes",
	.examples =
		"  loupe trace ssl                          every process using libssl\n"
		"  loupe trace ssl --comm curl -x           curl's traffic as a hex dump\n"
		"  loupe trace ssl --pid 1234 -o json       one JSON object per call\n"
		"  loupe trace ssl --no-data --sample 100   cheap call metadata on a busy host\n"
		"  loupe trace ssl --lib /opt/app/lib/libssl.so.3   a private copy of libssl\n"
		"  loupe trace ssl --bin /opt/app/server     TLS linked into an executable\n"
		"  loupe trace ssl --crypto --no-data        handshake crypto latency too\n"
		"  loupe trace ssl --http --comm curl        one row per HTTP request/response\n"
		"  loupe trace ssl --pcap /tmp/tls.pcap      plaintext for Wireshark/tshark\n"
		"  loupe trace ssl --verify                  who turns certificate checks off\n"
		"  loupe trace ssl --redact -o json          secrets masked in every output\n",
	.options = ssl_options,
	.fields = ssl_fields,
	.counters = ssl_counters,
	.state_size = sizeof(struct ssl_state),
	.parse_option = ssl_parse_option,
	.open = ssl_open,
	.attach = ssl_attach,
	.handle = ssl_handle,
	.tick = ssl_tick,
	.flush = ssl_flush,
	.close = ssl_close,
	.variant = ssl_variant,
	.elf_bytes = ssl_elf_bytes,
	.counts_bytes = true,
	.min_btf = true,
};
LOUPE_GADGET(ssl_gadget);
