/* A task fills a series' ranges: it finds what is missing (gap repair and
 * backfill ask PostgreSQL which periods are stored), then generates (mock)
 * or fetches (shadow) range by range, page by page, retrying a failed
 * request with backoff, and writes each answer before asking for the next. */
#include <inttypes.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_impl.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"

#define MAX_GAP_RANGES 64
#define MOCK_CHUNK 5000

static const char *const KIND_NAMES[] = {"poll", "gap repair", "backfill"};

static void next_step(struct task *t);

static void task_free(struct task *t)
{
	if (t->retry)
		event_free(t->retry);
	lav_fetch_req_free(&t->req);
	lav_obs_free(&t->obs);
	free(t->ranges);
	free(t->ref);
	free(t);
}

void lav_task_abandon(struct task *t)
{
	t->s->task = NULL;
	task_free(t);
}

static void finish(struct task *t)
{
	struct series_rt *s = t->s;
	struct lav_server *srv = s->in->srv;
	if (t->failed)
		lav_log(&srv->log, t->quiet ? LAV_LOG_DEBUG : LAV_LOG_WARN, NULL,
			"ingest: %s of %s failed: %s", KIND_NAMES[t->kind], s->f->id, t->err);
	bool ok = !t->failed;
	if (!ok && t->kind == LAV_TASK_GAP) {
		/* try again soon rather than at the next hourly check */
		int64_t soon = lav_now_us() + 60 * LAV_US_PER_S;
		if (soon < s->next_gap)
			s->next_gap = soon;
	}
	s->task = NULL;
	task_free(t);
	lav_ingest_task_done(s, ok);
}

static void fail(struct task *t, const char *fmt, const char *what)
{
	t->failed = true;
	snprintf(t->err, sizeof(t->err), fmt, what);
	finish(t);
}

static bool is_mock(const struct task *t)
{
	return t->s->in->mode == LAV_SOURCE_MOCK;
}

/* ---- mock ---- */

/* The next chunk of mock points of the current range; only slots already
 * published (available_at <= now) exist. */
static void mock_chunk(struct task *t)
{
	struct series_rt *s = t->s;
	struct lav_server *srv = s->in->srv;
	const struct lav_feature *f = s->f;
	int64_t now = lav_now_us(), p = lav_mock_period_us(f);
	struct lav_range *r = &t->ranges[t->ri];
	int64_t ts = lav_mock_slot_ceil(f, t->cursor > r->since ? t->cursor : r->since);
	size_t n = 0;
	for (; ts < r->until && n < MOCK_CHUNK; ts += p) {
		if (lav_mock_available_at(f, ts) > now) {
			ts = r->until; /* later slots are not published either */
			break;
		}
		if (!lav_gaps_expected(&s->gap, ts))
			continue;
		double v = lav_mock_value(&srv->catalog, f, s->polarity, srv->cfg.mock_seed, ts);
		lav_obs_push(&t->obs, ts, lav_mock_available_at(f, ts), v);
		n++;
	}
	t->cursor = ts;
	if (t->cursor >= r->until) {
		t->ri++;
		if (t->ri < t->nranges)
			t->cursor = t->ranges[t->ri].since;
	}
	lav_emit(t, next_step);
}

/* ---- shadow ---- */

static void ctx_of(const struct task *t, struct lav_adapter_ctx *ctx)
{
	*ctx = (struct lav_adapter_ctx){.feature = t->s->f, .source = t->s->src->src};
	if (lav_adapter_history(t->s->ad) == LAV_HISTORY_FULL) {
		ctx->since = t->ranges[0].since;
		ctx->until = t->ranges[t->nranges - 1].until;
	} else {
		ctx->since = t->cursor;
		ctx->until = t->ranges[t->ri].until;
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	(void)fd;
	(void)what;
	lav_src_submit(t->s->src, t);
}

static void attempt_failed(struct task *t, const char *why, bool retryable)
{
	struct series_rt *s = t->s;
	struct lav_server *srv = s->in->srv;
	lav_src_result(s->src, false, why);
	if (retryable && t->attempt < srv->cfg.source_retries && !srv->draining) {
		t->attempt++;
		unsigned char rnd[2] = {0, 0};
		RAND_bytes(rnd, sizeof(rnd));
		double u = (rnd[0] << 8 | rnd[1]) / 65536.0;
		int64_t d = lav_backoff_us(srv->cfg.source_backoff_ms * LAV_US_PER_MS,
					   60 * LAV_US_PER_S, t->attempt, u);
		lav_info(&srv->log, "ingest: %s: %s; retry %d in %lld ms (%s)", s->f->id, why,
			 t->attempt, (long long)(d / LAV_US_PER_MS), t->req.public_url);
		struct timeval tv = {(time_t)(d / LAV_US_PER_S), (suseconds_t)(d % LAV_US_PER_S)};
		evtimer_add(t->retry, &tv);
		return;
	}
	fail(t, "%s", why);
}

/* Keeps only observations inside one of the task's ranges (a full-history
 * answer covers far more than the gaps asked for). */
static void keep_in_ranges(struct task *t, size_t from)
{
	size_t w = from, r = 0;
	for (size_t i = from; i < t->obs.n; i++) {
		int64_t ts = t->obs.v[i].ts;
		while (r < t->nranges && t->ranges[r].until <= ts)
			r++;
		if (r < t->nranges && ts >= t->ranges[r].since)
			t->obs.v[w++] = t->obs.v[i];
	}
	t->obs.n = w;
}

static void on_fetched(void *arg, long status, const char *body, size_t len, const char *err)
{
	struct task *t = arg;
	struct series_rt *s = t->s;
	if (err) {
		attempt_failed(t, err, true);
		return;
	}
	struct lav_adapter_ctx ctx;
	ctx_of(t, &ctx);
	ctx.fetched_at = lav_now_us();
	int64_t next = -1;
	char perr[256];
	size_t from = t->obs.n;
	if (!lav_adapter_parse(s->ad, &ctx, status, body, len, &t->obs, &next, perr,
			       sizeof(perr))) {
		bool retryable = status >= 500 || status == 429 || (status >= 200 && status < 300);
		attempt_failed(t, perr, retryable);
		return;
	}
	lav_src_result(s->src, true, NULL);
	t->attempt = 0;
	t->fetched_at = ctx.fetched_at;
	free(t->ref);
	t->ref = lav_xstrdup(t->req.public_url);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)body, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(t->sha256 + 2 * i, "%02x", md[i]);
	enum lav_history h = lav_adapter_history(s->ad);
	if (h == LAV_HISTORY_FULL) {
		keep_in_ranges(t, from);
		t->ri = t->nranges;
	} else if (next > t->cursor && next < t->ranges[t->ri].until) {
		t->cursor = next; /* the next page of this range */
	} else if (++t->ri < t->nranges) {
		t->cursor = t->ranges[t->ri].since;
	}
	lav_fetch_req_free(&t->req);
	lav_emit(t, next_step);
}

