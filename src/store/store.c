/* The store on the loop. Publishes are group-committed: requests append their
 * points to the pending batch, and a batch is flushed as one transaction
 * whenever a pool connection is idle, so under load many requests share one
 * round trip and one commit. */
#include "lav/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/buf.h"
#include "lav/redis.h"
#include "lav/server.h"
#include "lav/timefmt.h"
#include "lav/ws.h"

#define BATCH_MAX_POINTS    50000
#define BREAKER_BUCKETS	    60
#define BREAKER_MIN_SAMPLES 5
#define BREAKER_PROBE_US    (5 * LAV_US_PER_S)
#define MAINTENANCE_MS	    (3600 * 1000)

static const char STAGE_SQL[] =
    "SET synchronous_commit = on; "
    "CREATE TEMP TABLE IF NOT EXISTS lav_stage (idx integer, feature_id text, entity text,"
    " ts timestamptz, available_at timestamptz, value float8, confidence float8,"
    " meta jsonb, evidence jsonb) ON COMMIT DELETE ROWS";

static const char FLUSH_SQL[] =
    "COPY lav_stage (idx, feature_id, entity, ts, available_at, value, confidence, meta,"
    " evidence) FROM STDIN; SELECT lav_flush_stage()";

/* Newest points of series, µs integers so nothing is parsed twice. */
#define POINT_COLUMNS                                                                              \
	"(extract(epoch FROM v.ts) * 1000000)::int8, (extract(epoch FROM v.available_at) * "       \
	"1000000)::int8, v.value, v.confidence, v.meta::text, v.evidence::text"

/* Oldest first, so each point is appended to its window rather than shifted in. */
static const char LOAD_ALL_SQL[] =
    "SELECT s.feature_id, s.entity, x.* FROM series s CROSS JOIN LATERAL (SELECT " POINT_COLUMNS
    " FROM features_values v WHERE v.feature_id = s.feature_id AND v.entity = s.entity"
    " ORDER BY v.ts DESC, v.available_at DESC LIMIT $1) x ORDER BY 1, 2, 3, 4";

static const char LOAD_ONE_SQL[] =
    "SELECT * FROM (SELECT $1::text, $2::text, " POINT_COLUMNS " FROM features_values v"
    " WHERE v.feature_id = $1 AND v.entity = $2 ORDER BY v.ts DESC, v.available_at DESC"
    " LIMIT $3) x ORDER BY 3, 4";

struct pub_req {
	struct lav_point_in *pts;
	size_t n;
	size_t base; /* index of pts[0] in the flush */
	lav_publish_cb cb;
	void *arg;
	struct pub_req *next;
};

struct flush {
	struct lav_store *st;
	struct pub_req *reqs;
	size_t npoints;
	/* repeats of a key within this flush, found before staging: other
	 * values are conflicts, identical ones are simply not staged twice */
	size_t *local_conflicts;
	size_t nlocal;
};

struct lav_store {
	struct lav_server *srv;
	char app_name[64];
	struct lav_pg **pool;
	int npool;
	struct lav_pg *listener;
	struct lav_series_index series;
	/* pending batch */
	struct pub_req *pending, *pending_tail;
	size_t pending_points;
	/* days whose partition is known to exist (UTC day numbers) */
	struct lav_strmap days;
	/* breaker: outcomes per second over the last minute */
	struct {
		int64_t sec;
		uint32_t ok, err;
	} buckets[BREAKER_BUCKETS];
	int64_t last_probe_us;
	uint64_t flush_gen; /* marks the series a flush touched */
	struct event *maintenance;
};

/* ---- breaker ---- */

static void record(struct lav_store *st, bool ok)
{
	int64_t sec = lav_now_us() / LAV_US_PER_S;
	typeof(st->buckets[0]) *b = &st->buckets[sec % BREAKER_BUCKETS];
	if (b->sec != sec) {
		b->sec = sec;
		b->ok = b->err = 0;
	}
	if (ok)
		b->ok++;
	else
		b->err++;
}

static void flush_pending(struct lav_store *st);

/* A pool connection is (re)connected and set up: a fresh start for the
 * breaker, and a batch may have been waiting for an idle connection. */
