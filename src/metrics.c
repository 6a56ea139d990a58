// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus metrics (see metrics.h).  The main thread owns the families and
 * renders them into a buffer once a second; the server thread only copies
 * the last published buffer out under a mutex: no locking where events are
 * counted.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "metrics.h"

const double metric_latency_buckets[] = { 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2,
					  5e-2, 0.1,  0.5,  1,	  5,	10 };
const int metric_latency_nbuckets = sizeof(metric_latency_buckets) / sizeof(double);

struct series {
	char *values[METRIC_MAX_LABELS];
	double value;	  /* counter, or histogram sum */
	uint64_t count;	  /* histogram: observations */
	uint64_t *bucket; /* histogram: cumulative per bound, filled at render */
};

enum kind { COUNTER, HISTOGRAM };

struct metric {
	char *name, *help;
	enum kind kind;
	char *labels[METRIC_MAX_LABELS];
	int nlabels;
	const double *bounds;
	int nbounds;
	struct series *series;
	size_t nseries;
	struct metrics *owner;
	struct metric *next;
};

struct metrics {
	struct metric *families, *overflow;
	/* The server: the last render, and the listening socket. */
	pthread_mutex_t lock;
	char *page;
	size_t page_len;
	int listen_fd;
	pthread_t thread;
	bool serving;
	char address[NI_MAXHOST + NI_MAXSERV + 8];
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->listen_fd = -1;
	m->overflow = metrics_counter(m, "loupe_metrics_series_overflow_total",
				      "label combinations beyond the bound, counted as \"other\"",
				      "metric");
	return m;
}

static struct metric *family(struct metrics *m, const char *name, const char *help,
			     const char *labels, enum kind kind)
{
	struct metric *f = calloc(1, sizeof(*f)), **tail;
	char *list, *save = NULL, *tok;

	if (!f)
		return NULL;
	f->name = strdup(name);
	f->help = strdup(help);
	f->kind = kind;
	f->owner = m;
	list = strdup(labels ? labels : "");
	for (tok = strtok_r(list, ",", &save); tok && f->nlabels < METRIC_MAX_LABELS;
	     tok = strtok_r(NULL, ",", &save))
		f->labels[f->nlabels++] = strdup(tok);
	free(list);
	for (tail = &m->families; *tail; tail = &(*tail)->next)
		;
	*tail = f;
	return f;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *labels)
{
	return m ? family(m, name, help, labels, COUNTER) : NULL;
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *labels, const double *bounds, int nbounds)
{
	struct metric *f = m ? family(m, name, help, labels, HISTOGRAM) : NULL;

	if (f) {
		f->bounds = bounds;
		f->nbounds = nbounds;
	}
	return f;
}

static bool same(const struct series *s, const char *const *values, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : ""))
			return false;
	return true;
}

/* The series of these label values; past the bound, the "other" one. */
static struct series *series_of(struct metric *f, const char *const *values)
{
	static const char *const others[METRIC_MAX_LABELS] = { "other", "other", "other" };
	struct series *s, *n;

	for (size_t i = 0; i < f->nseries; i++)
		if (same(&f->series[i], values, f->nlabels))
			return &f->series[i];
	if (f->nseries >= METRIC_MAX_SERIES && values != others) {
		if (f != f->owner->overflow)
			metric_add(f->owner->overflow, (const char *const[]){ f->name }, 1);
		return series_of(f, others);
	}
	if (!(n = realloc(f->series, (f->nseries + 1) * sizeof(*n))))
		return NULL;
	f->series = n;
	s = &f->series[f->nseries++];
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < f->nlabels; i++)
		s->values[i] = strdup(values[i] ? values[i] : "");
	if (f->kind == HISTOGRAM)
		s->bucket = calloc(f->nbounds, sizeof(*s->bucket));
	return s;
}

void metric_add(struct metric *f, const char *const *values, double v)
{
	struct series *s = f ? series_of(f, values) : NULL;

	if (s)
		s->value += v;
}

void metric_set(struct metric *f, const char *const *values, double v)
{
	struct series *s = f ? series_of(f, values) : NULL;

	if (s)
		s->value = v;
}

void metric_observe(struct metric *f, const char *const *values, double v)
{
	struct series *s = f ? series_of(f, values) : NULL;

	if (!s)
		return;
	s->value += v;
	s->count++;
	for (int i = 0; i < f->nbounds; i++)
		if (v <= f->bounds[i])
			s->bucket[i]++;
}

/* Label values are untrusted (a command name): escaped as the format asks, printable only. */
void metrics_write_label(FILE *fp, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else
			fputc(*p >= 0x20 && *p < 0x7f ? *p : '?', fp);
	}
}

