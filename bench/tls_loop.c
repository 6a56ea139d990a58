// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_loop: a TLS 1.3 workload of our own, linked against the system libssl,
 * for benchmarks and byte-exact tests.  Client and server talk over a
 * socketpair with a throw-away self-signed key made in memory.
 *
 *   tls_loop bench SIZE ITERS
 *	one thread: client SSL_write of SIZE bytes, server SSL_read of them;
 *	prints "ns_per_iter N" and "tls_calls N": the calls that moved data or
 *	completed a handshake, i.e. the events a tracer of this pid must show;
 *	"cpu_ns_per_iter N": this process's CPU time (probes run on it), which
 *	the run queue of a shared machine does not inflate as it does wall time.
 *   tls_loop stream WRITE_SIZE TOTAL [SEED]
 *	two processes: the client writes TOTAL pseudo-random bytes in
 *	SSL_write calls of WRITE_SIZE, the server reads them; prints the pids
 *	and the SHA-256 of what was sent and of what was received.
 *   tls_loop idle PERIOD_MS
 *	a TLS pair in one process that exchanges 4 bytes every PERIOD_MS,
 *	forever (bench/scale.py: many processes, many copies of libssl)
 *   tls_loop hold
 *	the client blocks in SSL_read forever (the server never answers);
 *	prints its pid and tid once it is about to call SSL_read.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static void die(const char *what)
{
	fprintf(stderr, "tls_loop: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();

	if (!ctx || !key || !cert)
		die("cannot make server context");
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	if (!X509_sign(cert, key, EVP_sha256()))
		die("cannot sign");
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		die("cannot use key");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		die("cannot make client context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	return ctx;
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Successful TLS calls made by this process (see "tls_calls" above). */
static long tls_calls;

/* Both ends in one thread: non-blocking while the two sides take turns. */
static void handshake_pair(SSL *c, SSL *s)
{
	int cdone = 0, sdone = 0;

	set_nonblock(SSL_get_fd(c), 1);
	set_nonblock(SSL_get_fd(s), 1);

	while (!cdone || !sdone) {
		if (!cdone) {
			int r = SSL_connect(c);

			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (!sdone) {
			int r = SSL_accept(s);

			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	set_nonblock(SSL_get_fd(c), 0);
	set_nonblock(SSL_get_fd(s), 0);
	tls_calls += 2;
}

/* A client and a server over a socketpair, handshake done. */
static void connected_pair(SSL_CTX *sctx, SSL_CTX *cctx, SSL **c, SSL **s)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	*s = SSL_new(sctx);
	*c = SSL_new(cctx);
	SSL_set_fd(*s, sv[0]);
	SSL_set_fd(*c, sv[1]);
	handshake_pair(*c, *s);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* n rounds of: client writes size bytes, server reads all of them. */
static void exchange(SSL *c, SSL *s, const char *buf, char *in, size_t size, long n)
{
	for (long i = 0; i < n; i++) {
		size_t got = 0;

		if (SSL_write(c, buf, size) != (int)size)
			die("write");
		tls_calls++;
		while (got < size) {
			int r = SSL_read(s, in + got, size - got);

			if (r <= 0)
				die("read");
			got += r;
			tls_calls++;
		}
	}
}

static int bench(size_t size, long iters)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx();
	SSL *s, *c;
	char *buf = malloc(size), *in = malloc(size);
	uint64_t t0, t1, c0, c1;

	connected_pair(sctx, cctx, &c, &s);
	memset(buf, 'a', size);
	/* Warm up caches and the kernel's probe state before timing. */
	exchange(c, s, buf, in, size, iters / 10 + 1);
	t0 = now_ns();
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	exchange(c, s, buf, in, size, iters);
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now_ns();
	printf("ns_per_iter %.1f\ntls_calls %ld\ncpu_ns_per_iter %.1f\n", (double)(t1 - t0) / iters,
	       tls_calls, (double)(c1 - c0) / iters);
	/* Freed, so that a LeakSanitizer build (make check SANITIZE=1) finds nothing. */
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	free(buf);
	free(in);
	return 0;
}

/* xorshift64*: reproducible bytes, every value 0..255 appears. */
static uint64_t rng_state;

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rng_state ^= rng_state >> 12;
		rng_state ^= rng_state << 25;
		rng_state ^= rng_state >> 27;
		p[i] = (rng_state * 2685821657736338717ULL) >> 56;
	}
}

static void hex(const unsigned char *md, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static int stream(size_t wsize, size_t total, uint64_t seed)
{
	int sv[2], status;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		/* Server: read everything, hash it, report. */
		SSL_CTX *ctx = server_ctx();
		SSL *s = SSL_new(ctx);
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned char buf[16384], d[32];
		char h[65];
		size_t got = 0;

		close(sv[1]);
		SSL_set_fd(s, sv[0]);
		if (SSL_accept(s) != 1)
			die("server accept");
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while (got < total) {
			int r = SSL_read(s, buf, sizeof(buf));

			if (r <= 0)
				die("server read");
			EVP_DigestUpdate(md, buf, r);
			got += r;
		}
		EVP_DigestFinal_ex(md, d, NULL);
		hex(d, h);
		printf("server_pid %d\nreceived_sha256 %s\n", getpid(), h);
		fflush(stdout);
		SSL_write(s, "k", 1); /* tell the client we are done */
		_exit(0);
	}
	close(sv[0]);
	{
		SSL_CTX *ctx = client_ctx();
		SSL *c = SSL_new(ctx);
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned char *buf = malloc(wsize), d[32];
		char h[65], ack;
		size_t sent = 0;

		rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
		SSL_set_fd(c, sv[1]);
		if (SSL_connect(c) != 1)
			die("client connect");
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while (sent < total) {
			size_t n = total - sent < wsize ? total - sent : wsize;

			fill_random(buf, n);
			EVP_DigestUpdate(md, buf, n);
			if (SSL_write(c, buf, n) != (int)n)
				die("client write");
			sent += n;
		}
		EVP_DigestFinal_ex(md, d, NULL);
		hex(d, h);
		SSL_read(c, &ack, 1);
		waitpid(child, &status, 0);
		printf("client_pid %d\nsent_sha256 %s\n", getpid(), h);
		EVP_MD_CTX_free(md);
		SSL_free(c);
		SSL_CTX_free(ctx);
		free(buf);
	}
	return 0;
}

static int hold(void)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx();
	SSL *s, *c;
	char buf[64];

	connected_pair(sctx, cctx, &c, &s);
	printf("pid %d tid %ld\n", getpid(), (long)syscall(SYS_gettid));
	fflush(stdout);
	SSL_read(c, buf, sizeof(buf)); /* never returns: nobody writes */
	return 0;
}

/* A long-lived TLS user: one short exchange every PERIOD ms, forever. */
static int idle(long period_ms)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx();
	SSL *s, *c;
	char buf[8];
	struct timespec ts = { period_ms / 1000, period_ms % 1000 * 1000000 };

	connected_pair(sctx, cctx, &c, &s);
	printf("pid %d\n", getpid());
	while (SSL_write(c, "ping", 4) == 4 && SSL_read(s, buf, sizeof(buf)) == 4)
		nanosleep(&ts, NULL);
	die("idle exchange");
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "bench"))
		return bench(strtoul(argv[2], NULL, 0), strtol(argv[3], NULL, 0));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "stream"))
		return stream(strtoul(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
			      argc == 5 ? strtoull(argv[4], NULL, 0) : 0);
	if (argc == 2 && !strcmp(argv[1], "hold"))
		return hold();
	if (argc == 3 && !strcmp(argv[1], "idle"))
		return idle(strtol(argv[2], NULL, 0));
	fprintf(stderr,
		"usage: tls_loop bench SIZE ITERS | stream WRITE_SIZE TOTAL [SEED] | hold | "
		"idle PERIOD_MS\n");
	return 2;
}
