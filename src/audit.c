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
#include <pwd.h>
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

#define MAX_OUTPUTS 16
#define REC_LEN 8192

static struct {
	bool started;
	char *log_path;
	FILE *log;
	char session[17];
	int nr_outputs;
	char *outputs[MAX_OUTPUTS];
} audit;

/* Options whose values are filters, and options that name files written. */
static const char *const filter_opts[] = { "--pid",	      "--tid",	"--uid",
					   "--gid",	      "--comm", "--mntns",
					   "--container-pid", "--port", NULL };
static const struct {
	const char *opt, *role;
} file_opts[] = {
	{ "--output-file", "events" },
	{ "--pcap", "pcap" },
	{ NULL, NULL },
};

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

/* /proc/self/cmdline as an argv (the strings live in *store). */
static int self_argv(char ***argvp, char **store)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC), argc = 0;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), **argv;
	ssize_t n;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return -1;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 >= cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		argc += buf[i] == '\0';
	argv = calloc(argc + 1, sizeof(*argv));
	if (!argv) {
		free(buf);
		return -1;
	}
	for (size_t i = 0, a = 0; i < len && (int)a < argc; i += strlen(buf + i) + 1)
		argv[a++] = buf + i;
	*argvp = argv;
	*store = buf;
	return argc;
}

int audit_start(const char *gadget, int argc, char **argv)
{
	char rec[REC_LEN], filters[2048] = "", outputs[4096] = "", cmdline[4096] = "loupe trace";
	char **own = NULL, *store = NULL, loginuid[16] = "", buf[64];
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;
	uint8_t rnd[8] = {};
	int fd, err = 0;

	if (audit.started)
		return 0;
	if (!argv) {
		int n = self_argv(&own, &store);

		argc = 0;
		argv = own;
		/* Skip "loupe trace": argv[0] becomes the gadget name. */
		for (int i = 0; i < n; i++) {
			if (!strcmp(own[i], gadget)) {
				argv = own + i;
				argc = n - i;
				break;
			}
		}
	}
	for (int i = 0; i < argc; i++) {
		str_add(cmdline, sizeof(cmdline), argv[i]);
		if (i == 0)
			continue;
		for (int k = 0; filter_opts[k]; k++) {
			size_t l = strlen(filter_opts[k]);

			if (!strncmp(argv[i], filter_opts[k], l) &&
			    (argv[i][l] == '=' || (!argv[i][l] && i + 1 < argc))) {
				str_add(filters, sizeof(filters), argv[i]);
				if (!argv[i][l])
					str_add(filters, sizeof(filters), argv[i + 1]);
			}
		}
		for (int k = 0; file_opts[k].opt; k++) {
			size_t l = strlen(file_opts[k].opt);

			if (!strncmp(argv[i], file_opts[k].opt, l) && argv[i][l] == '=')
				audit_add_output(file_opts[k].role, argv[i] + l + 1);
			else if (!strcmp(argv[i], file_opts[k].opt) && i + 1 < argc)
				audit_add_output(file_opts[k].role, argv[i + 1]);
		}
		if (!strncmp(argv[i], "--audit-log=", 12))
			audit_set_log(argv[i] + 12);
		else if (!strcmp(argv[i], "--audit-log") && i + 1 < argc)
			audit_set_log(argv[i + 1]);
	}
	free(own);
	free(store);

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
	pw = getpwuid(getuid());
	rec_add(rec, "user", pw ? pw->pw_name : "?");
	/* 4294967295: no login session (a daemon, or a kernel without audit). */
	if (loginuid[0] && strcmp(loginuid, "4294967295")) {
		rec_add(rec, "loginuid", loginuid);
		pw = getpwuid(strtoul(loginuid, NULL, 10));
		if (pw)
			rec_add(rec, "login", pw->pw_name);
	}
	if (sudo)
		rec_add(rec, "sudo_user", sudo);
	rec_add(rec, "gadget", gadget);
	rec_add(rec, "filters", filters[0] ? filters : "none");
	rec_add(rec, "outputs", outputs[0] ? outputs : "stdout");
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
	char rec[512];

	if (!audit.started)
		return;
	snprintf(rec, sizeof(rec),
		 "audit: event=stop session=%s pid=%d status=%d duration_s=%.3f events=%llu "
		 "bytes=%llu",
		 audit.session, getpid(), status, seconds, (unsigned long long)events,
		 (unsigned long long)bytes);
	emit(rec);
	audit.started = false;
	if (audit.log) {
		fclose(audit.log);
		audit.log = NULL;
	}
	for (int i = 0; i < audit.nr_outputs; i++)
		free(audit.outputs[i]);
	audit.nr_outputs = 0;
}
