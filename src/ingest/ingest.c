/* Ingestion runtime: one task at a time per series (poll, gap repair or
 * backfill), each filling a list of valid-time ranges from the mock
 * generator or from its upstream through the source's queue (spacing,
 * breaker) and libcurl, then writing through the publish path. */
#include "lav/ingest.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_impl.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"

#define TICK_MS 250

static const char *const MODE_NAMES[] = {"mock", "shadow", "off"};

/* ---- sources: queue, spacing, breaker ---- */

static void src_pump(struct src_rt *sr);

static void on_src_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	src_pump(arg);
}

static void src_record(struct src_rt *sr, bool ok, const char *err)
{
	int64_t now = lav_now_us();
	lav_breaker_record(&sr->breaker, ok, now);
	if (ok) {
		sr->last_success_at = now;
		return;
	}
	sr->failures++;
	sr->last_failure_at = now;
	snprintf(sr->last_error, sizeof(sr->last_error), "%s", err);
}

/* A request leaves the queue: refused at once while the breaker rests,
 * else when the spacing allows. */
static void src_pump(struct src_rt *sr)
{
	while (sr->queue) {
		struct task *t = sr->queue;
		int64_t now = lav_now_us();
		enum lav_breaker_state bs = lav_breaker_state(&sr->breaker, now);
		if (bs == LAV_BREAKER_OPEN ||
		    (bs == LAV_BREAKER_HALF_OPEN && sr->breaker.probe_in_flight)) {
			sr->queue = t->qnext;
			t->qnext = NULL;
			lav_task_fetch_refused(t, "circuit breaker open");
			continue;
		}
		int64_t wait = lav_spacer_take(&sr->spacer, sr->src->rate_limit_rpm, now);
		if (wait > 0) {
			struct timeval tv = {(time_t)(wait / LAV_US_PER_S),
					     (suseconds_t)(wait % LAV_US_PER_S)};
			evtimer_add(sr->wake, &tv);
			return;
		}
		lav_breaker_allow(&sr->breaker, now);
		sr->queue = t->qnext;
		t->qnext = NULL;
		sr->requests++;
		lav_task_send(t);
	}
}

void lav_src_submit(struct src_rt *sr, struct task *t)
{
	struct task **p = &sr->queue;
	while (*p)
		p = &(*p)->qnext;
	*p = t;
	src_pump(sr);
}

void lav_src_result(struct src_rt *sr, bool ok, const char *err)
{
	src_record(sr, ok, err);
}

/* ---- set-up ---- */

static int polarity(const struct lav_liq_config *liq, const char *id)
{
	for (int c = 0; c < LAV_NCOMP; c++)
		for (size_t i = 0; i < liq->comp[c].nfeeds; i++)
			if (strcmp(liq->comp[c].feeds[i].feature_id, id) == 0)
				return liq->comp[c].feeds[i].weight < 0 ? -1 : 1;
	return 0;
}

/* How often a series is polled and how far back gap repair looks. */
static void schedule_of(const struct lav_feature *f, int64_t poll_override_ms, int64_t *poll_us,
			int64_t *lookback_us)
{
	static const int64_t POLL_S[] = {60, 60, 300, 900, 3600, 3600};
	int64_t period = lav_frequency_ms(f->frequency) * LAV_US_PER_MS;
	if (period == 0)
		period = 60 * LAV_US_PER_S;
	*poll_us = poll_override_ms ? poll_override_ms * LAV_US_PER_MS
				    : POLL_S[f->frequency] * LAV_US_PER_S;
	*lookback_us = 30 * period;
	if (*lookback_us < LAV_US_PER_DAY)
		*lookback_us = LAV_US_PER_DAY;
}

struct lav_ingest *lav_ingest_new(struct lav_server *srv)
{
	struct lav_ingest *in = lav_xcalloc(1, sizeof(*in));
	in->srv = srv;
	in->mode = srv->cfg.source_mode;
	in->fetcher = lav_fetcher_new(srv->base, &srv->log);
	in->nsources = srv->catalog.nsources;
	in->sources = lav_xcalloc(in->nsources ? in->nsources : 1, sizeof(*in->sources));
	for (size_t i = 0; i < in->nsources; i++) {
		struct src_rt *sr = &in->sources[i];
		sr->in = in;
		sr->src = &srv->catalog.sources[i];
		sr->no_key = sr->src->needs_key && !sr->src->key;
		lav_breaker_init(&sr->breaker, srv->cfg.breaker_failures,
				 srv->cfg.breaker_open_ms * LAV_US_PER_MS);
		sr->wake = evtimer_new(srv->base, on_src_wake, sr);
	}
	in->nseries = srv->catalog.nfeatures;
	in->series = lav_xcalloc(in->nseries ? in->nseries : 1, sizeof(*in->series));
	int64_t now = lav_now_us();
	for (size_t i = 0; i < in->nseries; i++) {
		struct series_rt *s = &in->series[i];
		const struct lav_feature *f = &srv->catalog.features[i];
		char err[256];
		s->in = in;
		s->f = f;
		s->polarity = polarity(&srv->liq, f->id);
		s->ad = lav_adapter_for(f, err, sizeof(err));
		if (!s->ad && in->mode == LAV_SOURCE_SHADOW && !f->computed)
			lav_warn(&srv->log, "ingest: %s: not polled: %s", f->id, err);
		for (size_t k = 0; k < in->nsources; k++)
			if (strcmp(in->sources[k].src->id, f->source_id) == 0)
				s->src = &in->sources[k];
		schedule_of(f, srv->cfg.poll_interval_ms, &s->poll_us, &s->lookback_us);
		s->gap.period_us = s->ad ? lav_adapter_period_us(s->ad, f) : lav_mock_period_us(f);
		s->gap.anchor_us = lav_mock_slot_ceil(f, 0);
		s->gap.calendar = s->ad ? lav_adapter_calendar(s->ad) : LAV_CAL_ALWAYS;
		/* the first gap repair catches up at start; polls are staggered */
		s->next_gap = now;
		s->next_poll = now + (int64_t)(i * 997 % 1000) * (s->poll_us / 4000);
	}
	return in;
}

