/* The semáforo on the loop. Work is a FIFO of jobs run one at a time, so
 * grid points are evaluated strictly in order whatever mix of timer ticks,
 * catch-up and replays arrives:
 *   advance: every grid point due since the last one (catch-up is simply a
 *            long advance), from the hot series when they hold everything a
 *            grid point can read, else from a range loaded from PostgreSQL;
 *   replay:  a range re-evaluated from PostgreSQL, continuing the carry of
 *            the stored row before it, replacing the range's rows.
 * Writes are a second FIFO: each batch publishes the score and components as
 * features through the store (conflicts become revisions), then upserts its
 * regime_history rows. Live batches that fail are retried; a replay's
 * failure is reported to its caller. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/dq.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"
#include "lav/ws.h"

#define MAX_FEEDS (LAV_NCOMP * LAV_REGIME_MAX_FEEDS + 5)
#define RETRY_US  (2 * LAV_US_PER_S)
/* Unsaved live rows kept for retries while PostgreSQL is away. */
#define PENDING_MAX 100000
/* Grid points evaluated per loop turn: long catch-ups and replays yield so
 * requests keep being served (a slice is a few tens of ms at most). */
#define SLICE 1024

static const char *const COMP_FEATURE[LAV_NCOMP] = {
    "liquidity/component/gl", "liquidity/component/cn", "liquidity/component/mp"};

static const char LOAD_SQL[] =
    "SELECT feature_id, (extract(epoch FROM ts) * 1000000)::int8,"
    " (extract(epoch FROM available_at) * 1000000)::int8, value FROM features_values"
    " WHERE feature_id = ANY($1::text[]) AND entity = ''"
    " AND ts > ('epoch'::timestamptz + $2::int8 * interval '1 microsecond')"
    " AND ts < ('epoch'::timestamptz + $3::int8 * interval '1 microsecond')"
    " AND available_at < ('epoch'::timestamptz + $3::int8 * interval '1 microsecond')"
    " ORDER BY feature_id, ts, available_at";

/* The newest revision of each stored score / component point in a range. */
static const char CURRENT_SQL[] =
    "SELECT feature_id, (extract(epoch FROM ts) * 1000000)::int8, value, confidence FROM"
    " (SELECT DISTINCT ON (feature_id, ts) feature_id, ts, value, confidence"
    " FROM features_values WHERE feature_id = ANY($1::text[]) AND entity = ''"
    " AND ts >= ('epoch'::timestamptz + $2::int8 * interval '1 microsecond')"
    " AND ts < ('epoch'::timestamptz + $3::int8 * interval '1 microsecond')"
    " ORDER BY feature_id, ts, available_at DESC) x";

struct feed {
	const char *id;
	const struct lav_feature *f; /* NULL: not in the catalog (never has data) */
};

/* Every feed's points over one range, as struct lav_series holds them. */
struct loaded {
	struct lav_point *pts[MAX_FEEDS];
	size_t n[MAX_FEEDS], cap[MAX_FEEDS];
};

enum job_kind { JOB_ADVANCE, JOB_REPLAY };

/* How a grid point's feature point is written. */
enum {
	POINT_AT_GRID,	/* new: known at its grid time (a conflict becomes a revision) */
	POINT_SKIP,	/* the feature's current value is this one already */
	POINT_REVISION, /* the current value differs: a revision known from now */
};
#define NKINDS (1 + LAV_NCOMP)

struct job {
	struct lav_semaforo *sf;
	enum job_kind kind;
	int64_t from, until; /* grid points from <= T < until */
	int64_t cursor;	     /* next grid point to evaluate */
	struct lav_regime_carry carry;
	bool loaded; /* data holds the range (else: the hot series) */
	struct loaded data;
	struct lav_regime_row *rows;
	size_t nrows;
	struct lav_regime_point last; /* newest valid point, when nrows > 0 */
	struct lav_replay_result res;
	lav_replay_cb cb;
	void *arg;
	struct job *next;
};

struct write {
	struct lav_semaforo *sf;
	struct lav_regime_row *rows;
	size_t n;
	bool replace; /* also delete the range's other rows */
	int64_t since, until;
	struct job *job; /* a replay to finish, or NULL (live rows: retried) */
	/* per row and kind (score, gl, cn, mp), how its feature point is
	 * written, from the feature's current value; NULL: all POINT_AT_GRID */
	unsigned char *mode;
	/* feature points of this batch: row index and kind (0 score, 1 + c) */
	size_t *pt_row;
	unsigned char *pt_kind;
	bool *pt_rev;
	size_t npts;
	bool features_done; /* committed: a retry only upserts the rows */
	struct write *next;
};

struct lav_semaforo {
	struct lav_server *srv;
	struct lav_regime_params params;
	int64_t step_us, delay_us;
	struct feed feeds[MAX_FEEDS];
	size_t nfeeds;
	int comp_feed[LAV_NCOMP][LAV_REGIME_MAX_FEEDS];
	int etf_feed[2], stables_feed, rrp_feed, tga_feed; /* -1: none */
	const struct lav_feature *score_f, *comp_f[LAV_NCOMP];

	struct lav_regime_carry carry;
	int64_t next_ts; /* the next grid point to evaluate */
	bool has_latest;
	struct lav_regime_point latest;
	int64_t latest_at;
	bool latest_lacks_signals; /* restored from regime_history */

	struct event *timer, *retry_timer, *slice_ev;
	struct job *jobs, *jobs_tail; /* head is running when running */
	bool running;
	struct write *writes, *writes_tail; /* head in flight when writing */
	bool writing;
	size_t npending; /* live rows queued or in flight */
	bool closing;
	bool leading;  /* lav/leader.h: only the leader evaluates the grid */
	bool adopting; /* a new leader reads the newest stored grid point first */
	bool refreshing;
};

static void kick(struct lav_semaforo *sf);
static void write_next(struct lav_semaforo *sf);

/* ---- set-up ---- */

