/* Observations → points on the publish path: the same DQ rules as
 * POST /publish, evidence and meta.mode on every point, a value already
 * stored for that ts skipped, a changed value stored as a revision known
 * from the fetch, and the outlier rule over the points just before each one
 * (the batch's own predecessors included, so a long backfill is judged
 * point by point, not against a window from before it began). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_impl.h"
#include "lav/dq.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"
#include "lav/ws.h"

#define EMIT_CHUNK 5000

struct emit_call {
	struct task *t;
	void (*then)(struct task *t);
	size_t n; /* observations this chunk consumed */
	size_t accepted;
};

/* The newest revision held for ts, or NULL. */
static const struct lav_point *held_at(const struct lav_series *hs, int64_t ts)
{
	if (!hs)
		return NULL;
	size_t i = lav_points_upper(hs->pts, hs->n, ts);
	return i > 0 && hs->pts[i - 1].ts == ts ? &hs->pts[i - 1] : NULL;
}

/* The up to LAV_DQ_OUTLIER_WINDOW values held before ts, oldest first. */
static size_t window_before(const struct lav_series *hs, int64_t ts, double *w)
{
	if (!hs)
		return 0;
	size_t lo = lav_points_upper(hs->pts, hs->n, ts - 1); /* first ts >= ts */
	size_t n = lo < LAV_DQ_OUTLIER_WINDOW ? lo : LAV_DQ_OUTLIER_WINDOW;
	for (size_t i = 0; i < n; i++)
		w[i] = hs->pts[lo - n + i].value;
	return n;
}

static json_t *evidence_of(const struct task *t, int64_t available_at)
{
	const struct series_rt *s = t->s;
	char when[LAV_TIME_STRLEN];
	if (s->in->mode == LAV_SOURCE_MOCK) {
		char ref[300];
		snprintf(ref, sizeof(ref), "mock://%s?seed=%llu", s->f->id,
			 (unsigned long long)s->in->srv->cfg.mock_seed);
		lav_time_format(available_at, when);
		return json_pack("[{s:s,s:s,s:s}]", "source", "mock", "ref", ref, "fetched_at",
				 when);
	}
	lav_time_format(t->fetched_at, when);
	return json_pack("[{s:s,s:s,s:s,s:s}]", "source", s->f->source_id, "ref",
			 t->ref ? t->ref : "", "fetched_at", when, "sha256", t->sha256);
}

static void on_published(void *arg, const char *err, const size_t *conflicts, size_t nconf)
{
	struct emit_call *c = arg;
	struct task *t = c->t;
	struct series_rt *s = t->s;
	if (err) {
		t->failed = true;
		snprintf(t->err, sizeof(t->err), "nothing stored: %s", err);
		t->obs.n = 0;
		t->emitted = 0;
	} else {
		if (nconf) {
			s->failed += nconf;
			lav_warn(&s->in->srv->log,
				 "ingest: %s: %zu point(s) conflict with stored values (first "
				 "index %zu)",
				 s->f->id, nconf, conflicts[0]);
		}
		s->ingested += c->accepted - nconf;
		s->in->written += c->accepted - nconf;
		t->emitted += c->n;
	}
	void (*then)(struct task *) = c->then;
	free(c);
	lav_emit(t, then);
}

void lav_emit(struct task *t, void (*then)(struct task *t))
{
	struct series_rt *s = t->s;
	struct lav_server *srv = s->in->srv;
	bool mock = s->in->mode == LAV_SOURCE_MOCK;
	while (!t->failed && t->emitted < t->obs.n) {
		if (!lav_store_available(srv->store, &(int){0})) {
			t->failed = true;
			snprintf(t->err, sizeof(t->err), "PostgreSQL is unavailable");
			break;
		}
		struct lav_series *hs = lav_series_get(lav_store_series(srv->store), s->f->id, "");
		size_t n = t->obs.n - t->emitted;
		if (n > EMIT_CHUNK)
			n = EMIT_CHUNK;
		const struct lav_obs *o = t->obs.v + t->emitted;
		double window[LAV_DQ_OUTLIER_WINDOW];
		size_t wn = window_before(hs, o[0].ts, window);
		/* one fetch, one piece of evidence: its points share it (read-only) */
		json_t *fetch_evidence = mock ? NULL : evidence_of(t, 0);
		struct lav_point_in *pts = lav_xcalloc(n, sizeof(*pts));
		size_t acc = 0, rejected = 0;
		int64_t now = lav_now_us();
		for (size_t i = 0; i < n; i++) {
			struct lav_point_in *in = &pts[acc];
			memset(in, 0, sizeof(*in));
			in->feature = s->f;
			struct lav_point *p = &in->point;
			p->ts = o[i].ts;
			p->value = o[i].value;
			p->confidence = 1.0;
			bool has_avail = o[i].available_at != 0;
			p->available_at = o[i].available_at;
			const struct lav_point *held = held_at(hs, o[i].ts);
			if (held && held->value == o[i].value)
				continue; /* already stored */
			if (held && !mock) {
				/* the upstream revised it: known from this fetch on */
				int64_t at = t->fetched_at > held->available_at
						 ? t->fetched_at
						 : held->available_at + 1;
				if (has_avail && p->available_at > at)
					at = p->available_at;
				p->available_at = at;
				has_avail = true;
			}
			p->meta = json_pack("{s:s}", "mode", mock ? "mock" : "shadow");
			const char *code;
			char msg[256];
			int64_t check_now = mock || has_avail ? now : t->fetched_at;
			if (!lav_point_check(in, has_avail, check_now, &code, msg, sizeof(msg))) {
				lav_metrics_rejected(&srv->metrics, &srv->catalog, s->f, code);
				lav_ws_emit_dq(srv->ws, s->f->id, in->entity, o[i].ts, code, msg,
					       true);
				if (rejected++ == 0)
					lav_warn(&srv->log,
						 "ingest: %s: point at %lld rejected: %s (%s)",
						 s->f->id, (long long)o[i].ts, msg, code);
				continue;
			}
			p->evidence = fetch_evidence ? json_incref(fetch_evidence)
						     : evidence_of(t, p->available_at);
			/* a generated value is no anomaly, and a flag that depended on
			 * which earlier points exist would break byte-identical mocks */
			if (!mock && lav_dq_is_outlier(window, wn, p->value, LAV_DQ_OUTLIER_K)) {
				lav_dq_flag(p, "outlier");
				in->flagged = true;
				lav_ws_emit_dq(srv->ws, s->f->id, in->entity, p->ts, "outlier",
					       "value is an outlier against the newest points "
					       "(meta.dq)",
					       false);
			}
			if (wn == LAV_DQ_OUTLIER_WINDOW)
				memmove(window, window + 1, (wn - 1) * sizeof(double));
			else
				wn++;
			window[wn - 1] = p->value;
			acc++;
		}
		json_decref(fetch_evidence);
		s->failed += rejected;
		if (acc == 0) {
			free(pts);
			t->emitted += n;
			continue;
		}
		struct emit_call *c = lav_xcalloc(1, sizeof(*c));
		c->t = t;
		c->then = then;
		c->n = n;
		c->accepted = acc;
		lav_store_publish(srv->store, pts, acc, on_published, c);
		return;
	}
	t->obs.n = 0;
	t->emitted = 0;
	then(t);
}
