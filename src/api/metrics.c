/* GET /metrics: the counters the request paths keep (lav/metrics.h) and the
 * gauges read from each subsystem at scrape time, in the Prometheus text
 * format. Also the two timers behind it: the event-loop lag probe and the
 * PostgreSQL storage size poll (a scrape never waits on PostgreSQL). */
#include <dirent.h>
#include <event2/event.h>
#include <http_parser.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lav/api.h"
#include "lav/breaker.h"
#include "lav/ingest.h"
#include "lav/metrics.h"
#include "lav/quality.h"
#include "lav/redis.h"
#include "lav/regime.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/ws.h"

#define LAG_PROBE_US	100000
#define STORAGE_POLL_US (30 * 1000000LL)

static const char *const ENDPOINTS[LAV_METRICS_NENDPOINTS][2] = {
    {"/api/features/v1/latest", "latest"},
    {"/api/features/v1/query", "query"},
    {"/api/features/v1/catalog", "catalog"},
    {"/api/liquidity/v1/regime/latest", "regime_latest"},
    {"/api/liquidity/v1/scoreboard", "scoreboard"},
    {"/api/liquidity/v1/hints", "hints"},
    {"/api/liquidity/v1/history", "history"},
};

static const char *const WS_TYPES[LAV_WSM_COUNT] = {
    "feature.point", "regime.update", "regime.flip", "dq.alert", "snapshot",
    "subscribed",    "unsubscribed",  "pong",	     "error",
};

static const char *const STATES[] = {"verde", "amarillo", "rojo"};
static const char *const BREAKER_STATES[] = {"closed", "open", "half_open"};

void lav_metrics_request(struct lav_server *srv, const struct lav_request *r, int status)
{
	double s = (double)(lav_monotonic_us() - r->start_us) / 1e6;
	/* an unparseable request may not have a method yet (0 is DELETE) */
	int method = r->path ? (int)r->method : LAV_METRICS_OTHER_CODE;
	struct lav_route_stats *rs = lav_metrics_http(&srv->metrics, r->route, method, status, s);
	if (rs->endpoint == -2) { /* once per route */
		rs->endpoint = -1;
		for (int i = 0; i < LAV_METRICS_NENDPOINTS && r->route; i++)
			if (strcmp(r->route, ENDPOINTS[i][0]) == 0)
				rs->endpoint = i;
	}
	/* a refused request queried nothing */
	if (rs->endpoint >= 0 && status < 400)
		lav_hist_observe(&srv->metrics.query[rs->endpoint], s);
}

/* ---- timers ---- */

static void on_lag(evutil_socket_t fd, short what, void *arg)
{
	struct lav_server *srv = arg;
	(void)fd;
	(void)what;
	int64_t now = lav_monotonic_us();
	int64_t late = now - srv->metrics.lag_due_us;
	lav_hist_observe(&srv->metrics.loop_lag, late > 0 ? (double)late / 1e6 : 0);
	srv->metrics.lag_due_us = now + LAG_PROBE_US;
	struct timeval tv = {0, LAG_PROBE_US};
	evtimer_add(srv->metrics.lag_timer, &tv);
}

/* features_values with its daily partitions, and the other tables of lav */
static const char STORAGE_SQL[] =
    "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
    "WHERE c.oid IN ('features_values'::regclass, 'regime_history'::regclass, "
    "'series'::regclass, 'features_catalog'::regclass) OR c.oid IN (SELECT inhrelid FROM "
    "pg_inherits WHERE inhparent = 'features_values'::regclass)";

static void on_storage(const PGresult *res, const char *err, void *arg)
{
	struct lav_server *srv = arg;
	srv->metrics.storage_pending = false;
	if (err)
		lav_log(&srv->log, LAV_LOG_DEBUG, NULL, "metrics: storage size: %s", err);
	if (!err && res && PQntuples(res) == 1)
		srv->metrics.pg_storage_bytes = atoll(PQgetvalue(res, 0, 0));
}

static void poll_storage(evutil_socket_t fd, short what, void *arg)
{
	struct lav_server *srv = arg;
	(void)fd;
	(void)what;
	if (!srv->metrics.storage_pending && srv->store &&
	    lav_store_query(srv->store, STORAGE_SQL, 0, NULL, on_storage, srv))
		srv->metrics.storage_pending = true;
	struct timeval tv = {STORAGE_POLL_US / 1000000, 0};
	evtimer_add(srv->metrics.storage_timer, &tv);
}