static void on_pool_connect(void *arg)
{
	struct lav_store *st = arg;
	memset(st->buckets, 0, sizeof(st->buckets));
	flush_pending(st);
}

static bool pool_up(const struct lav_store *st)
{
	for (int i = 0; i < st->npool; i++)
		if (lav_pg_connected(st->pool[i]))
			return true;
	return false;
}

bool lav_store_available(struct lav_store *st, int *retry_after_s)
{
	*retry_after_s = 1;
	if (!pool_up(st))
		return false;
	int64_t now = lav_now_us();
	int64_t sec = now / LAV_US_PER_S;
	uint64_t ok = 0, err = 0;
	for (int i = 0; i < BREAKER_BUCKETS; i++)
		if (sec - st->buckets[i].sec < BREAKER_BUCKETS) {
			ok += st->buckets[i].ok;
			err += st->buckets[i].err;
		}
	if (ok + err < BREAKER_MIN_SAMPLES || err * 10 <= ok + err)
		return true;
	/* open: let one request through every few seconds to find out */
	if (now - st->last_probe_us >= BREAKER_PROBE_US) {
		st->last_probe_us = now;
		return true;
	}
	*retry_after_s = 5;
	return false;
}

/* ---- hot series ---- */

static json_t *parse_json_col(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

/* Rows of (feature_id, entity, ts_us, avail_us, value, confidence, meta,
 * evidence). New points are announced to subscribers when now is not 0. */
static size_t merge_rows(struct lav_store *st, const PGresult *r, int64_t now)
{
	size_t added = 0;
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		const struct lav_feature *f =
		    lav_catalog_find(&st->srv->catalog, PQgetvalue(r, i, 0));
		if (!f)
			continue; /* no longer in the catalog */
		struct lav_series *s = lav_series_get_or_add(&st->series, f, PQgetvalue(r, i, 1));
		if (!s)
			continue;
		struct lav_point p = {
		    .ts = atoll(PQgetvalue(r, i, 2)),
		    .available_at = atoll(PQgetvalue(r, i, 3)),
		    .value = strtod(PQgetvalue(r, i, 4), NULL),
		    .confidence = strtod(PQgetvalue(r, i, 5), NULL),
		    .meta = parse_json_col(r, i, 6),
		    .evidence = parse_json_col(r, i, 7),
		};
		if (lav_series_insert(s, &p) == LAV_INSERT_NEW) {
			added++;
			if (now)
				lav_ws_emit_point(st->srv->ws, f, s->entity, &p, now);
		}
		lav_point_clear(&p);
	}
	return added;
}

