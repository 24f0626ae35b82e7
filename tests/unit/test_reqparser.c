/* The pure HTTP/1.1 request parser: whole and fragmented input, pipelining,
 * bodies, limits and errors. Everything is freed: the suite runs under ASan. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/http.h"

static struct lav_reqparser rp;
static bool rp_live;

static void rp_open(size_t max_header, size_t max_body)
{
	if (rp_live)
		lav_reqparser_free(&rp);
	lav_reqparser_init(&rp, max_header, max_body);
	rp_live = true;
}

static void setup(void)
{
	rp_live = false;
	rp_open(8192, 1 << 20);
}

static void teardown(void)
{
	if (rp_live)
		lav_reqparser_free(&rp);
	rp_live = false;
}

TestSuite(reqparser, .init = setup, .fini = teardown);

/* Feeds all of s in one call; returns the completed request (owned by the
 * caller) or NULL, and checks that a complete request consumed everything. */
static struct lav_request *whole(const char *s)
{
	size_t len = strlen(s);
	size_t n = lav_reqparser_feed(&rp, s, len);
	struct lav_request *r = lav_reqparser_take(&rp);
	if (r)
		cr_assert_eq(n, len, "consumed %zu of %zu bytes", n, len);
	return r;
}

/* Feeds s one byte per call. Each byte before completion must be consumed. */
static struct lav_request *bytewise(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t n = lav_reqparser_feed(&rp, s + i, 1);
		if (rp.err_status)
			return NULL;
		cr_assert_eq(n, 1, "byte %zu ('%c') not consumed", i, s[i]);
		if (i + 1 < len)
			cr_assert_null(rp.ready, "request completed early at byte %zu", i);
	}
	return lav_reqparser_take(&rp);
}

/* Feeds s in pieces of `step` bytes. */
static struct lav_request *chunks(const char *s, size_t len, size_t step)
{
	size_t off = 0;
	while (off < len) {
		size_t k = len - off < step ? len - off : step;
		size_t n = lav_reqparser_feed(&rp, s + off, k);
		if (rp.err_status)
			return NULL;
		cr_assert_eq(n, k);
		off += n;
	}
	return lav_reqparser_take(&rp);
}

static const char GET[] = "GET /api/features/v1/latest?featureId=macro%2Fus%2Fwalcl&entity= HTTP/1.1\r\n"
			  "Host: localhost:8080\r\n"
			  "User-Agent: test/1.0\r\n"
			  "X-Correlation-ID: Abc-123\r\n"
			  "Accept: application/msgpack\r\n"
			  "\r\n";

static void check_get(struct lav_request *r)
{
	cr_assert_not_null(r);
	cr_assert_eq(r->method, HTTP_GET);
	cr_assert_str_eq(r->target, "/api/features/v1/latest?featureId=macro%2Fus%2Fwalcl&entity=");
	cr_assert_str_eq(r->path, "/api/features/v1/latest");
	cr_assert_str_eq(r->query, "featureId=macro%2Fus%2Fwalcl&entity=");
	cr_assert(r->keep_alive);
	cr_assert_eq(r->nheaders, 4);
	cr_assert_str_eq(r->headers[0].name, "host");
	cr_assert_str_eq(r->headers[0].value, "localhost:8080");
	cr_assert_str_eq(r->headers[1].name, "user-agent");
	cr_assert_str_eq(r->headers[2].name, "x-correlation-id");
	cr_assert_str_eq(r->headers[2].value, "Abc-123", "values keep their case");
	cr_assert_str_eq(r->headers[3].name, "accept");
	cr_assert_eq(r->body.len, 0);
	cr_assert_str_eq(lav_request_header(r, "x-correlation-id"), "Abc-123");
	cr_assert_str_eq(lav_request_header(r, "X-CORRELATION-ID"), "Abc-123");
	cr_assert_str_eq(lav_request_header(r, "Accept"), "application/msgpack");
	cr_assert_null(lav_request_header(r, "content-type"));
	cr_assert_null(lav_request_header(r, "accep"));
}