void lav_metrics_start(struct lav_server *srv)
{
	struct lav_metrics *m = &srv->metrics;
	m->lag_timer = evtimer_new(srv->base, on_lag, srv);
	m->lag_due_us = lav_monotonic_us() + LAG_PROBE_US;
	struct timeval tv = {0, LAG_PROBE_US};
	evtimer_add(m->lag_timer, &tv);
	m->storage_timer = evtimer_new(srv->base, poll_storage, srv);
	struct timeval first = {1, 0}; /* once the pool has connected */
	evtimer_add(m->storage_timer, &first);
}

void lav_metrics_stop(struct lav_server *srv)
{
	struct lav_metrics *m = &srv->metrics;
	if (m->lag_timer)
		event_free(m->lag_timer);
	if (m->storage_timer)
		event_free(m->storage_timer);
	m->lag_timer = m->storage_timer = NULL;
}

/* ---- the exposition ---- */

static void gauge(struct lav_buf *o, const char *name, const char *help, double v)
{
	lav_prom_family(o, name, "gauge", help);
	lav_prom_sample(o, name, NULL, v);
}

static void counter(struct lav_buf *o, const char *name, const char *help, double v)
{
	lav_prom_family(o, name, "counter", help);
	lav_prom_sample(o, name, NULL, v);
}

struct feature_quality {
	bool has_age, has_coverage, has_series;
	int64_t age_us, business_age_us;
	double coverage;
	struct lav_gap_spec gap;
};

/* The stalest age and the lowest coverage over each feature's series, in one
 * pass over the hot series. q is parallel to the catalog's features. */
static void feature_quality(struct lav_server *srv, int64_t now, struct feature_quality *q)
{
	const struct lav_catalog *cat = &srv->catalog;
	for (size_t i = 0; i < cat->nfeatures; i++)
		lav_ingest_gap_spec(srv->ingest, &cat->features[i], &q[i].gap);
	struct lav_series_index *ix = lav_store_series(srv->store);
	lav_strmap_foreach(&ix->map, i)
	{
		const struct lav_series *s = ix->map.slots[i].value;
		const struct lav_feature *f = s->feature;
		if (!f || f < cat->features || f >= cat->features + cat->nfeatures)
			continue;
		struct feature_quality *fq = &q[f - cat->features];
		fq->has_series = true;
		const struct lav_point *p = lav_series_asof(s, now);
		if (p) {
			int64_t age = now - p->ts;
			int64_t bage = lav_dq_business_age_us(fq->gap.calendar, p->ts, now);
			if (!fq->has_age || age > fq->age_us)
				fq->age_us = age;
			if (!fq->has_age || bage > fq->business_age_us)
				fq->business_age_us = bage;
			fq->has_age = true;
		}
		double c;
		if (f->frequency != LAV_FREQ_TICK &&
		    lav_dq_coverage(&fq->gap, s->pts, s->n, f->publication_delay_ms * 1000, now,
				    &c) &&
		    (!fq->has_coverage || c < fq->coverage)) {
			fq->coverage = c;
			fq->has_coverage = true;
		}
	}
	/* a feature nothing was stored for covers none of its periods */
	for (size_t i = 0; i < cat->nfeatures; i++) {
		if (!q[i].has_series && q[i].gap.period_us > 0 &&
		    cat->features[i].frequency != LAV_FREQ_TICK) {
			q[i].coverage = 0;
			q[i].has_coverage = true;
		}
	}
}

static size_t hot_points(struct lav_server *srv)
{
	size_t n = 0;
	struct lav_series_index *ix = lav_store_series(srv->store);
	lav_strmap_foreach(&ix->map, i)
	{
		const struct lav_series *s = ix->map.slots[i].value;
		n += s->n;
	}
	return n;
}

