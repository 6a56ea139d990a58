// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ssl gadget, user-space half: which libraries to probe, and joining each
 * call's records back into one event.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	[F_DATA] = { "data", FT_BYTES, 0, 0, "plaintext, escaped" },
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

		if (!(groups & (1u << fn->group)))
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

/* One event: the values of one call.  Decoders of the data hook in here. */
static void emit_call(struct session *s, const struct ssl_record *r, const uint8_t *data,
		      size_t len, bool incomplete)
{
	struct value v[F_MAX] = {};
	bool fault = r->flags & SSL_F_READ_FAULT;
	const char *error = NULL;
	char errbuf[64];

	values_set_proc(v, &r->proc);
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
	if (r->op == SSL_OP_EXEC) {
		watch_pid(s, r->proc.pid);
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
	lib_list_free(&st->bins);
	lib_list_free(&st->seen);
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
	.summary = "TLS plaintext of OpenSSL, GnuTLS and NSS reads and writes",
	.examples =
		"  loupe trace ssl                          every process using libssl\n"
		"  loupe trace ssl --comm curl -x           curl's traffic as a hex dump\n"
		"  loupe trace ssl --pid 1234 -o json       one JSON object per call\n"
		"  loupe trace ssl --no-data --sample 100   cheap call metadata on a busy host\n"
		"  loupe trace ssl --lib /opt/app/lib/libssl.so.3   a private copy of libssl\n"
		"  loupe trace ssl --bin /opt/app/server     TLS linked into an executable\n"
		"  loupe trace ssl --crypto --no-data        handshake crypto latency too\n",
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
