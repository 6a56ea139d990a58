// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Secret masking for captured plaintext; the patterns are listed in redact.h.
 * Plain byte scanning, no regex: the buffers are binary (HTTP/2 frames) and
 * may be a megabyte, and every byte stays where it was.
 */
#include <ctype.h>
#include <string.h>

#include "redact.h"

struct span {
	unsigned char *p, *end;
};

static bool ci_prefix(const unsigned char *p, const unsigned char *end, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower(p[i]) != (unsigned char)s[i])
			return false;
	return true;
}

static bool ci_equal(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && !strncasecmp(a, b, alen);
}

static size_t mask(unsigned char *p, unsigned char *end)
{
	if (p >= end)
		return 0;
	memset(p, REDACT_CHAR, end - p);
	return 1;
}

/* Headers whose whole value is a secret. */
static const char *const secret_headers[] = {
	"x-api-key",	 "api-key",	   "x-auth-token", "x-csrf-token", "x-amz-security-token",
	"private-token", "x-access-token", NULL,
};

/* Names whose value is a secret in key=value and "key": "value". */
static const char *const secret_keys[] = {
	"password",	"passwd",	 "pwd",	      "pass",	 "secret", "client_secret", "token",
	"access_token", "refresh_token", "id_token",  "api_key", "apikey", "api-key",	    "auth",
	"key",		"session",	 "sessionid", "otp",	 NULL,
};

static bool is_name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static bool is_value_end(unsigned char c)
{
	return c == '&' || c == ';' || c == ',' || c == ' ' || c == '\r' || c == '\n' || c == '"' ||
	       c == '\'' || c == '<' || c == '\t' || c == 0;
}

/* strchr() finds the terminating NUL: a NUL byte is no character of these sets. */
static bool is_token68(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~+/=", c));
}

/* Authorization: SCHEME credentials -> the scheme stays. */
static size_t mask_authorization(unsigned char *v, unsigned char *end)
{
	unsigned char *sp = v;

	while (sp < end && *sp != ' ')
		sp++;
	if (sp == end)
		return mask(v, end);
	while (sp < end && *sp == ' ')
		sp++;
	return mask(sp, end);
}

/* Cookie: a=1; b=2 -> names stay; Set-Cookie masks its first pair only. */
static size_t mask_cookie(unsigned char *v, unsigned char *end, bool first_only)
{
	size_t n = 0;

	while (v < end) {
		unsigned char *eq = memchr(v, '=', end - v), *semi;

		if (!eq)
			break;
		semi = memchr(eq, ';', end - eq);
		if (!semi)
			semi = end;
		n += mask(eq + 1, semi);
		if (first_only)
			break;
		v = semi + 1;
	}
	return n;
}

/* v..end is the value of header name..name_end, trimmed. */
static size_t mask_header(const unsigned char *name, size_t nlen, unsigned char *v,
			  unsigned char *end)
{
	const char *nm = (const char *)name;

	if (ci_equal(nm, nlen, "authorization") || ci_equal(nm, nlen, "proxy-authorization"))
		return mask_authorization(v, end);
	if (ci_equal(nm, nlen, "cookie"))
		return mask_cookie(v, end, false);
	if (ci_equal(nm, nlen, "set-cookie"))
		return mask_cookie(v, end, true);
	if (redact_header_is_secret(nm, nlen))
		return mask(v, end);
	return 0;
}

/* Header lines: "Name: value" at the start of a line. */
static size_t scan_headers(unsigned char *buf, unsigned char *end)
{
	size_t n = 0;

	for (unsigned char *line = buf; line < end;) {
		unsigned char *eol = memchr(line, '\n', end - line), *p = line, *v, *vend;

		if (!eol)
			eol = end;
		while (p < eol && is_name_char(*p))
			p++;
		if (p > line && p < eol && *p == ':') {
			v = p + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vend = eol;
			if (vend > v && vend[-1] == '\r')
				vend--;
			n += mask_header(line, p - line, v, vend);
		}
		line = eol + 1;
	}
	return n;
}

/* Where a JSON string's value ends: its quote, and never past a line end. */
static unsigned char *json_string_end(unsigned char *q, unsigned char *end)
{
	while (q < end && *q != '"' && *q != '\n' && *q != '\r') {
		/* An escape is two bytes, but a line end is never escaped away. */
		if (*q == '\\' && q + 1 < end && q[1] != '\n' && q[1] != '\r')
			q++;
		q++;
	}
	return q;
}

