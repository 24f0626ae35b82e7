/* Incremental request parsing on http-parser. One request at a time: the
 * parser pauses after each complete message so the connection can dispatch
 * it and keep pipelined responses in order. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lav/http.h"

static struct lav_reqparser *RP(http_parser *p)
{
	return p->data;
}

static int fail(struct lav_reqparser *rp, int status, const char *code, const char *msg)
{
	if (!rp->err_status) {
		rp->err_status = status;
		rp->err_code = code;
		snprintf(rp->err_msg, sizeof(rp->err_msg), "%s", msg);
	}
	return -1;
}

/* RFC 9110 token characters (method and header names). */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* http-parser in its lenient build accepts "HTTX/1.1", a missing version and
 * more; lav checks the request line itself: METHOD SP target SP HTTP/1.x. */
static void check_request_line(struct lav_reqparser *rp, const char *l, size_t n)
{
	while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
		n--;
	const char *sp1 = memchr(l, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l)) : NULL;
	if (!sp1 || !sp2 || sp1 == l || sp2 == sp1 + 1 ||
	    memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - l))) {
		fail(rp, 400, "bad_request", "malformed request line (METHOD target HTTP/1.1)");
		return;
	}
	for (const char *p = l; p < sp1; p++)
		if (!is_tchar((unsigned char)*p)) {
			fail(rp, 400, "bad_request", "malformed request method");
			return;
		}
	for (const char *p = sp1 + 1; p < sp2; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
			fail(rp, 400, "bad_request", "control character in request-target");
			return;
		}
	const char *v = sp2 + 1;
	size_t vn = n - (size_t)(v - l);
	if (vn == 8 && (memcmp(v, "HTTP/1.1", 8) == 0 || memcmp(v, "HTTP/1.0", 8) == 0))
		return;
	if (vn == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
	    v[7] >= '0' && v[7] <= '9')
		fail(rp, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
	else
		fail(rp, 400, "bad_request", "malformed HTTP version in the request line");
}

