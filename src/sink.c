// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files of captures (see sink.h).  Records are gathered in memory and
 * written when complete, so that a file ends between records; encryption is
 * libcrypto's streaming CMS: BIO_new_CMS() turns each write into AES-256-CBC
 * blocks inside an indefinite-length EnvelopedData, finished by BIO_flush().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sink.h"

#define FLUSH_AT (1u << 20) /* complete records kept in memory before a write */
#define NAME_TRIES 1000	    /* rotated names that exist already, skipped */

struct sink {
	struct sink *next; /* every open sink, for sinks_flush() */
	char *path, *role;
	const struct sink_opts *o; /* NULL: one plain file */
	int fd;
	BIO *fdbio, *bio; /* encrypting: the CMS chain, writing to fd */
	CMS_ContentInfo *cms;
	/* Bytes not written yet: [0, committed) complete records, then one being made. */
	char *buf;
	size_t len, committed, cap;
	char *hbuf; /* a new file's header, while on_new writes it */
	size_t hlen, hcap;
	bool in_header;
	uint64_t fsize;	  /* content of the current file: header and records given to it */
	uint64_t hsize;	  /* of which the header */
	unsigned int seq; /* rotated names used */
	unsigned int files;
	uint64_t removed;
	char *first, *cur;
	char **kept; /* --rotate-keep: our files still on disk, oldest first */
	unsigned int nr_kept;
	void (*on_new)(void *arg);
	void *arg;
	FILE *stream;
	int err;
	char errmsg[320];
};

static struct sink *open_sinks;

/* --- certificates ---------------------------------------------------------- */

static X509 *read_cert(const char *path, char *err, size_t errlen)
{
	BIO *in = BIO_new_file(path, "rb");
	X509 *x;

	if (!in) {
		snprintf(err, errlen, "--encrypt-to %s: %s", path, strerror(errno ? errno : EIO));
		return NULL;
	}
	x = PEM_read_bio_X509(in, NULL, NULL, NULL);
	if (!x) {
		(void)BIO_reset(in);
		x = d2i_X509_bio(in, NULL);
	}
	BIO_free(in);
	ERR_clear_error();
	if (!x)
		snprintf(err, errlen,
			 "--encrypt-to %s: not an X.509 certificate (PEM or DER); give the "
			 "recipient's certificate, not a key",
			 path);
	return x;
}

/* "CN=x sha256:..." for the audit trail: who can read these files. */
static void describe_cert(X509 *x, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char subj[256] = "", hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	BIO *mem = BIO_new(BIO_s_mem());
	size_t o;

	if (mem) {
		int l;

		X509_NAME_print_ex(mem, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
		l = BIO_read(mem, subj, sizeof(subj) - 1);
		subj[l > 0 ? l : 0] = '\0';
		BIO_free(mem);
	}
	if (X509_digest(x, EVP_sha256(), md, &n))
		for (unsigned int i = 0; i < n; i++)
			sprintf(hex + 2 * i, "%02x", md[i]);
	o = strlen(buf);
	snprintf(buf + o, len - o, "%s sha256:%s", subj, hex);
}

int sink_opts_load(struct sink_opts *o, char *err, size_t errlen)
{
	STACK_OF(X509) * certs;

	if (!o->nr_encrypt_to || o->recipients)
		return 0;
	/* No openssl.cnf: nothing that could load a module into a static binary. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	if (!(certs = sk_X509_new_null())) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->recipients_desc[0] = '\0';
	for (int i = 0; i < o->nr_encrypt_to; i++) {
		X509 *x = read_cert(o->encrypt_to[i], err, errlen);
		EVP_PKEY *pk;

		if (!x)
			goto bad;
		pk = X509_get0_pubkey(x);
		/* Key transport (RSA) or key agreement (EC): what CMS recipients can be. */
		if (!pk || !(EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "EC"))) {
			snprintf(err, errlen,
				 "--encrypt-to %s: the certificate's key is %s; encrypting needs "
				 "an RSA or EC key",
				 o->encrypt_to[i], pk ? EVP_PKEY_get0_type_name(pk) : "unreadable");
			X509_free(x);
			goto bad;
		}
		if (o->recipients_desc[0])
			strncat(o->recipients_desc, ", ",
				sizeof(o->recipients_desc) - strlen(o->recipients_desc) - 1);
		describe_cert(x, o->recipients_desc, sizeof(o->recipients_desc));
		sk_X509_push(certs, x);
	}
	o->recipients = certs;
	return 0;