static int feed_index(struct lav_semaforo *sf, const char *id)
{
	if (!id)
		return -1;
	for (size_t i = 0; i < sf->nfeeds; i++)
		if (strcmp(sf->feeds[i].id, id) == 0)
			return (int)i;
	if (sf->nfeeds == MAX_FEEDS)
		return -1;
	sf->feeds[sf->nfeeds] =
	    (struct feed){.id = id, .f = lav_catalog_find(&sf->srv->catalog, id)};
	return (int)sf->nfeeds++;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kick(arg);
}

static void read_newest(struct lav_semaforo *sf);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct lav_semaforo *sf = arg;
	(void)fd;
	(void)what;
	if (sf->adopting)
		read_newest(sf);
	write_next(sf);
}

struct lav_semaforo *lav_semaforo_new(struct lav_server *srv)
{
	struct lav_semaforo *sf = lav_xcalloc(1, sizeof(*sf));
	const struct lav_liq_config *liq = &srv->liq;
	sf->srv = srv;
	lav_regime_params_from(liq, srv->cfg.dq_freshness_max_ratio, &sf->params);
	sf->step_us = liq->grid_step_ms * LAV_US_PER_MS;
	int64_t delay_ms = srv->cfg.grid_delay_ms;
	if (delay_ms < 0)
		delay_ms = liq->grid_step_ms / 10 < 10000 ? liq->grid_step_ms / 10 : 10000;
	sf->delay_us = delay_ms * LAV_US_PER_MS;
	for (int c = 0; c < LAV_NCOMP; c++)
		for (size_t f = 0; f < liq->comp[c].nfeeds && f < LAV_REGIME_MAX_FEEDS; f++)
			sf->comp_feed[c][f] = feed_index(sf, liq->comp[c].feeds[f].feature_id);
	sf->etf_feed[0] = feed_index(sf, liq->etf_flows[0]);
	sf->etf_feed[1] = feed_index(sf, liq->etf_flows[1]);
	sf->stables_feed = feed_index(sf, liq->stables_yoy);
	sf->rrp_feed = feed_index(sf, liq->rrp);
	sf->tga_feed = feed_index(sf, liq->tga);
	sf->score_f = lav_catalog_find(&srv->catalog, liq->score_id);
	for (int c = 0; c < LAV_NCOMP; c++)
		sf->comp_f[c] = lav_catalog_find(&srv->catalog, COMP_FEATURE[c]);
	sf->carry =
	    (struct lav_regime_carry){.state = LAV_REGIME_NONE, .run_candidate = LAV_REGIME_NONE};
	return sf;
}

static int64_t grid_floor(const struct lav_semaforo *sf, int64_t t)
{
	int64_t q = t / sf->step_us;
	if (t % sf->step_us < 0)
		q--;
	return q * sf->step_us;
}

static int64_t grid_ceil(const struct lav_semaforo *sf, int64_t t)
{
	int64_t f = grid_floor(sf, t);
	return f == t ? t : f + sf->step_us;
}

/* {"id1","id2"} for $1::text[] (catalog ids need no escaping, but quote). */
static char *feed_array(const struct lav_semaforo *sf)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_buf_putc(&b, '{');
	for (size_t i = 0; i < sf->nfeeds; i++) {
		lav_buf_printf(&b, "%s\"", i ? "," : "");
		for (const char *p = sf->feeds[i].id; *p; p++) {
			if (*p == '"' || *p == '\\')
				lav_buf_putc(&b, '\\');
			lav_buf_putc(&b, *p);
		}
		lav_buf_putc(&b, '"');
	}
	lav_buf_putc(&b, '}');
	return lav_buf_cstr(&b);
}

/* LOAD_SQL's parameters for grid points first <= T < until. */
struct load_params {
	char *ids;
	char from[24], until[24];
	const char *v[3];
};

static void load_params_init(const struct lav_semaforo *sf, int64_t first, int64_t until,
			     struct load_params *lp)
{
	lp->ids = feed_array(sf);
	snprintf(lp->from, sizeof(lp->from), "%lld",
		 (long long)lav_regime_horizon(&sf->params, first));
	snprintf(lp->until, sizeof(lp->until), "%lld", (long long)until);
	lp->v[0] = lp->ids;
	lp->v[1] = lp->from;
	lp->v[2] = lp->until;
}

static void loaded_clear(struct loaded *d)
{
	for (size_t k = 0; k < MAX_FEEDS; k++)
		free(d->pts[k]);
	memset(d, 0, sizeof(*d));
}

static bool hot_views(struct lav_semaforo *sf, int64_t from, struct lav_feed_view *views);
static void loaded_views(struct lav_semaforo *sf, const struct loaded *d,
			 struct lav_feed_view *views);
static void signals_from(struct lav_semaforo *sf, const struct lav_feed_view *views);
static void parse_loaded(const struct lav_semaforo *sf, const PGresult *res, struct loaded *d);

/* A stored grid point becomes the latest (without the per-feed signals,
 * which regime_history does not keep) and evaluation continues after it
 * with its carry. */
static void continue_from(struct lav_semaforo *sf, const struct lav_regime_row *row)
{
	lav_regime_row_carry(row, &sf->carry);
	sf->next_ts = grid_floor(sf, row->ts) + sf->step_us;
	struct lav_regime_point *p = &sf->latest;
	memset(p, 0, sizeof(*p));
	p->ts = row->ts;
	p->valid = true;
	p->raw = row->raw;
	p->smoothed = row->smoothed;
	p->score = row->score;
	p->confidence = row->confidence;
	for (int c = 0; c < LAV_NCOMP; c++) {
		p->comp_available[c] = row->comp_available[c];
		p->comp[c] = row->comp[c];
	}
	p->candidate = row->candidate;
	p->state = row->state;
	p->flip = row->flip;
	p->from = row->from;
	sf->has_latest = true;
	sf->latest_at = row->computed_at;
	sf->latest_lacks_signals = true;
}

/* The scoreboard's per-feed part of the newest stored grid point, from the
 * hot series or, when they do not hold its windows, from PostgreSQL. */