Test(reqparser, get_whole)
{
	cr_assert_not(lav_reqparser_mid_message(&rp));
	struct lav_request *r = whole(GET);
	check_get(r);
	cr_assert_eq(rp.err_status, 0);
	cr_assert_not(lav_reqparser_mid_message(&rp));
	lav_request_free(r);
}

Test(reqparser, get_byte_by_byte)
{
	struct lav_request *r = bytewise(GET, strlen(GET));
	cr_assert_eq(rp.err_status, 0, "%d %s", rp.err_status, rp.err_msg);
	check_get(r);
	lav_request_free(r);
}

Test(reqparser, get_in_odd_chunks)
{
	for (size_t step = 2; step < 40; step += 3) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = chunks(GET, strlen(GET), step);
		cr_assert_eq(rp.err_status, 0, "step %zu: %d %s", step, rp.err_status, rp.err_msg);
		check_get(r);
		lav_request_free(r);
	}
}

Test(reqparser, mid_message)
{
	cr_assert_not(lav_reqparser_mid_message(&rp));
	cr_assert_eq(lav_reqparser_feed(&rp, "GET / HT", 8), 8);
	cr_assert(lav_reqparser_mid_message(&rp));
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert_eq(lav_reqparser_feed(&rp, "TP/1.1\r\nHost: x\r\n", 17), 17);
	cr_assert(lav_reqparser_mid_message(&rp));
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert_eq(lav_reqparser_feed(&rp, "\r\n", 2), 2);
	cr_assert_not(lav_reqparser_mid_message(&rp));
	struct lav_request *r = lav_reqparser_take(&rp);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->path, "/");
	cr_assert_null(r->query);
	lav_request_free(r);
	cr_assert_null(lav_reqparser_take(&rp));
}

Test(reqparser, zero_length_feed)
{
	cr_assert_eq(lav_reqparser_feed(&rp, "", 0), 0);
	cr_assert_not(lav_reqparser_mid_message(&rp));
	cr_assert_eq(rp.err_status, 0);
}

/* ---- keep-alive ---- */

static bool keep_alive_of(const char *req)
{
	rp_open(8192, 1 << 20);
	struct lav_request *r = whole(req);
	cr_assert_not_null(r, "%s: %d %s", req, rp.err_status, rp.err_msg);
	bool ka = r->keep_alive;
	lav_request_free(r);
	return ka;
}

