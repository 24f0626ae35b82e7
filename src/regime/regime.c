/* DESIGN.md section 5, step by step; the choices it leaves open are in
 * docs/semaforo.md. */
#include "lav/regime.h"

#include <math.h>
#include <string.h>

#include "lav/timefmt.h"

const char *lav_regime_name(enum lav_regime r)
{
	switch (r) {
	case LAV_VERDE:
		return "verde";
	case LAV_AMARILLO:
		return "amarillo";
	case LAV_ROJO:
		return "rojo";
	default:
		return "none";
	}
}

void lav_regime_params_from(const struct lav_liq_config *liq, double freshness_ratio,
			    struct lav_regime_params *out)
{
	*out = (struct lav_regime_params){
	    .window_us = liq->window_ms * LAV_US_PER_MS,
	    .trend_lookback_us = liq->trend_lookback_ms * LAV_US_PER_MS,
	    .confirm_us = liq->flip_confirm_ms * LAV_US_PER_MS,
	    .min_obs = liq->min_obs,
	    .freshness_ratio = freshness_ratio,
	    .alpha = liq->alpha,
	    .theta_hi = liq->theta_hi,
	    .theta_lo = liq->theta_lo,
	};
	for (int c = 0; c < LAV_NCOMP; c++)
		out->weights[c] = liq->weights[c];
}

static size_t upper_ts(const struct lav_feed_view *v, int64_t t)
{
	return lav_points_upper(v->pts, v->n, t);
}

/* Among the revisions of the ts group ending just before end, the latest
 * known at t; *begin is set to the group's first index. */
static const struct lav_point *known_in_group(const struct lav_feed_view *v, size_t end, int64_t t,
					      size_t *begin)
{
	int64_t ts = v->pts[end - 1].ts;
	size_t b = end;
	const struct lav_point *best = NULL;
	while (b > 0 && v->pts[b - 1].ts == ts) {
		b--;
		/* revisions ascend by available_at: the first one known from the top */
		if (!best && v->pts[b].available_at <= t)
			best = &v->pts[b];
	}
	*begin = b;
	return best;
}

bool lav_feed_asof(const struct lav_feed_view *v, int64_t t, double *value, int64_t *ts)
{
	const struct lav_point *p = lav_points_asof(v->pts, v->n, t);
	if (p) {
		*value = p->value;
		*ts = p->ts;
	}
	return p != NULL;
}

int64_t lav_regime_horizon(const struct lav_regime_params *p, int64_t t)
{
	return t - p->window_us - p->trend_lookback_us;
}

/* As of t, ignoring values at or before the horizon (docs/semaforo.md): a
 * grid point depends only on (horizon, t], so the hot window and a range
 * loaded from PostgreSQL give the same answer. */
static bool asof_within(const struct lav_feed_view *v, int64_t t, int64_t horizon, double *value,
			int64_t *ts)
{
	double x;
	int64_t at;
	if (!lav_feed_asof(v, t, &x, &at) || at <= horizon)
		return false;
	*value = x;
	*ts = at;
	return true;
}

void lav_feed_signal_at(const struct lav_feed_view *v, int64_t t, const struct lav_regime_params *p,
			struct lav_feed_signal *out)
{
	memset(out, 0, sizeof(*out));
	out->present = asof_within(v, t, lav_regime_horizon(p, t), &out->x, &out->ts);
	if (!out->present)
		return;
	out->stale = (double)(t - out->ts) > (double)v->ttl_us * p->freshness_ratio;
	/* the window's values, newest first, as known at t: two passes (mean,
	 * then squared deviations) for a σ that does not cancel */
	int64_t from = t - p->window_us;
	double sum = 0;
	size_t n = 0;
	for (size_t end = upper_ts(v, t); end > 0 && v->pts[end - 1].ts > from;) {
		size_t b;
		const struct lav_point *q = known_in_group(v, end, t, &b);
		if (q) {
			sum += q->value;
			n++;
		}
		end = b;
	}
	out->nobs = n;
	if (n < (size_t)(p->min_obs > 0 ? p->min_obs : 1) || n < 2)
		return;
	double mu = sum / (double)n, ss = 0;
	for (size_t end = upper_ts(v, t); end > 0 && v->pts[end - 1].ts > from;) {
		size_t b;
		const struct lav_point *q = known_in_group(v, end, t, &b);
		if (q)
			ss += (q->value - mu) * (q->value - mu);
		end = b;
	}
	double sigma = sqrt(ss / (double)(n - 1));
	if (!isfinite(mu) || !isfinite(sigma))
		return; /* values near DBL_MAX overflow the sums: no usable z */
	out->sufficient = true;
	out->mu = mu;
	out->sigma = sigma;
	if (out->sigma > 0) {
		double z = (out->x - mu) / out->sigma;
		out->z = z > 3 ? 3 : z < -3 ? -3 : z;
	}
}

/* X↑: X as of t above X as of t - lookback; false when either is missing. */
static bool rising(const struct lav_feed_view *v, int64_t t, int64_t lookback, int64_t horizon)
{
	double now, then;
	int64_t ts;
	return asof_within(v, t, horizon, &now, &ts) &&
	       asof_within(v, t - lookback, horizon, &then, &ts) && now > then;
}