static bool restore_signals(struct lav_semaforo *sf, PGconn *conn, char *err, size_t errlen)
{
	struct lav_feed_view views[MAX_FEEDS];
	if (hot_views(sf, sf->latest.ts, views)) {
		signals_from(sf, views);
		return true;
	}
	struct load_params lp;
	load_params_init(sf, sf->latest.ts, sf->latest.ts + 1, &lp);
	PGresult *r = PQexecParams(conn, LOAD_SQL, 3, NULL, lp.v, NULL, NULL, 0);
	free(lp.ids);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "semáforo feeds: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	struct loaded *d = lav_xcalloc(1, sizeof(*d));
	parse_loaded(sf, r, d);
	PQclear(r);
	loaded_views(sf, d, views);
	signals_from(sf, views);
	loaded_clear(d);
	free(d);
	return true;
}

bool lav_semaforo_load(struct lav_semaforo *sf, PGconn *conn, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(conn, LAV_REGIME_LAST_SQL, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "regime_history: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	struct lav_regime_row row;
	if (PQntuples(r) == 1 && lav_regime_row_parse(r, 0, &row)) {
		continue_from(sf, &row);
		PQclear(r);
		return restore_signals(sf, conn, err, errlen);
	}
	PQclear(r);
	/* nothing stored: start at the earliest data, or at the current
	 * boundary when there is none (older data is for replay) */
	char *ids = feed_array(sf);
	const char *params[] = {ids};
	r = PQexecParams(conn,
			 "SELECT (extract(epoch FROM min(ts)) * 1000000)::int8 FROM features_values"
			 " WHERE feature_id = ANY($1::text[]) AND entity = ''",
			 1, NULL, params, NULL, NULL, 0);
	free(ids);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "semáforo feeds: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	sf->next_ts = PQgetisnull(r, 0, 0) ? grid_floor(sf, lav_now_us())
					   : grid_ceil(sf, atoll(PQgetvalue(r, 0, 0)));
	PQclear(r);
	return true;
}

/* ---- evaluation ---- */

static int64_t ttl_us(const struct feed *fd)
{
	return fd->f ? fd->f->ttl_ms * LAV_US_PER_MS : 0;
}

/* Views of the hot series, or false when one of them may lack a point that
 * grid point `from` (or a later one) can read. */
static bool hot_views(struct lav_semaforo *sf, int64_t from, struct lav_feed_view *views)
{
	struct lav_series_index *ix = lav_store_series(sf->srv->store);
	int64_t horizon = lav_regime_horizon(&sf->params, from);
	for (size_t k = 0; k < sf->nfeeds; k++) {
		const struct lav_series *s = lav_series_get(ix, sf->feeds[k].id, "");
		views[k] = (struct lav_feed_view){.ttl_us = ttl_us(&sf->feeds[k])};
		if (!s)
			continue;
		/* a full window has dropped points at or before its first ts */
		if (s->max_points && s->n >= s->max_points && s->pts[0].ts > horizon)
			return false;
		views[k].pts = s->pts;
		views[k].n = s->n;
	}
	return true;
}

static void loaded_views(struct lav_semaforo *sf, const struct loaded *d,
			 struct lav_feed_view *views)
{
	for (size_t k = 0; k < sf->nfeeds; k++)
		views[k] = (struct lav_feed_view){
		    .pts = d->pts[k], .n = d->n[k], .ttl_us = ttl_us(&sf->feeds[k])};
}

static void inputs_of(const struct lav_semaforo *sf, const struct lav_feed_view *views,
		      struct lav_regime_inputs *in)
{
	const struct lav_liq_config *liq = &sf->srv->liq;
	static const struct lav_feed_view none = {0};
	memset(in, 0, sizeof(*in));
	for (int c = 0; c < LAV_NCOMP; c++) {
		size_t n = liq->comp[c].nfeeds < LAV_REGIME_MAX_FEEDS ? liq->comp[c].nfeeds
								      : LAV_REGIME_MAX_FEEDS;
		in->nfeeds[c] = n;
		for (size_t f = 0; f < n; f++) {
			int k = sf->comp_feed[c][f];
			in->comp[c][f] = k >= 0 ? views[k] : none;
			in->weight[c][f] = liq->comp[c].feeds[f].weight;
		}
	}
	in->etf[0] = sf->etf_feed[0] >= 0 ? views[sf->etf_feed[0]] : none;
	in->etf[1] = sf->etf_feed[1] >= 0 ? views[sf->etf_feed[1]] : none;
	in->stables_yoy = sf->stables_feed >= 0 ? views[sf->stables_feed] : none;
	in->rrp = sf->rrp_feed >= 0 ? views[sf->rrp_feed] : none;
	in->tga = sf->tga_feed >= 0 ? views[sf->tga_feed] : none;
}

/* The per-feed part of the newest grid point (signals, freshness, rule
 * inputs) after a restart: it does not depend on the carry, so evaluating
 * that grid point again from the data gives it exactly. */
static void signals_from(struct lav_semaforo *sf, const struct lav_feed_view *views)
{
	struct lav_regime_inputs in;
	inputs_of(sf, views, &in);
	struct lav_regime_carry scratch = sf->carry;
	struct lav_regime_point *p = lav_xmalloc(sizeof(*p));
	lav_regime_eval(&in, &sf->params, sf->latest.ts, &scratch, p);
	memcpy(sf->latest.signals, p->signals, sizeof(p->signals));
	memcpy(sf->latest.fresh, p->fresh, sizeof(p->fresh));
	sf->latest.etf_present = p->etf_present;
	sf->latest.etf = p->etf;
	sf->latest.stables_present = p->stables_present;
	sf->latest.stables_yoy = p->stables_yoy;
	sf->latest.rrp_up = p->rrp_up;
	sf->latest.tga_up = p->tga_up;
	sf->latest_lacks_signals = false;
	free(p);
}

static void load_range(struct lav_semaforo *sf, struct job *j);
static void job_evaluated(struct lav_semaforo *sf, struct job *j);

/* Evaluates the next slice of the job's grid points, then yields to the
 * loop until the range is done. Views are taken afresh for every slice:
 * the hot series may have grown (and moved) in between. */
static void eval_slice(struct lav_semaforo *sf, struct job *j)
{
	struct lav_feed_view views[MAX_FEEDS];
	if (j->loaded) {
		loaded_views(sf, &j->data, views);
	} else if (!hot_views(sf, j->cursor, views)) {
		load_range(sf, j); /* the rest of the range from PostgreSQL */
		return;
	}
	if (!j->rows) {
		size_t npoints =
		    j->until > j->from ? (size_t)((j->until - j->from) / sf->step_us) : 0;
		j->rows = lav_xcalloc(npoints ? npoints : 1, sizeof(*j->rows));
	}
	struct lav_regime_inputs in;
	inputs_of(sf, views, &in);
	int64_t now = lav_now_us();
	int64_t end = j->cursor + SLICE * sf->step_us;
	if (end > j->until)
		end = j->until;
	struct lav_regime_point *pt = lav_xmalloc(sizeof(*pt));
	for (; j->cursor < end; j->cursor += sf->step_us) {
		j->res.evaluated++;
		lav_regime_eval(&in, &sf->params, j->cursor, &j->carry, pt);
		if (!pt->valid)
			continue;
		lav_regime_row_from(&j->rows[j->nrows++], pt, &j->carry, now);
		j->res.flips += pt->flip;
		j->last = *pt;
	}
	free(pt);
	if (j->cursor < j->until) {
		struct timeval zero = {0, 0};
		evtimer_add(sf->slice_ev, &zero);
		return;
	}
	j->res.stored = j->nrows;
	job_evaluated(sf, j);
}

static void on_slice(evutil_socket_t fd, short what, void *arg)
{
	struct lav_semaforo *sf = arg;
	(void)fd;
	(void)what;
	if (!sf->closing && sf->running && sf->jobs)
		eval_slice(sf, sf->jobs);
}

/* The error of a read the engine issued (lav_pg already turned failed
 * statuses into err), or why its result must not be used any more. */
static const char *read_outcome(const struct lav_semaforo *sf, const PGresult *res, const char *err)
{
	if (err)
		return err;
	if (!res)
		return "no result";
	return sf->closing ? "shutting down" : NULL;
}

/* ---- writes ---- */

static void write_free(struct write *w)
{
	free(w->mode);
	free(w->rows);
	free(w->pt_row);
	free(w->pt_kind);
	free(w->pt_rev);
	free(w);
}

static void job_free(struct job *j)
{
	loaded_clear(&j->data);
	free(j->rows);
	free(j);
}

static void job_done(struct lav_semaforo *sf, struct job *j, const char *err);

/* Live rows are stored: flips and the newest point go to subscribers (a
 * catch-up of many grid points announces each flip but only its newest
 * update). */
static void announce(struct lav_semaforo *sf, const struct write *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const struct lav_regime_row r = w->rows[i];
		if (i + 1 < w->n && !r.flip)
			continue;
		lav_ws_emit_regime(sf->srv->ws, &r, i + 1 == w->n);
	}
}

