// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit records for capture sessions (see audit.h).  One line per event,
 * key=value pairs, values quoted when they need it:
 *   loupe audit: event=start session=5f0c... pid=812 uid=0 user=root
 *     loginuid=1000 login=alice sudo_user=alice gadget=ssl filters="--comm curl"
 *     outputs="pcap:/tmp/x.pcap" cmdline="loupe trace ssl --comm curl --pcap /tmp/x.pcap"
 *   loupe audit: event=stop session=5f0c... status=0 duration_s=3.021 events=12 bytes=4410
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "audit.h"
#include "passwd.h"
#include "sink.h"

#define MAX_OUTPUTS 16
#define REC_LEN 8192

static struct {
	bool started;
	char *log_path;
	FILE *log;
	char session[17];
	int nr_outputs;
	char *outputs[MAX_OUTPUTS];
	char *encrypted_to;
} audit;

char *audit_quote(char *dst, size_t dstlen, const char *src)
{
	bool plain = *src != '\0';
	size_t o = 0;

	for (const char *p = src; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' ||
		    (unsigned char)*p >= 0x7f)
			plain = false;
	if (plain) {
		snprintf(dst, dstlen, "%s", src);
		return dst;
	}
	if (dstlen < 3) {
		if (dstlen)
			dst[0] = '\0';
		return dst;
	}
	dst[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		size_t need = *p == '"' || *p == '\\' ? 2 : *p < ' ' || *p >= 0x7f ? 4 : 1;

		/* Room for this character, the closing quote and the NUL. */
		if (o + need + 2 > dstlen)
			break;
		if (*p == '"' || *p == '\\') {
			dst[o++] = '\\';
			dst[o++] = *p;
		} else if (*p < ' ' || *p >= 0x7f) {
			o += snprintf(dst + o, dstlen - o, "\\x%02x", *p);
		} else {
			dst[o++] = *p;
		}
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

int audit_set_log(const char *path)
{
	free(audit.log_path);
	audit.log_path = strdup(path);
	return audit.log_path ? 0 : -ENOMEM;
}

void audit_add_output(const char *role, const char *path)
{
	char *s;

	if (audit.nr_outputs >= MAX_OUTPUTS)
		return;
	for (int i = 0; i < audit.nr_outputs; i++) {
		size_t rl = strlen(role);

		if (!strncmp(audit.outputs[i], role, rl) && audit.outputs[i][rl] == ':' &&
		    !strcmp(audit.outputs[i] + rl + 1, path))
			return;
	}
	if (asprintf(&s, "%s:%s", role, path) >= 0)
		audit.outputs[audit.nr_outputs++] = s;
}

int audit_nr_outputs(void)
{
	return audit.nr_outputs;
}

void audit_set_encrypted_to(const char *desc)
{
	free(audit.encrypted_to);
	audit.encrypted_to = desc ? strdup(desc) : NULL;
}

static void emit(const char *rec)
{
	if (audit.log) {
		char ts[64], host[256] = "";
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		gethostname(host, sizeof(host) - 1);
		fprintf(audit.log, "%s %s loupe[%d]: %s\n", ts, host, getpid(), rec);
		fflush(audit.log);
		fsync(fileno(audit.log));
		return;
	}
	openlog("loupe", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", rec);
	closelog();
}

/* Append " key=value" to rec, quoted as needed. */
static void rec_add(char *rec, const char *key, const char *val)
{
	size_t len = strlen(rec);
	char q[4096];

	snprintf(rec + len, REC_LEN - len, " %s=%s", key, audit_quote(q, sizeof(q), val));
}

static void str_add(char *buf, size_t cap, const char *s)
{
	size_t len = strlen(buf);

	snprintf(buf + len, cap - len, "%s%s", len ? " " : "", s);
}

int audit_start(const char *gadget, const char *filters, int argc, char **argv)
{
	char rec[REC_LEN], outputs[4096] = "", cmdline[4096] = "loupe trace";
	char loginuid[16] = "", buf[64];
	const char *sudo = getenv("SUDO_USER");
	char name[256];
	uint8_t rnd[8] = {};
	int fd, err = 0;

	if (audit.started)
		return 0;
	for (int i = 0; argv && i < argc; i++)
		str_add(cmdline, sizeof(cmdline), argv[i]);

	if (audit.log_path && !audit.log) {
		fd = open(audit.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || !(audit.log = fdopen(fd, "a"))) {
			err = -errno;
			if (fd >= 0)
				close(fd);
			return err;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memcpy(rnd, &(uint64_t){ (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 }, 8);
	for (int i = 0; i < 8; i++)
		sprintf(audit.session + 2 * i, "%02x", rnd[i]);
	for (int i = 0; i < audit.nr_outputs; i++)
		str_add(outputs, sizeof(outputs), audit.outputs[i]);

	fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, loginuid, sizeof(loginuid) - 1);

		loginuid[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	snprintf(rec, sizeof(rec), "audit: event=start session=%s pid=%d", audit.session, getpid());
	snprintf(buf, sizeof(buf), "%u", getuid());
	rec_add(rec, "uid", buf);
	rec_add(rec, "user", id_name(ID_USER, getuid(), name, sizeof(name)) ? "?" : name);
	/* 4294967295: no login session (a daemon, or a kernel without audit). */
	if (loginuid[0] && strcmp(loginuid, "4294967295")) {
		rec_add(rec, "loginuid", loginuid);
		if (!id_name(ID_USER, strtoul(loginuid, NULL, 10), name, sizeof(name)))
			rec_add(rec, "login", name);
	}
	if (sudo)
		rec_add(rec, "sudo_user", sudo);
	rec_add(rec, "gadget", gadget);
	rec_add(rec, "filters", filters && filters[0] ? filters : "none");
	rec_add(rec, "outputs", outputs[0] ? outputs : "stdout");
	if (audit.encrypted_to)
		rec_add(rec, "encrypted_to", audit.encrypted_to);
	rec_add(rec, "cmdline", cmdline);
	audit.started = true;
	emit(rec);
	if (audit.log && ferror(audit.log))
		return -EIO;
	return 0;
}

bool audit_started(void)
{
	return audit.started;
}

void audit_stop(int status, uint64_t events, uint64_t bytes, double seconds)
{
	char rec[REC_LEN], files[4096];

	if (!audit.started)
		return;
	snprintf(rec, sizeof(rec),
		 "audit: event=stop session=%s pid=%d status=%d duration_s=%.3f events=%llu "
		 "bytes=%llu",
		 audit.session, getpid(), status, seconds, (unsigned long long)events,
		 (unsigned long long)bytes);
	/* Where the captures went: rotated names, and who can decrypt them. */
	sinks_describe(files, sizeof(files));
	if (files[0])
		rec_add(rec, "files", files);
	if (audit.encrypted_to)
		rec_add(rec, "encrypted_to", audit.encrypted_to);
	emit(rec);
	audit.started = false;
	if (audit.log) {
		fclose(audit.log);
		audit.log = NULL;
	}
	for (int i = 0; i < audit.nr_outputs; i++)
		free(audit.outputs[i]);
	audit.nr_outputs = 0;
	audit_set_encrypted_to(NULL);
}