static int count_header_bytes(struct lav_reqparser *rp, size_t n)
{
	rp->header_bytes += n;
	if (rp->header_bytes > rp->max_header_bytes) {
		char msg[120];
		snprintf(msg, sizeof(msg), "request line and headers exceed %zu bytes",
			 rp->max_header_bytes);
		return fail(rp, 431, "headers_too_large", msg);
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct lav_reqparser *rp = RP(p);
	rp->cur = lav_xcalloc(1, sizeof(struct lav_request));
	rp->header_bytes = 0;
	rp->in_message = true;
	rp->last_was_value = false;
	rp->want_continue = false;
	lav_buf_reset(&rp->field);
	lav_buf_reset(&rp->value);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct lav_reqparser *rp = RP(p);
	if (count_header_bytes(rp, len))
		return -1;
	size_t old = rp->cur->target ? strlen(rp->cur->target) : 0;
	rp->cur->target = lav_xrealloc(rp->cur->target, old + len + 1);
	memcpy(rp->cur->target + old, at, len);
	rp->cur->target[old + len] = '\0';
	return 0;
}

static int push_header(struct lav_reqparser *rp)
{
	struct lav_request *r = rp->cur;
	if (rp->field.len == 0)
		return 0;
	for (size_t i = 0; i < rp->field.len; i++)
		if (!is_tchar((unsigned char)rp->field.data[i]))
			return fail(rp, 400, "bad_request", "invalid character in a header name");
	for (size_t i = 0; i < rp->value.len; i++) {
		unsigned char c = (unsigned char)rp->value.data[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(rp, 400, "bad_request",
				    "control character in a header value");
	}
	r->headers = lav_xrealloc(r->headers, (r->nheaders + 1) * sizeof(struct lav_header));
	char *name = lav_xstrndup(rp->field.data, rp->field.len);
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = lav_xstrndup(rp->value.data ? rp->value.data : "",
						     rp->value.len);
	r->nheaders++;
	lav_buf_reset(&rp->field);
	lav_buf_reset(&rp->value);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct lav_reqparser *rp = RP(p);
	/* ": " and CRLF count too, once per header however the name arrives */
	bool new_field = rp->last_was_value || rp->field.len == 0;
	if (count_header_bytes(rp, len + (new_field ? 4 : 0)))
		return -1;
	if (rp->last_was_value) {
		rp->last_was_value = false;
		if (push_header(rp))
			return -1;
	}
	lav_buf_append(&rp->field, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct lav_reqparser *rp = RP(p);
	if (count_header_bytes(rp, len))
		return -1;
	rp->last_was_value = true;
	lav_buf_append(&rp->value, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct lav_reqparser *rp = RP(p);
	struct lav_request *r = rp->cur;
	rp->last_was_value = false;
	if (push_header(rp))
		return -1;
	if (p->http_major == 1 && p->http_minor == 1) {
		size_t hosts = 0;
		for (size_t i = 0; i < r->nheaders; i++)
			hosts += strcmp(r->headers[i].name, "host") == 0;
		if (hosts != 1)
			return fail(rp, 400, "bad_request",
				    "an HTTP/1.1 request needs exactly one Host header");
	}
	r->method = (enum http_method)p->method;
	r->keep_alive = http_should_keep_alive(p);
	if (!r->target || r->target[0] != '/')
		return fail(rp, 400, "bad_request", "request-target must be an absolute path");
	char *q = strchr(r->target, '?');
	r->path = lav_xstrndup(r->target, q ? (size_t)(q - r->target) : strlen(r->target));
	r->query = q ? lav_xstrdup(q + 1) : NULL;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > rp->max_body_bytes) {
		char msg[120];
		snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu",
			 (unsigned long long)p->content_length, rp->max_body_bytes);
		return fail(rp, 413, "payload_too_large", msg);
	}
	const char *expect = lav_request_header(r, "expect");
	if (expect) {
		if (strcasecmp(expect, "100-continue") != 0)
			return fail(rp, 417, "expectation_failed",
				    "only Expect: 100-continue is supported");
		rp->want_continue = true;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct lav_reqparser *rp = RP(p);
	struct lav_request *r = rp->cur;
	if (r->body.len + len > rp->max_body_bytes) {
		char msg[120];
		snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
			 rp->max_body_bytes);
		return fail(rp, 413, "payload_too_large", msg);
	}
	lav_buf_append(&r->body, at, len);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct lav_reqparser *rp = RP(p);
	rp->ready = rp->cur;
	rp->cur = NULL;
	rp->in_message = false;
	rp->want_continue = false;
	rp->line_checked = false;
	lav_buf_reset(&rp->line);
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings SETTINGS = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void lav_reqparser_init(struct lav_reqparser *rp, size_t max_header_bytes, size_t max_body_bytes)
{
	memset(rp, 0, sizeof(*rp));
	http_parser_init(&rp->p, HTTP_REQUEST);
	rp->p.data = rp;
	rp->max_header_bytes = max_header_bytes;
	rp->max_body_bytes = max_body_bytes;
}

void lav_reqparser_free(struct lav_reqparser *rp)
{
	if (rp->cur)
		lav_request_free(rp->cur);
	if (rp->ready)
		lav_request_free(rp->ready);
	rp->cur = rp->ready = NULL;
	lav_buf_free(&rp->field);
	lav_buf_free(&rp->value);
	lav_buf_free(&rp->line);
}

size_t lav_reqparser_feed(struct lav_reqparser *rp, const char *data, size_t len)
{
	if (rp->err_status || rp->ready || len == 0)
		return 0;
	for (size_t i = 0; !rp->line_checked && i < len; i++) {
		char ch = data[i];
		if (rp->line.len == 0 && (ch == '\r' || ch == '\n'))
			continue; /* empty lines before a request are allowed */
		if (rp->line.len > rp->max_header_bytes)
			break; /* the header byte count answers 431 */
		lav_buf_putc(&rp->line, ch);
		if (ch == '\n') {
			rp->line_checked = true;
			check_request_line(rp, rp->line.data, rp->line.len);
			if (rp->err_status)
				return 0;
		}
	}
	size_t n = http_parser_execute(&rp->p, &SETTINGS, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&rp->p);
	if (e == HPE_PAUSED) {
		http_parser_pause(&rp->p, 0);
		return n;
	}
	if (e != HPE_OK && !rp->err_status) {
		char msg[160];
		snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
			 http_errno_description(e));
		if (e == HPE_HEADER_OVERFLOW)
			fail(rp, 431, "headers_too_large", msg);
		else
			fail(rp, 400, "bad_request", msg);
	}
	return n;
}

struct lav_request *lav_reqparser_take(struct lav_reqparser *rp)
{
	struct lav_request *r = rp->ready;
	rp->ready = NULL;
	return r;
}

bool lav_reqparser_mid_message(const struct lav_reqparser *rp)
{
	return rp->in_message;
}

const char *lav_request_header(const struct lav_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void lav_request_free(struct lav_request *r)
{
	if (!r)
		return;
	free(r->target);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	lav_buf_free(&r->body);
	lav_buf_free(&r->out);
	free(r);
}