/* A write is over: live rows that failed go back to the head for a retry. */
static void write_done(struct write *w, const char *err, size_t deleted)
{
	struct lav_semaforo *sf = w->sf;
	sf->writing = false;
	if (err && !w->job && !sf->closing) {
		int retry;
		if (lav_store_available(sf->srv->store, &retry))
			lav_warn(&sf->srv->log,
				 "semáforo: storing %zu grid points failed (retrying): %s", w->n,
				 err);
		else
			lav_debug(&sf->srv->log,
				  "semáforo: waiting for PostgreSQL to store %zu grid points: %s",
				  w->n, err);
		free(w->pt_row);
		free(w->pt_kind);
		free(w->pt_rev);
		w->pt_row = NULL;
		w->pt_kind = NULL;
		w->pt_rev = NULL;
		w->npts = 0;
		struct timeval tv = {RETRY_US / LAV_US_PER_S, 0};
		evtimer_add(sf->retry_timer, &tv);
		return;
	}
	sf->writes = w->next;
	if (!sf->writes)
		sf->writes_tail = NULL;
	if (!w->job)
		sf->npending -= w->n;
	if (!w->job && !err && !sf->closing)
		announce(sf, w);
	if (w->job) {
		w->job->res.deleted = deleted;
		job_done(sf, w->job, err);
	}
	write_free(w);
	if (!sf->closing) {
		write_next(sf);
		kick(sf); /* a replay may be waiting for the live rows */
	}
}

static void on_upserted(const PGresult *res, const char *err, void *arg)
{
	struct write *w = arg;
	if (!err && !res)
		err = "no result"; /* lav_pg sets err for every failed status */
	size_t deleted = !err && PQntuples(res) == 1 ? (size_t)atoll(PQgetvalue(res, 0, 0)) : 0;
	write_done(w, err, deleted);
}

static void upsert_rows(struct write *w)
{
	struct lav_semaforo *sf = w->sf;
	struct lav_buf json = LAV_BUF_INIT;
	lav_regime_rows_json(&json, w->rows, w->n);
	char since[24], until[24];
	snprintf(since, sizeof(since), "%lld", (long long)w->since);
	snprintf(until, sizeof(until), "%lld", (long long)w->until);
	const char *params[] = {lav_buf_cstr(&json), w->replace ? since : NULL,
				w->replace ? until : NULL};
	bool queued =
	    lav_store_query(sf->srv->store, LAV_REGIME_UPSERT_SQL, 3, params, on_upserted, w);
	lav_buf_free(&json);
	if (!queued)
		write_done(w, "PostgreSQL unavailable", 0);
}

static double point_value(const struct lav_regime_row *r, int kind)
{
	return kind == 0 ? r->score : r->comp[kind - 1];
}

/* The batch's feature points; with `only`, just those indices (revisions
 * of conflicting points, known from now). */
