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

static void push_header(struct lav_reqparser *rp)
{
	struct lav_request *r = rp->cur;
	if (rp->field.len == 0)
		return;
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
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct lav_reqparser *rp = RP(p);
	if (count_header_bytes(rp, len + 4)) /* ": " and CRLF count too */
		return -1;
	if (rp->last_was_value) {
		push_header(rp);
		rp->last_was_value = false;
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
	if (rp->last_was_value || rp->field.len)
		push_header(rp);
	rp->last_was_value = false;
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
}

size_t lav_reqparser_feed(struct lav_reqparser *rp, const char *data, size_t len)
{
	if (rp->err_status || rp->ready || len == 0)
		return 0;
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
		else if (e == HPE_INVALID_VERSION)
			fail(rp, 505, "http_version_not_supported", msg);
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
