/* What lavd counts for GET /metrics (docs/observability.md): the counters
 * and histograms the request, WebSocket, store and ingest paths update, and
 * the collector that writes them, with the gauges read from each subsystem
 * at scrape time, in the Prometheus text format. Label sets are bounded:
 * routes, features, sources and codes are fixed lists. */
#ifndef LAV_METRICS_H
#define LAV_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lav/buf.h"
#include "lav/catalog.h"
#include "lav/prom.h"

struct lav_server;
struct event;

/* DQ flags a stored point may carry (meta.dq). */
enum lav_dq_rule { LAV_DQ_RULE_OUT_OF_RANGE, LAV_DQ_RULE_OUTLIER, LAV_DQ_NRULES };

/* Rejection codes counted per feature (feature_dq_rejected_total). Codes are
 * a closed set in dq/rules.c; anything else lands on "other". */
#define LAV_METRICS_MAX_REASONS 12

struct lav_feature_stats {
	uint64_t ingested, failed;
	uint64_t flagged[LAV_DQ_NRULES];
	uint64_t rejected[LAV_METRICS_MAX_REASONS];
};

/* WebSocket message types counted when sent. */
enum lav_ws_msg_type {
	LAV_WSM_POINT,
	LAV_WSM_REGIME_UPDATE,
	LAV_WSM_REGIME_FLIP,
	LAV_WSM_DQ_ALERT,
	LAV_WSM_SNAPSHOT,
	LAV_WSM_SUBSCRIBED,
	LAV_WSM_UNSUBSCRIBED,
	LAV_WSM_PONG,
	LAV_WSM_ERROR,
	LAV_WSM_COUNT
};

/* Close codes outside the known list (a peer's own, echoed back) and
 * requests whose method was never parsed are counted under this value,
 * written as "other" / "unknown". */
#define LAV_METRICS_OTHER_CODE (-1)

struct lav_http_code_count {
	int method; /* enum http_method */
	int code;
	uint64_t n;
};

struct lav_route_stats {
	const char *route; /* the route table's pattern (static) or "unmatched" */
	struct lav_hist duration;
	struct lav_http_code_count *codes;
	size_t ncodes;
	int endpoint; /* index into query[], -1: not a read endpoint, -2: not looked up */
};

/* Read endpoints timed as feature_query_duration_seconds{endpoint}. */
#define LAV_METRICS_NENDPOINTS 7

struct lav_metrics {
	size_t nfeatures;
	struct lav_feature_stats *features; /* parallel to catalog.features */
	uint64_t unknown_feature_rejects;

	struct lav_route_stats *routes;
	size_t nroutes;
	struct lav_hist query[LAV_METRICS_NENDPOINTS];

	uint64_t ws_sessions_total, ws_received;
	uint64_t ws_sent[LAV_WSM_COUNT];
	struct lav_http_code_count *ws_closes; /* method unused */
	size_t nws_closes;

	struct lav_hist pg_query;
	struct lav_hist redis_command;
	struct lav_hist loop_lag;
	struct event *lag_timer;
	int64_t lag_due_us;

	int64_t pg_storage_bytes; /* -1 until measured */
	struct event *storage_timer;
	bool storage_pending;
};

void lav_metrics_init(struct lav_metrics *m, const struct lav_catalog *cat);
void lav_metrics_free(struct lav_metrics *m);

/* One answered request: route NULL when none matched, method
 * LAV_METRICS_OTHER_CODE when the request line was not parsed. Returns the
 * route's entry (valid until the next call). */
struct lav_route_stats *lav_metrics_http(struct lav_metrics *m, const char *route, int method,
					 int status, double seconds);
/* A stored point of f (new, not a repeat) and its meta.dq flags. */
void lav_metrics_stored(struct lav_metrics *m, const struct lav_catalog *cat,
			const struct lav_feature *f, const json_t *meta);
/* Points of f refused after validation (conflicts, failed writes). */
void lav_metrics_failed(struct lav_metrics *m, const struct lav_catalog *cat,
			const struct lav_feature *f, size_t n);
/* A point refused by a DQ rule with the given error code; f NULL for an
 * unknown feature id. Also counts as failed. */
void lav_metrics_rejected(struct lav_metrics *m, const struct lav_catalog *cat,
			  const struct lav_feature *f, const char *code);
void lav_metrics_ws_sent(struct lav_metrics *m, enum lav_ws_msg_type type);
void lav_metrics_ws_closed(struct lav_metrics *m, int code);

/* The rejection codes, in the order of lav_feature_stats.rejected. */
const char *lav_metrics_reason_name(size_t i);

/* Timers of the loop-lag probe and the storage size poll. */
void lav_metrics_start(struct lav_server *srv);
void lav_metrics_stop(struct lav_server *srv);

/* An answered request (conn.c): lav_http_* and, for read endpoints,
 * feature_query_duration_seconds. */
struct lav_request;
void lav_metrics_request(struct lav_server *srv, const struct lav_request *r, int status);

/* The whole exposition (src/api/metrics.c). */
void lav_metrics_write(struct lav_server *srv, struct lav_buf *out);

#endif
