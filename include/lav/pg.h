/* One non-blocking libpq connection driven by the libevent loop: connect with
 * PQconnectStartParams/PQconnectPoll, queries with PQsendQueryParams, results
 * delivered to callbacks in order; reconnects with capped backoff. Never
 * blocks the loop. The pool and the write batcher are built on this. */
#ifndef LAV_PG_H
#define LAV_PG_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "lav/buf.h"
#include "lav/log.h"

struct lav_pg;

/* res is NULL when the query could not run (connection lost or failed);
 * err then says why. The callee must not PQclear res. */
typedef void (*lav_pg_cb)(const PGresult *res, const char *err, void *arg);

/* init_sql (may be NULL) runs after every (re)connect, before queued queries:
 * LISTEN, temp tables. */
struct lav_pg *lav_pg_new(struct event_base *base, const char *dsn, const char *app_name,
			  int statement_timeout_ms, const char *init_sql, const struct lav_log *log);
void lav_pg_free(struct lav_pg *pg);
bool lav_pg_connected(const struct lav_pg *pg);
/* Every round trip (sent to result) is observed in latency (borrowed). */
struct lav_hist;
void lav_pg_observe(struct lav_pg *pg, struct lav_hist *latency);
/* Queues a parameterised query (text parameters). Returns false when the
 * queue is full; cb is not called then. */
bool lav_pg_query(struct lav_pg *pg, const char *sql, int nparams, const char *const *params,
		  lav_pg_cb cb, void *arg);
const char *lav_pg_last_error(const struct lav_pg *pg);
/* Queries queued or in flight on this connection. */
size_t lav_pg_pending(const struct lav_pg *pg);

/* A simple-protocol query string containing one COPY ... FROM STDIN; data is
 * streamed without blocking. The string runs as one implicit transaction;
 * res is the first error or else the last result. Takes ownership of data. */
bool lav_pg_copy(struct lav_pg *pg, const char *sql, struct lav_buf *data, lav_pg_cb cb,
		 void *arg);

/* Called for each NOTIFY received on this connection. */
typedef void (*lav_pg_notify_cb)(const char *channel, const char *payload, void *arg);
void lav_pg_on_notify(struct lav_pg *pg, lav_pg_notify_cb cb, void *arg);
/* Called after every successful (re)connect (e.g. to resynchronise). */
void lav_pg_on_connect(struct lav_pg *pg, void (*cb)(void *arg), void *arg);

/* Blocking connect for start-up work done before the loop runs (migrations,
 * catalog sync). Returns NULL with err set on failure. */
PGconn *lav_pg_connect_blocking(const char *dsn, const char *app_name, char *err, size_t errlen);

#endif