static void write_features(struct lav_server *srv, struct lav_buf *o)
{
	const struct lav_catalog *cat = &srv->catalog;
	const struct lav_metrics *m = &srv->metrics;
	int64_t now = lav_now_us();

	lav_prom_family(o, "feature_ingest_total", "counter",
			"Points of the feature this instance stored (new points only).");
	for (size_t i = 0; i < cat->nfeatures; i++)
		lav_prom_sample(o, "feature_ingest_total",
				(const char *[]){"feature", cat->features[i].id, NULL},
				(double)m->features[i].ingested);
	lav_prom_family(o, "feature_ingest_fail_total", "counter",
			"Points of the feature refused: DQ rejections, conflicts, failed writes.");
	for (size_t i = 0; i < cat->nfeatures; i++)
		lav_prom_sample(o, "feature_ingest_fail_total",
				(const char *[]){"feature", cat->features[i].id, NULL},
				(double)m->features[i].failed);
	lav_prom_family(o, "feature_dq_rejected_total", "counter",
			"Points refused by a data-quality rule, by error code.");
	for (size_t i = 0; i < cat->nfeatures; i++)
		for (size_t r = 0; lav_metrics_reason_name(r); r++)
			lav_prom_sample(o, "feature_dq_rejected_total",
					(const char *[]){"feature", cat->features[i].id, "reason",
							 lav_metrics_reason_name(r), NULL},
					(double)m->features[i].rejected[r]);
	lav_prom_family(o, "feature_dq_flagged_total", "counter",
			"Points stored with a data-quality flag (meta.dq), by rule.");
	for (size_t i = 0; i < cat->nfeatures; i++) {
		const char *id = cat->features[i].id;
		lav_prom_sample(o, "feature_dq_flagged_total",
				(const char *[]){"feature", id, "rule", "out_of_range", NULL},
				(double)m->features[i].flagged[LAV_DQ_RULE_OUT_OF_RANGE]);
		lav_prom_sample(o, "feature_dq_flagged_total",
				(const char *[]){"feature", id, "rule", "outlier", NULL},
				(double)m->features[i].flagged[LAV_DQ_RULE_OUTLIER]);
	}
	counter(o, "lav_dq_unknown_feature_total",
		"Published points naming a feature id the catalog does not have.",
		(double)m->unknown_feature_rejects);

	struct feature_quality *q = lav_xcalloc(cat->nfeatures ? cat->nfeatures : 1, sizeof(*q));
	feature_quality(srv, now, q);
	lav_prom_family(o, "feature_freshness_seconds", "gauge",
			"now - ts of the newest point known now (the stalest series of the "
			"feature).");
	for (size_t i = 0; i < cat->nfeatures; i++)
		if (q[i].has_age)
			lav_prom_sample(o, "feature_freshness_seconds",
					(const char *[]){"feature", cat->features[i].id, NULL},
					(double)q[i].age_us / 1e6);
	lav_prom_family(o, "feature_freshness_business_seconds", "gauge",
			"The same age counted only over the open days of the source's calendar.");
	for (size_t i = 0; i < cat->nfeatures; i++)
		if (q[i].has_age)
			lav_prom_sample(o, "feature_freshness_business_seconds",
					(const char *[]){"feature", cat->features[i].id, NULL},
					(double)q[i].business_age_us / 1e6);
	lav_prom_family(o, "feature_ttl_seconds", "gauge", "The catalog's TTL of the feature.");
	for (size_t i = 0; i < cat->nfeatures; i++)
		lav_prom_sample(o, "feature_ttl_seconds",
				(const char *[]){"feature", cat->features[i].id, NULL},
				(double)cat->features[i].ttl_ms / 1e3);
	lav_prom_family(o, "feature_coverage_ratio", "gauge",
			"Expected periods observed / expected over the last 30 due periods.");
	for (size_t i = 0; i < cat->nfeatures; i++)
		if (q[i].has_coverage)
			lav_prom_sample(o, "feature_coverage_ratio",
					(const char *[]){"feature", cat->features[i].id, NULL},
					q[i].coverage);
	free(q);

	lav_prom_family(o, "feature_query_duration_seconds", "histogram",
			"Time to answer a read endpoint.");
	for (size_t i = 0; i < LAV_METRICS_NENDPOINTS; i++)
		lav_prom_hist(o, "feature_query_duration_seconds",
			      (const char *[]){"endpoint", ENDPOINTS[i][1], NULL}, &m->query[i]);

	lav_prom_family(o, "feature_storage_size_bytes", "gauge",
			"Bytes held by each storage layer.");
	if (m->pg_storage_bytes >= 0)
		lav_prom_sample(o, "feature_storage_size_bytes",
				(const char *[]){"layer", "postgres", NULL},
				(double)m->pg_storage_bytes);
	int64_t redis_bytes = lav_redis_used_memory(srv->redis);
	if (redis_bytes >= 0)
		lav_prom_sample(o, "feature_storage_size_bytes",
				(const char *[]){"layer", "redis", NULL}, (double)redis_bytes);
	lav_prom_sample(o, "feature_storage_size_bytes", (const char *[]){"layer", "memory", NULL},
			(double)(hot_points(srv) * sizeof(struct lav_point)));
}