Test(reqparser, keep_alive)
{
	cr_assert(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
	cr_assert(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"));
	cr_assert_not(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	cr_assert_not(keep_alive_of("GET / HTTP/1.1\r\nHost: x\r\nconnection: Close\r\n\r\n"));
	cr_assert_not(keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
	cr_assert_not(keep_alive_of("GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
	cr_assert(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

/* ---- methods and targets ---- */

Test(reqparser, methods)
{
	const struct {
		const char *req;
		enum http_method m;
	} cases[] = {
		{"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_HEAD},
		{"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_DELETE},
		{"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", HTTP_PUT},
		{"OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_OPTIONS},
		{"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", HTTP_POST},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = whole(cases[i].req);
		cr_assert_not_null(r, "%s", cases[i].req);
		cr_assert_eq(r->method, cases[i].m, "%s", cases[i].req);
		lav_request_free(r);
	}
}

Test(reqparser, path_and_query_split)
{
	const struct {
		const char *target, *path, *query;
	} cases[] = {
		{"/", "/", NULL},
		{"/a/b", "/a/b", NULL},
		{"/a?", "/a", ""},
		{"/a?x=1", "/a", "x=1"},
		{"/a?x=1?y=2", "/a", "x=1?y=2"},
		{"/ws?token=abc&x", "/ws", "token=abc&x"},
		{"/%7Euser/a%20b", "/%7Euser/a%20b", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rp_open(8192, 1 << 20);
		char req[256];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].target);
		struct lav_request *r = whole(req);
		cr_assert_not_null(r, "%s: %d %s", cases[i].target, rp.err_status, rp.err_msg);
		cr_assert_str_eq(r->target, cases[i].target);
		cr_assert_str_eq(r->path, cases[i].path);
		if (cases[i].query)
			cr_assert_str_eq(r->query, cases[i].query, "%s", cases[i].target);
		else
			cr_assert_null(r->query, "%s", cases[i].target);
		lav_request_free(r);
	}
}

Test(reqparser, target_must_be_absolute_path)
{
	const char *bad[] = {"GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
			     "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			     "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = whole(bad[i]);
		cr_assert_null(r, "%s", bad[i]);
		cr_assert_eq(rp.err_status, 400, "%s: %d", bad[i], rp.err_status);
		cr_assert_str_eq(rp.err_code, "bad_request");
		cr_assert_gt(strlen(rp.err_msg), 0);
	}
}

/* ---- headers ---- */

Test(reqparser, headers_lowercased_and_case_insensitive_lookup)
{
	struct lav_request *r = whole("GET / HTTP/1.1\r\nHost: x\r\n"
				      "CONTENT-TYPE: Application/JSON\r\n"
				      "X-Mixed-Case: v\r\n"
				      "x-dup: first\r\n"
				      "X-Dup: second\r\n"
				      "X-Spaces:    padded\r\n"
				      "\r\n");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_eq(r->nheaders, 6);
	cr_assert_str_eq(r->headers[0].name, "host");
	cr_assert_str_eq(r->headers[1].name, "content-type");
	cr_assert_str_eq(r->headers[1].value, "Application/JSON");
	cr_assert_str_eq(r->headers[2].name, "x-mixed-case");
	cr_assert_str_eq(lav_request_header(r, "Content-Type"), "Application/JSON");
	cr_assert_str_eq(lav_request_header(r, "x-MIXED-case"), "v");
	cr_assert_str_eq(lav_request_header(r, "X-DUP"), "first");
	cr_assert_str_eq(lav_request_header(r, "x-spaces"), "padded");
	lav_request_free(r);
}

Test(reqparser, empty_header_value)
{
	const char req[] = "GET / HTTP/1.1\r\nX-Empty:\r\nHost: h\r\nX-Last:\r\n\r\n";
	for (int mode = 0; mode < 2; mode++) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = mode ? bytewise(req, strlen(req)) : whole(req);
		cr_assert_not_null(r, "mode %d: %d %s", mode, rp.err_status, rp.err_msg);
		cr_assert_eq(r->nheaders, 3, "mode %d: %zu headers", mode, r->nheaders);
		cr_assert_str_eq(lav_request_header(r, "x-empty"), "");
		cr_assert_str_eq(lav_request_header(r, "host"), "h");
		cr_assert_str_eq(lav_request_header(r, "x-last"), "");
		lav_request_free(r);
	}
}

Test(reqparser, many_headers)
{
	char req[8192];
	size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-H%d: value-%d\r\n", i, i);
	snprintf(req + n, sizeof(req) - n, "\r\n");
	rp_open(16384, 1024);
	struct lav_request *r = whole(req);
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_eq(r->nheaders, 101);
	cr_assert_str_eq(lav_request_header(r, "x-h99"), "value-99");
	cr_assert_str_eq(lav_request_header(r, "X-H0"), "value-0");
	lav_request_free(r);
}

/* ---- bodies ---- */

static const char POST[] = "POST /api/features/v1/publish HTTP/1.1\r\n"
			   "Host: x\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: 27\r\n"
			   "\r\n"
			   "[{\"featureId\":\"a/b\",\"v\":1}]";

Test(reqparser, content_length_body)
{
	for (int mode = 0; mode < 2; mode++) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = mode ? bytewise(POST, strlen(POST)) : whole(POST);
		cr_assert_not_null(r, "mode %d: %d %s", mode, rp.err_status, rp.err_msg);
		cr_assert_eq(r->method, HTTP_POST);
		cr_assert_eq(r->body.len, 27);
		cr_assert_eq(memcmp(r->body.data, "[{\"featureId\":\"a/b\",\"v\":1}]", 27), 0);
		cr_assert_str_eq(lav_request_header(r, "content-type"), "application/json");
		lav_request_free(r);
	}
}

Test(reqparser, binary_body_with_nul_bytes)
{
	const char head[] = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nContent-Length: 6\r\n\r\n";
	char req[256];
	memcpy(req, head, sizeof(head) - 1);
	memcpy(req + sizeof(head) - 1, "\x82\x00\xff\x00\x01\x02", 6);
	size_t len = sizeof(head) - 1 + 6;
	cr_assert_eq(lav_reqparser_feed(&rp, req, len), len);
	struct lav_request *r = lav_reqparser_take(&rp);
	cr_assert_not_null(r);
	cr_assert_eq(r->body.len, 6);
	cr_assert_eq(memcmp(r->body.data, "\x82\x00\xff\x00\x01\x02", 6), 0);
	lav_request_free(r);
}

static const char CHUNKED[] = "POST /api/features/v1/publish HTTP/1.1\r\n"
			      "Host: x\r\n"
			      "Transfer-Encoding: chunked\r\n"
			      "\r\n"
			      "5\r\nhello\r\n"
			      "6\r\n world\r\n"
			      "a\r\n0123456789\r\n"
			      "0\r\n"
			      "\r\n";

Test(reqparser, chunked_body)
{
	for (int mode = 0; mode < 3; mode++) {
		rp_open(8192, 1 << 20);
		struct lav_request *r = mode == 0   ? whole(CHUNKED)
					: mode == 1 ? bytewise(CHUNKED, strlen(CHUNKED))
						    : chunks(CHUNKED, strlen(CHUNKED), 7);
		cr_assert_not_null(r, "mode %d: %d %s", mode, rp.err_status, rp.err_msg);
		cr_assert_eq(r->body.len, 21, "mode %d: body %zu", mode, r->body.len);
		cr_assert_eq(memcmp(r->body.data, "hello world0123456789", 21), 0);
		lav_request_free(r);
	}
}

Test(reqparser, large_body_in_pieces)
{
	const size_t body = 200000;
	char head[128];
	int hn = snprintf(head, sizeof(head), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", body);
	char *req = malloc((size_t)hn + body);
	memcpy(req, head, (size_t)hn);
	for (size_t i = 0; i < body; i++)
		req[hn + (int)i] = (char)('a' + i % 26);
	struct lav_request *r = chunks(req, (size_t)hn + body, 1460);
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_eq(r->body.len, body);
	cr_assert_eq(memcmp(r->body.data, req + hn, body), 0);
	lav_request_free(r);
	free(req);
}

/* ---- pipelining ---- */

Test(reqparser, three_pipelined_requests)
{
	const char buf[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
			   "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
			   "GET /c?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	const size_t len = sizeof(buf) - 1;
	size_t off = 0;

	size_t n = lav_reqparser_feed(&rp, buf + off, len - off);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, len, "the parser must pause after the first request");
	off += n;
	/* nothing more is consumed until the request is taken */
	cr_assert_eq(lav_reqparser_feed(&rp, buf + off, len - off), 0);
	struct lav_request *a = lav_reqparser_take(&rp);
	cr_assert_not_null(a);
	cr_assert_str_eq(a->path, "/a");
	cr_assert_eq(off, strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));

	n = lav_reqparser_feed(&rp, buf + off, len - off);
	off += n;
	struct lav_request *b = lav_reqparser_take(&rp);
	cr_assert_not_null(b);
	cr_assert_str_eq(b->path, "/b");
	cr_assert_eq(b->method, HTTP_POST);
	cr_assert_eq(b->body.len, 5);
	cr_assert_eq(memcmp(b->body.data, "hello", 5), 0);
	cr_assert_lt(off, len);

	n = lav_reqparser_feed(&rp, buf + off, len - off);
	off += n;
	struct lav_request *c = lav_reqparser_take(&rp);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->path, "/c");
	cr_assert_str_eq(c->query, "x=1");
	cr_assert_not(c->keep_alive);
	cr_assert(a->keep_alive);
	cr_assert(b->keep_alive);
	cr_assert_eq(off, len, "all bytes consumed");
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert_not(lav_reqparser_mid_message(&rp));

	lav_request_free(a);
	lav_request_free(b);
	lav_request_free(c);
}

Test(reqparser, pipelined_second_request_partial)
{
	const char buf[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT";
	size_t n = lav_reqparser_feed(&rp, buf, sizeof(buf) - 1);
	struct lav_request *a = lav_reqparser_take(&rp);
	cr_assert_not_null(a);
	size_t m = lav_reqparser_feed(&rp, buf + n, sizeof(buf) - 1 - n);
	cr_assert_eq(n + m, sizeof(buf) - 1);
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert(lav_reqparser_mid_message(&rp));
	/* the half-parsed request is freed by lav_reqparser_free (teardown) */
	lav_request_free(a);
}

/* ---- limits ---- */

Test(reqparser, headers_too_large)
{
	rp_open(256, 1 << 20);
	char req[1024];
	char big[400];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big);
	struct lav_request *r = whole(req);
	cr_assert_null(r);
	cr_assert_eq(rp.err_status, 431);
	cr_assert_str_eq(rp.err_code, "headers_too_large");
	cr_assert_not_null(strstr(rp.err_msg, "256"), "%s", rp.err_msg);
	/* once failed, nothing more is consumed */
	cr_assert_eq(lav_reqparser_feed(&rp, "GET / HTTP/1.1\r\n\r\n", 18), 0);
}

Test(reqparser, long_url_counts_as_header_bytes)
{
	rp_open(256, 1 << 20);
	char req[1024];
	char path[400];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	cr_assert_null(bytewise(req, strlen(req)));
	cr_assert_eq(rp.err_status, 431);
	cr_assert_str_eq(rp.err_code, "headers_too_large");
}

Test(reqparser, many_small_headers_too_large)
{
	rp_open(1024, 1 << 20);
	char req[8192];
	size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n", i);
	snprintf(req + n, sizeof(req) - n, "\r\n");
	cr_assert_null(whole(req));
	cr_assert_eq(rp.err_status, 431);
}

static const char HDRS[] = "GET /api/features/v1/catalog HTTP/1.1\r\n"
			   "Host: localhost\r\n"
			   "X-Request-Header-One: a\r\n"
			   "X-Request-Header-Two: b\r\n"
			   "X-Request-Header-Three: c\r\n"
			   "X-Request-Header-Four: d\r\n"
			   "X-Request-Header-Five: e\r\n"
			   "X-Request-Header-Six: f\r\n"
			   "\r\n";

/* Whether a request fits the header limit must not depend on how TCP
 * happened to split it: the smallest limit that admits HDRS in one piece
 * must admit it byte by byte and in small pieces too. */
Test(reqparser, header_limit_independent_of_fragmentation)
{
	size_t limit = 0;
	for (size_t l = 16; l < 4096; l++) {
		rp_open(l, 1024);
		struct lav_request *r = whole(HDRS);
		if (r) {
			lav_request_free(r);
			limit = l;
			break;
		}
		cr_assert_eq(rp.err_status, 431);
	}
	cr_assert_gt(limit, 0);
	cr_assert_lt(limit, strlen(HDRS) + 64, "limit %zu for a %zu-byte request", limit,
		     strlen(HDRS));

	rp_open(limit, 1024);
	struct lav_request *r = bytewise(HDRS, strlen(HDRS));
	cr_assert_not_null(r,
			   "a request admitted whole under max_header_bytes=%zu was refused with "
			   "%d (%s) when fed byte by byte",
			   limit, rp.err_status, rp.err_msg);
	lav_request_free(r);

	rp_open(limit, 1024);
	r = chunks(HDRS, strlen(HDRS), 5);
	cr_assert_not_null(r, "refused with %d (%s) when fed in 5-byte pieces", rp.err_status,
			   rp.err_msg);
	lav_request_free(r);
}

Test(reqparser, content_length_over_limit_before_body)
{
	rp_open(8192, 10);
	const char head[] = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n";
	lav_reqparser_feed(&rp, head, strlen(head));
	cr_assert_eq(rp.err_status, 413, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_str_eq(rp.err_code, "payload_too_large");
	cr_assert_null(lav_reqparser_take(&rp));

	rp_open(8192, 10);
	const char huge[] = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
	lav_reqparser_feed(&rp, huge, strlen(huge));
	cr_assert_eq(rp.err_status, 413);
}

Test(reqparser, content_length_at_limit)
{
	rp_open(8192, 10);
	struct lav_request *r = whole("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_eq(r->body.len, 10);
	lav_request_free(r);
}

Test(reqparser, chunked_body_over_limit)
{
	rp_open(8192, 10);
	const char one[] = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n";
	cr_assert_null(whole(one));
	cr_assert_eq(rp.err_status, 413);
	cr_assert_str_eq(rp.err_code, "payload_too_large");

	rp_open(8192, 10);
	const char two[] = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n";
	cr_assert_null(bytewise(two, strlen(two)));
	cr_assert_eq(rp.err_status, 413);

	rp_open(8192, 10);
	const char fits[] = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
	struct lav_request *r = whole(fits);
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_eq(r->body.len, 10);
	lav_request_free(r);
}

/* ---- errors ---- */

static void expect_400(const char *req, size_t len)
{
	rp_open(8192, 1 << 20);
	lav_reqparser_feed(&rp, req, len);
	cr_assert_null(lav_reqparser_take(&rp), "request parsed: %.*s", (int)len, req);
	cr_assert_eq(rp.err_status, 400, "%.*s -> %d (%s)", (int)len, req, rp.err_status,
		     rp.err_msg);
	cr_assert_str_eq(rp.err_code, "bad_request");
	cr_assert_gt(strlen(rp.err_msg), 0);
}

Test(reqparser, garbage)
{
	const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"\x01\x02\x03\x04 / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
		"GET  HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_400(bad[i], strlen(bad[i]));
}

Test(reqparser, request_smuggling_shapes_rejected)
{
	const char *bad[] = {
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_400(bad[i], strlen(bad[i]));
}

Test(reqparser, garbage_after_a_good_request)
{
	const char buf[] = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02garbage\r\n\r\n";
	size_t n = lav_reqparser_feed(&rp, buf, sizeof(buf) - 1);
	struct lav_request *r = lav_reqparser_take(&rp);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->path, "/ok");
	lav_request_free(r);
	cr_assert_eq(rp.err_status, 0);
	lav_reqparser_feed(&rp, buf + n, sizeof(buf) - 1 - n);
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert_eq(rp.err_status, 400);
}

/* ---- Expect ---- */

Test(reqparser, expect_100_continue)
{
	const char head[] = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
	cr_assert_eq(lav_reqparser_feed(&rp, head, strlen(head)), strlen(head));
	cr_assert_eq(rp.err_status, 0);
	cr_assert(rp.want_continue);
	cr_assert(lav_reqparser_mid_message(&rp));
	cr_assert_null(lav_reqparser_take(&rp));
	cr_assert_eq(lav_reqparser_feed(&rp, "hello", 5), 5);
	struct lav_request *r = lav_reqparser_take(&rp);
	cr_assert_not_null(r);
	cr_assert_eq(r->body.len, 5);
	cr_assert_not(rp.want_continue);
	cr_assert_not(lav_reqparser_mid_message(&rp));
	lav_request_free(r);

	/* the next request on the connection starts without it */
	const char next[] = "POST /y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n";
	lav_reqparser_feed(&rp, next, strlen(next));
	cr_assert_not(rp.want_continue);
}

Test(reqparser, expect_case_insensitive)
{
	const char head[] = "POST /x HTTP/1.1\r\nHost: x\r\nexpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
	lav_reqparser_feed(&rp, head, strlen(head));
	cr_assert_eq(rp.err_status, 0);
	cr_assert(rp.want_continue);
}

Test(reqparser, other_expectations_417)
{
	const char *bad[] = {"POST /x HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\n",
			     "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, x\r\nContent-Length: 1\r\n\r\n",
			     "GET /x HTTP/1.1\r\nHost: x\r\nExpect:\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_open(8192, 1 << 20);
		lav_reqparser_feed(&rp, bad[i], strlen(bad[i]));
		cr_assert_null(lav_reqparser_take(&rp));
		cr_assert_eq(rp.err_status, 417, "%s -> %d", bad[i], rp.err_status);
		cr_assert_str_eq(rp.err_code, "expectation_failed");
		cr_assert_not(rp.want_continue);
	}
}

/* ---- strictness added on top of http-parser ---- */

Test(reqparser, host_required_once_on_http11)
{
	const char *bad[] = {"GET / HTTP/1.1\r\n\r\n",
			     "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
			     "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_400(bad[i], strlen(bad[i]));
	cr_assert_not_null(strstr(rp.err_msg, "Host"), "%s", rp.err_msg);
	/* HTTP/1.0 may omit it; an empty Host value is still one Host */
	rp_open(8192, 1024);
	struct lav_request *r = whole("GET / HTTP/1.0\r\n\r\n");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	lav_request_free(r);
	rp_open(8192, 1024);
	r = whole("GET / HTTP/1.1\r\nHOST:\r\n\r\n");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	lav_request_free(r);
}

Test(reqparser, request_line_strict)
{
	const char *bad[] = {
		"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
		"GET /\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / http/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1x\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_400(bad[i], strlen(bad[i]));
}

/* The status of a malformed request line must not depend on how the bytes
 * were split: fed whole these are 400; byte by byte too. */
Test(reqparser, request_line_status_independent_of_fragmentation)
{
	const char *bad[] = {
		"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
		"GET /\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / http/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1x\r\nHost: x\r\n\r\n",
	};
	char report[1024] = "";
	size_t rn = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_open(8192, 1024);
		struct lav_request *r = bytewise(bad[i], strlen(bad[i]));
		cr_assert_null(r, "%s", bad[i]);
		if (rp.err_status != 400) {
			size_t l = strcspn(bad[i], "\r");
			rn += (size_t)snprintf(report + rn, sizeof(report) - rn,
					       "\n  \"%.*s\" -> %d %s (%s)", (int)l, bad[i],
					       rp.err_status, rp.err_code ? rp.err_code : "",
					       rp.err_msg);
		}
	}
	cr_assert_eq(rn, 0, "byte by byte, these got another status than 400:%s", report);
}

Test(reqparser, other_http_versions_505)
{
	const char *bad[] = {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "GET / HTTP/0.9\r\n\r\n",
			     "GET / HTTP/1.2\r\nHost: x\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_open(8192, 1024);
		lav_reqparser_feed(&rp, bad[i], strlen(bad[i]));
		cr_assert_null(lav_reqparser_take(&rp));
		cr_assert_eq(rp.err_status, 505, "%s -> %d (%s)", bad[i], rp.err_status, rp.err_msg);
		cr_assert_str_eq(rp.err_code, "http_version_not_supported");
	}
}

Test(reqparser, control_characters_rejected)
{
	const char *bad[] = {"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
			     "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
			     "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n",
			     "GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_400(bad[i], strlen(bad[i]));
	/* a tab inside a value is fine */
	rp_open(8192, 1024);
	struct lav_request *r = whole("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\n\r\n");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_str_eq(lav_request_header(r, "x-a"), "a\tb");
	lav_request_free(r);
}

Test(reqparser, leading_empty_lines_allowed)
{
	struct lav_request *r = whole("\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_not_null(r, "%d %s", rp.err_status, rp.err_msg);
	cr_assert_str_eq(r->path, "/x");
	lav_request_free(r);
}

Test(reqparser, pipelined_byte_by_byte)
{
	const char buf[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
			   "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
			   "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *want[] = {"/a", "/b", "/c"};
	int got = 0;
	for (size_t i = 0; i < sizeof(buf) - 1; i++) {
		cr_assert_eq(lav_reqparser_feed(&rp, buf + i, 1), 1, "byte %zu: %d %s", i,
			     rp.err_status, rp.err_msg);
		struct lav_request *r = lav_reqparser_take(&rp);
		if (r) {
			cr_assert_lt(got, 3);
			cr_assert_str_eq(r->path, want[got]);
			got++;
			lav_request_free(r);
		}
	}
	cr_assert_eq(got, 3);
}

Test(reqparser, free_with_pending_request)
{
	/* a completed request that was never taken is freed with the parser */
	lav_reqparser_feed(&rp, GET, strlen(GET));
	cr_assert_not_null(rp.ready);
}

Test(reqparser, free_null_request)
{
	lav_request_free(NULL);
}
