/* Response serialization: status line, headers, body, and the error shape. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lav/http.h"
#include "lav/server.h"

const char *lav_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

void lav_error_body(struct lav_buf *out, enum lav_format fmt, const char *code,
		    const char *message, const char *cid, const char *const *details,
		    size_t ndetails)
{
	struct lav_writer w;
	lav_w_init(&w, fmt, out);
	lav_w_map_begin(&w);
	lav_w_key(&w, "error");
	lav_w_map_begin(&w);
	lav_w_key(&w, "code");
	lav_w_str(&w, code);
	lav_w_key(&w, "message");
	lav_w_str(&w, message);
	lav_w_key(&w, "correlation_id");
	lav_w_str(&w, cid);
	if (ndetails) {
		lav_w_key(&w, "details");
		lav_w_array_begin(&w);
		for (size_t i = 0; i < ndetails; i++)
			lav_w_str(&w, details[i]);
		lav_w_array_end(&w);
	}
	lav_w_map_end(&w);
	lav_w_map_end(&w);
}

static void respond_error_v(struct lav_request *r, int status, const char *code,
			    const char *extra_headers, const char *const *details, size_t ndetails,
			    const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct lav_buf body = LAV_BUF_INIT;
	lav_error_body(&body, r->out_fmt, code, msg, r->cid, details, ndetails);
	lav_respond(r, status, lav_format_mime(r->out_fmt), body.data, body.len, extra_headers);
	lav_buf_free(&body);
}

void lav_respond_error(struct lav_request *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	respond_error_v(r, status, code, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}

void lav_respond_error_ex(struct lav_request *r, int status, const char *code,
			  const char *extra_headers, const char *const *details, size_t ndetails,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	respond_error_v(r, status, code, extra_headers, details, ndetails, fmt, ap);
	va_end(ap);
}
