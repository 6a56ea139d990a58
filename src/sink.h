/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sinks: where captures go at rest.  One writer for every file loupe writes
 * (--output-file, --pcap): created 0600 without following links or writing
 * into an existing file, rotated by size between records (--rotate-size,
 * --rotate-keep), optionally encrypted to the holders of certificates as
 * CMS EnvelopedData (--encrypt-to), streamed: no plaintext on disk.
 *
 * Names: without --rotate-size the file is FILE (an existing regular file
 * there is replaced by rename, never truncated; a symbolic link is refused).
 * With it, FILE.<UTC time the file began>.<N>, N = 000001, 000002... in this
 * run: names that sort in order and are never reused; a name that exists
 * already is skipped.
 *
 * A writer gives bytes with sink_write() and says where a record ends:
 * sink_commit() after it (rows, size known afterwards) or sink_reserve()
 * before it (packets, size known before).  A file is only changed between
 * records, so that no record is split; --rotate-size counts content bytes
 * (before encryption), and a file exceeds it only by holding one record
 * bigger than the limit.
 */
#ifndef LOUPE_SINK_H
#define LOUPE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SINK_MAX_RECIPIENTS 8

/* What the command line asked of every sink (struct trace_args holds it). */
struct sink_opts {
	uint64_t rotate_size;			     /* 0: one file */
	unsigned int rotate_keep;		     /* 0: keep every file */
	const char *encrypt_to[SINK_MAX_RECIPIENTS]; /* certificate files */
	int nr_encrypt_to;
	void *recipients;	   /* STACK_OF(X509), after sink_opts_load() */
	char recipients_desc[512]; /* "CN=a sha256:ab..", for the audit trail */
};

struct sink;

/* Read the --encrypt-to certificates; -EINVAL with the reason in err. */
int sink_opts_load(struct sink_opts *o, char *err, size_t errlen);
void sink_opts_free(struct sink_opts *o);

/*
 * Open the first file of path (o may be NULL: one plain file); role names
 * it in the audit trail ("events", "pcap").  0, or -errno with the reason
 * in err.
 */
int sink_open(struct sink **out, const char *path, const char *role, const struct sink_opts *o,
	      char *err, size_t errlen);
/* A descriptor already open (tests, fuzzing): no rotation, no encryption; closed at the end. */
struct sink *sink_fdopen(int fd);

/* Bytes of the record being written. */
void sink_write(struct sink *sk, const void *buf, size_t len);
/* The record written since the last commit ends here. */
void sink_commit(struct sink *sk);
/* A record of len bytes follows (what was written before is committed). */
void sink_reserve(struct sink *sk, size_t len);
/*
 * fn writes the header every file starts with (a pcap's file header); it is
 * called at once for the current file if nothing is in it yet, and for each
 * new one.  What fn writes is the file's, never part of a record.
 */
void sink_on_new_file(struct sink *sk, void (*fn)(void *arg), void *arg);

/* A stdio stream into the sink; sink_row_end(sk) ends a record written through it. */
FILE *sink_stream(struct sink *sk);
void sink_row_end(void *sk);

/* Write what is complete to the file: 0, or the sink's sticky -errno. */
int sink_flush(struct sink *sk);
/* Every open sink; the first error's message in err. */
int sinks_flush(char *err, size_t errlen);
/* The first error that stuck to this sink, as a sentence, or NULL. */
const char *sink_error(const struct sink *sk);
/* Finish the file (the CMS trailer), close, free: 0 or -errno. */
int sink_close(struct sink *sk);

/* "events:FIRST..LAST(N files,M removed) pcap:..." of every open sink with a role. */
void sinks_describe(char *buf, size_t len);
/* The recipients of the first encrypting sink, or NULL. */
const char *sinks_encrypted_to(void);

#endif /* LOUPE_SINK_H */