static struct lav_point_in *feature_points(struct write *w, const size_t *only, size_t nonly,
					   size_t *nout)
{
	struct lav_semaforo *sf = w->sf;
	size_t n = only ? nonly : w->npts;
	struct lav_point_in *pts = lav_xcalloc(n ? n : 1, sizeof(*pts));
	int64_t now = lav_now_us();
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = only ? only[i] : i;
		if (k >= w->npts)
			continue;
		const struct lav_regime_row *r = &w->rows[w->pt_row[k]];
		int kind = w->pt_kind[k];
		struct lav_point_in *in = &pts[m];
		in->feature = kind == 0 ? sf->score_f : sf->comp_f[kind - 1];
		in->point.ts = r->ts;
		/* a grid point is knowable at its grid time; a changed value
		 * (a replay over revised data) is a revision known from now */
		bool rev = only || w->pt_rev[k];
		in->point.available_at = rev ? (now > r->ts ? now : r->ts + 1) : r->ts;
		in->point.value = point_value(r, kind);
		in->point.confidence = kind == 0 ? r->confidence : 1.0;
		const char *code;
		char msg[160];
		if (!lav_point_check(in, true, now, &code, msg, sizeof(msg))) {
			lav_metrics_rejected(&sf->srv->metrics, &sf->srv->catalog, in->feature,
					     code);
			lav_warn(&sf->srv->log, "semáforo: %s at %lld not stored: %s",
				 in->feature->id, (long long)r->ts, msg);
			continue;
		}
		if (!only) {
			/* keep the map in step with pts: conflicts index pts */
			w->pt_row[m] = w->pt_row[k];
			w->pt_kind[m] = w->pt_kind[k];
			w->pt_rev[m] = w->pt_rev[k];
		}
		m++;
	}
	*nout = m;
	if (!only)
		w->npts = m;
	return pts;
}

static void on_revisions(void *arg, const char *err, const size_t *conflicts, size_t nconflicts)
{
	struct write *w = arg;
	(void)conflicts;
	(void)nconflicts;
	if (err) {
		write_done(w, err, 0);
		return;
	}
	w->features_done = true;
	upsert_rows(w);
}

static void on_features(void *arg, const char *err, const size_t *conflicts, size_t nconflicts)
{
	struct write *w = arg;
	if (err) {
		write_done(w, err, 0);
		return;
	}
	if (nconflicts == 0 || w->sf->closing) {
		w->features_done = true;
		upsert_rows(w);
		return;
	}
	size_t n;
	struct lav_point_in *pts = feature_points(w, conflicts, nconflicts, &n);
	if (n == 0) {
		free(pts);
		upsert_rows(w);
		return;
	}
	lav_store_publish(w->sf->srv->store, pts, n, on_revisions, w);
}

static void write_next(struct lav_semaforo *sf)
{
	struct write *w = sf->writes;
	if (sf->writing || !w || sf->closing)
		return;
	sf->writing = true;
	if (!sf->score_f || w->features_done) {
		upsert_rows(w);
		return;
	}
	/* score and every available component of every row */
	w->pt_row = lav_xcalloc(w->n * NKINDS + 1, sizeof(size_t));
	w->pt_kind = lav_xcalloc(w->n * NKINDS + 1, 1);
	w->pt_rev = lav_xcalloc(w->n * NKINDS + 1, sizeof(bool));
	w->npts = 0;
	for (size_t i = 0; i < w->n; i++)
		for (int kind = 0; kind < NKINDS; kind++) {
			if (kind > 0 &&
			    (!w->rows[i].comp_available[kind - 1] || !sf->comp_f[kind - 1]))
				continue;
			int mode = w->mode ? w->mode[i * NKINDS + (size_t)kind] : POINT_AT_GRID;
			if (mode == POINT_SKIP)
				continue;
			w->pt_row[w->npts] = i;
			w->pt_rev[w->npts] = mode == POINT_REVISION;
			w->pt_kind[w->npts++] = (unsigned char)kind;
		}
	size_t n;
	struct lav_point_in *pts = feature_points(w, NULL, 0, &n);
	if (n == 0) {
		free(pts);
		upsert_rows(w);
		return;
	}
	lav_store_publish(sf->srv->store, pts, n, on_features, w);
}

static void queue_write(struct lav_semaforo *sf, struct write *w)
{
	w->sf = sf;
	if (sf->writes_tail)
		sf->writes_tail->next = w;
	else
		sf->writes = w;
	sf->writes_tail = w;
	write_next(sf);
}

/* ---- jobs ---- */

static void remember_latest(struct lav_semaforo *sf, const struct lav_regime_point *p)
{
	sf->latest = *p;
	sf->has_latest = true;
	sf->latest_at = lav_now_us();
	sf->latest_lacks_signals = false;
}

static void job_done(struct lav_semaforo *sf, struct job *j, const char *err)
{
	bool covers_latest = sf->has_latest && j->from <= sf->latest.ts && sf->latest.ts < j->until;
	if (j->kind == JOB_REPLAY && !err && j->res.evaluated > 0 &&
	    (j->until >= sf->next_ts || covers_latest)) {
		/* the replay rewrote the newest stored grid point (the points after
		 * it, if any, had no data): live evaluation continues from it */
		sf->carry = j->carry;
		if (j->nrows)
			remember_latest(sf, &j->last);
		else
			sf->has_latest = false; /* its row was deleted */
	}
	if (j->cb)
		j->cb(j->arg, err, err ? NULL : &j->res);
	sf->jobs = j->next;
	if (!sf->jobs)
		sf->jobs_tail = NULL;
	sf->running = false;
	job_free(j);
	if (!sf->closing)
		kick(sf);
}

static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* The features' current values over the replayed range decide, point by
 * point: equal → nothing to write (a re-replay costs no conflict probes),
 * different → a revision known from now (so restoring an older value is a
 * revision too), none → written at its grid time. */
