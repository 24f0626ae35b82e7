#include <string.h>

#include "lav/api.h"
#include "lav/timefmt.h"

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

bool lav_api_time_field(struct lav_request *req, const json_t *doc, const char *key,
			bool required, int64_t *out)
{
	json_t *v = json_object_get(doc, key);
	const char *why = "must be an RFC 3339 string";
	if (!v || json_is_null(v)) {
		if (!required)
			return true;
		why = "required (an RFC 3339 string)";
	} else if (json_is_string(v) &&
		   lav_time_parse(json_string_value(v), json_string_length(v), out, &why)) {
		return true;
	}
	lav_respond_error(req, 400, "bad_parameter", "field \"%s\": %s", key, why);
	return false;
}
