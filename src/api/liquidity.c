/* /api/liquidity/v1: the semáforo's newest grid point (regime/latest,
 * scoreboard, hints) served from memory, its history from regime_history,
 * and replays (DESIGN.md sections 4 and 5, docs/semaforo.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/api.h"
#include "lav/router.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"

#define HISTORY_DEFAULT_SPAN  (7 * LAV_US_PER_DAY)
#define HISTORY_DEFAULT_LIMIT 10000
#define HISTORY_MAX_LIMIT     1000000

static const char *const COMP_NAME[LAV_NCOMP] = {"gl", "cn", "mp"};

/* Parses the query against allowed keys; answers 400 itself on failure. */
static bool parse_query(struct lav_request *req, const char *const *allowed, const char *usage,
			struct lav_query *q)
{
	if (!lav_query_parse(req->query, q)) {
		lav_respond_error(req, 400, "bad_parameter", "malformed query string");
		return false;
	}
	const char *unknown = lav_query_unknown(q, allowed);
	if (unknown) {
		lav_respond_error(req, 400, "bad_parameter",
				  "unknown query parameter \"%.64s\" (%s)", unknown, usage);
		lav_query_free(q);
		return false;
	}
	for (size_t i = 0; allowed[i]; i++) {
		bool dup;
		lav_query_get(q, allowed[i], &dup);
		if (dup) {
			lav_respond_error(req, 400, "bad_parameter",
					  "query parameter \"%s\" given more than once",
					  allowed[i]);
			lav_query_free(q);
			return false;
		}
	}
	return true;
}

static const struct lav_regime_point *latest_or_404(struct lav_server *srv, struct lav_request *req,
						    int64_t *at)
{
	const struct lav_regime_point *p = lav_semaforo_latest(srv->semaforo, at);
	if (!p)
		lav_respond_error(req, 404, "no_data",
				  "no grid point evaluated yet (the semáforo needs data for at "
				  "least one component)");
	return p;
}

/* A number, or null when absent. */
static void opt_double(struct lav_writer *w, const char *key, bool present, double v)
{
	lav_w_key(w, key);
	if (present)
		lav_w_double(w, v);
	else
		lav_w_null(w);
}

/* The same for an endpoint that takes no query parameters (400 otherwise). */
static const struct lav_regime_point *latest_no_params(struct lav_server *srv,
						       struct lav_request *req, int64_t *at)
{
	static const char *const none[] = {NULL};
	struct lav_query q;
	if (!parse_query(req, none, "this endpoint takes none", &q))
		return NULL;
	lav_query_free(&q);
	return latest_or_404(srv, req, at);
}

void lav_api_write_components(struct lav_writer *w, const bool available[LAV_NCOMP],
			      const double comp[LAV_NCOMP])
{
	lav_w_key(w, "components");
	lav_w_map_begin(w);
	for (int c = 0; c < LAV_NCOMP; c++)
		opt_double(w, COMP_NAME[c], available[c], comp[c]);
	lav_w_map_end(w);
}

void lav_api_write_regime(struct lav_writer *w, const struct lav_regime_point *p, int64_t at,
			  bool provisional)
{
	lav_w_map_begin(w);
	lav_w_key(w, "state");
	lav_w_str(w, lav_regime_name(p->state));
	lav_w_key(w, "confidence");
	lav_w_double(w, p->confidence);
	lav_api_write_components(w, p->comp_available, p->comp);
	lav_w_key(w, "score");
	lav_w_double(w, p->score);
	lav_w_key(w, "updated_at");
	lav_w_time(w, at);
	lav_w_key(w, "ts");
	lav_w_time(w, p->ts);
	lav_w_key(w, "provisional");
	lav_w_bool(w, provisional);
	lav_w_key(w, "candidate");
	lav_w_str(w, lav_regime_name(p->candidate));
	lav_w_key(w, "raw");
	lav_w_double(w, p->raw);
	lav_w_key(w, "smoothed");
	lav_w_double(w, p->smoothed);
	lav_w_map_end(w);
}

