#include "lav/router.h"

#include <stdio.h>
#include <string.h>

#include "lav/auth.h"
#include "lav/buf.h"
#include "lav/server.h"
#include "lav/strmap.h"

static void allow_header(unsigned methods, char *out, size_t outlen)
{
	static const enum http_method order[] = {HTTP_GET, HTTP_HEAD,  HTTP_POST,
						 HTTP_PUT, HTTP_PATCH, HTTP_DELETE};
	size_t n = (size_t)snprintf(out, outlen, "Allow: ");
	bool first = true;
	if (methods & LAV_M(HTTP_GET))
		methods |= LAV_M(HTTP_HEAD);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(methods & LAV_M(order[i])))
			continue;
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", first ? "" : ", ",
				      http_method_str(order[i]));
		first = false;
	}
	snprintf(out + n, outlen - n, "\r\n");
}

static bool authenticate(struct lav_server *srv, const struct lav_route *route,
			 struct lav_request *req)
{
	if (!srv->auth_enabled || route->scope == LAV_SCOPE_NONE)
		return true;
	const char *tok = NULL;
	size_t len = 0;
	static const char challenge[] = "WWW-Authenticate: Bearer realm=\"lav\"\r\n";
	const char *authorization = lav_request_header(req, "authorization");
	struct lav_query q = {0};
	if (!authorization && route->token_in_query && lav_query_parse(req->query, &q)) {
		tok = lav_query_get(&q, "token", NULL);
		len = tok ? strlen(tok) : 0;
	}
	if (!tok && !lav_bearer_token(authorization, &tok, &len)) {
		lav_query_free(&q);
		lav_respond_error_ex(
		    req, 401, "unauthorized", challenge, NULL, 0,
		    route->token_in_query
			? "a bearer token is required (Authorization: Bearer "
			  "<token>, or ?token=<token>)"
			: "a bearer token is required (Authorization: Bearer <token>)");
		return false;
	}
	const struct lav_token *t = lav_tokens_find(&srv->tokens, tok, len);
	lav_query_free(&q);
	if (!t) {
		lav_respond_error_ex(req, 401, "unauthorized",
				     "WWW-Authenticate: Bearer realm=\"lav\", "
				     "error=\"invalid_token\"\r\n",
				     NULL, 0, "the bearer token is not valid");
		return false;
	}
	if (!(t->scopes & route->scope)) {
		lav_respond_error(req, 403, "forbidden", "token \"%s\" lacks scope %s", t->name,
				  lav_scope_name(route->scope));
		return false;
	}
	req->token = t;
	struct lav_rate_bucket *b = lav_strmap_get(&srv->rate_buckets, t->name);
	if (!b) {
		b = lav_xcalloc(1, sizeof(*b));
		lav_strmap_put(&srv->rate_buckets, t->name, b);
	}
	int retry;
	if (!lav_rate_take(b, srv->cfg.rate_limit_rpm, lav_monotonic_us(), &retry)) {
		char hdr[40];
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
		lav_respond_error_ex(req, 429, "rate_limited", hdr, NULL, 0,
				     "token \"%s\" is over %d requests per minute "
				     "(FEATURE_API_RATE_LIMIT_RPM)",
				     t->name, srv->cfg.rate_limit_rpm);
		return false;
	}
	return true;
}

void lav_route_request(struct lav_server *srv, const struct lav_route *routes, size_t n,
		       struct lav_request *req)
{
	const struct lav_route *match = NULL;
	unsigned allowed = 0;
	unsigned m = LAV_M(req->method);
	bool own_type = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(routes[i].path, req->path) != 0)
			continue;
		/* every answer on a known path (405 and 406 too) counts under it */
		req->route = routes[i].path;
		own_type |= routes[i].own_content_type;
		unsigned methods = routes[i].methods;
		if (methods & LAV_M(HTTP_GET))
			methods |= LAV_M(HTTP_HEAD);
		allowed |= routes[i].methods;
		if (methods & m)
			match = &routes[i];
	}
	req->out_fmt = LAV_FMT_JSON;
	if (!lav_format_from_accept(lav_request_header(req, "accept"), &req->out_fmt)) {
		req->out_fmt = LAV_FMT_JSON;
		/* a page or a Prometheus scrape asks for its own type; errors there
		 * are JSON */
		if (!own_type) {
			lav_respond_error(req, 406, "not_acceptable",
					  "Accept must allow application/json or "
					  "application/msgpack");
			return;
		}
	}
	if (!match) {
		if (allowed) {
			char allow[128];
			allow_header(allowed, allow, sizeof(allow));
			lav_respond_error_ex(req, 405, "method_not_allowed", allow, NULL, 0,
					     "%s is not allowed on %s",
					     http_method_str(req->method), req->path);
		} else {
			lav_respond_error(req, 404, "not_found", "no such endpoint: %.200s",
					  req->path);
		}
		return;
	}
	if (!authenticate(srv, match, req))
		return;
	match->fn(srv, req);
}