static double block_score(double c)
{
	double s = 100.0 * (c + 3.0) / 6.0;
	return s < 0 ? 0 : s > 100 ? 100 : s;
}

static void write_liquidity(struct lav_server *srv, struct lav_buf *o)
{
	int64_t at;
	const struct lav_regime_point *p = lav_semaforo_latest(srv->semaforo, &at);
	const struct lav_liq_config *liq = &srv->liq;
	lav_prom_family(o, "liquidity_score", "gauge",
			"LAV_LIQ_SCORE (block composite) and each component on the same 0..100 "
			"scale.");
	if (p) {
		lav_prom_sample(o, "liquidity_score", (const char *[]){"block", "composite", NULL},
				p->score);
		for (int c = 0; c < LAV_NCOMP; c++)
			if (p->comp_available[c])
				lav_prom_sample(o, "liquidity_score",
						(const char *[]){"block", liq->comp[c].name, NULL},
						block_score(p->comp[c]));
	}
	lav_prom_family(o, "liquidity_regime_state", "gauge",
			"1 for the semáforo's current state, 0 for the others.");
	if (p)
		for (int s = 0; s < 3; s++)
			lav_prom_sample(o, "liquidity_regime_state",
					(const char *[]){"state", STATES[s], NULL},
					p->state == (enum lav_regime)s ? 1 : 0);
	lav_prom_family(o, "liquidity_component_zscore", "gauge",
			"Component value: the weighted mean of its feeds' z-scores, in sigma.");
	if (p)
		for (int c = 0; c < LAV_NCOMP; c++)
			if (p->comp_available[c])
				lav_prom_sample(
				    o, "liquidity_component_zscore",
				    (const char *[]){"component", liq->comp[c].name, NULL},
				    p->comp[c]);
	lav_prom_family(o, "liquidity_feed_zscore", "gauge",
			"z-score of each sufficient feed of a component.");
	if (p)
		for (int c = 0; c < LAV_NCOMP; c++)
			for (size_t f = 0; f < liq->comp[c].nfeeds && f < LAV_REGIME_MAX_FEEDS; f++)
				if (p->signals[c][f].sufficient)
					lav_prom_sample(o, "liquidity_feed_zscore",
							(const char *[]){
							    "component", liq->comp[c].name, "feed",
							    liq->comp[c].feeds[f].feature_id, NULL},
							p->signals[c][f].z);
	lav_prom_family(o, "liquidity_composite_zscore", "gauge",
			"Composite before (raw) and after (smoothed) the EMA, in sigma.");
	if (p) {
		lav_prom_sample(o, "liquidity_composite_zscore",
				(const char *[]){"stage", "raw", NULL}, p->raw);
		lav_prom_sample(o, "liquidity_composite_zscore",
				(const char *[]){"stage", "smoothed", NULL}, p->smoothed);
	}
	lav_prom_family(o, "liquidity_coherence", "gauge",
			"Per component agree x fresh (the scoreboard's coherence), 0..1.");
	if (p)
		for (int c = 0; c < LAV_NCOMP; c++)
			lav_prom_sample(o, "liquidity_coherence",
					(const char *[]){"component", liq->comp[c].name, NULL},
					lav_regime_coherence(p, c));
	lav_prom_family(o, "liquidity_confidence", "gauge", "Confidence of the newest grid point.");
	if (p)
		lav_prom_sample(o, "liquidity_confidence", NULL, p->confidence);
	lav_prom_family(o, "liquidity_grid_timestamp_seconds", "gauge",
			"T_k of the newest grid point.");
	if (p)
		lav_prom_sample(o, "liquidity_grid_timestamp_seconds", NULL, (double)p->ts / 1e6);
}