bool lav_series_active(const struct series_rt *s)
{
	struct lav_ingest *in = s->in;
	if (s->f->computed)
		return false; /* the semáforo writes it */
	if (in->mode == LAV_SOURCE_MOCK)
		return true;
	if (in->mode == LAV_SOURCE_OFF || !s->ad || !s->src)
		return false;
	return !s->src->no_key;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct lav_ingest *in = arg;
	(void)fd;
	(void)what;
	int retry;
	if (in->srv->draining || !lav_store_available(in->srv->store, &retry))
		return; /* nothing could be written: wait */
	if (!in->srv->leading)
		return; /* another instance polls (lav/leader.h) */
	int64_t now = lav_now_us();
	for (size_t i = 0; i < in->nseries; i++) {
		struct series_rt *s = &in->series[i];
		if (s->task || !lav_series_active(s))
			continue;
		if (now >= s->next_gap) {
			s->next_gap = now + in->srv->cfg.gap_check_interval_ms * LAV_US_PER_MS;
			if (!(s->ad && lav_adapter_history(s->ad) == LAV_HISTORY_NONE &&
			      in->mode == LAV_SOURCE_SHADOW))
				lav_task_start(s, LAV_TASK_GAP, now - s->lookback_us, now + 1);
			continue;
		}
		if (now >= s->next_poll) {
			s->next_poll = now + s->poll_us;
			lav_task_start(s, LAV_TASK_POLL, now - s->lookback_us, now + 1);
		}
	}
}

void lav_ingest_start(struct lav_ingest *in)
{
	struct lav_server *srv = in->srv;
	size_t active = 0;
	for (size_t i = 0; i < in->nseries; i++)
		active += lav_series_active(&in->series[i]);
	for (size_t i = 0; i < in->nsources && in->mode == LAV_SOURCE_SHADOW; i++)
		if (in->sources[i].no_key)
			lav_warn(&srv->log,
				 "ingest: source %s needs an API key: set LAV_SOURCE_<ID>_KEY; not "
				 "polled",
				 in->sources[i].src->id);
	lav_info(&srv->log, "ingest: mode %s, %zu of %zu series active", MODE_NAMES[in->mode],
		 active, in->nseries);
	if (in->mode == LAV_SOURCE_OFF || active == 0)
		return;
	in->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, in);
	struct timeval tv = {0, TICK_MS * 1000};
	event_add(in->tick, &tv);
}

void lav_ingest_free(struct lav_ingest *in)
{
	if (!in)
		return;
	if (in->tick)
		event_free(in->tick);
	if (in->backfill.wait)
		event_free(in->backfill.wait);
	/* transfers first: their callbacks must not run on freed tasks */
	lav_fetcher_free(in->fetcher);
	for (size_t i = 0; i < in->nseries; i++)
		if (in->series[i].task)
			lav_task_abandon(in->series[i].task);
	for (size_t i = 0; i < in->nsources; i++)
		event_free(in->sources[i].wake);
	free(in->sources);
	free(in->series);
	free(in);
}

/* ---- backfill ---- */

void lav_ingest_task_done(struct series_rt *s, bool ok)
{
	struct lav_ingest *in = s->in;
	if (!in->backfill.active)
		return;
	if (!ok)
		in->backfill.failed++;
	if (--in->backfill.pending == 0) {
		in->backfill.active = false;
		in->backfill.done(in->backfill.arg, in->backfill.failed, in->written);
	}
}

static bool backfill_wants(const struct lav_ingest *in, const struct series_rt *s)
{
	const char *src = in->backfill.source_id;
	return (!src || strcmp(s->f->source_id, src) == 0) && lav_series_active(s) &&
	       !(in->mode == LAV_SOURCE_SHADOW && lav_adapter_history(s->ad) == LAV_HISTORY_NONE);
}

