/* The feature store on the loop: a pool of non-blocking PostgreSQL
 * connections, the group-committing write batcher (COPY into a staging
 * table, then INSERT ... ON CONFLICT DO NOTHING, one transaction per flush),
 * the hot series, LISTEN/NOTIFY for other writers, retention, the breaker and
 * the Redis write-through. */
#ifndef LAV_STORE_H
#define LAV_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/dq.h"
#include "lav/pg.h"
#include "lav/series.h"

struct lav_server;
struct lav_store;

struct lav_store *lav_store_new(struct lav_server *srv);
void lav_store_free(struct lav_store *st);

/* Start-up, before the loop: the newest points of every series. */
bool lav_store_load(struct lav_store *st, PGconn *conn, char *err, size_t errlen);
/* Starts the pool, the listener and the maintenance timer. */
void lav_store_start(struct lav_store *st);

struct lav_series_index *lav_store_series(struct lav_store *st);

/* False when PostgreSQL-backed work should be refused (pool down or the
 * breaker open); *retry_after_s then says when to come back. */
bool lav_store_available(struct lav_store *st, int *retry_after_s);

/* Durable publish. pts' points are taken over (their meta/evidence refs).
 * cb runs after the transaction committed (err NULL), with the indices of
 * points refused as conflicts (same key, other value), or with err set and
 * nothing stored. */
typedef void (*lav_publish_cb)(void *arg, const char *err, const size_t *conflicts,
			       size_t nconflicts);
void lav_store_publish(struct lav_store *st, struct lav_point_in *pts, size_t n,
		       lav_publish_cb cb, void *arg);

/* A read on the least busy pool connection; outcome counted by the breaker. */
bool lav_store_query(struct lav_store *st, const char *sql, int nparams,
		     const char *const *params, lav_pg_cb cb, void *arg);

/* Pure: one row of COPY text format for lav_stage. */
void lav_copy_row(struct lav_buf *out, size_t idx, const char *feature_id, const char *entity,
		  const struct lav_point *p);

/* Pool connections by state, for /metrics: connected and idle, connected
 * with queries queued, not connected. */
void lav_store_pool_state(const struct lav_store *st, int *ready, int *busy, int *down);

/* Instance name used as application_name (NOTIFY payloads name the writer). */
const char *lav_store_app_name(const struct lav_store *st);

#endif
