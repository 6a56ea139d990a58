/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Audit trail: every capture's start and stop, with who ran it, which
 * gadget, its filters and the files it writes, to syslog (LOG_AUTHPRIV) or
 * to a file (--audit-log FILE).  Captured plaintext is sensitive; this
 * records that someone looked.
 *
 * The runtime calls audit_start() once the command line is parsed and
 * audit_stop() when the session ends; gadgets that write files of their own
 * name them with audit_add_output() before the start record is written (in
 * parse_option or open).  Calls are idempotent: a second start is ignored.
 */
#ifndef LOUPE_AUDIT_H
#define LOUPE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Write records to path (appended, created 0600) instead of syslog. */
int audit_set_log(const char *path);

/* A file the session writes (role: "events", "pcap", ...). */
void audit_add_output(const char *role, const char *path);

/* How many files were named with audit_add_output(). */
int audit_nr_outputs(void);

/* The files are encrypted to these recipients ("CN=x sha256:.."): both records say so. */
void audit_set_encrypted_to(const char *desc);

/*
 * The session starts: filters are the filter options as the user typed them
 * (the command-line parser collects them), argv the `trace` command line
 * (argv[0] the gadget name) for the record.  Returns 0, or -errno when the
 * record could not be written: the caller must then refuse to capture.
 */
int audit_start(const char *gadget, const char *filters, int argc, char **argv);

/* A start record was written and no stop yet. */
bool audit_started(void);

/*
 * The session ends; status is the exit status.  The record names the files
 * written (sink.h: first..last, how many, how many --rotate-keep removed).
 */
void audit_stop(int status, uint64_t events, uint64_t bytes, double seconds);

/* Escape a string for an audit record (exposed for unit tests); returns dst. */
char *audit_quote(char *dst, size_t dstlen, const char *src);

#endif /* LOUPE_AUDIT_H */