void lav_task_send(struct task *t)
{
	struct lav_server *srv = t->s->in->srv;
	lav_debug(&srv->log, "ingest: GET %s", t->req.public_url);
	lav_fetch(t->s->in->fetcher, &t->req, srv->cfg.source_timeout_ms, srv->cfg.source_max_bytes,
		  on_fetched, t);
}

void lav_task_fetch_refused(struct task *t, const char *why)
{
	t->quiet = t->kind == LAV_TASK_POLL; /* readyz already says the source rests */
	fail(t, "%s", why);
}

static void fetch_next(struct task *t)
{
	struct lav_adapter_ctx ctx;
	ctx_of(t, &ctx);
	char err[200];
	lav_fetch_req_free(&t->req);
	if (!lav_adapter_request(t->s->ad, &ctx, &t->req, err, sizeof(err))) {
		fail(t, "cannot build the request: %s", err);
		return;
	}
	t->attempt = 0;
	lav_src_submit(t->s->src, t);
}

static void next_step(struct task *t)
{
	if (t->failed) {
		finish(t);
		return;
	}
	if (t->ri >= t->nranges) {
		finish(t);
		return;
	}
	if (is_mock(t))
		mock_chunk(t);
	else
		fetch_next(t);
}

/* ---- ranges ---- */

static void start_ranges(struct task *t)
{
	t->ri = 0;
	if (t->nranges > 0)
		t->cursor = t->ranges[0].since;
	next_step(t);
}

static void on_stored_ts(const PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;
	if (err || !res) {
		fail(t, "reading stored periods: %s", err ? err : "no result");
		return;
	}
	int n = PQntuples(res);
	int64_t *ts = lav_xmalloc((size_t)(n ? n : 1) * sizeof(int64_t));
	for (int i = 0; i < n; i++)
		ts[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	t->ranges = lav_xcalloc(MAX_GAP_RANGES, sizeof(*t->ranges));
	t->nranges = lav_gaps_find(&t->s->gap, ts, (size_t)n, t->since, t->until, t->ranges,
				   MAX_GAP_RANGES);
	free(ts);
	if (t->nranges)
		lav_info(&t->s->in->srv->log,
			 "ingest: %s of %s: %zu missing range(s) of %d stored period(s)",
			 KIND_NAMES[t->kind], t->s->f->id, t->nranges, n);
	start_ranges(t);
}

/* The newest valid time held in memory for the series, or INT64_MIN. */
static int64_t newest_ts(const struct series_rt *s)
{
	struct lav_series *hs =
		lav_series_get(lav_store_series(s->in->srv->store), s->f->id, "");
	return hs && hs->n ? hs->pts[hs->n - 1].ts : INT64_MIN;
}

void lav_task_start(struct series_rt *s, enum lav_task_kind kind, int64_t since, int64_t until)
{
	struct lav_server *srv = s->in->srv;
	struct task *t = lav_xcalloc(1, sizeof(*t));
	t->s = s;
	t->kind = kind;
	t->since = since;
	t->until = until;
	t->retry = evtimer_new(srv->base, on_retry, t);
	s->task = t;
	if (kind == LAV_TASK_POLL) {
		/* after what is held; a range upstream re-serves the newest period
		 * (it may have been revised), the generator does not */
		int64_t newest = newest_ts(s);
		if (newest != INT64_MIN) {
			int64_t from = is_mock(t) ? newest + 1 : newest;
			if (from > since)
				since = from;
		}
		t->ranges = lav_xcalloc(1, sizeof(*t->ranges));
		if (since < until)
			t->ranges[t->nranges++] = (struct lav_range){since, until};
		start_ranges(t);
		return;
	}
	char a[32], b[32];
	snprintf(a, sizeof(a), "%" PRId64, since);
	snprintf(b, sizeof(b), "%" PRId64, until);
	const char *params[] = {s->f->id, a, b};
	if (!lav_store_query(srv->store,
			     "SELECT DISTINCT (extract(epoch FROM ts) * 1000000)::bigint FROM "
			     "features_values WHERE feature_id = $1 AND entity = '' AND ts >= "
			     "'epoch'::timestamptz + $2::bigint * interval '1 microsecond' AND ts < "
			     "'epoch'::timestamptz + $3::bigint * interval '1 microsecond' ORDER BY 1",
			     3, params, on_stored_ts, t))
		fail(t, "%s", "PostgreSQL is unavailable");
}