static void write_http(struct lav_server *srv, struct lav_buf *o)
{
	const struct lav_metrics *m = &srv->metrics;
	lav_prom_family(o, "lav_http_requests_total", "counter",
			"Requests answered, by route pattern, method and status code.");
	for (size_t i = 0; i < m->nroutes; i++) {
		const struct lav_route_stats *r = &m->routes[i];
		for (size_t k = 0; k < r->ncodes; k++) {
			char code[16];
			snprintf(code, sizeof(code), "%d", r->codes[k].code);
			lav_prom_sample(
			    o, "lav_http_requests_total",
			    (const char *[]){"route", r->route, "method",
					     (r->codes[k].method < 0
						  ? "unknown"
						  : http_method_str(r->codes[k].method)),
					     "code", code, NULL},
			    (double)r->codes[k].n);
		}
	}
	lav_prom_family(o, "lav_http_request_duration_seconds", "histogram",
			"From the request read to its response queued, by route pattern.");
	for (size_t i = 0; i < m->nroutes; i++)
		lav_prom_hist(o, "lav_http_request_duration_seconds",
			      (const char *[]){"route", m->routes[i].route, NULL},
			      &m->routes[i].duration);
	size_t sessions = 0, subscriptions = 0;
	lav_ws_hub_counts(srv->ws, &sessions, &subscriptions);
	gauge(o, "lav_http_connections", "Open HTTP connections.",
	      (double)((size_t)srv->nconns - sessions));
	counter(o, "lav_http_connections_total", "Accepted connections.",
		(double)srv->connections_total);

	gauge(o, "lav_ws_sessions", "Open WebSocket sessions.", (double)sessions);
	counter(o, "lav_ws_sessions_total", "WebSocket upgrades accepted.",
		(double)m->ws_sessions_total);
	gauge(o, "lav_ws_subscriptions", "Channel subscriptions over all sessions.",
	      (double)subscriptions);
	lav_prom_family(o, "lav_ws_messages_sent_total", "counter",
			"WebSocket messages sent, by type.");
	for (int t = 0; t < LAV_WSM_COUNT; t++)
		lav_prom_sample(o, "lav_ws_messages_sent_total",
				(const char *[]){"type", WS_TYPES[t], NULL}, (double)m->ws_sent[t]);
	counter(o, "lav_ws_messages_received_total", "WebSocket messages received from clients.",
		(double)m->ws_received);
	lav_prom_family(o, "lav_ws_closes_total", "counter",
			"WebSocket sessions ended, by the close code sent (1006: none).");
	for (size_t i = 0; i < m->nws_closes; i++) {
		char code[16];
		if (m->ws_closes[i].code < 0)
			snprintf(code, sizeof(code), "other");
		else
			snprintf(code, sizeof(code), "%d", m->ws_closes[i].code);
		lav_prom_sample(o, "lav_ws_closes_total", (const char *[]){"code", code, NULL},
				(double)m->ws_closes[i].n);
	}
}

