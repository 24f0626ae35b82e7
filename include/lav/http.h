/* lav's own HTTP/1.1 layer on bufferevents (evhttp cannot hand a connection
 * over to WebSocket). Split in two: the request parser is pure (bytes in,
 * requests or a precise error out) and unit-tested; the connection code is a
 * thin loop around it that keeps pipelined responses in order. */
#ifndef LAV_HTTP_H
#define LAV_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/buf.h"
#include "lav/codec.h"

struct lav_server;
struct lav_conn;
struct lav_token;

struct lav_header {
	char *name; /* lowercased */
	char *value;
};

#define LAV_CID_MAX 128

struct lav_request {
	struct lav_conn *conn; /* NULL once the client went away: finish() then frees */
	enum http_method method;
	char *target; /* raw request-target */
	char *path;   /* target up to '?' */
	char *query;  /* after '?', NULL when absent */
	struct lav_header *headers;
	size_t nheaders;
	struct lav_buf body;
	bool keep_alive;
	char cid[LAV_CID_MAX + 1];
	int64_t start_us;
	enum lav_format out_fmt;
	const struct lav_token *token;
	const char *route; /* route pattern, for logs and metrics */

	/* response */
	bool done;
	int status;
	struct lav_buf out;
	struct lav_request *next;
};

/* Case-insensitive header lookup (first occurrence). */
const char *lav_request_header(const struct lav_request *r, const char *name);
void lav_request_free(struct lav_request *r);

/* ---- pure request parser ---- */

struct lav_reqparser {
	http_parser p;
	size_t max_header_bytes;
	size_t max_body_bytes;
	struct lav_request *cur;   /* being parsed */
	struct lav_request *ready; /* complete, waiting for lav_reqparser_take */
	size_t header_bytes;
	bool in_message;
	bool last_was_value;
	bool want_continue; /* Expect: 100-continue seen on the current request */
	bool line_checked;  /* request line of the current message validated */
	struct lav_buf line;
	struct lav_buf field, value;
	/* error: status != 0 stops the connection after its response */
	int err_status;
	const char *err_code;
	char err_msg[160];
};

void lav_reqparser_init(struct lav_reqparser *rp, size_t max_header_bytes, size_t max_body_bytes);
void lav_reqparser_free(struct lav_reqparser *rp);
/* Consumes bytes until one request completes, an error occurs, or data ends.
 * Returns the number of bytes consumed. */
size_t lav_reqparser_feed(struct lav_reqparser *rp, const char *data, size_t len);
/* The completed request, if any; the caller owns it. */
struct lav_request *lav_reqparser_take(struct lav_reqparser *rp);
/* True while a request has started but not completed. */
bool lav_reqparser_mid_message(const struct lav_reqparser *rp);

/* ---- responses (conn.c / response.c) ---- */

/* Completes r with a full response. extra_headers: "Name: value\r\n"... or NULL. */
void lav_respond(struct lav_request *r, int status, const char *content_type, const void *body,
		 size_t len, const char *extra_headers);
/* The error shape of DESIGN.md section 4 in the request's response format. */
void lav_respond_error(struct lav_request *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like lav_respond_error with extra headers and a "details" array. */
void lav_respond_error_ex(struct lav_request *r, int status, const char *code,
			  const char *extra_headers, const char *const *details, size_t ndetails,
			  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Serializes an error body into out (for callers without a request). */
void lav_error_body(struct lav_buf *out, enum lav_format fmt, const char *code, const char *message,
		    const char *cid, const char *const *details, size_t ndetails);

const char *lav_http_reason(int status);

/* Answers r with head (a whole "101 Switching Protocols" response head) and
 * hands the connection to the WebSocket layer in fmt once the request loop
 * unwinds. False, with nothing done, when other requests share the
 * connection. */
bool lav_http_upgrade(struct lav_request *r, const char *head, enum lav_format fmt);

/* ---- connections ---- */

/* Accept loop wiring; called by the server. */
bool lav_http_listen(struct lav_server *srv, char *err, size_t errlen);
/* Stops accepting and closes idle connections; busy ones close after their
 * last response. */
void lav_http_drain(struct lav_server *srv);
void lav_http_close_all(struct lav_server *srv);

#endif
