// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the sink (src/sink.c): rotation between records and only
 * there, the names, --rotate-keep, files that exist already, headers of new
 * files, and CMS encryption decrypted back with libcrypto's CMS_decrypt().
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>

#include "sink.h"

static char dir[] = "/tmp/loupe-test-sink-XXXXXX";

struct file {
	char name[256];
	char *data;
	size_t len;
	mode_t mode;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

/* The files of dir whose names start with prefix, sorted by name (that is, in order). */
static int read_files(const char *prefix, struct file *out, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512];
		struct stat st;
		FILE *fp;

		if (strncmp(e->d_name, prefix, strlen(prefix)) || n == max)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		snprintf(out[n].name, sizeof(out[n].name), "%s", e->d_name);
		out[n].mode = st.st_mode;
		out[n].len = S_ISLNK(st.st_mode) ? 0 : st.st_size;
		out[n].data = malloc(out[n].len + 1);
		if (S_ISLNK(st.st_mode)) { /* planted: not followed */
			n++;
			continue;
		}
		fp = fopen(path, "rb");
		assert_non_null(fp);
		assert_int_equal(fread(out[n].data, 1, st.st_size, fp), st.st_size);
		fclose(fp);
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), cmp_names);
	return n;
}

static void free_files(struct file *f, int n)
{
	for (int i = 0; i < n; i++)
		free(f[i].data);
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Rows of 10..59 bytes, committed one by one: files of at most 100 bytes, nothing split. */
static void test_rotation_by_rows(void **state)
{
	struct sink_opts o = { .rotate_size = 100 };
	struct file f[64];
	char path[512], err[256], all[4096], got[4096];
	size_t total = 0, gl = 0;
	struct sink *sk;
	int n;

	path_of(path, sizeof(path), "rows.json");
	assert_int_equal(sink_open(&sk, path, "events", &o, err, sizeof(err)), 0);
	for (int i = 0; i < 40; i++) {
		char row[64];
		int len = 10 + (i * 7) % 50;

		memset(row, 'a' + i % 26, len - 1);
		row[len - 1] = '\n';
		/* In two writes: a record is what lies between commits. */
		sink_write(sk, row, 3);
		sink_write(sk, row + 3, len - 3);
		sink_commit(sk);
		memcpy(all + total, row, len);
		total += len;
	}
	assert_int_equal(sink_close(sk), 0);

	n = read_files("rows.json.", f, 64);
	assert_true((size_t)n > total / 100);
	for (int i = 0; i < n; i++) {
		unsigned int seq;
		char ts[32];

		/* rows.json.<YYYYmmddTHHMMSSZ>.<NNNNNN>, numbered from 1 in order */
		assert_int_equal(sscanf(f[i].name, "rows.json.%16[0-9TZ].%6u", ts, &seq), 2);
		assert_int_equal(strlen(ts), 16);
		assert_int_equal(seq, i + 1);
		assert_int_equal(f[i].mode & 0777, 0600);
		assert_true(f[i].len <= 100);
		assert_true(f[i].len > 0 && f[i].data[f[i].len - 1] == '\n');
		memcpy(got + gl, f[i].data, f[i].len);
		gl += f[i].len;
	}
	assert_int_equal(gl, total);
	assert_memory_equal(got, all, total);
	free_files(f, n);
}

/* A record bigger than the limit gets a file of its own; --rotate-keep drops the oldest. */
static void test_big_record_and_keep(void **state)
{
	struct sink_opts o = { .rotate_size = 100, .rotate_keep = 2 };
	static char big[1000];
	struct file f[16];
	char path[512], err[256], desc[1024];
	struct sink *sk;
	int n;

	memset(big, 'B', sizeof(big));
	path_of(path, sizeof(path), "keep.json");
	assert_int_equal(sink_open(&sk, path, "events", &o, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++) {
		sink_write(sk, "small\n", 6);
		sink_commit(sk);
		sink_write(sk, big, sizeof(big));
		sink_commit(sk);
	}
	sinks_describe(desc, sizeof(desc));
	/* Files: small | big | small | big ... : 10 made, 8 removed. */
	assert_non_null(strstr(desc, "(10 files,8 removed)"));
	assert_int_equal(sink_close(sk), 0);
	n = read_files("keep.json.", f, 16);
	assert_int_equal(n, 2);
	assert_int_equal(f[0].len, 6);
	assert_int_equal(f[1].len, sizeof(big));
	assert_non_null(strstr(f[1].name, ".000010"));
	free_files(f, n);
}

static void header(void *arg)
{
	sink_write(arg, "HDR\n", 4);
}

/* Reserved records (packets): each file starts with its header, which counts in its size. */
static void test_reserve_and_header(void **state)
{
	struct sink_opts o = { .rotate_size = 24 };
	struct file f[16];
	char path[512], err[256];
	struct sink *sk;
	int n;

	path_of(path, sizeof(path), "pkts");
	assert_int_equal(sink_open(&sk, path, NULL, &o, err, sizeof(err)), 0);
	sink_on_new_file(sk, header, sk);
	for (int i = 0; i < 6; i++) {
		sink_reserve(sk, 10);
		sink_write(sk, "pkt-", 4);
		sink_write(sk, "12345\n", 6);
	}
	assert_int_equal(sink_close(sk), 0);
	n = read_files("pkts.", f, 16);
	/* 4 + 10 + 10 = 24 fits: two records a file. */
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		assert_int_equal(f[i].len, 24);
		assert_memory_equal(f[i].data, "HDR\npkt-12345\npkt-12345\n", 24);
	}
	free_files(f, n);
}

/*
 * Without rotation: an existing file is replaced, never written into (a hard
 * link to it keeps its bytes); a symbolic link is refused and its target left alone.
 */
static void test_existing_and_links(void **state)
{
	char path[512], link2[512], target[512], err[256];
	struct stat st, st2;
	struct file f[4];
	struct sink *sk;
	FILE *fp;
	int n;

	path_of(path, sizeof(path), "plain");
	path_of(link2, sizeof(link2), "other-name");
	fp = fopen(path, "w");
	fputs("old bytes", fp);
	fclose(fp);
	chmod(path, 0644);
	assert_int_equal(link(path, link2), 0);
	assert_int_equal(sink_open(&sk, path, NULL, NULL, err, sizeof(err)), 0);
	sink_write(sk, "new", 3);
	sink_commit(sk);
	assert_int_equal(sink_close(sk), 0);
	n = read_files("plain", f, 4);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].len, 3);
	assert_int_equal(f[0].mode & 0777, 0600);
	free_files(f, n);
	n = read_files("other-name", f, 4);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].len, 9); /* "old bytes", untouched */
	free_files(f, n);

	path_of(target, sizeof(target), "victim");
	fp = fopen(target, "w");
	fputs("precious", fp);
	fclose(fp);
	path_of(path, sizeof(path), "planted");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(sink_open(&sk, path, NULL, NULL, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	n = read_files("victim", f, 4);
	assert_int_equal(f[0].len, 8);
	free_files(f, n);

	/* A link to a device holds nothing at rest: written through, its mode untouched. */
	path_of(path, sizeof(path), "to-null");
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_int_equal(sink_open(&sk, path, NULL, NULL, err, sizeof(err)), 0);
	sink_write(sk, "gone", 4);
	sink_commit(sk);
	assert_int_equal(sink_close(sk), 0);
	assert_int_equal(stat("/dev/null", &st2), 0);
	assert_int_equal(st2.st_mode, st.st_mode);
}

/* A rotated name that exists (a file, a link) is skipped, not opened. */
static void test_rotated_name_taken(void **state)
{
	struct sink_opts o = { .rotate_size = 10 };
	char path[512], err[256], planted[600];
	struct file f[8];
	struct sink *sk;
	int n, links = 0;

	path_of(path, sizeof(path), "taken");
	/* Plant links at every name of the next few seconds' first file. */
	for (int s = 0; s < 3; s++) {
		time_t t = time(NULL) + s;
		struct tm tm;
		char ts[32];

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(planted, sizeof(planted), "%s.%s.000001", path, ts);
		assert_int_equal(symlink("/nonexistent-loupe-target", planted), 0);
	}
	assert_int_equal(sink_open(&sk, path, NULL, &o, err, sizeof(err)), 0);
	sink_write(sk, "data\n", 5);
	sink_commit(sk);
	assert_int_equal(sink_close(sk), 0);
	n = read_files("taken.", f, 8);
	for (int i = 0; i < n; i++) {
		if (S_ISLNK(f[i].mode)) {
			links++;
			continue;
		}
		assert_non_null(strstr(f[i].name, ".000002"));
		assert_int_equal(f[i].len, 5);
	}
	assert_int_equal(links, 3);
	assert_int_equal(n, 4);
	free_files(f, n);
	assert_int_equal(access("/nonexistent-loupe-target", F_OK), -1);
}

static char *decrypt(const struct file *f, const char *cert, const char *key, size_t *len)
{
	BIO *in = BIO_new_mem_buf(f->data, f->len), *out = BIO_new(BIO_s_mem());
	BIO *cb = BIO_new_file(cert, "r"), *kb = BIO_new_file(key, "r");
	X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	CMS_ContentInfo *cms = d2i_CMS_bio(in, NULL);
	char *p, *ret = NULL;
	long n;

	assert_non_null(x);
	assert_non_null(pk);
	assert_non_null(cms);
	assert_int_equal(CMS_decrypt(cms, pk, x, NULL, out, CMS_BINARY), 1);
	n = BIO_get_mem_data(out, &p);
	ret = malloc(n + 1);
	memcpy(ret, p, n);
	*len = n;
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(in);
	BIO_free(out);
	BIO_free(cb);
	BIO_free(kb);
	return ret;
}

/* Encrypted and rotated: each file its own CMS message, no plaintext in any of them. */
static void test_encrypted(void **state)
{
	struct sink_opts o = { .rotate_size = 4096 };
	char path[512], err[256], cert[512], key[512], cmd[2048], got[32768];
	static char rows[20000];
	struct file f[16];
	struct sink *sk;
	size_t gl = 0;
	int n;

	path_of(cert, sizeof(cert), "cert.pem");
	path_of(key, sizeof(key), "key.pem");
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
		 "-subj /CN=sink-test 2>/dev/null",
		 key, cert);
	assert_int_equal(system(cmd), 0);
	o.encrypt_to[o.nr_encrypt_to++] = cert;
	assert_int_equal(sink_opts_load(&o, err, sizeof(err)), 0);
	assert_non_null(strstr(o.recipients_desc, "CN=sink-test sha256:"));

	for (size_t i = 0; i < sizeof(rows); i++)
		rows[i] = (i % 100 == 99) ? '\n' : "SECRETMARKER"[i % 12];
	path_of(path, sizeof(path), "enc.json");
	assert_int_equal(sink_open(&sk, path, "events", &o, err, sizeof(err)), 0);
	assert_string_equal(sinks_encrypted_to(), o.recipients_desc);
	for (int i = 0; i < 200; i++) {
		sink_write(sk, rows + i * 100, 100);
		sink_commit(sk);
	}
	assert_int_equal(sink_close(sk), 0);
	n = read_files("enc.json.", f, 16);
	assert_int_equal(n, 5); /* 40 rows of 100 bytes in 4096 */
	for (int i = 0; i < n; i++) {
		size_t len;
		char *plain;

		assert_null(memmem(f[i].data, f[i].len, "SECRETMARKER", 12));
		plain = decrypt(&f[i], cert, key, &len);
		assert_int_equal(len, 4000);
		memcpy(got + gl, plain, len);
		gl += len;
		free(plain);
	}
	assert_int_equal(gl, sizeof(rows));
	assert_memory_equal(got, rows, sizeof(rows));
	free_files(f, n);
	sink_opts_free(&o);
}