bool lav_store_load(struct lav_store *st, PGconn *c, char *err, size_t errlen)
{
	/* retention first, so nothing dropped is loaded */
	PGresult *r;
	char keep[16];
	snprintf(keep, sizeof(keep), "%d", st->srv->cfg.retention_days);
	const char *kp[] = {keep};
	r = PQexecParams(c,
			 "SELECT lav_drop_partitions_before((now() AT TIME ZONE 'UTC')::date - "
			 "$1::int)",
			 1, NULL, kp, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "retention: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	if (atoi(PQgetvalue(r, 0, 0)) > 0)
		lav_info(&st->srv->log, "retention: dropped %s daily partitions",
			 PQgetvalue(r, 0, 0));
	PQclear(r);
	char limit[24];
	snprintf(limit, sizeof(limit), "%zu", st->srv->cfg.hot_points);
	const char *params[] = {limit};
	r = PQexecParams(c, LOAD_ALL_SQL, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "loading hot series: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	size_t n = merge_rows(st, r, 0);
	PQclear(r);
	lav_info(&st->srv->log, "hot series: %zu series, %zu points in memory", st->series.map.n,
		 n);
	return true;
}

struct lav_series_index *lav_store_series(struct lav_store *st)
{
	return &st->series;
}

/* ---- Redis write-through ---- */

static void cache_latest(struct lav_store *st, const struct lav_series *s, int64_t now)
{
	struct lav_redis *r = st->srv->redis;
	if (!r || lav_redis_state(r) != LAV_REDIS_CONNECTED)
		return;
	const struct lav_point *p = lav_series_asof(s, now);
	if (!p)
		return;
	char key[256];
	int kn = snprintf(key, sizeof(key), "lav:latest:%s|%s", s->feature_id, s->entity);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_write_point(&w, s->feature_id, s->entity, p, s->feature->ttl_ms, now);
	const char *argv[] = {"SET", key, b.data};
	size_t lens[] = {3, (size_t)kn, b.len};
	lav_redis_send(r, 3, argv, lens);
	lav_buf_free(&b);
}

static void resync_cache(void *arg)
{
	struct lav_store *st = arg;
	int64_t now = lav_now_us();
	size_t n = 0;
	lav_strmap_foreach(&st->series.map, i)
	{
		cache_latest(st, st->series.map.slots[i].value, now);
		n++;
	}
	lav_info(&st->srv->log, "redis: resynchronised %zu latest points", n);
}

/* One message per flush on lav:points: {"origin", "points": [FeaturePoint...]},
 * the points stored by this flush (not the ones stored before). */
static void publish_points(struct lav_store *st, struct pub_req *reqs, int64_t now)
{
	struct lav_redis *r = st->srv->redis;
	if (!r || lav_redis_state(r) != LAV_REDIS_CONNECTED)
		return;
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "origin");
	lav_w_str(&w, st->app_name);
	lav_w_key(&w, "points");
	lav_w_array_begin(&w);
	for (struct pub_req *q = reqs; q; q = q->next)
		for (size_t i = 0; i < q->n; i++)
			if (q->pts[i].feature) /* NULL: refused as a conflict */
				lav_write_point(&w, q->pts[i].feature->id, q->pts[i].entity,
						&q->pts[i].point, q->pts[i].feature->ttl_ms, now);
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	const char *argv[] = {"PUBLISH", "lav:points", b.data};
	size_t lens[] = {7, 10, b.len};
	lav_redis_send(r, 3, argv, lens);
	lav_buf_free(&b);
}

/* ---- the write batcher ---- */

static void finish_flush(struct flush *fl, const char *err, const PGresult *res)
{
	struct lav_store *st = fl->st;
	int64_t now = lav_now_us();
	size_t nsql = res && !err ? (size_t)PQntuples(res) : 0;
	size_t nlocal = err ? 0 : fl->nlocal;
	size_t nconf = 0;
	size_t *conf = lav_xcalloc(nsql + nlocal + 1, sizeof(size_t));
	/* both lists ascend: merge them */
	for (size_t a = 0, b = 0; a < nsql || b < nlocal;) {
		size_t x = a < nsql ? (size_t)atoll(PQgetvalue(res, (int)a, 0)) : SIZE_MAX;
		size_t y = b < nlocal ? fl->local_conflicts[b] : SIZE_MAX;
		conf[nconf++] = x < y ? x : y;
		if (x <= y)
			a++;
		if (y <= x)
			b++;
	}
	uint64_t gen = ++st->flush_gen;
	struct lav_series **touched = NULL;
	size_t ntouched = 0;
	size_t ci = 0;
	for (struct pub_req *q = fl->reqs; q; q = q->next) {
		size_t *mine = lav_xcalloc(q->n ? q->n : 1, sizeof(size_t));
		size_t nmine = 0;
		while (ci < nconf && conf[ci] < q->base + q->n) {
			mine[nmine++] = conf[ci] - q->base;
			ci++;
		}
		if (err)
			for (size_t i = 0; i < q->n; i++)
				lav_metrics_failed(&st->srv->metrics, &st->srv->catalog,
						   q->pts[i].feature, 1);
		if (!err) {
			size_t k = 0;
			for (size_t i = 0; i < q->n; i++) {
				struct lav_point_in *in = &q->pts[i];
				if (k < nmine && mine[k] == i) {
					k++;
					lav_metrics_failed(&st->srv->metrics, &st->srv->catalog,
							   in->feature, 1);
					lav_point_clear(&in->point);
					in->feature = NULL;
					continue;
				}
				struct lav_series *s =
				    lav_series_get_or_add(&st->series, in->feature, in->entity);
				if (!s || lav_series_insert(s, &in->point) != LAV_INSERT_NEW) {
					/* stored before: nothing to announce */
					lav_point_clear(&in->point);
					in->feature = NULL;
					continue;
				}
				lav_metrics_stored(&st->srv->metrics, &st->srv->catalog,
						   in->feature, in->point.meta);
				lav_ws_emit_point(st->srv->ws, in->feature, in->entity, &in->point,
						  now);
				if (s->touched != gen) {
					s->touched = gen;
					touched = lav_xrealloc(touched,
							       (ntouched + 1) * sizeof(*touched));
					touched[ntouched++] = s;
				}
			}
		}
		q->cb(q->arg, err, mine, nmine);
		free(mine);
	}
	/* the cache wants each series' newest point once per flush */
	for (size_t i = 0; i < ntouched; i++)
		cache_latest(st, touched[i], now);
	free(touched);
	if (!err)
		publish_points(st, fl->reqs, now);
	free(conf);
	free(fl->local_conflicts);
	struct pub_req *q = fl->reqs;
	while (q) {
		struct pub_req *next = q->next;
		for (size_t i = 0; i < q->n; i++)
			lav_point_clear(&q->pts[i].point);
		free(q->pts);
		free(q);
		q = next;
	}
	free(fl);
	flush_pending(st);
}

static void on_flushed(const PGresult *res, const char *err, void *arg)
{
	struct flush *fl = arg;
	record(fl->st, err == NULL);
	if (err)
		lav_warn(&fl->st->srv->log, "publish of %zu points failed: %s", fl->npoints, err);
	finish_flush(fl, err ? err : NULL, res);
}

struct days_ctx {
	struct lav_store *st;
	char **days;
	size_t n;
};

static void on_partitions(const PGresult *res, const char *err, void *arg)
{
	struct days_ctx *d = arg;
	if (!err && res)
		for (size_t i = 0; i < d->n; i++)
			lav_strmap_put(&d->st->days, d->days[i], (void *)1);
	for (size_t i = 0; i < d->n; i++)
		free(d->days[i]);
	free(d->days);
	free(d);
}

/* Equal as PostgreSQL's conflict check sees it: lav's meta.dq flags aside. */
static json_t *meta_without_dq(const json_t *m)
{
	json_t *c = m ? json_copy((json_t *)m) : json_object();
	json_object_del(c, "dq");
	return c;
}

static bool same_point(const struct lav_point *a, const struct lav_point *b)
{
	if (a->value != b->value || a->confidence != b->confidence)
		return false;
	if ((a->evidence == NULL) != (b->evidence == NULL) ||
	    (a->evidence && !json_equal(a->evidence, b->evidence)))
		return false;
	json_t *x = meta_without_dq(a->meta), *y = meta_without_dq(b->meta);
	bool same = json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return same;
}

static struct lav_pg *idle_connection(struct lav_store *st)
{
	for (int i = 0; i < st->npool; i++)
		if (lav_pg_connected(st->pool[i]) && lav_pg_pending(st->pool[i]) == 0)
			return st->pool[i];
	return NULL;
}

static void flush_pending(struct lav_store *st)
{
	if (!st->pending)
		return;
	struct lav_pg *pg = idle_connection(st);
	if (!pg) {
		if (!pool_up(st)) {
			/* nothing will commit these: fail them now rather than hang */
			struct flush *fl = lav_xcalloc(1, sizeof(*fl));
			fl->st = st;
			fl->reqs = st->pending;
			fl->npoints = st->pending_points;
			st->pending = st->pending_tail = NULL;
			st->pending_points = 0;
			record(st, false);
			finish_flush(fl, "PostgreSQL is unavailable", NULL);
		}
		return; /* a running flush will call us when it completes */
	}
	struct flush *fl = lav_xcalloc(1, sizeof(*fl));
	fl->st = st;
	/* take whole requests up to the batch cap (at least one) */
	struct pub_req **tail = &fl->reqs;
	while (st->pending &&
	       (fl->npoints == 0 || fl->npoints + st->pending->n <= BATCH_MAX_POINTS)) {
		struct pub_req *q = st->pending;
		st->pending = q->next;
		q->next = NULL;
		q->base = fl->npoints;
		fl->npoints += q->n;
		st->pending_points -= q->n;
		*tail = q;
		tail = &q->next;
	}
	if (!st->pending)
		st->pending_tail = NULL;

	struct lav_buf data = LAV_BUF_INIT;
	struct days_ctx *dc = lav_xcalloc(1, sizeof(*dc));
	dc->st = st;
	struct lav_strmap keys;
	lav_strmap_init(&keys);
	for (struct pub_req *q = fl->reqs; q; q = q->next) {
		for (size_t i = 0; i < q->n; i++) {
			const struct lav_point_in *in = &q->pts[i];
			char key[256];
			snprintf(key, sizeof(key), "%s\x1f%s\x1f%lld\x1f%lld", in->feature->id,
				 in->entity, (long long)in->point.ts,
				 (long long)in->point.available_at);
			const struct lav_point_in *first = lav_strmap_get(&keys, key);
			if (first) {
				if (!same_point(&first->point, &in->point)) {
					fl->local_conflicts = lav_xrealloc(
					    fl->local_conflicts, (fl->nlocal + 1) * sizeof(size_t));
					fl->local_conflicts[fl->nlocal++] = q->base + i;
				}
				continue;
			}
			lav_strmap_put(&keys, key, (void *)in);
			lav_copy_row(&data, q->base + i, in->feature->id, in->entity, &in->point);
			int64_t day =
			    in->point.ts / LAV_US_PER_DAY - (in->point.ts % LAV_US_PER_DAY < 0);
			char dkey[24];
			snprintf(dkey, sizeof(dkey), "%lld", (long long)day);
			if (lav_strmap_get(&st->days, dkey))
				continue;
			bool listed = false;
			for (size_t k = 0; k < dc->n && !listed; k++)
				listed = strcmp(dc->days[k], dkey) == 0;
			if (!listed) {
				dc->days = lav_xrealloc(dc->days, (dc->n + 1) * sizeof(char *));
				dc->days[dc->n++] = lav_xstrdup(dkey);
			}
		}
	}
	lav_strmap_free(&keys);
	if (dc->n) {
		/* partitions for new days first, in their own transaction on the same
		 * connection, so the flush never holds the DDL lock */
		struct lav_buf arr = LAV_BUF_INIT;
		lav_buf_putc(&arr, '{');
		for (size_t k = 0; k < dc->n; k++)
			lav_buf_printf(&arr, "%s%s", k ? "," : "", dc->days[k]);
		lav_buf_putc(&arr, '}');
		const char *params[] = {lav_buf_cstr(&arr)};
		if (!lav_pg_query(pg,
				  "SELECT lav_ensure_partition(('1970-01-01'::date + d)) FROM "
				  "unnest($1::int[]) d",
				  1, params, on_partitions, dc))
			on_partitions(NULL, "queue full", dc);
		lav_buf_free(&arr);
	} else {
		free(dc);
	}
	if (!lav_pg_copy(pg, FLUSH_SQL, &data, on_flushed, fl))
		on_flushed(NULL, "PostgreSQL queue full", fl);
}

void lav_store_publish(struct lav_store *st, struct lav_point_in *pts, size_t n, lav_publish_cb cb,
		       void *arg)
{
	struct pub_req *q = lav_xcalloc(1, sizeof(*q));
	q->pts = pts;
	q->n = n;
	q->cb = cb;
	q->arg = arg;
	if (st->pending_tail)
		st->pending_tail->next = q;
	else
		st->pending = q;
	st->pending_tail = q;
	st->pending_points += n;
	flush_pending(st);
}

/* ---- reads ---- */

struct query_ctx {
	struct lav_store *st;
	lav_pg_cb cb;
	void *arg;
};

static void on_query(const PGresult *res, const char *err, void *arg)
{
	struct query_ctx *q = arg;
	struct lav_store *st = q->st;
	record(st, err == NULL);
	q->cb(res, err, q->arg);
	free(q);
	flush_pending(st); /* a connection may just have become idle */
}

bool lav_store_query(struct lav_store *st, const char *sql, int nparams, const char *const *params,
		     lav_pg_cb cb, void *arg)
{
	struct lav_pg *best = NULL;
	for (int i = 0; i < st->npool; i++) {
		if (!lav_pg_connected(st->pool[i]))
			continue;
		if (!best || lav_pg_pending(st->pool[i]) < lav_pg_pending(best))
			best = st->pool[i];
	}
	if (!best)
		return false;
	struct query_ctx *q = lav_xcalloc(1, sizeof(*q));
	q->st = st;
	q->cb = cb;
	q->arg = arg;
	if (!lav_pg_query(best, sql, nparams, params, on_query, q)) {
		free(q);
		return false;
	}
	return true;
}

/* ---- other writers: LISTEN lav_points ---- */

static void refreshed(struct lav_store *st, const PGresult *res, const char *err, bool announce)
{
	if (err || !res) {
		lav_warn(&st->srv->log, "refresh after NOTIFY failed: %s", err ? err : "?");
		return;
	}
	int64_t now = lav_now_us();
	merge_rows(st, res, announce ? now : 0);
	/* write the refreshed series through to the cache */
	for (int i = 0; i < PQntuples(res); i++) {
		struct lav_series *s =
		    lav_series_get(&st->series, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		if (s && (i == 0 || strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) ||
			  strcmp(PQgetvalue(res, i, 1), PQgetvalue(res, i - 1, 1))))
			cache_latest(st, s, now);
	}
}

static void on_refreshed(const PGresult *res, const char *err, void *arg)
{
	refreshed(arg, res, err, false);
}

/* Points of a writer that is not a lavd on this Redis: no one else announces
 * them to this instance's subscribers. */
static void on_refreshed_announce(const PGresult *res, const char *err, void *arg)
{
	refreshed(arg, res, err, true);
}

static void reload_all(struct lav_store *st, lav_pg_cb cb)
{
	if (!st->listener)
		return;
	char limit[24];
	snprintf(limit, sizeof(limit), "%zu", st->srv->cfg.hot_points);
	const char *params[] = {limit};
	lav_pg_query(st->listener, LOAD_ALL_SQL, 1, params, cb, st);
}

static void refresh_all(void *arg)
{
	reload_all(arg, on_refreshed);
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
	struct lav_store *st = arg;
	(void)channel;
	json_t *doc = json_loads(payload, 0, NULL);
	if (!doc)
		return;
	const char *app = json_string_value(json_object_get(doc, "app"));
	if (app && strcmp(app, st->app_name) == 0) {
		json_decref(doc); /* our own write: already in memory */
		return;
	}
	/* another lavd announces its points through Redis when there is one */
	bool announce = !(app && strncmp(app, "lavd-", 5) == 0 && st->srv->cfg.redis_url);
	lav_pg_cb cb = announce ? on_refreshed_announce : on_refreshed;
	json_t *series = json_object_get(doc, "series");
	if (!json_is_array(series)) {
		reload_all(st, cb);
		json_decref(doc);
		return;
	}
	char limit[24];
	snprintf(limit, sizeof(limit), "%zu", st->srv->cfg.hot_points);
	size_t i;
	json_t *pair;
	json_array_foreach(series, i, pair)
	{
		const char *f = json_string_value(json_array_get(pair, 0));
		const char *e = json_string_value(json_array_get(pair, 1));
		if (!f || !e || !lav_catalog_find(&st->srv->catalog, f))
			continue;
		const char *params[] = {f, e, limit};
		lav_pg_query(st->listener, LOAD_ONE_SQL, 3, params, cb, st);
	}
	json_decref(doc);
}

/* ---- maintenance: partitions ahead, retention ---- */

static void on_maintained(const PGresult *res, const char *err, void *arg)
{
	struct lav_store *st = arg;
	if (err)
		lav_warn(&st->srv->log, "partition maintenance failed: %s", err);
	else if (res && PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) > 0)
		lav_info(&st->srv->log, "retention: dropped %s daily partitions older than %d days",
			 PQgetvalue(res, 0, 0), st->srv->cfg.retention_days);
}

