#include <string.h>

#include "lav/api.h"

json_t *lav_api_body(struct lav_request *req)
{
	enum lav_format fmt;
	const char *ct = lav_request_header(req, "content-type");
	if (!lav_format_from_content_type(ct, &fmt)) {
		lav_respond_error(req, 415, "unsupported_media_type",
				  "Content-Type %.100s is not supported: send application/json or "
				  "application/msgpack",
				  ct);
		return NULL;
	}
	char err[256];
	json_t *doc = lav_decode_body(fmt, req->body.data, req->body.len, err, sizeof(err));
	if (!doc)
		lav_respond_error(req, 400, "malformed_body", "%s", err);
	return doc;
}

void lav_api_reply(struct lav_request *req, int status, struct lav_buf *body)
{
	lav_respond(req, status, lav_format_mime(req->out_fmt), body->data, body->len, NULL);
}