static void write_dependencies(struct lav_server *srv, struct lav_buf *o)
{
	const struct lav_metrics *m = &srv->metrics;
	gauge(o, "lav_pg_up", "1 when the readiness probe reaches PostgreSQL.", srv->pg_ok ? 1 : 0);
	int ready = 0, busy = 0, down = 0;
	lav_store_pool_state(srv->store, &ready, &busy, &down);
	lav_prom_family(o, "lav_pg_pool_connections", "gauge",
			"Pool connections: ready (idle), busy (queries queued), down.");
	lav_prom_sample(o, "lav_pg_pool_connections", (const char *[]){"state", "ready", NULL},
			ready);
	lav_prom_sample(o, "lav_pg_pool_connections", (const char *[]){"state", "busy", NULL},
			busy);
	lav_prom_sample(o, "lav_pg_pool_connections", (const char *[]){"state", "down", NULL},
			down);
	lav_prom_family(o, "lav_pg_query_duration_seconds", "histogram",
			"PostgreSQL round trips of the pool: sent to result.");
	lav_prom_hist(o, "lav_pg_query_duration_seconds", NULL, &m->pg_query);
	if (srv->redis) {
		gauge(o, "lav_redis_up", "1 when connected to Redis.",
		      lav_redis_state(srv->redis) == LAV_REDIS_CONNECTED ? 1 : 0);
		lav_prom_family(o, "lav_redis_command_duration_seconds", "histogram",
				"Redis command round trips.");
		lav_prom_hist(o, "lav_redis_command_duration_seconds", NULL, &m->redis_command);
	}

	size_t nsrc = lav_ingest_source_count(srv->ingest);
	struct lav_source_stats *st = lav_xcalloc(nsrc ? nsrc : 1, sizeof(*st));
	int64_t now = lav_now_us();
	for (size_t i = 0; i < nsrc; i++)
		lav_ingest_source_stats(srv->ingest, i, now, &st[i]);
	lav_prom_family(o, "lav_source_breaker_state", "gauge",
			"1 for the state of each source's circuit breaker.");
	for (size_t i = 0; i < nsrc; i++)
		for (int s = 0; s < 3; s++)
			lav_prom_sample(
			    o, "lav_source_breaker_state",
			    (const char *[]){"source", st[i].id, "state", BREAKER_STATES[s], NULL},
			    (int)st[i].breaker == s ? 1 : 0);
	lav_prom_family(o, "lav_source_requests_total", "counter", "Upstream requests by source.");
	for (size_t i = 0; i < nsrc; i++)
		lav_prom_sample(o, "lav_source_requests_total",
				(const char *[]){"source", st[i].id, NULL}, (double)st[i].requests);
	lav_prom_family(o, "lav_source_failures_total", "counter",
			"Failed upstream requests by source.");
	for (size_t i = 0; i < nsrc; i++)
		lav_prom_sample(o, "lav_source_failures_total",
				(const char *[]){"source", st[i].id, NULL}, (double)st[i].failures);
	free(st);
}

/* /proc/self/stat after the command name: fields 3.. (man 5 proc). */
static void write_process(struct lav_server *srv, struct lav_buf *o)
{
	double cpu = 0, vsize = 0, rss = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		char line[1024];
		if (fgets(line, sizeof(line), f)) {
			const char *p = strrchr(line, ')');
			unsigned long utime = 0, stime = 0, vs = 0;
			long rs = 0;
			if (p &&
			    sscanf(p + 2,
				   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
				   "%*d %*d %*d %*d %*u %lu %ld",
				   &utime, &stime, &vs, &rs) == 4) {
				cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
				vsize = (double)vs;
				rss = (double)rs * (double)sysconf(_SC_PAGESIZE);
			}
		}
		fclose(f);
	}
	size_t fds = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		for (struct dirent *e; (e = readdir(d));)
			fds += e->d_name[0] != '.';
		closedir(d);
		fds--; /* the directory's own descriptor */
	}
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	counter(o, "process_cpu_seconds_total", "User and system CPU time spent, in seconds.", cpu);
	gauge(o, "process_resident_memory_bytes", "Resident memory size in bytes.", rss);
	gauge(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize);
	gauge(o, "process_open_fds", "Open file descriptors.", (double)fds);
	gauge(o, "process_max_fds", "Maximum number of open file descriptors.",
	      rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	gauge(o, "process_start_time_seconds", "Start time of the process since the epoch.",
	      (double)(srv->started_us / 1000000));
}

void lav_metrics_write(struct lav_server *srv, struct lav_buf *o)
{
	write_features(srv, o);
	write_liquidity(srv, o);
	write_http(srv, o);
	write_dependencies(srv, o);
	lav_prom_family(o, "lav_event_loop_lag_seconds", "histogram",
			"How late a 100 ms timer of the event loop fires.");
	lav_prom_hist(o, "lav_event_loop_lag_seconds", NULL, &srv->metrics.loop_lag);
	gauge(o, "lav_leader", "1 on the instance that polls sources and evaluates the grid.",
	      srv->leading ? 1 : 0);
	lav_prom_family(o, "lav_build_info", "gauge", "Always 1; the version of lavd.");
	lav_prom_sample(o, "lav_build_info", (const char *[]){"version", LAV_VERSION, NULL}, 1);
	write_process(srv, o);
}

void lav_api_metrics(struct lav_server *srv, struct lav_request *req)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_metrics_write(srv, &b);
	lav_respond(req, 200, LAV_PROM_CONTENT_TYPE, b.data, b.len, NULL);
	lav_buf_free(&b);
}