void lav_api_regime_latest(struct lav_server *srv, struct lav_request *req)
{
	static const char *const allowed[] = {"provisional", NULL};
	struct lav_query q;
	if (!parse_query(req, allowed, "use provisional=true|false", &q))
		return;
	const char *prov = lav_query_get(&q, "provisional", NULL);
	bool want_prov = false;
	if (prov && strcmp(prov, "true") && strcmp(prov, "false")) {
		lav_respond_error(req, 400, "bad_parameter",
				  "query parameter \"provisional\" must be true or false");
		lav_query_free(&q);
		return;
	}
	want_prov = prov && strcmp(prov, "true") == 0;
	lav_query_free(&q);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	int64_t now = lav_now_us();
	struct lav_regime_point *pp = want_prov ? lav_xmalloc(sizeof(*pp)) : NULL;
	int64_t at;
	if (pp && lav_semaforo_provisional(srv->semaforo, now, pp)) {
		lav_api_write_regime(&w, pp, now, true);
	} else {
		const struct lav_regime_point *p = latest_or_404(srv, req, &at);
		if (!p)
			goto out;
		lav_api_write_regime(&w, p, at, false);
	}
	lav_api_reply(req, 200, &b);
out:
	free(pp);
	lav_buf_free(&b);
}

void lav_api_scoreboard(struct lav_server *srv, struct lav_request *req)
{
	int64_t at;
	const struct lav_regime_point *p = latest_no_params(srv, req, &at);
	if (!p)
		return;
	const struct lav_liq_config *liq = &srv->liq;
	/* each sufficient feed's share of raw: W_c/ΣW_avail · w_f z_f/Σ|w| */
	double wavail = 0;
	for (int c = 0; c < LAV_NCOMP; c++)
		if (p->comp_available[c])
			wavail += liq->weights[c];
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "ts");
	lav_w_time(&w, p->ts);
	lav_w_key(&w, "score");
	lav_w_double(&w, p->score);
	lav_w_key(&w, "state");
	lav_w_str(&w, lav_regime_name(p->state));
	lav_w_key(&w, "candidate");
	lav_w_str(&w, lav_regime_name(p->candidate));
	lav_w_key(&w, "raw");
	lav_w_double(&w, p->raw);
	lav_w_key(&w, "smoothed");
	lav_w_double(&w, p->smoothed);
	lav_w_key(&w, "confidence");
	lav_w_double(&w, p->confidence);
	lav_api_write_components(&w, p->comp_available, p->comp);
	lav_w_key(&w, "signals");
	lav_w_array_begin(&w);
	for (int c = 0; c < LAV_NCOMP; c++) {
		double den = 0;
		size_t nf = liq->comp[c].nfeeds < LAV_REGIME_MAX_FEEDS ? liq->comp[c].nfeeds
								       : LAV_REGIME_MAX_FEEDS;
		for (size_t f = 0; f < nf; f++)
			if (p->signals[c][f].sufficient)
				den += fabs(liq->comp[c].feeds[f].weight);
		for (size_t f = 0; f < nf; f++) {
			const struct lav_feed_signal *s = &p->signals[c][f];
			double wf = liq->comp[c].feeds[f].weight;
			lav_w_map_begin(&w);
			lav_w_key(&w, "featureId");
			lav_w_str(&w, liq->comp[c].feeds[f].feature_id);
			lav_w_key(&w, "component");
			lav_w_str(&w, COMP_NAME[c]);
			lav_w_key(&w, "weight");
			lav_w_double(&w, wf);
			opt_double(&w, "value", s->present, s->x);
			lav_w_key(&w, "ts");
			if (s->present)
				lav_w_time(&w, s->ts);
			else
				lav_w_null(&w);
			opt_double(&w, "z", s->sufficient, s->z);
			opt_double(&w, "mean", s->sufficient, s->mu);
			opt_double(&w, "sd", s->sufficient, s->sigma);
			lav_w_key(&w, "observations");
			lav_w_int(&w, (int64_t)s->nobs);
			lav_w_key(&w, "sufficient");
			lav_w_bool(&w, s->sufficient);
			lav_w_key(&w, "stale");
			lav_w_bool(&w, s->present && s->stale);
			lav_w_key(&w, "contribution");
			if (s->sufficient && den > 0 && wavail > 0)
				lav_w_double(&w, liq->weights[c] / wavail * wf * s->z / den);
			else
				lav_w_double(&w, 0);
			lav_w_map_end(&w);
		}
	}
	lav_w_array_end(&w);
	lav_w_key(&w, "coherence");
	lav_w_map_begin(&w);
	for (int c = 0; c < LAV_NCOMP; c++) {
		lav_w_key(&w, COMP_NAME[c]);
		lav_w_double(&w, lav_regime_coherence(p, c));
	}
	lav_w_map_end(&w);
	lav_w_key(&w, "rules");
	lav_w_map_begin(&w);
	opt_double(&w, "etf_net_flow", p->etf_present, p->etf);
	opt_double(&w, "stables_yoy", p->stables_present, p->stables_yoy);
	lav_w_key(&w, "rrp_rising");
	lav_w_bool(&w, p->rrp_up);
	lav_w_key(&w, "tga_rising");
	lav_w_bool(&w, p->tga_up);
	lav_w_map_end(&w);
	lav_w_key(&w, "updated_at");
	lav_w_time(&w, at);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
}