static void on_current_features(const PGresult *res, const char *err, void *arg)
{
	struct job *j = arg;
	struct lav_semaforo *sf = j->sf;
	err = read_outcome(sf, res, err);
	if (err) {
		job_done(sf, j, err);
		return;
	}
	struct write *w = lav_xcalloc(1, sizeof(*w));
	w->mode = lav_xcalloc(j->nrows * NKINDS + 1, 1); /* POINT_AT_GRID */
	int n = PQntuples(res);
	for (int k = 0; k < n; k++) {
		const char *id = PQgetvalue(res, k, 0);
		int kind = -1;
		if (sf->score_f && strcmp(id, sf->score_f->id) == 0)
			kind = 0;
		for (int c = 0; c < LAV_NCOMP; c++)
			if (sf->comp_f[c] && strcmp(id, sf->comp_f[c]->id) == 0)
				kind = 1 + c;
		if (kind < 0)
			continue;
		int64_t ts = atoll(PQgetvalue(res, k, 1));
		size_t lo = 0, hi = j->nrows; /* rows ascend by ts */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (j->rows[mid].ts < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == j->nrows || j->rows[lo].ts != ts)
			continue;
		const struct lav_regime_row *r = &j->rows[lo];
		double v = point_value(r, kind), conf = kind == 0 ? r->confidence : 1.0;
		bool same = same_bits(v, strtod(PQgetvalue(res, k, 2), NULL)) &&
			    same_bits(conf, strtod(PQgetvalue(res, k, 3), NULL));
		w->mode[lo * NKINDS + (size_t)kind] = same ? POINT_SKIP : POINT_REVISION;
	}
	w->rows = j->rows;
	w->n = j->nrows;
	j->rows = NULL;
	w->replace = true;
	w->since = j->from;
	w->until = j->until;
	w->job = j;
	queue_write(sf, w);
}

/* Evaluated: an advance moves the live state now and stores in the
 * background; a replay finishes when its rows are stored. */
static void job_evaluated(struct lav_semaforo *sf, struct job *j)
{
	if (j->kind == JOB_ADVANCE) {
		sf->carry = j->carry;
		sf->next_ts = j->until;
		if (j->nrows)
			remember_latest(sf, &j->last);
		if (j->nrows) {
			struct write *w = lav_xcalloc(1, sizeof(*w));
			w->rows = j->rows;
			w->n = j->nrows;
			j->rows = NULL;
			sf->npending += w->n;
			queue_write(sf, w);
		}
		job_done(sf, j, NULL);
		return;
	}
	/* a replay first reads the features' current values over its range */
	char ids[512], since[24], until[24];
	snprintf(ids, sizeof(ids), "{\"%s\",\"%s\",\"%s\",\"%s\"}",
		 sf->score_f ? sf->score_f->id : "", COMP_FEATURE[0], COMP_FEATURE[1],
		 COMP_FEATURE[2]);
	snprintf(since, sizeof(since), "%lld", (long long)j->from);
	snprintf(until, sizeof(until), "%lld", (long long)j->until);
	const char *params[] = {ids, since, until};
	if (!lav_store_query(sf->srv->store, CURRENT_SQL, 3, params, on_current_features, j))
		job_done(sf, j, "PostgreSQL unavailable");
}

/* A failed load: an advance is retried after a pause, a replay reports. */
static void job_failed(struct lav_semaforo *sf, struct job *j, const char *err)
{
	if (j->kind == JOB_REPLAY || sf->closing) {
		job_done(sf, j, err);
		return;
	}
	/* an advance runs again later (at start the pool may not be connected
	 * yet: no need to shout) */
	int retry;
	if (lav_store_available(sf->srv->store, &retry))
		lav_warn(&sf->srv->log, "semáforo: loading feeds failed (retrying): %s", err);
	else
		lav_debug(&sf->srv->log, "semáforo: waiting for PostgreSQL: %s", err);
	loaded_clear(&j->data);
	free(j->rows);
	j->rows = NULL;
	j->nrows = 0;
	j->loaded = false;
	j->cursor = j->from;
	j->res = (struct lav_replay_result){.since = j->from, .until = j->until};
	sf->running = false;
	struct timeval tv = {RETRY_US / LAV_US_PER_S, 0};
	evtimer_add(sf->timer, &tv);
}

/* Rows of LOAD_SQL (sorted by feature, ts, available_at) into each feed's array. */
static void parse_loaded(const struct lav_semaforo *sf, const PGresult *res, struct loaded *d)
{
	int n = PQntuples(res);
	int k = -1;
	const char *cur = NULL;
	for (int i = 0; i < n; i++) {
		const char *id = PQgetvalue(res, i, 0);
		if (!cur || strcmp(cur, id) != 0) {
			cur = id;
			k = -1;
			for (size_t x = 0; x < sf->nfeeds; x++)
				if (strcmp(sf->feeds[x].id, id) == 0)
					k = (int)x;
		}
		if (k < 0)
			continue;
		if (d->n[k] == d->cap[k]) {
			d->cap[k] = d->cap[k] ? 2 * d->cap[k] : 256;
			d->pts[k] = lav_xrealloc(d->pts[k], d->cap[k] * sizeof(struct lav_point));
		}
		d->pts[k][d->n[k]++] = (struct lav_point){
		    .ts = atoll(PQgetvalue(res, i, 1)),
		    .available_at = atoll(PQgetvalue(res, i, 2)),
		    .value = strtod(PQgetvalue(res, i, 3), NULL),
		    .confidence = 1,
		};
	}
}

static void on_loaded(const PGresult *res, const char *err, void *arg)
{
	struct job *j = arg;
	struct lav_semaforo *sf = j->sf;
	err = read_outcome(sf, res, err);
	if (err) {
		job_failed(sf, j, err);
		return;
	}
	parse_loaded(sf, res, &j->data);
	j->loaded = true;
	eval_slice(sf, j);
}

static void load_range(struct lav_semaforo *sf, struct job *j)
{
	struct load_params lp;
	load_params_init(sf, j->cursor, j->until, &lp);
	bool queued = lav_store_query(sf->srv->store, LOAD_SQL, 3, lp.v, on_loaded, j);
	free(lp.ids);
	if (!queued)
		job_failed(sf, j, "PostgreSQL unavailable");
}

