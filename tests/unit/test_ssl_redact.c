// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of secret masking: every pattern, lengths kept, no false hits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gadgets/ssl/redact.h"

static char *redacted(const char *in)
{
	static char buf[4096];
	size_t len = strlen(in);

	redact_copy(buf, in, len);
	buf[len] = '\0';
	return buf;
}

static void test_headers(void **state)
{
	assert_string_equal(redacted("GET / HTTP/1.1\r\nAuthorization: Bearer abc.def-123\r\n\r\n"),
			    "GET / HTTP/1.1\r\nAuthorization: Bearer ***********\r\n\r\n");
	assert_string_equal(redacted("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"),
			    "Proxy-Authorization: Basic ************\r\n");
	assert_string_equal(redacted("authorization: tokenonly\n"), "authorization: *********\n");
	assert_string_equal(redacted("Cookie: sid=12345; theme=dark\r\n"),
			    "Cookie: sid=*****; theme=****\r\n");
	assert_string_equal(redacted("Set-Cookie: sid=abc; Path=/; HttpOnly\r\n"),
			    "Set-Cookie: sid=***; Path=/; HttpOnly\r\n");
	assert_string_equal(redacted("X-Api-Key: k-123\r\nHost: example\r\n"),
			    "X-Api-Key: *****\r\nHost: example\r\n");
	/* Not a header of interest, not at the start of a line. */
	assert_string_equal(redacted("Host: cookie: x\r\n"), "Host: cookie: x\r\n");
}

static void test_keys(void **state)
{
	assert_string_equal(redacted("user=bob&password=hunter2&x=1"),
			    "user=bob&password=*******&x=1");
	assert_string_equal(redacted("GET /login?token=abc123 HTTP/1.1"),
			    "GET /login?token=****** HTTP/1.1");
	assert_string_equal(redacted("{\"password\": \"s3cr\\\"et\", \"user\": \"bob\"}"),
			    "{\"password\": \"********\", \"user\": \"bob\"}");
	assert_string_equal(redacted("{\"api_key\":\"K\"}"), "{\"api_key\":\"*\"}");
	/* Names inside other names are left alone; empty values too. */
	assert_string_equal(redacted("mypassword=x&password=&passport=1"),
			    "mypassword=x&password=&passport=1");
}

static void test_bearer_and_email(void **state)
{
	assert_string_equal(redacted("{\"hdr\":\"Bearer eyJhbGciOi.J9\"}"),
			    "{\"hdr\":\"Bearer *************\"}");
	/* A secret key's whole value goes, scheme included. */
	assert_string_equal(redacted("{\"auth\":\"Bearer x\"}"), "{\"auth\":\"********\"}");
	assert_string_equal(redacted("say Bearer xyzw1234 here"), "say Bearer ******** here");
	assert_string_equal(redacted("to: alice.b@example.co.uk, x"),
			    "to: *******@*************, x");
	assert_string_equal(redacted("mail bob@example.com."), "mail ***@***********.");
	/* No top-level domain, or none after the @: not an address. */
	assert_string_equal(redacted("git@host and a@b and @x.com"), "git@host and a@b and @x.com");
}

static void test_lengths_and_binary(void **state)
{
	uint8_t buf[64], copy[64];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	memcpy(copy, buf, sizeof(buf));
	redact_buffer(buf, sizeof(buf));
	assert_memory_equal(buf, copy, sizeof(buf));
	assert_int_equal(redact_buffer(buf, 0), 0);
	/* Every byte stays where it was. */
	assert_int_equal(strlen(redacted("password=abc")), strlen("password=abc"));
	assert_int_equal(redact_buffer((char[]){ "password=abc" }, 12), 1);
}

/* NUL bytes (HTTP/2 frame headers, padding) are neither a credential nor part of an address. */
static void test_nul_bytes(void **state)
{
	const uint8_t bearer[] = "basic \0\0\0\0\0\x01", mail[] = "\0\0\0ab@example.com";
	uint8_t buf[32];

	memcpy(buf, bearer, sizeof(bearer));
	assert_int_equal(redact_buffer(buf, sizeof(bearer) - 1), 0);
	assert_memory_equal(buf, bearer, sizeof(bearer));
	memcpy(buf, mail, sizeof(mail));
	assert_int_equal(redact_buffer(buf, sizeof(mail) - 1), 1);
	assert_memory_equal(buf, "\0\0\0**@***********", sizeof(mail));
}

/* A JSON value is masked up to its quote, never past a line end. */
static void test_json_value_ends_with_its_line(void **state)
{
	assert_string_equal(redacted("{\"token\": \"abc\\\nHost: x\r\n\r\n"),
			    "{\"token\": \"****\nHost: x\r\n\r\n");
	assert_string_equal(redacted("\"key\":\"v\r\n\r\n"), "\"key\":\"*\r\n\r\n");
}

static void test_decoded_headers(void **state)
{
	char v1[] = "Bearer secret-token", v2[] = "a=1; b=2", v3[] = "/p?password=x&y=1",
	     v4[] = "text/html";

	assert_true(redact_header_value("authorization", 13, v1, strlen(v1)));
	assert_string_equal(v1, "Bearer ************");
	assert_true(redact_header_value("cookie", 6, v2, strlen(v2)));
	assert_string_equal(v2, "a=*; b=*");
	assert_true(redact_header_value(":path", 5, v3, strlen(v3)));
	assert_string_equal(v3, "/p?password=*&y=1");
	assert_false(redact_header_value("content-type", 12, v4, strlen(v4)));
	assert_true(redact_header_is_secret("X-API-KEY", 9));
	assert_false(redact_header_is_secret("x-api", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bearer_and_email),
		cmocka_unit_test(test_lengths_and_binary),
		cmocka_unit_test(test_decoded_headers),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_json_value_ends_with_its_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