static void write_labels(FILE *fp, const struct metric *f, const struct series *s, const char *le)
{
	bool any = f->nlabels || le;

	if (!any)
		return;
	fputc('{', fp);
	for (int i = 0; i < f->nlabels; i++) {
		fprintf(fp, "%s%s=\"", i ? "," : "", f->labels[i]);
		metrics_write_label(fp, s->values[i]);
		fputc('"', fp);
	}
	if (le)
		fprintf(fp, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	fputc('}', fp);
}

void metrics_render(struct metrics *m, FILE *fp)
{
	for (struct metric *f = m->families; f; f = f->next) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			f->kind == COUNTER ? "counter" : "histogram");
		for (size_t i = 0; i < f->nseries; i++) {
			struct series *s = &f->series[i];

			if (f->kind == COUNTER) {
				fputs(f->name, fp);
				write_labels(fp, f, s, NULL);
				fprintf(fp, " %.15g\n", s->value);
				continue;
			}
			for (int b = 0; b < f->nbounds; b++) {
				char le[32];

				snprintf(le, sizeof(le), "%g", f->bounds[b]);
				fprintf(fp, "%s_bucket", f->name);
				write_labels(fp, f, s, le);
				fprintf(fp, " %llu\n", (unsigned long long)s->bucket[b]);
			}
			fprintf(fp, "%s_bucket", f->name);
			write_labels(fp, f, s, "+Inf");
			fprintf(fp, " %llu\n%s_sum", (unsigned long long)s->count, f->name);
			write_labels(fp, f, s, NULL);
			fprintf(fp, " %.15g\n%s_count", s->value, f->name);
			write_labels(fp, f, s, NULL);
			fprintf(fp, " %llu\n", (unsigned long long)s->count);
		}
	}
}

void metrics_publish(struct metrics *m)
{
	char *page = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&page, &len);

	if (!fp)
		return;
	metrics_render(m, fp);
	fclose(fp);
	pthread_mutex_lock(&m->lock);
	free(m->page);
	m->page = page;
	m->page_len = len;
	pthread_mutex_unlock(&m->lock);
}

/* --- the server ------------------------------------------------------------------------- */

static void respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	if (write(fd, head, n) == n && len)
		(void)!write(fd, body, len);
}

/* One request: GET /metrics, nothing else; a slow client gets 2 s. */
static void serve_one(struct metrics *m, int fd)
{
	struct timeval tv = { 2, 0 };
	char req[1024];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = read(fd, req, sizeof(req) - 1);
	if (n <= 0)
		return;
	req[n] = '\0';
	if (strncmp(req, "GET /metrics", 12) || (req[12] != ' ' && req[12] != '?')) {
		respond(fd, "404 Not Found", "text/plain", "only /metrics here\n", 19);
		return;
	}
	pthread_mutex_lock(&m->lock);
	respond(fd, "200 OK", "text/plain; version=0.0.4", m->page ? m->page : "",
		m->page ? m->page_len : 0);
	pthread_mutex_unlock(&m->lock);
}

static void *server(void *arg)
{
	struct metrics *m = arg;

	for (;;) {
		int fd = accept(m->listen_fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* the socket was shut down: we stop */
		}
		serve_one(m, fd);
		close(fd);
	}
}

/* "IP:PORT", ":PORT" or "[IPv6]:PORT" into host and port strings. */
static int split_addr(const char *addr, char *host, size_t hlen, const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || !colon[1])
		return -EINVAL;
	n = colon - addr;
	if (n && addr[0] == '[' && addr[n - 1] == ']')
		addr++, n -= 2;
	if (n >= hlen)
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

int metrics_serve(struct metrics *m, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[64], shost[NI_MAXHOST], sport[NI_MAXSERV];
	const char *port;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	int one = 1, fd, rc;

	if (split_addr(addr, host, sizeof(host), &port) ||
	    (rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai))) {
		snprintf(err, errlen, "--metrics %s: give IP:PORT, :PORT or [IPv6]:PORT", addr);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		rc = -errno;
		snprintf(err, errlen, "--metrics %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	if (!getsockname(fd, (struct sockaddr *)&sa, &salen) &&
	    !getnameinfo((struct sockaddr *)&sa, salen, shost, sizeof(shost), sport, sizeof(sport),
			 NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(m->address, sizeof(m->address), "%s%s%s:%s",
			 sa.ss_family == AF_INET6 ? "[" : "", shost,
			 sa.ss_family == AF_INET6 ? "]" : "", sport);
	m->listen_fd = fd;
	metrics_publish(m);
	if ((rc = pthread_create(&m->thread, NULL, server, m))) {
		snprintf(err, errlen, "--metrics: cannot start the server: %s", strerror(rc));
		return -rc;
	}
	m->serving = true;
	return 0;
}

const char *metrics_address(const struct metrics *m)
{
	return m->address;
}

void metrics_free(struct metrics *m)
{
	struct metric *f, *next;

	if (!m)
		return;
	if (m->serving) {
		shutdown(m->listen_fd, SHUT_RDWR); /* accept() returns: the thread ends */
		pthread_join(m->thread, NULL);
	}
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	for (f = m->families; f; f = next) {
		next = f->next;
		for (size_t i = 0; i < f->nseries; i++) {
			for (int l = 0; l < f->nlabels; l++)
				free(f->series[i].values[l]);
			free(f->series[i].bucket);
		}
		for (int l = 0; l < f->nlabels; l++)
			free(f->labels[l]);
		free(f->series);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m->page);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