/* The pool connects on the loop: the tasks start once it can take writes. */
static void on_backfill_wait(evutil_socket_t fd, short what, void *arg)
{
	struct lav_ingest *in = arg;
	(void)fd;
	(void)what;
	int retry;
	if (!lav_store_available(in->srv->store, &retry)) {
		if (lav_now_us() > in->backfill.deadline) {
			lav_error(&in->srv->log, "backfill: PostgreSQL did not become available");
			in->backfill.active = false;
			in->backfill.done(in->backfill.arg, in->backfill.pending, 0);
			return;
		}
		struct timeval tv = {0, 50000};
		evtimer_add(in->backfill.wait, &tv);
		return;
	}
	for (size_t i = 0; i < in->nseries; i++) {
		struct series_rt *s = &in->series[i];
		if (backfill_wants(in, s))
			lav_task_start(s, LAV_TASK_BACKFILL, in->backfill.since,
				       in->backfill.until);
	}
}

bool lav_ingest_backfill_check(const struct lav_server *srv, int64_t since, const char *source_id,
			       char *err, size_t errlen)
{
	if (source_id && !lav_catalog_source(&srv->catalog, source_id))
		snprintf(err, errlen, "--source \"%s\" is not in datasources.json", source_id);
	else if (srv->cfg.source_mode == LAV_SOURCE_OFF)
		snprintf(err, errlen,
			 "ORACLE_SOURCE_MODE=off: nothing to backfill from (use mock or shadow)");
	else if (since < lav_now_us() - (int64_t)srv->cfg.retention_days * LAV_US_PER_DAY)
		snprintf(err, errlen,
			 "--since is older than FEATURE_STORE_RETENTION_DAYS (%d days): those "
			 "partitions would be dropped; raise it first",
			 srv->cfg.retention_days);
	else
		return true;
	return false;
}

void lav_ingest_backfill(struct lav_ingest *in, int64_t since, int64_t until, const char *source_id,
			 lav_ingest_done_cb done, void *arg)
{
	in->backfill = (struct backfill_state){.active = true,
					       .done = done,
					       .arg = arg,
					       .since = since,
					       .until = until,
					       .source_id = source_id};
	for (size_t i = 0; i < in->nseries; i++) {
		struct series_rt *s = &in->series[i];
		if (source_id && strcmp(s->f->source_id, source_id) != 0)
			continue;
		if (backfill_wants(in, s))
			in->backfill.pending++;
		else if (in->mode == LAV_SOURCE_SHADOW && lav_series_active(s))
			lav_info(&in->srv->log,
				 "backfill: %s skipped: %s serves only the current value", s->f->id,
				 s->f->source_id);
		else if (in->mode == LAV_SOURCE_SHADOW)
			lav_warn(&in->srv->log, "backfill: %s skipped (%s)", s->f->id,
				 !s->ad			    ? "no adapter"
				 : s->src && s->src->no_key ? "no API key"
							    : "inactive");
	}
	if (in->backfill.pending == 0) {
		in->backfill.active = false;
		done(arg, 0, 0);
		return;
	}
	in->backfill.deadline = lav_now_us() + 30 * LAV_US_PER_S;
	in->backfill.wait = evtimer_new(in->srv->base, on_backfill_wait, in);
	on_backfill_wait(-1, 0, in);
}

/* ---- status ---- */

void lav_ingest_write_status(struct lav_ingest *in, struct lav_writer *w)
{
	int64_t now = lav_now_us();
	lav_w_map_begin(w);
	lav_w_key(w, "mode");
	lav_w_str(w, in ? MODE_NAMES[in->mode] : "off");
	lav_w_key(w, "ok");
	lav_w_bool(w, true); /* lavd serves whatever the upstreams do */
	lav_w_key(w, "sources");
	lav_w_map_begin(w);
	for (size_t i = 0; in && i < in->nsources; i++) {
		struct src_rt *sr = &in->sources[i];
		lav_w_key(w, sr->src->id);
		lav_w_map_begin(w);
		lav_w_key(w, "state");
		if (in->mode != LAV_SOURCE_SHADOW)
			lav_w_str(w, "idle");
		else if (sr->no_key)
			lav_w_str(w, "no_key");
		else
			lav_w_str(w, lav_breaker_state_name(lav_breaker_state(&sr->breaker, now)));
		lav_w_key(w, "consecutive_failures");
		lav_w_int(w, sr->breaker.consecutive_failures);
		lav_w_key(w, "requests");
		lav_w_int(w, (int64_t)sr->requests);
		lav_w_key(w, "failures");
		lav_w_int(w, (int64_t)sr->failures);
		lav_w_key(w, "last_error");
		if (sr->last_error[0])
			lav_w_str(w, sr->last_error);
		else
			lav_w_null(w);
		lav_w_key(w, "last_success_at");
		if (sr->last_success_at)
			lav_w_time(w, sr->last_success_at);
		else
			lav_w_null(w);
		lav_w_key(w, "last_failure_at");
		if (sr->last_failure_at)
			lav_w_time(w, sr->last_failure_at);
		else
			lav_w_null(w);
		lav_w_map_end(w);
	}
	lav_w_map_end(w);
	lav_w_map_end(w);
}