static void maintain(evutil_socket_t fd, short what, void *arg)
{
	struct lav_store *st = arg;
	(void)fd;
	(void)what;
	if (!st->srv->leading)
		return; /* the leader's job (lav/leader.h) */
	char ahead[16], keep[16];
	snprintf(ahead, sizeof(ahead), "%d", st->srv->cfg.pg_partition_days + 1);
	snprintf(keep, sizeof(keep), "%d", st->srv->cfg.retention_days);
	const char *params[] = {ahead, keep};
	lav_store_query(st,
			"SELECT lav_drop_partitions_before((now() AT TIME ZONE 'UTC')::date - "
			"$2::int) FROM (SELECT lav_ensure_partitions((now() AT TIME ZONE "
			"'UTC')::date, $1::int)) x",
			2, params, on_maintained, st);
}

/* ---- life cycle ---- */

struct lav_store *lav_store_new(struct lav_server *srv)
{
	struct lav_store *st = lav_xcalloc(1, sizeof(*st));
	st->srv = srv;
	snprintf(st->app_name, sizeof(st->app_name), "lavd-%d-%s", (int)getpid(), srv->cid_prefix);
	lav_series_index_init(&st->series, srv->cfg.hot_points);
	lav_strmap_init(&st->days);
	return st;
}