static void test_bad_certificates(void **state)
{
	struct sink_opts o = {};
	char err[256], key[512], crt[520], cmd[1200];

	o.encrypt_to[o.nr_encrypt_to++] = "/nonexistent/cert.pem";
	assert_int_equal(sink_opts_load(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/cert.pem: No such file"));
	/* A key is not a certificate. */
	path_of(key, sizeof(key), "ed.pem");
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s 2>/dev/null", key);
	assert_int_equal(system(cmd), 0);
	o.encrypt_to[0] = key;
	assert_int_equal(sink_opts_load(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an X.509 certificate"));
	/* An Ed25519 certificate: signing only, no key transport or agreement. */
	snprintf(crt, sizeof(crt), "%s.crt", key);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -key %s -out %s -days 1 -subj /CN=ed 2>/dev/null", key, crt);
	assert_int_equal(system(cmd), 0);
	o.encrypt_to[0] = crt;
	assert_int_equal(sink_opts_load(&o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ED25519"));
	assert_null(o.recipients);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_by_rows),
		cmocka_unit_test(test_big_record_and_keep),
		cmocka_unit_test(test_reserve_and_header),
		cmocka_unit_test(test_existing_and_links),
		cmocka_unit_test(test_rotated_name_taken),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_bad_certificates),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