bad:
	sk_X509_pop_free(certs, X509_free);
	o->recipients_desc[0] = '\0';
	return -EINVAL;
}

void sink_opts_free(struct sink_opts *o)
{
	if (o->recipients)
		sk_X509_pop_free(o->recipients, X509_free);
	o->recipients = NULL;
}

/* --- files ----------------------------------------------------------------- */

static void set_err(struct sink *sk, int err, const char *what)
{
	if (sk->err)
		return;
	sk->err = err;
	snprintf(sk->errmsg, sizeof(sk->errmsg), "%s %s: %s", what, sk->cur ? sk->cur : sk->path,
		 strerror(-err));
}

/*
 * A file that exists at a name without rotation: a regular file is replaced
 * by a new one renamed over it (a reader of the old one keeps its bytes); a
 * device or a pipe (/dev/null, /dev/stdout, a FIFO to a collector), which
 * keeps nothing at rest, is written to; a link to a file is refused.
 */
static int replace_file(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1, fd, err;
	const char *dir = slash ? path : ".", *base = slash ? slash + 1 : path;
	char *tmp = NULL;
	struct stat st;

	if (slash == path)
		dirlen = 0; /* "/x": the root */
	if (lstat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode)) {
		/* No O_TRUNC: opening a regular file the link was turned to changes nothing. */
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			close(fd);
			return -ELOOP; /* "Too many levels of symbolic links": not followed */
		}
		return fd;
	}
	if (asprintf(&tmp, "%.*s/.%s.loupe-XXXXXX", dirlen, dir, base) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, 0600 */
	if (fd < 0) {
		err = -errno;
	} else if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		close(fd);
	} else {
		err = fd;
	}
	free(tmp);
	return err;
}

/* The next file's name and descriptor; sets sk->cur. */
static int create_next(struct sink *sk)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	char *name = NULL, ts[32];
	time_t now = time(NULL);
	struct stat st;
	struct tm tm;
	int fd = -1;

	if (!sk->o || !sk->o->rotate_size) {
		if (!(name = strdup(sk->path)))
			return -ENOMEM;
		fd = open(name, flags, 0600);
		if (fd < 0 && errno == EEXIST)
			fd = replace_file(name);
		else if (fd < 0)
			fd = -errno;
	} else {
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		for (int i = 0; i < NAME_TRIES && fd < 0; i++) {
			free(name);
			if (asprintf(&name, "%s.%s.%06u", sk->path, ts, ++sk->seq) < 0)
				return -ENOMEM;
			fd = open(name, flags, 0600);
			if (fd < 0 && errno != EEXIST) {
				fd = -errno;
				break;
			}
		}
		if (fd == -1)
			fd = -EEXIST;
	}
	if (fd < 0) {
		free(name);
		return fd;
	}
	/*
	 * 0600 whatever the umask: captures are private.  A regular file only:
	 * the mode of a device (/dev/null) is everybody's.
	 */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && fchmod(fd, 0600)) {
		int err = -errno;

		close(fd);
		free(name);
		return err;
	}
	free(sk->cur);
	sk->cur = name;
	sk->fd = fd;
	return 0;
}