/* key=value and "key": "value" for the names in secret_keys. */
static size_t scan_keys(unsigned char *buf, unsigned char *end)
{
	size_t n = 0;

	for (unsigned char *p = buf; p < end; p++) {
		bool quoted;

		if (!isalpha(*p) || (p > buf && is_name_char(p[-1])))
			continue;
		quoted = p > buf && p[-1] == '"';
		for (const char *const *k = secret_keys; *k; k++) {
			unsigned char *q = p + strlen(*k), *v;

			if (!ci_prefix(p, end, *k) || q >= end)
				continue;
			if (*q == '=' && !quoted) {
				v = q + 1;
				q = v;
				while (q < end && !is_value_end(*q))
					q++;
				n += mask(v, q);
				p = q - 1;
				break;
			}
			if (quoted && *q == '"') {
				q++;
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
				if (q >= end || *q != ':')
					continue;
				q++;
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
				if (q >= end || *q != '"')
					continue;
				v = ++q;
				q = json_string_end(q, end);
				n += mask(v, q);
				p = q - 1 < p ? p : q - 1;
				break;
			}
		}
	}
	return n;
}

/* "Bearer xyz" / "Basic xyz" outside header lines (JSON, logs). */
static size_t scan_schemes(unsigned char *buf, unsigned char *end)
{
	static const char *const schemes[] = { "bearer ", "basic ", NULL };
	size_t n = 0;

	for (unsigned char *p = buf; p < end; p++) {
		if ((*p != 'b' && *p != 'B') || (p > buf && isalnum(p[-1])))
			continue;
		for (const char *const *s = schemes; *s; s++) {
			unsigned char *v = p + strlen(*s), *q;

			if (!ci_prefix(p, end, *s))
				continue;
			for (q = v; q < end && is_token68(*q) && *q != REDACT_CHAR; q++)
				;
			if (q - v >= 4) {
				n += mask(v, q);
				p = q - 1;
			}
			break;
		}
	}
	return n;
}

static bool is_local_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("._%+-", c));
}

/* user@example.com: everything but the '@'. */
static size_t scan_emails(unsigned char *buf, unsigned char *end)
{
	size_t n = 0;

	for (unsigned char *at = memchr(buf, '@', end - buf); at;
	     at = at + 1 < end ? memchr(at + 1, '@', end - at - 1) : NULL) {
		unsigned char *l = at, *r = at + 1, *dot = NULL;

		while (l > buf && is_local_char(l[-1]))
			l--;
		while (r < end && (isalnum(*r) || *r == '-' || *r == '.'))
			r++;
		while (r > at + 1 && r[-1] == '.')
			r--;
		for (unsigned char *q = at + 1; q < r; q++)
			if (*q == '.')
				dot = q;
		/* A domain with a dot and a top-level part of two letters or more. */
		if (l == at || !dot || dot == at + 1 || r - dot < 3 || !isalpha(dot[1]))
			continue;
		mask(l, at);
		mask(at + 1, r);
		n++;
		at = r - 1;
	}
	return n;
}

size_t redact_buffer(void *buf, size_t len)
{
	unsigned char *p = buf, *end = p + len;

	if (!len)
		return 0;
	return scan_headers(p, end) + scan_keys(p, end) + scan_schemes(p, end) +
	       scan_emails(p, end);
}

size_t redact_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
	return redact_buffer(dst, len);
}

/* Parts of names that say a header (or gRPC metadata) holds a credential. */
static const char *const secret_parts[] = {
	"token",   "secret",	 "password",	"passwd",    "apikey",	   "api-key",
	"api_key", "credential", "private-key", "sessionid", "session-id", NULL,
};

bool redact_header_is_secret(const char *name, size_t nlen)
{
	for (const char *const *h = secret_headers; *h; h++)
		if (ci_equal(name, nlen, *h))
			return true;
	for (const char *const *h = secret_parts; *h; h++) {
		size_t n = strlen(*h);

		for (size_t i = 0; i + n <= nlen; i++)
			if (!strncasecmp(name + i, *h, n))
				return true;
	}
	return false;
}

bool redact_header_value(const char *name, size_t nlen, char *val, size_t vlen)
{
	unsigned char *v = (unsigned char *)val, *end = v + vlen;
	size_t n = mask_header((const unsigned char *)name, nlen, v, end);

	/* Values carry secrets of their own too (a :path with ?token=...). */
	n += scan_keys(v, end) + scan_schemes(v, end) + scan_emails(v, end);
	return n > 0;
}