void lav_api_hints(struct lav_server *srv, struct lav_request *req)
{
	int64_t at;
	const struct lav_regime_point *p = latest_no_params(srv, req, &at);
	if (!p)
		return;
	struct lav_hint h[3];
	lav_regime_hints(p->state, p->smoothed, h);
	static const char *const SLEEVE[3] = {"market_neutral", "directional", "yield"};
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	for (int i = 0; i < 3; i++) {
		lav_w_key(&w, SLEEVE[i]);
		lav_w_map_begin(&w);
		lav_w_key(&w, "stance");
		lav_w_str(&w, lav_stance_name(h[i].stance));
		lav_w_key(&w, "tilt");
		lav_w_double(&w, h[i].tilt);
		lav_w_map_end(&w);
	}
	lav_w_key(&w, "state");
	lav_w_str(&w, lav_regime_name(p->state));
	lav_w_key(&w, "ts");
	lav_w_time(&w, p->ts);
	lav_w_key(&w, "updated_at");
	lav_w_time(&w, at);
	lav_w_key(&w, "note");
	lav_w_str(&w, "allocation hints for sleeves, never orders");
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
}

/* ---- history ---- */

struct history_ctx {
	struct lav_request *req;
	size_t limit;
};

void lav_api_write_row_fields(struct lav_writer *w, const struct lav_regime_row *r)
{
	lav_w_key(w, "ts");
	lav_w_time(w, r->ts);
	lav_w_key(w, "raw");
	lav_w_double(w, r->raw);
	lav_w_key(w, "smoothed");
	lav_w_double(w, r->smoothed);
	lav_w_key(w, "score");
	lav_w_double(w, r->score);
	lav_api_write_components(w, r->comp_available, r->comp);
	lav_w_key(w, "candidate");
	lav_w_str(w, lav_regime_name(r->candidate));
	lav_w_key(w, "state");
	lav_w_str(w, lav_regime_name(r->state));
	lav_w_key(w, "confidence");
	lav_w_double(w, r->confidence);
	lav_w_key(w, "flip");
	lav_w_bool(w, r->flip);
}

static void write_row(struct lav_writer *w, const struct lav_regime_row *r)
{
	lav_w_map_begin(w);
	lav_api_write_row_fields(w, r);
	lav_w_key(w, "from");
	if (r->flip)
		lav_w_str(w, lav_regime_name(r->from));
	else
		lav_w_null(w);
	lav_w_key(w, "computed_at");
	lav_w_time(w, r->computed_at);
	lav_w_map_end(w);
}

static void on_history(const PGresult *res, const char *err, void *arg)
{
	struct history_ctx *c = arg;
	if (!err && !res)
		err = "no result"; /* lav_pg sets err for every failed status */
	if (err) {
		lav_respond_error_ex(c->req, 503, "unavailable", "Retry-After: 1\r\n", NULL, 0,
				     "history query failed: %s", err);
		free(c);
		return;
	}
	size_t n = (size_t)PQntuples(res);
	bool truncated = n > c->limit;
	if (truncated)
		n = c->limit;
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, c->req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "points");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		struct lav_regime_row r;
		lav_regime_row_parse(res, (int)i, &r);
		write_row(&w, &r);
	}
	lav_w_array_end(&w);
	lav_w_key(&w, "truncated");
	lav_w_bool(&w, truncated);
	lav_w_map_end(&w);
	lav_api_reply(c->req, 200, &b);
	lav_buf_free(&b);
	free(c);
}

static bool time_param(struct lav_request *req, const struct lav_query *q, const char *key,
		       int64_t def, int64_t *out)
{
	const char *v = lav_query_get(q, key, NULL);
	if (!v) {
		*out = def;
		return true;
	}
	const char *why = "";
	if (!lav_time_parse(v, strlen(v), out, &why)) {
		lav_respond_error(
		    req, 400, "bad_parameter",
		    "query parameter \"%s\": %s (RFC 3339, e.g. 2025-10-20T00:00:00Z)", key, why);
		return false;
	}
	return true;
}