static void on_carry(const PGresult *res, const char *err, void *arg)
{
	struct job *j = arg;
	struct lav_semaforo *sf = j->sf;
	err = read_outcome(sf, res, err);
	if (err) {
		job_failed(sf, j, err);
		return;
	}
	struct lav_regime_row row;
	if (PQntuples(res) == 1 && lav_regime_row_parse(res, 0, &row))
		lav_regime_row_carry(&row, &j->carry);
	load_range(sf, j);
}

static void run(struct lav_semaforo *sf, struct job *j)
{
	if (j->kind == JOB_REPLAY && (sf->npending > 0 || sf->writing)) {
		/* the row before `since` may still be on its way to PostgreSQL:
		 * a replay starts from stored rows only */
		int retry;
		if (sf->npending > 0 && !lav_store_available(sf->srv->store, &retry)) {
			sf->running = true;
			job_done(
			    sf, j,
			    "live grid points are waiting to be stored (PostgreSQL unavailable)");
			return;
		}
		return; /* write_done kicks again */
	}
	sf->running = true;
	if (j->kind == JOB_REPLAY) {
		char since[24];
		snprintf(since, sizeof(since), "%lld", (long long)j->from);
		const char *params[] = {since};
		if (!lav_store_query(sf->srv->store, LAV_REGIME_BEFORE_SQL, 1, params, on_carry, j))
			job_failed(sf, j, "PostgreSQL unavailable");
		return;
	}
	j->carry = sf->carry;
	eval_slice(sf, j);
}

static void enqueue(struct lav_semaforo *sf, struct job *j)
{
	j->sf = sf;
	if (sf->jobs_tail)
		sf->jobs_tail->next = j;
	else
		sf->jobs = j;
	sf->jobs_tail = j;
}

/* Runs the next job, or queues an advance when grid points are due, or
 * sleeps until the next one is. */
static void kick(struct lav_semaforo *sf)
{
	if (sf->running || sf->closing)
		return;
	int64_t now = lav_now_us();
	if (!sf->jobs) {
		if (!sf->leading || sf->adopting)
			return;					  /* lav_semaforo_lead kicks */
		int64_t due = grid_floor(sf, now - sf->delay_us); /* newest evaluable */
		if (sf->next_ts > due) {
			int64_t wait = sf->next_ts + sf->delay_us - now;
			struct timeval tv = {wait / LAV_US_PER_S, wait % LAV_US_PER_S};
			evtimer_add(sf->timer, &tv);
			return;
		}
		if (sf->npending > PENDING_MAX) {
			/* PostgreSQL is away: wait for the retries before going on */
			struct timeval tv = {RETRY_US / LAV_US_PER_S, 0};
			evtimer_add(sf->timer, &tv);
			return;
		}
		int64_t oldest = due - (LAV_SEMAFORO_CATCHUP_MAX - 1) * sf->step_us;
		if (sf->next_ts < oldest) {
			char a[LAV_TIME_STRLEN], b[LAV_TIME_STRLEN];
			lav_time_format(sf->next_ts, a);
			lav_time_format(oldest - sf->step_us, b);
			lav_warn(
			    &sf->srv->log,
			    "semáforo: catch-up limited to %d grid points: %s to %s not evaluated "
			    "(POST /api/liquidity/v1/replay evaluates them)",
			    LAV_SEMAFORO_CATCHUP_MAX, a, b);
			sf->next_ts = oldest;
		}
		struct job *j = lav_xcalloc(1, sizeof(*j));
		j->kind = JOB_ADVANCE;
		j->from = j->cursor = sf->next_ts;
		j->until = due + sf->step_us;
		enqueue(sf, j);
	}
	run(sf, sf->jobs);
}

/* ---- public ---- */

void lav_semaforo_start(struct lav_semaforo *sf)
{
	char at[LAV_TIME_STRLEN];
	lav_time_format(sf->next_ts, at);
	lav_info(&sf->srv->log,
		 "semáforo: %zu feeds, grid %llds (evaluated %lld ms after each boundary), next "
		 "grid point %s",
		 sf->nfeeds, (long long)(sf->step_us / LAV_US_PER_S),
		 (long long)(sf->delay_us / LAV_US_PER_MS), at);
	int64_t reach = sf->params.window_us + sf->params.trend_lookback_us;
	if ((int64_t)sf->srv->cfg.retention_days * LAV_US_PER_DAY < reach)
		lav_warn(
		    &sf->srv->log,
		    "semáforo: FEATURE_STORE_RETENTION_DAYS=%d is shorter than the window + trend "
		    "lookback (%lld days): windows read from PostgreSQL (replays, catch-up) are "
		    "cut "
		    "at the retention cutoff while the hot series may hold older points",
		    sf->srv->cfg.retention_days, (long long)(reach / LAV_US_PER_DAY));
	sf->timer = evtimer_new(sf->srv->base, on_timer, sf);
	sf->retry_timer = evtimer_new(sf->srv->base, on_retry, sf);
	sf->slice_ev = evtimer_new(sf->srv->base, on_slice, sf);
	kick(sf);
}

/* The newest stored grid point, when it is newer than what this instance
 * holds, becomes the latest and the point evaluation continues from. */
static void adopt_row(struct lav_semaforo *sf, const struct lav_regime_row *row)
{
	if (sf->has_latest && row->ts <= sf->latest.ts)
		return;
	int64_t next = sf->next_ts;
	continue_from(sf, row);
	if (next > sf->next_ts)
		sf->next_ts = next;
	struct lav_feed_view views[MAX_FEEDS];
	if (hot_views(sf, row->ts, views))
		signals_from(sf, views);
}