void lav_store_start(struct lav_store *st)
{
	struct lav_server *srv = st->srv;
	st->npool = srv->cfg.pg_pool_size;
	st->pool = lav_xcalloc((size_t)st->npool, sizeof(*st->pool));
	for (int i = 0; i < st->npool; i++) {
		st->pool[i] =
		    lav_pg_new(srv->base, srv->cfg.pg_dsn, st->app_name,
			       (int)srv->cfg.pg_statement_timeout_ms, STAGE_SQL, &srv->log);
		lav_pg_on_connect(st->pool[i], on_pool_connect, st);
		lav_pg_observe(st->pool[i], &srv->metrics.pg_query);
	}
	st->listener =
	    lav_pg_new(srv->base, srv->cfg.pg_dsn, st->app_name,
		       (int)srv->cfg.pg_statement_timeout_ms, "LISTEN lav_points", &srv->log);
	lav_pg_on_notify(st->listener, on_notify, st);
	/* after a reconnect, notifications sent meanwhile are lost: reload */
	lav_pg_on_connect(st->listener, refresh_all, st);
	if (srv->redis)
		lav_redis_on_connect(srv->redis, resync_cache, st);
	st->maintenance = event_new(srv->base, -1, EV_PERSIST, maintain, st);
	struct timeval tv = {MAINTENANCE_MS / 1000, 0};
	event_add(st->maintenance, &tv);
}

