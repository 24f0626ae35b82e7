/* Method + path → handler, with the scope a route needs. Exact paths only:
 * lav's API has no path parameters (ids travel in the query or the body). */
#ifndef LAV_ROUTER_H
#define LAV_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "lav/http.h"

struct lav_server;

typedef void (*lav_handler)(struct lav_server *srv, struct lav_request *req);

#define LAV_M(m) (1u << (m))

struct lav_route {
	const char *path;
	unsigned methods; /* LAV_M(HTTP_GET) | ...; GET implies HEAD */
	unsigned scope;	  /* enum lav_scope needed, 0 = public */
	lav_handler fn;
	bool token_in_query; /* ?token= accepted too (WebSocket from browsers) */
	/* answers in a type of its own (HTML, Prometheus text): Accept is not
	 * negotiated to JSON or MessagePack */
	bool own_content_type;
};

/* Negotiates the response format, finds the route (404/405 with Allow),
 * authenticates (401/403), then calls the handler. */
void lav_route_request(struct lav_server *srv, const struct lav_route *routes, size_t n,
		       struct lav_request *req);

/* ---- query strings ---- */

struct lav_query_param {
	char *key;
	char *value;
};

struct lav_query {
	struct lav_query_param *p;
	size_t n;
};

/* Splits and percent-decodes a query string ('+' is a space). Returns false
 * on a malformed escape or an embedded NUL. */
bool lav_query_parse(const char *qs, struct lav_query *out);
void lav_query_free(struct lav_query *q);
/* The only value of key; *dup set when the key appears more than once. */
const char *lav_query_get(const struct lav_query *q, const char *key, bool *dup);
/* First key not in the NULL-terminated allowed list, or NULL. */
const char *lav_query_unknown(const struct lav_query *q, const char *const *allowed);

#endif