static int start_cms(struct sink *sk)
{
	sk->fdbio = BIO_new_fd(sk->fd, BIO_NOCLOSE);
	/* CMS_STREAM: only the structure now; the content flows through the BIO. */
	sk->cms = sk->fdbio ? CMS_encrypt(sk->o->recipients, NULL, EVP_aes_256_cbc(),
					  CMS_BINARY | CMS_STREAM)
			    : NULL;
	sk->bio = sk->cms ? BIO_new_CMS(sk->fdbio, sk->cms) : NULL;
	if (!sk->bio) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

static int file_write(struct sink *sk, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		size_t n = len < INT_MAX ? len : INT_MAX;
		ssize_t w;

		errno = 0;
		if (sk->bio) {
			w = BIO_write(sk->bio, p, (int)n);
			if (w <= 0) {
				ERR_clear_error();
				return errno ? -errno : -EIO;
			}
		} else {
			w = write(sk->fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
		}
		p += w;
		len -= w;
	}
	return 0;
}

/* The CMS trailer, then the descriptor. */
static int finish_file(struct sink *sk)
{
	int err = 0;

	if (sk->bio) {
		errno = 0;
		if (BIO_flush(sk->bio) <= 0)
			err = errno ? -errno : -EIO;
		/* Free the filters libcrypto pushed, down to our descriptor's BIO. */
		while (sk->bio && sk->bio != sk->fdbio) {
			BIO *next = BIO_pop(sk->bio);

			BIO_free(sk->bio);
			sk->bio = next;
		}
		ERR_clear_error();
	}
	BIO_free(sk->fdbio);
	CMS_ContentInfo_free(sk->cms);
	sk->bio = sk->fdbio = NULL;
	sk->cms = NULL;
	if (sk->fd >= 0 && close(sk->fd) && !err)
		err = -errno;
	sk->fd = -1;
	return err;
}

/* Start a file: create it, remember it, drop the oldest beyond --rotate-keep. */
static int open_file(struct sink *sk)
{
	int err = create_next(sk);

	if (err)
		return err;
	sk->files++;
	if (!sk->first && !(sk->first = strdup(sk->cur)))
		return -ENOMEM;
	if (sk->o && sk->o->recipients && (err = start_cms(sk)))
		return err;
	if (sk->o && sk->o->rotate_keep) {
		if (sk->nr_kept == sk->o->rotate_keep) {
			/* Ours, made with O_EXCL: nobody else's file is removed. */
			if (!unlink(sk->kept[0]) || errno == ENOENT)
				sk->removed++;
			free(sk->kept[0]);
			memmove(sk->kept, sk->kept + 1, --sk->nr_kept * sizeof(*sk->kept));
		}
		if (!(sk->kept[sk->nr_kept] = strdup(sk->cur)))
			return -ENOMEM;
		sk->nr_kept++;
	}
	sk->fsize = sk->hsize = 0;
	return 0;
}

static void write_header(struct sink *sk)
{
	int err;

	if (!sk->on_new)
		return;
	sk->hlen = 0;
	sk->in_header = true;
	sk->on_new(sk->arg);
	sk->in_header = false;
	if ((err = file_write(sk, sk->hbuf, sk->hlen)))
		set_err(sk, err, "cannot write");
	sk->fsize = sk->hsize = sk->hlen;
}

/* --- records --------------------------------------------------------------- */

static bool grow(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 4096;
	char *b;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	if (!(b = realloc(*buf, c)))
		return false;
	*buf = b;
	*cap = c;
	return true;
}

void sink_write(struct sink *sk, const void *data, size_t len)
{
	char **buf = sk->in_header ? &sk->hbuf : &sk->buf;
	size_t *blen = sk->in_header ? &sk->hlen : &sk->len;
	size_t *cap = sk->in_header ? &sk->hcap : &sk->cap;

	if (!len)
		return;
	if (!grow(buf, cap, *blen + len)) {
		set_err(sk, -ENOMEM, "out of memory writing");
		return;
	}
	memcpy(*buf + *blen, data, len);
	*blen += len;
}

/* Write the complete records out, keeping the one being made. */
static int write_committed(struct sink *sk)
{
	int err;

	if (!sk->committed || sk->err)
		return sk->err;
	if ((err = file_write(sk, sk->buf, sk->committed)))
		set_err(sk, err, "cannot write");
	memmove(sk->buf, sk->buf + sk->committed, sk->len - sk->committed);
	sk->len -= sk->committed;
	sk->committed = 0;
	return sk->err;
}

/* A new file if the current one holds records and next_len more would pass the limit. */
static void maybe_rotate(struct sink *sk, uint64_t next_len)
{
	int err;

	if (!sk->o || !sk->o->rotate_size || sk->fsize <= sk->hsize ||
	    sk->fsize + next_len <= sk->o->rotate_size || sk->err)
		return;
	if (write_committed(sk))
		return;
	if ((err = finish_file(sk))) {
		set_err(sk, err, "cannot finish");
		return;
	}
	if ((err = open_file(sk))) {
		set_err(sk, err, "cannot create the next file after");
		return;
	}
	write_header(sk);
}

static void commit(struct sink *sk, bool may_rotate)
{
	size_t rec = sk->len - sk->committed;

	if (!rec)
		return;
	if (may_rotate)
		maybe_rotate(sk, rec);
	sk->fsize += rec;
	sk->committed = sk->len;
	if (sk->committed >= FLUSH_AT)
		write_committed(sk);
}

void sink_commit(struct sink *sk)
{
	commit(sk, true);
}

void sink_reserve(struct sink *sk, size_t len)
{
	if (sk->in_header)
		return;
	commit(sk, false); /* the previous record was reserved already */
	if (len)
		maybe_rotate(sk, len);
}

void sink_on_new_file(struct sink *sk, void (*fn)(void *arg), void *arg)
{
	sk->on_new = fn;
	sk->arg = arg;
	if (!sk->fsize && !sk->len)
		write_header(sk);
}

static ssize_t cookie_write(void *cookie, const char *data, size_t len)
{
	sink_write(cookie, data, len);
	return len;
}

FILE *sink_stream(struct sink *sk)
{
	cookie_io_functions_t io = { .write = cookie_write };

	if (!sk->stream && (sk->stream = fopencookie(sk, "w", io)))
		setvbuf(sk->stream, NULL, _IOFBF, 64 << 10);
	return sk->stream;
}

void sink_row_end(void *arg)
{
	struct sink *sk = arg;

	fflush(sk->stream);
	commit(sk, true);
}

int sink_flush(struct sink *sk)
{
	if (sk->stream)
		fflush(sk->stream);
	commit(sk, false);
	return write_committed(sk);
}

int sinks_flush(char *err, size_t errlen)
{
	int first = 0;

	for (struct sink *sk = open_sinks; sk; sk = sk->next) {
		int e = sink_flush(sk);

		if (e && !first) {
			first = e;
			snprintf(err, errlen, "%s", sk->errmsg);
		}
	}
	return first;
}

const char *sink_error(const struct sink *sk)
{
	return sk->err ? sk->errmsg : NULL;
}

static struct sink *sink_new(void)
{
	struct sink *sk = calloc(1, sizeof(*sk));

	if (!sk)
		return NULL;
	sk->fd = -1;
	sk->next = open_sinks;
	open_sinks = sk;
	return sk;
}

static void sink_free(struct sink *sk)
{
	for (struct sink **p = &open_sinks; *p; p = &(*p)->next)
		if (*p == sk) {
			*p = sk->next;
			break;
		}
	for (unsigned int i = 0; i < sk->nr_kept; i++)
		free(sk->kept[i]);
	free(sk->kept);
	free(sk->buf);
	free(sk->hbuf);
	free(sk->first);
	free(sk->cur);
	free(sk->path);
	free(sk->role);
	free(sk);
}

int sink_open(struct sink **out, const char *path, const char *role, const struct sink_opts *o,
	      char *err, size_t errlen)
{
	struct sink *sk = sink_new();
	int e;

	*out = NULL;
	if (!sk || !(sk->path = strdup(path)) || (role && !(sk->role = strdup(role))) ||
	    (o && o->rotate_keep && !(sk->kept = calloc(o->rotate_keep, sizeof(char *))))) {
		snprintf(err, errlen, "out of memory");
		if (sk)
			sink_free(sk);
		return -ENOMEM;
	}
	sk->o = o;
	if ((e = open_file(sk))) {
		snprintf(err, errlen, "%s",
			 e == -ELOOP ? "it is a symbolic link to a file; loupe does not write "
				       "captures through links (remove it or name the file itself)"
			 : e == -EIO ? "cannot start the encrypted (CMS) message"
				     : strerror(-e));
		finish_file(sk);
		sink_free(sk);
		return e;
	}
	*out = sk;
	return 0;
}

struct sink *sink_fdopen(int fd)
{
	struct sink *sk = sink_new();

	if (!sk || !(sk->path = strdup("(descriptor)"))) {
		if (sk)
			sink_free(sk);
		return NULL;
	}
	sk->fd = fd;
	sk->files = 1;
	return sk;
}

int sink_close(struct sink *sk)
{
	int err;

	if (!sk)
		return 0;
	if (sk->stream)
		fclose(sk->stream);
	sk->stream = NULL;
	err = sink_flush(sk);
	if (sk->fd >= 0) {
		int e = finish_file(sk);

		if (!err && e) {
			set_err(sk, e, "cannot finish");
			err = e;
		}
	}
	sink_free(sk);
	return err;
}

void sinks_describe(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (struct sink *sk = open_sinks; sk && o < len; sk = sk->next) {
		if (!sk->role)
			continue;
		if (sk->files <= 1)
			o += snprintf(buf + o, len - o, "%s%s:%s", o ? " " : "", sk->role,
				      sk->first ? sk->first : sk->path);
		else
			o += snprintf(buf + o, len - o, "%s%s:%s..%s(%u files,%llu removed)",
				      o ? " " : "", sk->role, sk->first, sk->cur, sk->files,
				      (unsigned long long)sk->removed);
	}
}

const char *sinks_encrypted_to(void)
{
	for (struct sink *sk = open_sinks; sk; sk = sk->next)
		if (sk->o && sk->o->recipients)
			return sk->o->recipients_desc;
	return NULL;
}
