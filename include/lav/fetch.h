/* Upstream HTTP on the loop: libcurl's multi interface driven by libevent
 * (socket and timer callbacks), so no fetch ever blocks the server. */
#ifndef LAV_FETCH_H
#define LAV_FETCH_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/adapter.h"
#include "lav/log.h"

struct lav_fetcher;

/* err is NULL when an HTTP answer arrived (any status); else transport
 * trouble (timeout, refused, reset, too large) and status is 0. body is
 * valid during the call only. */
typedef void (*lav_fetch_cb)(void *arg, long status, const char *body, size_t len,
			     const char *err);

struct lav_fetcher *lav_fetcher_new(struct event_base *base, const struct lav_log *log);
/* Drops transfers in flight without calling their callbacks. */
void lav_fetcher_free(struct lav_fetcher *f);

void lav_fetch(struct lav_fetcher *f, const struct lav_fetch_req *req, int64_t timeout_ms,
	       size_t max_bytes, lav_fetch_cb cb, void *arg);
size_t lav_fetch_in_flight(const struct lav_fetcher *f);

#endif