void lav_store_free(struct lav_store *st)
{
	if (!st)
		return;
	if (st->maintenance)
		event_free(st->maintenance);
	/* callbacks fired while closing must not see half-freed connections */
	int n = st->npool;
	st->npool = 0;
	for (int i = 0; i < n; i++)
		lav_pg_free(st->pool[i]);
	free(st->pool);
	struct lav_pg *listener = st->listener;
	st->listener = NULL;
	lav_pg_free(listener);
	/* requests still pending get an error (their clients are gone by now) */
	struct pub_req *q = st->pending;
	while (q) {
		struct pub_req *next = q->next;
		q->cb(q->arg, "shutting down", NULL, 0);
		for (size_t i = 0; i < q->n; i++)
			lav_point_clear(&q->pts[i].point);
		free(q->pts);
		free(q);
		q = next;
	}
	lav_series_index_free(&st->series);
	lav_strmap_free(&st->days);
	free(st);
}

const char *lav_store_app_name(const struct lav_store *st)
{
	return st->app_name;
}

void lav_store_pool_state(const struct lav_store *st, int *ready, int *busy, int *down)
{
	*ready = *busy = *down = 0;
	for (int i = 0; st && i < st->npool; i++) {
		if (!lav_pg_connected(st->pool[i]))
			(*down)++;
		else if (lav_pg_pending(st->pool[i]))
			(*busy)++;
		else
			(*ready)++;
	}
}