static void on_adopt(const PGresult *res, const char *err, void *arg)
{
	struct lav_semaforo *sf = arg;
	err = read_outcome(sf, res, err);
	bool took_over = sf->adopting;
	sf->refreshing = false;
	if (err) {
		if (sf->closing)
			return;
		lav_debug(&sf->srv->log, "semáforo: reading the newest grid point: %s", err);
		if (took_over) {
			struct timeval tv = {RETRY_US / LAV_US_PER_S, 0};
			evtimer_add(sf->retry_timer, &tv); /* on_retry reads again */
		}
		return;
	}
	struct lav_regime_row row;
	if (PQntuples(res) == 1 && lav_regime_row_parse(res, 0, &row))
		adopt_row(sf, &row);
	if (took_over) {
		sf->adopting = false;
		kick(sf);
	}
}

static void read_newest(struct lav_semaforo *sf)
{
	if (sf->refreshing)
		return;
	sf->refreshing = true;
	if (!lav_store_query(sf->srv->store, LAV_REGIME_LAST_SQL, 0, NULL, on_adopt, sf))
		on_adopt(NULL, "PostgreSQL unavailable", sf);
}

void lav_semaforo_lead(struct lav_semaforo *sf, bool lead)
{
	if (!sf || sf->closing || sf->leading == lead)
		return;
	sf->leading = lead;
	if (!lead) {
		sf->adopting = false;
		if (sf->timer)
			evtimer_del(sf->timer);
		return;
	}
	/* another leader may have gone on meanwhile */
	sf->adopting = true;
	read_newest(sf);
}

void lav_semaforo_refresh(struct lav_semaforo *sf)
{
	if (sf && !sf->closing && !sf->leading)
		read_newest(sf);
}

void lav_semaforo_stop(struct lav_semaforo *sf)
{
	if (sf)
		sf->closing = true;
}

void lav_semaforo_free(struct lav_semaforo *sf)
{
	if (!sf)
		return;
	sf->closing = true;
	while (sf->writes) {
		struct write *w = sf->writes;
		sf->writes = w->next;
		if (w->job) {
			/* its job is the running one, freed below */
			w->job = NULL;
		}
		write_free(w);
	}
	while (sf->jobs) {
		struct job *j = sf->jobs;
		sf->jobs = j->next;
		if (j->cb)
			j->cb(j->arg, "shutting down", NULL);
		job_free(j);
	}
	if (sf->timer)
		event_free(sf->timer);
	if (sf->retry_timer)
		event_free(sf->retry_timer);
	if (sf->slice_ev)
		event_free(sf->slice_ev);
	free(sf);
}

const struct lav_regime_point *lav_semaforo_latest(const struct lav_semaforo *sf,
						   int64_t *computed_at)
{
	if (!sf || !sf->has_latest)
		return NULL;
	if (computed_at)
		*computed_at = sf->latest_at;
	return &sf->latest;
}

bool lav_semaforo_provisional(struct lav_semaforo *sf, int64_t now, struct lav_regime_point *out)
{
	struct lav_feed_view views[MAX_FEEDS];
	if (!sf || !hot_views(sf, now, views))
		return false;
	struct lav_regime_inputs in;
	inputs_of(sf, views, &in);
	struct lav_regime_carry scratch = sf->carry;
	lav_regime_eval(&in, &sf->params, now, &scratch, out);
	if (!out->valid)
		return false;
	if (sf->carry.has_prev) {
		out->state = sf->carry.state;
		out->flip = false;
		out->from = LAV_REGIME_NONE;
	}
	return true;
}

const char *lav_semaforo_feed_id(const struct lav_semaforo *sf, int c, size_t f)
{
	const struct lav_liq_config *liq = &sf->srv->liq;
	return f < liq->comp[c].nfeeds ? liq->comp[c].feeds[f].feature_id : NULL;
}

int64_t lav_semaforo_step_us(const struct lav_semaforo *sf)
{
	return sf->step_us;
}

void lav_semaforo_replay(struct lav_semaforo *sf, int64_t since, int64_t until, lav_replay_cb cb,
			 void *arg)
{
	struct job *j = lav_xcalloc(1, sizeof(*j));
	j->kind = JOB_REPLAY;
	j->from = j->cursor = grid_ceil(sf, since);
	/* only grid points live evaluation has passed */
	j->until = until < sf->next_ts ? until : sf->next_ts;
	if (j->until < j->from)
		j->until = j->from;
	j->until = grid_ceil(sf, j->until);
	j->carry =
	    (struct lav_regime_carry){.state = LAV_REGIME_NONE, .run_candidate = LAV_REGIME_NONE};
	j->res.since = j->from;
	j->res.until = j->until;
	j->cb = cb;
	j->arg = arg;
	enqueue(sf, j);
	kick(sf);
}

void lav_semaforo_write_status(const struct lav_semaforo *sf, struct lav_writer *w)
{
	lav_w_map_begin(w);
	lav_w_key(w, "ok");
	lav_w_bool(w, true); /* the semáforo never makes lavd unready */
	if (!sf) {
		lav_w_map_end(w);
		return;
	}
	size_t queued = 0;
	bool replaying = false;
	for (const struct job *j = sf->jobs; j; j = j->next) {
		queued++;
		replaying |= j->kind == JOB_REPLAY;
	}
	lav_w_key(w, "grid_step_s");
	lav_w_int(w, sf->step_us / LAV_US_PER_S);
	lav_w_key(w, "delay_ms");
	lav_w_int(w, sf->delay_us / LAV_US_PER_MS);
	lav_w_key(w, "next_grid_point");
	lav_w_time(w, sf->next_ts);
	lav_w_key(w, "last_grid_point");
	if (sf->has_latest)
		lav_w_time(w, sf->latest.ts);
	else
		lav_w_null(w);
	lav_w_key(w, "state");
	if (sf->has_latest)
		lav_w_str(w, lav_regime_name(sf->latest.state));
	else
		lav_w_null(w);
	lav_w_key(w, "jobs_queued");
	lav_w_int(w, (int64_t)queued);
	lav_w_key(w, "replaying");
	lav_w_bool(w, replaying);
	lav_w_key(w, "unsaved_grid_points");
	lav_w_int(w, (int64_t)sf->npending);
	lav_w_map_end(w);
}