void lav_regime_eval(const struct lav_regime_inputs *in, const struct lav_regime_params *p,
		     int64_t t, struct lav_regime_carry *carry, struct lav_regime_point *out)
{
	memset(out, 0, sizeof(*out));
	out->ts = t;
	out->candidate = out->state = out->from = LAV_REGIME_NONE;
	double wsum = 0, csum = 0, wall = 0;
	for (int c = 0; c < LAV_NCOMP; c++) {
		double num = 0, den = 0;
		size_t fresh = 0;
		for (size_t f = 0; f < in->nfeeds[c]; f++) {
			struct lav_feed_signal *s = &out->signals[c][f];
			lav_feed_signal_at(&in->comp[c][f], t, p, s);
			if (!s->sufficient)
				continue;
			num += in->weight[c][f] * s->z;
			den += fabs(in->weight[c][f]);
			fresh += !s->stale;
		}
		out->fresh[c] = in->nfeeds[c] ? (double)fresh / (double)in->nfeeds[c] : 0;
		wall += p->weights[c];
		if (den > 0) {
			out->comp_available[c] = true;
			/* a weighted mean of values in [-3, 3] can round past 3 */
			double comp = num / den;
			out->comp[c] = comp > 3 ? 3 : comp < -3 ? -3 : comp;
			csum += p->weights[c] * out->comp[c];
			wsum += p->weights[c];
		}
	}
	if (wsum <= 0)
		return; /* no component: no grid point, not a made-up one */
	out->valid = true;
	out->raw = csum / wsum;
	out->smoothed =
	    carry->has_prev ? p->alpha * out->raw + (1 - p->alpha) * carry->smoothed : out->raw;
	double s = out->smoothed;
	double score = 100 * (s + 3) / 6;
	out->score = score < 0 ? 0 : score > 100 ? 100 : score;

	/* step 5: the rules' inputs as of t */
	double v0, v1;
	int64_t ts, h = lav_regime_horizon(p, t);
	bool h0 = asof_within(&in->etf[0], t, h, &v0, &ts);
	bool h1 = asof_within(&in->etf[1], t, h, &v1, &ts);
	out->etf_present = h0 || h1;
	out->etf = (h0 ? v0 : 0) + (h1 ? v1 : 0);
	out->stables_present = asof_within(&in->stables_yoy, t, h, &out->stables_yoy, &ts);
	out->rrp_up = rising(&in->rrp, t, p->trend_lookback_us, h);
	out->tga_up = rising(&in->tga, t, p->trend_lookback_us, h);
	bool etf_pos = out->etf_present && out->etf > 0;
	bool etf_neg = out->etf_present && out->etf < 0;
	if (s > p->theta_hi && etf_pos && out->stables_present && out->stables_yoy > 0)
		out->candidate = LAV_VERDE;
	else if (s < p->theta_lo || (out->rrp_up && out->tga_up && etf_neg))
		out->candidate = LAV_ROJO;
	else
		out->candidate = LAV_AMARILLO;

	/* step 6: a flip needs the candidate at every grid point of the window */
	if (!carry->has_prev) {
		carry->state = out->candidate;
		carry->run_candidate = out->candidate;
		carry->run_start = t;
	} else {
		if (out->candidate != carry->run_candidate) {
			carry->run_candidate = out->candidate;
			carry->run_start = t;
		}
		if (out->candidate != carry->state && t - carry->run_start >= p->confirm_us) {
			out->flip = true;
			out->from = carry->state;
			carry->state = out->candidate;
		}
	}
	carry->has_prev = true;
	carry->smoothed = s;
	out->state = carry->state;

	/* step 7 */
	double conf = 0;
	for (int c = 0; c < LAV_NCOMP; c++)
		conf += p->weights[c] * lav_regime_coherence(out, c);
	out->confidence = wall > 0 ? conf / wall : 0;
}

double lav_regime_coherence(const struct lav_regime_point *pt, int c)
{
	if (!pt->comp_available[c])
		return 0;
	double cs = pt->comp[c] * pt->smoothed;
	double agree = cs > 0 ? 1 : (pt->comp[c] == 0 || pt->smoothed == 0) ? 0.5 : 0;
	return agree * pt->fresh[c];
}

void lav_regime_hints(enum lav_regime state, double smoothed, struct lav_hint out[3])
{
	double tilt = fabs(smoothed) / 3;
	if (tilt > 1)
		tilt = 1;
	static const int STANCE[3][3] = {
	    /* market_neutral, directional, yield */
	    [LAV_VERDE] = {0, 1, -1},
	    [LAV_AMARILLO] = {0, 0, 0},
	    [LAV_ROJO] = {1, -1, 1},
	};
	for (int i = 0; i < 3; i++) {
		int st = state >= LAV_VERDE && state <= LAV_ROJO ? STANCE[state][i] : 0;
		out[i] = (struct lav_hint){st, st * tilt};
	}
}

const char *lav_stance_name(int stance)
{
	return stance > 0 ? "overweight" : stance < 0 ? "underweight" : "neutral";
}
