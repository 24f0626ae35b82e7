/* The LAV PLUS semáforo math (DESIGN.md section 5, docs/semaforo.md): per
 * feed z-scores over as-of windows, components, composite, EMA, score,
 * candidate rules, the confirmation state machine, confidence and hints.
 * Pure: callers pass each feed's points and the grid time. */
#ifndef LAV_REGIME_H
#define LAV_REGIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/feeds.h"
#include "lav/series.h"

enum lav_regime { LAV_REGIME_NONE = -1, LAV_VERDE = 0, LAV_AMARILLO = 1, LAV_ROJO = 2 };
const char *lav_regime_name(enum lav_regime r);

/* Point-in-time view of one feed: pts sorted by (ts, available_at) with
 * every revision, as struct lav_series holds them. */
struct lav_feed_view {
	const struct lav_point *pts;
	size_t n;
	int64_t ttl_us;
};

/* Value of the newest ts <= t whose revision with available_at <= t exists
 * (the latest such revision); false when none. */
bool lav_feed_asof(const struct lav_feed_view *v, int64_t t, double *value, int64_t *ts);

struct lav_feed_signal {
	bool present;	 /* a value as of T exists */
	bool sufficient; /* at least min_obs values in the window */
	bool stale;	 /* T - ts(x) > ttl x freshness ratio */
	double x, mu, sigma, z;
	int64_t ts;
	size_t nobs;
};

struct lav_regime_params {
	int64_t window_us, trend_lookback_us, confirm_us;
	int min_obs;
	double freshness_ratio;
	double alpha, theta_hi, theta_lo;
	double weights[LAV_NCOMP];
};
void lav_regime_params_from(const struct lav_liq_config *liq, double freshness_ratio,
			    struct lav_regime_params *out);

/* Grid point t reads only values with ts in (horizon, t]: horizon = t -
 * window - trend_lookback. */
int64_t lav_regime_horizon(const struct lav_regime_params *p, int64_t t);

/* Step 1: z-score of one feed at T over the as-of window (T - window, T]. */
void lav_feed_signal_at(const struct lav_feed_view *v, int64_t t,
			const struct lav_regime_params *p, struct lav_feed_signal *out);

/* The feeds of one evaluation, in liquidity.feeds.json order. */
#define LAV_REGIME_MAX_FEEDS 8
struct lav_regime_inputs {
	struct lav_feed_view comp[LAV_NCOMP][LAV_REGIME_MAX_FEEDS];
	double weight[LAV_NCOMP][LAV_REGIME_MAX_FEEDS];
	size_t nfeeds[LAV_NCOMP];
	struct lav_feed_view etf[2], stables_yoy, rrp, tga;
};

/* What carries from one grid point to the next. */
struct lav_regime_carry {
	bool has_prev;
	double smoothed;
	enum lav_regime state;
	enum lav_regime run_candidate; /* candidate of the current run */
	int64_t run_start;	       /* first grid point of that run */
};

struct lav_regime_point {
	int64_t ts;
	bool valid; /* false: no component available, no grid point */
	struct lav_feed_signal signals[LAV_NCOMP][LAV_REGIME_MAX_FEEDS];
	bool comp_available[LAV_NCOMP];
	double comp[LAV_NCOMP];
	double fresh[LAV_NCOMP];
	double raw, smoothed, score;
	enum lav_regime candidate, state;
	bool flip;
	enum lav_regime from;
	double confidence;
	/* rule inputs, for the scoreboard */
	bool etf_present, stables_present, rrp_up, tga_up;
	double etf, stables_yoy;
};

/* Evaluates grid point t from carry (updated in place when the point is
 * valid; an invalid point leaves it untouched). */
void lav_regime_eval(const struct lav_regime_inputs *in, const struct lav_regime_params *p,
		     int64_t t, struct lav_regime_carry *carry, struct lav_regime_point *out);

/* agree_c · fresh_c of component c (0 when unavailable): the term step 7
 * averages with the score weights, served as the scoreboard's coherence. */
double lav_regime_coherence(const struct lav_regime_point *pt, int c);

/* Hints (step 8): -1 underweight, 0 neutral, +1 overweight per sleeve, with
 * a tilt of ±|s|/3 clamped to [-1, 1]. */
enum lav_sleeve { LAV_SLEEVE_MARKET_NEUTRAL, LAV_SLEEVE_DIRECTIONAL, LAV_SLEEVE_YIELD };
struct lav_hint {
	int stance;
	double tilt;
};
void lav_regime_hints(enum lav_regime state, double smoothed, struct lav_hint out[3]);
const char *lav_stance_name(int stance);

#endif