void lav_api_history(struct lav_server *srv, struct lav_request *req)
{
	static const char *const allowed[] = {"since", "until", "limit", NULL};
	struct lav_query q;
	if (!parse_query(req, allowed, "use since, until, limit", &q))
		return;
	int64_t now = lav_now_us();
	int64_t until, since;
	const char *lim = lav_query_get(&q, "limit", NULL);
	long long limit = HISTORY_DEFAULT_LIMIT;
	bool ok = time_param(req, &q, "until", now + 1, &until) &&
		  time_param(req, &q, "since", until - HISTORY_DEFAULT_SPAN, &since);
	if (ok && lim) {
		char *end;
		limit = strtoll(lim, &end, 10);
		if (end == lim || *end || limit < 1 || limit > HISTORY_MAX_LIMIT) {
			lav_respond_error(req, 400, "bad_parameter",
					  "query parameter \"limit\": an integer from 1 to %d",
					  HISTORY_MAX_LIMIT);
			ok = false;
		}
	}
	lav_query_free(&q);
	if (!ok)
		return;
	if (since >= until) {
		lav_respond_error(req, 422, "invalid_query", "since must be before until");
		return;
	}
	if (!lav_api_store_ready(srv, req))
		return;
	struct history_ctx *c = lav_xcalloc(1, sizeof(*c));
	c->req = req;
	c->limit = (size_t)limit;
	char a[24], z[24], l[24];
	snprintf(a, sizeof(a), "%lld", (long long)since);
	snprintf(z, sizeof(z), "%lld", (long long)until);
	snprintf(l, sizeof(l), "%lld", limit + 1);
	const char *params[] = {a, z, l};
	if (!lav_store_query(srv->store, LAV_REGIME_SELECT_SQL, 3, params, on_history, c)) {
		free(c);
		lav_respond_error_ex(req, 503, "unavailable", "Retry-After: 1\r\n", NULL, 0,
				     "PostgreSQL is unavailable");
	}
}

/* ---- replay ---- */

static void on_replayed(void *arg, const char *err, const struct lav_replay_result *res)
{
	struct lav_request *req = arg;
	if (err) {
		lav_respond_error_ex(req, 503, "unavailable", "Retry-After: 1\r\n", NULL, 0,
				     "replay failed: %s", err);
		return;
	}
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "since");
	lav_w_time(&w, res->since);
	lav_w_key(&w, "until");
	lav_w_time(&w, res->until);
	lav_w_key(&w, "evaluated");
	lav_w_int(&w, (int64_t)res->evaluated);
	lav_w_key(&w, "stored");
	lav_w_int(&w, (int64_t)res->stored);
	lav_w_key(&w, "flips");
	lav_w_int(&w, (int64_t)res->flips);
	lav_w_key(&w, "deleted");
	lav_w_int(&w, (int64_t)res->deleted);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
}

void lav_api_replay(struct lav_server *srv, struct lav_request *req)
{
	json_t *doc = lav_api_body(req);
	if (!doc)
		return;
	if (!json_is_object(doc)) {
		lav_respond_error(req, 400, "malformed_body",
				  "the body must be an object {since, until}");
		json_decref(doc);
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v)
	{
		if (strcmp(key, "since") && strcmp(key, "until")) {
			lav_respond_error(req, 400, "bad_parameter",
					  "unknown field \"%.64s\" (use since, until)", key);
			json_decref(doc);
			return;
		}
	}
	int64_t since, until;
	bool ok = lav_api_time_field(req, doc, "since", true, &since) &&
		  lav_api_time_field(req, doc, "until", true, &until);
	json_decref(doc);
	if (!ok)
		return;
	if (since >= until) {
		lav_respond_error(req, 422, "invalid_query", "since must be before until");
		return;
	}
	int64_t step = lav_semaforo_step_us(srv->semaforo);
	/* grid points since <= T < until: ceil(until / step) - ceil(since / step),
	 * divided first so that extreme times cannot overflow */
	int64_t first = since / step + (since % step > 0), last = until / step + (until % step > 0);
	if (last - first > LAV_SEMAFORO_REPLAY_MAX) {
		lav_respond_error(req, 422, "invalid_query",
				  "the range holds more than %d grid points of %llds: split it",
				  LAV_SEMAFORO_REPLAY_MAX, (long long)(step / LAV_US_PER_S));
		return;
	}
	/* PostgreSQL holds nothing before the retention cutoff: replaying there
	 * would only delete the rows that are the last record of it */
	int64_t cutoff = lav_now_us() - (int64_t)srv->cfg.retention_days * LAV_US_PER_DAY;
	if (since < cutoff) {
		char at[LAV_TIME_STRLEN];
		lav_time_format(cutoff, at);
		lav_respond_error(
		    req, 422, "invalid_query",
		    "since is before the retention cutoff %s (FEATURE_STORE_RETENTION_DAYS=%d): "
		    "PostgreSQL holds no data to replay there",
		    at, srv->cfg.retention_days);
		return;
	}
	if (!lav_api_store_ready(srv, req))
		return;
	lav_semaforo_replay(srv->semaforo, since, until, on_replayed, req);
}
