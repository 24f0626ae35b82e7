/* The semáforo math (DESIGN.md section 5, docs/semaforo.md) on hand-computed
 * cases: as-of reads, per-feed z-scores (window bounds, ddof = 1, clamping,
 * σ = 0, insufficiency, staleness), point-in-time behaviour under late
 * revisions, components and the composite, the EMA and the score, the
 * candidate rules, the confirmation state machine, confidence and hints.
 *
 * Every expected number is worked out in the comments next to it; the code
 * under test is never used to produce an expected value. Feeds are tiny
 * hourly series with short windows (min_obs 3, window 10h unless a test says
 * otherwise) so that each z is a small fraction. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lav/feeds.h"
#include "lav/regime.h"
#include "lav/series.h"
#include "lav/timefmt.h"

#define H  (3600 * LAV_US_PER_S)
#define T0 (500000 * H) /* an arbitrary hourly grid point (year 2027) */

#define EPS 1e-9
#define NEAR(got, want)                                                                            \
	cr_assert(fabs((double)(got) - (double)(want)) < EPS, "%s = %.17g, expected %.17g", #got,  \
		  (double)(got), (double)(want))

/* ---- feeds built by hand ---- */

#define MAXPTS 160

struct feed {
	struct lav_point p[MAXPTS];
	size_t n;
	int64_t ttl;
};

static void feed_init(struct feed *f, int64_t ttl)
{
	memset(f, 0, sizeof(*f));
	f->ttl = ttl;
}

/* Inserts a revision keeping (ts, available_at) order, as lav_series does. */
static void add(struct feed *f, int64_t ts, int64_t avail, double v)
{
	cr_assert_lt(f->n, (size_t)MAXPTS, "test feed full");
	size_t i = f->n;
	while (i > 0 && (f->p[i - 1].ts > ts ||
			 (f->p[i - 1].ts == ts && f->p[i - 1].available_at > avail))) {
		f->p[i] = f->p[i - 1];
		i--;
	}
	cr_assert(i == 0 || f->p[i - 1].ts != ts || f->p[i - 1].available_at != avail,
		  "duplicate test point");
	f->p[i] = (struct lav_point){.ts = ts,
				     .available_at = avail,
				     .value = v,
				     .confidence = 1,
				     .meta = NULL,
				     .evidence = NULL};
	f->n++;
}

/* v[0..n-1] at hourly ts ending at last, each known at its own ts. */
static void hourly(struct feed *f, int64_t last, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t ts = last - (int64_t)(n - 1 - i) * H;
		add(f, ts, ts, v[i]);
	}
}

#define HOURLY(f, last, ...)                                                                       \
	hourly(f, last, (const double[]){__VA_ARGS__},                                             \
	       sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

static struct lav_feed_view view(const struct feed *f)
{
	return (struct lav_feed_view){.pts = f->p, .n = f->n, .ttl_us = f->ttl};
}

static struct lav_regime_params params(void)
{
	struct lav_regime_params p;
	memset(&p, 0, sizeof(p));
	p.window_us = 10 * H;
	p.trend_lookback_us = 5 * H;
	p.confirm_us = 24 * H;
	p.min_obs = 3;
	p.freshness_ratio = 1.5; /* ttl 1h → stale beyond 1.5h */
	p.alpha = 0.2;
	p.theta_hi = 0.8;
	p.theta_lo = -0.8;
	p.weights[LAV_COMP_GL] = 0.4;
	p.weights[LAV_COMP_CN] = 0.4;
	p.weights[LAV_COMP_MP] = 0.2;
	return p;
}

static void inputs_init(struct lav_regime_inputs *in)
{
	memset(in, 0, sizeof(*in));
}

static void put(struct lav_regime_inputs *in, int c, const struct feed *f, double w)
{
	size_t k = in->nfeeds[c]++;
	cr_assert_lt(k, (size_t)LAV_REGIME_MAX_FEEDS);
	in->comp[c][k] = view(f);
	in->weight[c][k] = w;
}

static struct lav_regime_carry fresh_carry(void)
{
	struct lav_regime_carry c;
	memset(&c, 0, sizeof(c));
	c.has_prev = false;
	c.state = c.run_candidate = LAV_REGIME_NONE;
	return c;
}

/* The standard feeds, every value known at its own ts, ttl 1h. Worked out:
 *
 * Z15  = {0, 0, 0, 2} at T0-3h..T0: μ = 2/4 = 0.5; deviations -0.5 ×3, 1.5;
 *        Σd² = 3·0.25 + 2.25 = 3; s² = 3/(4-1) = 1; σ = 1;
 *        z = (2 - 0.5)/1 = 1.5 (exactly representable all the way).
 * ZM15 = {0, 0, 0, -2}: μ = -0.5, σ = 1, z = -1.5.
 * Z0   = {5, 5, 5} at T0-2h..T0: σ = 0 → z = 0.
 * INS  = {1, 2} at T0-1h..T0: 2 < min_obs 3 → insufficient.
 * Z15S = Z15's values at T0-5h..T0-2h: same z = 1.5 inside the 10h window,
 *        but ts(x) = T0-2h and T0 - ts(x) = 2h > 1h × 1.5 → stale. */
static void mk_z15(struct feed *f)
{
	feed_init(f, H);
	HOURLY(f, T0, 0, 0, 0, 2);
}

static void mk_zm15(struct feed *f)
{
	feed_init(f, H);
	HOURLY(f, T0, 0, 0, 0, -2);
}

static void mk_z0(struct feed *f)
{
	feed_init(f, H);
	HOURLY(f, T0, 5, 5, 5);
}

static void mk_ins(struct feed *f)
{
	feed_init(f, H);
	HOURLY(f, T0, 1, 2);
}

static void mk_z15_stale(struct feed *f)
{
	feed_init(f, H);
	HOURLY(f, T0 - 2 * H, 0, 0, 0, 2);
}

static void one_point(struct feed *f, int64_t ts, double v)
{
	feed_init(f, 24 * H);
	add(f, ts, ts, v);
}

static void sig(const struct feed *f, int64_t t, const struct lav_regime_params *p,
		struct lav_feed_signal *s)
{
	struct lav_feed_view v = view(f);
	lav_feed_signal_at(&v, t, p, s);
}

/* ================================================================== */
/* lav_feed_asof                                                       */
/* ================================================================== */

Test(asof, empty_and_before_first)
{
	struct feed f;
	feed_init(&f, H);
	struct lav_feed_view v = view(&f);
	double x = -1;
	int64_t ts = -1;
	cr_assert_not(lav_feed_asof(&v, T0, &x, &ts), "empty view has no value");

	add(&f, T0, T0, 7);
	v = view(&f);
	cr_assert_not(lav_feed_asof(&v, T0 - 1, &x, &ts), "nothing at or before T0-1µs");
	cr_assert(lav_feed_asof(&v, T0, &x, &ts));
	cr_assert(x == 7 && ts == T0);
}

Test(asof, exact_between_after)
{
	struct feed f;
	feed_init(&f, H);
	HOURLY(&f, T0, 1, 2, 3); /* T0-2h:1, T0-1h:2, T0:3 */
	struct lav_feed_view v = view(&f);
	double x;
	int64_t ts;
	cr_assert(lav_feed_asof(&v, T0 - 2 * H, &x, &ts));
	cr_assert(x == 1 && ts == T0 - 2 * H, "exact ts: x=%g", x);
	cr_assert(lav_feed_asof(&v, T0 - H - 1, &x, &ts));
	cr_assert(x == 1 && ts == T0 - 2 * H, "just before the 2nd point: older one, x=%g", x);
	cr_assert(lav_feed_asof(&v, T0 - H / 2, &x, &ts));
	cr_assert(x == 2 && ts == T0 - H, "between: newest ts <= t, x=%g", x);
	cr_assert(lav_feed_asof(&v, T0 + 100 * H, &x, &ts));
	cr_assert(x == 3 && ts == T0, "after the last: the last, x=%g", x);
}

Test(asof, revisions_and_late_points)
{
	struct feed f;
	feed_init(&f, H);
	add(&f, T0 - 2 * H, T0 - 2 * H, 1);
	add(&f, T0 - H, T0 - H, 10);	 /* first print of T0-1h */
	add(&f, T0 - H, T0 - H / 2, 11); /* revised 30 min later */
	add(&f, T0 - H, T0 + H, 12);	 /* revised again after T0 */
	add(&f, T0, T0 + 2 * H, 5);	 /* T0's only revision is known at T0+2h */
	struct lav_feed_view v = view(&f);
	double x;
	int64_t ts;

	/* at T0-1h only the first print of T0-1h is known */
	cr_assert(lav_feed_asof(&v, T0 - H, &x, &ts));
	cr_assert(x == 10 && ts == T0 - H, "x=%g", x);
	/* at T0: the T0 point does not exist yet; T0-1h's latest known
	 * revision is the one of T0-30min (11), not the one of T0+1h (12) */
	cr_assert(lav_feed_asof(&v, T0, &x, &ts));
	cr_assert(x == 11 && ts == T0 - H, "x=%g ts=%lld", x, (long long)ts);
	/* at T0+1h the second revision is known, T0 still is not */
	cr_assert(lav_feed_asof(&v, T0 + H, &x, &ts));
	cr_assert(x == 12 && ts == T0 - H, "x=%g", x);
	/* at T0+2h the T0 point appears */
	cr_assert(lav_feed_asof(&v, T0 + 2 * H, &x, &ts));
	cr_assert(x == 5 && ts == T0, "x=%g", x);

	/* a feed whose only point is known late does not exist before */
	struct feed g;
	feed_init(&g, H);
	add(&g, T0 - 3 * H, T0, 9);
	v = view(&g);
	cr_assert_not(lav_feed_asof(&v, T0 - 1, &x, &ts));
	cr_assert(lav_feed_asof(&v, T0, &x, &ts));
	cr_assert(x == 9 && ts == T0 - 3 * H);
}

/* ================================================================== */
/* Step 1: z-scores                                                    */
/* ================================================================== */

Test(zscore, sample_std_ddof1)
{
	/* {1,2,3,4,5}: μ = 15/5 = 3; Σd² = 4+1+0+1+4 = 10; ddof=1 → s² = 10/4 = 2.5
	 * σ = √2.5 = 1.5811388300841898; z = (5-3)/σ = 1.2649110640673518.
	 * (with ddof=0 σ would be √2 and z = 1.4142…) */
	struct feed f;
	feed_init(&f, H);
	HOURLY(&f, T0, 1, 2, 3, 4, 5);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert(s.present && s.sufficient && !s.stale);
	cr_assert_eq(s.nobs, 5);
	cr_assert(s.x == 5 && s.ts == T0);
	NEAR(s.mu, 3.0);
	NEAR(s.sigma, 1.5811388300841898);
	NEAR(s.z, 1.2649110640673518);
}

Test(zscore, exact_fraction)
{
	struct feed f;
	mk_z15(&f);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	/* see mk_z15: μ 0.5, σ 1, z 1.5, all exact in binary */
	cr_assert(s.present && s.sufficient);
	cr_assert_eq(s.nobs, 4);
	cr_assert(s.mu == 0.5 && s.sigma == 1.0 && s.z == 1.5, "mu %.17g sigma %.17g z %.17g", s.mu,
		  s.sigma, s.z);

	mk_zm15(&f);
	sig(&f, T0, &p, &s);
	cr_assert(s.mu == -0.5 && s.sigma == 1.0 && s.z == -1.5, "z %.17g", s.z);
}

Test(zscore, window_is_open_closed)
{
	/* window 4h → (T0-4h, T0]. A point exactly at T0-4h (value 100) is out;
	 * a point with ts T0+1h is in the future even though it was known at
	 * T0 (available_at = T0): out too, and it is not x.
	 * In: {0,0,0,2} at T0-3h..T0 → μ 0.5, σ 1, z 1.5, x = 2.
	 * (Had T0-4h been included: {100,0,0,0,2}, μ = 20.4 — nowhere near.) */
	struct feed f;
	feed_init(&f, H);
	add(&f, T0 - 4 * H, T0 - 4 * H, 100);
	HOURLY(&f, T0, 0, 0, 0, 2);
	add(&f, T0 + H, T0, 1000);
	struct lav_regime_params p = params();
	p.window_us = 4 * H;
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert_eq(s.nobs, 4, "nobs %zu", s.nobs);
	cr_assert(s.x == 2 && s.ts == T0);
	cr_assert(s.mu == 0.5 && s.sigma == 1 && s.z == 1.5, "mu %.17g z %.17g", s.mu, s.z);

	/* at t = T0 - 1µs the window (T0-4h-1µs, T0-1µs] contains T0-4h and
	 * not T0: {100, 0, 0, 0}, x = 0 (T0-1h): μ = 25,
	 * Σd² = 75² + 3·25² = 5625 + 1875 = 7500, s² = 2500, σ = 50,
	 * z = (0-25)/50 = -0.5 */
	sig(&f, T0 - 1, &p, &s);
	cr_assert_eq(s.nobs, 4);
	cr_assert(s.x == 0 && s.ts == T0 - H);
	NEAR(s.mu, 25);
	NEAR(s.sigma, 50);
	NEAR(s.z, -0.5);
}

Test(zscore, clamped_to_3)
{
	/* 16 hourly values, 15 zeros then 16, window 20h:
	 * μ = 16/16 = 1; Σd² = 15·1 + 15² = 240; s² = 240/15 = 16; σ = 4;
	 * raw z = (16-1)/4 = 3.75 → clamped to 3. */
	struct feed f;
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16);
	struct lav_regime_params p = params();
	p.window_us = 20 * H;
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert_eq(s.nobs, 16);
	NEAR(s.mu, 1);
	NEAR(s.sigma, 4);
	cr_assert(s.z == 3.0, "z %.17g, expected the clamp 3", s.z);

	/* mirrored: -16 → μ = -1, σ = 4, raw z = -3.75 → -3 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -16);
	sig(&f, T0, &p, &s);
	NEAR(s.mu, -1);
	NEAR(s.sigma, 4);
	cr_assert(s.z == -3.0, "z %.17g, expected the clamp -3", s.z);
}

Test(zscore, sigma_zero_and_x_at_mean)
{
	struct feed f;
	mk_z0(&f);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	/* {5,5,5}: μ = 5, σ = 0 → z = 0 (not NaN), still sufficient */
	cr_assert(s.present && s.sufficient);
	cr_assert(s.mu == 5 && s.sigma == 0 && s.z == 0, "mu %g sigma %g z %g", s.mu, s.sigma, s.z);

	/* {0,2,1}: μ = 1, Σd² = 1+1+0 = 2, s² = 1, σ = 1, x = 1 → z = 0 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 2, 1);
	sig(&f, T0, &p, &s);
	cr_assert(s.sufficient);
	NEAR(s.mu, 1);
	NEAR(s.sigma, 1);
	cr_assert(s.z == 0, "z %g", s.z);
}

Test(zscore, insufficient)
{
	struct lav_regime_params p = params(); /* min_obs 3 */
	struct feed f;
	struct lav_feed_signal s;

	/* 2 values < min_obs 3: present (has x) but insufficient, z 0 */
	mk_ins(&f);
	sig(&f, T0, &p, &s);
	cr_assert(s.present);
	cr_assert_not(s.sufficient);
	cr_assert_eq(s.nobs, 2);
	cr_assert(s.x == 2 && s.z == 0);

	/* exactly min_obs = 3 values is enough: {0,0,3}: μ = 1,
	 * Σd² = 1+1+4 = 6, s² = 3, σ = √3, z = 2/√3 = 1.1547005383792517 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 3);
	sig(&f, T0, &p, &s);
	cr_assert(s.sufficient);
	cr_assert_eq(s.nobs, 3);
	NEAR(s.sigma, 1.7320508075688772);
	NEAR(s.z, 1.1547005383792517);

	/* n < 2 is always insufficient (no sample std), whatever min_obs */
	feed_init(&f, H);
	add(&f, T0, T0, 4);
	p.min_obs = 1;
	sig(&f, T0, &p, &s);
	cr_assert(s.present && !s.sufficient, "one value, min_obs 1: insufficient");
	cr_assert_eq(s.nobs, 1);
	p.min_obs = 0;
	sig(&f, T0, &p, &s);
	cr_assert(s.present && !s.sufficient, "one value, min_obs 0: insufficient");

	/* two values with min_obs 1: {0,2}: μ 1, Σd² 2, s² 2, σ √2,
	 * z = 1/√2 = 0.70710678118654757 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 2);
	p.min_obs = 1;
	sig(&f, T0, &p, &s);
	cr_assert(s.sufficient);
	NEAR(s.z, 0.70710678118654757);

	/* x older than the window (10h) but after the horizon (window +
	 * lookback = 15h): present, nothing in the window */
	feed_init(&f, H);
	HOURLY(&f, T0 - 12 * H, 1, 2, 3);
	p = params();
	sig(&f, T0, &p, &s);
	cr_assert(s.present && !s.sufficient);
	cr_assert_eq(s.nobs, 0);
	cr_assert(s.x == 3 && s.ts == T0 - 12 * H);

	/* x at or before the horizon T0 - 15h is not read at all */
	feed_init(&f, H);
	HOURLY(&f, T0 - 15 * H, 1, 2, 3);
	sig(&f, T0, &p, &s);
	cr_assert_not(s.present, "a value at the horizon is out of reach");
	feed_init(&f, H);
	HOURLY(&f, T0 - 15 * H + 1, 1, 2, 3);
	sig(&f, T0, &p, &s);
	cr_assert(s.present && s.x == 3, "1 µs after the horizon is in reach");

	/* nothing at all */
	feed_init(&f, H);
	sig(&f, T0, &p, &s);
	cr_assert(!s.present && !s.sufficient);
}

Test(zscore, stale_is_strict)
{
	/* {0,0,3} at T0-3.5h, T0-2.5h, T0-1.5h; ttl 1h × ratio 1.5 = 1.5h.
	 * At T0: T0 - ts(x) = 1.5h, not > 1.5h → fresh.
	 * At T0+1µs: 1.5h + 1µs > 1.5h → stale. z = 2/√3 both times
	 * (window (t-10h, t] holds all three). */
	struct feed f;
	feed_init(&f, H);
	add(&f, T0 - 7 * H / 2, T0 - 7 * H / 2, 0);
	add(&f, T0 - 5 * H / 2, T0 - 5 * H / 2, 0);
	add(&f, T0 - 3 * H / 2, T0 - 3 * H / 2, 3);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert(s.sufficient);
	cr_assert_not(s.stale, "exactly ttl×ratio old is not stale");
	NEAR(s.z, 1.1547005383792517);

	sig(&f, T0 + 1, &p, &s);
	cr_assert(s.sufficient);
	cr_assert(s.stale, "1µs past ttl×ratio is stale");
	NEAR(s.z, 1.1547005383792517);

	/* the ratio matters: ×2 → 2h allowed */
	p.freshness_ratio = 2.0;
	sig(&f, T0 + 1, &p, &s);
	cr_assert_not(s.stale);
}

/* ================================================================== */
/* Point in time                                                       */
/* ================================================================== */

Test(pit, revision_after_t_invisible)
{
	/* {0,0,0,2} at T0-3h..T0, plus a revision of T0 to 1000 known at
	 * T0+30min. At T0 the old revision counts: μ 0.5, σ 1, z 1.5.
	 * At T0+30min: {0,0,0,1000}: μ = 250; Σd² = 3·250² + 750² =
	 * 187500 + 562500 = 750000; s² = 250000; σ = 500; z = 750/500 = 1.5. */
	struct feed f;
	mk_z15(&f);
	add(&f, T0, T0 + H / 2, 1000);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert(s.x == 2, "x %g: the revision known after T0 leaked", s.x);
	cr_assert(s.mu == 0.5 && s.sigma == 1 && s.z == 1.5);

	sig(&f, T0 + H / 2, &p, &s);
	cr_assert(s.x == 1000);
	NEAR(s.mu, 250);
	NEAR(s.sigma, 500);
	NEAR(s.z, 1.5);

	/* a revision of an older window value: T0-3h → 2 known at T0+1h.
	 * At T0 nothing changes; at T0+1h: {2,0,0,2}: μ 1, Σd² 4, s² 4/3,
	 * σ = 1.1547005383792515, z = (2-1)/σ = √3/2 = 0.8660254037844386 */
	mk_z15(&f);
	add(&f, T0 - 3 * H, T0 + H, 2);
	sig(&f, T0, &p, &s);
	cr_assert(s.mu == 0.5 && s.sigma == 1 && s.z == 1.5, "mu %g", s.mu);
	sig(&f, T0 + H, &p, &s);
	cr_assert_eq(s.nobs, 4);
	NEAR(s.mu, 1);
	NEAR(s.z, 0.8660254037844386);
}

Test(pit, point_known_after_t_not_in_window)
{
	/* T0-3h:0, T0-2h:0, T0-1h:50 known only at T0+2h, T0:2.
	 * At T0 the window holds {0,0,2} (n = 3): μ = 2/3;
	 * Σd² = 4/9 + 4/9 + 16/9 = 24/9; s² = 12/9 = 4/3; σ = 2/√3;
	 * z = (4/3)/(2/√3) = 2/√3 = 1.1547005383792517.
	 * At T0+2h: {0,0,50,2}, n = 4, μ = 52/4 = 13. */
	struct feed f;
	feed_init(&f, H);
	add(&f, T0 - 3 * H, T0 - 3 * H, 0);
	add(&f, T0 - 2 * H, T0 - 2 * H, 0);
	add(&f, T0 - H, T0 + 2 * H, 50);
	add(&f, T0, T0, 2);
	struct lav_regime_params p = params();
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert_eq(s.nobs, 3, "nobs %zu: a point unknown at T0 was counted", s.nobs);
	NEAR(s.mu, 2.0 / 3.0);
	NEAR(s.z, 1.1547005383792517);

	sig(&f, T0 + 2 * H, &p, &s);
	cr_assert_eq(s.nobs, 4);
	NEAR(s.mu, 13);
	cr_assert(s.x == 2 && s.ts == T0);

	/* with min_obs 4 the same feed is insufficient at T0, sufficient later */
	p.min_obs = 4;
	sig(&f, T0, &p, &s);
	cr_assert_not(s.sufficient);
	sig(&f, T0 + 2 * H, &p, &s);
	cr_assert(s.sufficient);
}

static void same_signal(const struct lav_feed_signal *a, const struct lav_feed_signal *b,
			const char *where)
{
	cr_assert(a->present == b->present && a->sufficient == b->sufficient &&
		      a->stale == b->stale && a->ts == b->ts && a->nobs == b->nobs,
		  "%s: flags/ts/nobs differ", where);
	cr_assert(memcmp(&a->x, &b->x, sizeof(double)) == 0, "%s: x", where);
	cr_assert(memcmp(&a->mu, &b->mu, sizeof(double)) == 0, "%s: mu", where);
	cr_assert(memcmp(&a->sigma, &b->sigma, sizeof(double)) == 0, "%s: sigma", where);
	cr_assert(memcmp(&a->z, &b->z, sizeof(double)) == 0, "%s: z", where);
}

static void same_point(const struct lav_regime_point *a, const struct lav_regime_point *b,
		       const struct lav_regime_inputs *in)
{
	cr_assert(a->valid == b->valid && a->ts == b->ts);
	for (int c = 0; c < LAV_NCOMP; c++)
		for (size_t f = 0; f < in->nfeeds[c]; f++)
			same_signal(&a->signals[c][f], &b->signals[c][f], "signal");
	cr_assert(memcmp(a->comp_available, b->comp_available, sizeof(a->comp_available)) == 0);
	cr_assert(memcmp(a->comp, b->comp, sizeof(a->comp)) == 0, "components differ");
	cr_assert(memcmp(a->fresh, b->fresh, sizeof(a->fresh)) == 0, "fresh differs");
	cr_assert(memcmp(&a->raw, &b->raw, sizeof(double)) == 0, "raw differs");
	cr_assert(memcmp(&a->smoothed, &b->smoothed, sizeof(double)) == 0, "smoothed differs");
	cr_assert(memcmp(&a->score, &b->score, sizeof(double)) == 0, "score differs");
	cr_assert(memcmp(&a->confidence, &b->confidence, sizeof(double)) == 0,
		  "confidence differs");
	cr_assert(memcmp(&a->etf, &b->etf, sizeof(double)) == 0, "etf differs");
	cr_assert(memcmp(&a->stables_yoy, &b->stables_yoy, sizeof(double)) == 0);
	cr_assert(a->candidate == b->candidate && a->state == b->state && a->flip == b->flip &&
		      a->from == b->from,
		  "candidate/state/flip differ");
	cr_assert(a->etf_present == b->etf_present && a->stables_present == b->stables_present &&
		  a->rrp_up == b->rrp_up && a->tga_up == b->tga_up);
}

struct world {
	struct feed gl0, gl1, cn0, mp0, btc, eth, stables, rrp, tga;
};

/* A full set of inputs as known at T0. */
static void world_init(struct world *w)
{
	feed_init(&w->gl0, H);
	HOURLY(&w->gl0, T0, 0, 0, 0, 2);
	feed_init(&w->gl1, H);
	HOURLY(&w->gl1, T0, 1, 2, 3, 4, 5);
	feed_init(&w->cn0, H);
	HOURLY(&w->cn0, T0, 0, 0, 3);
	feed_init(&w->mp0, H);
	HOURLY(&w->mp0, T0, 0, 0, 0, -2);
	one_point(&w->btc, T0 - H, 100);
	one_point(&w->eth, T0, -30);
	one_point(&w->stables, T0 - 2 * H, 0.1);
	feed_init(&w->rrp, 24 * H);
	add(&w->rrp, T0 - 5 * H, T0 - 5 * H, 10);
	add(&w->rrp, T0, T0, 12);
	feed_init(&w->tga, 24 * H);
	add(&w->tga, T0 - 5 * H, T0 - 5 * H, 5);
	add(&w->tga, T0, T0, 4);
}

/* Revisions and points that all become known after T0. */
static void world_late(struct world *w)
{
	add(&w->gl0, T0, T0 + 1, 50);		 /* revision of x */
	add(&w->gl0, T0 - H / 2, T0 + H, -7);	 /* a new ts inside the window */
	add(&w->gl1, T0 - 4 * H, T0 + 2 * H, 9); /* revision of an old value */
	add(&w->gl1, T0 + H, T0 + H, 6);	 /* the next hour */
	add(&w->cn0, T0 - 2 * H, T0 + 1, 40);
	add(&w->mp0, T0, T0 + 1, -100);
	add(&w->btc, T0 - H, T0 + 1, -500);
	add(&w->eth, T0, T0 + 1, 1000);
	add(&w->stables, T0 - H, T0 + 1, -1);
	add(&w->rrp, T0, T0 + 1, 1); /* would end RRP↑ */
	add(&w->rrp, T0 - 5 * H, T0 + 1, 0);
	add(&w->tga, T0, T0 + 1, 100); /* would make TGA↑ */
}

static void world_inputs(const struct world *w, struct lav_regime_inputs *in)
{
	inputs_init(in);
	put(in, LAV_COMP_GL, &w->gl0, 1);
	put(in, LAV_COMP_GL, &w->gl1, -0.5);
	put(in, LAV_COMP_CN, &w->cn0, 1);
	put(in, LAV_COMP_MP, &w->mp0, 1);
	in->etf[0] = view(&w->btc);
	in->etf[1] = view(&w->eth);
	in->stables_yoy = view(&w->stables);
	in->rrp = view(&w->rrp);
	in->tga = view(&w->tga);
}

Test(pit, late_data_does_not_change_a_grid_point)
{
	static struct world w; /* large: keep it off the worker's stack */
	world_init(&w);
	struct lav_regime_inputs in;
	world_inputs(&w, &in);
	struct lav_regime_params p = params();

	/* a carry that makes the state machine do something */
	struct lav_regime_carry start = fresh_carry();
	start.has_prev = true;
	start.smoothed = 0.3;
	start.state = LAV_ROJO;
	start.run_candidate = LAV_AMARILLO;
	start.run_start = T0 - 30 * H;

	static struct lav_regime_point a, b, c;
	struct lav_regime_carry ca = start, cb = start;
	lav_regime_eval(&in, &p, T0, &ca, &a);
	cr_assert(a.valid);
	/* sanity on the T0 inputs: GL x = 2 with z 1.5, RRP↑ (12 > 10), TGA
	 * not (4 < 5), ETF 100 - 30 = 70, stables 0.1 */
	cr_assert(a.signals[LAV_COMP_GL][0].x == 2 && a.signals[LAV_COMP_GL][0].z == 1.5);
	cr_assert(a.rrp_up && !a.tga_up);
	cr_assert(a.etf_present && a.etf == 70 && a.stables_present && a.stables_yoy == 0.1);

	/* now everything late arrives; evaluate T0 again */
	world_late(&w);
	world_inputs(&w, &in);
	lav_regime_eval(&in, &p, T0, &cb, &b);
	same_point(&a, &b, &in);
	cr_assert(memcmp(&ca.smoothed, &cb.smoothed, sizeof(double)) == 0);
	cr_assert(ca.has_prev == cb.has_prev && ca.state == cb.state &&
		  ca.run_candidate == cb.run_candidate && ca.run_start == cb.run_start);

	/* and the late data is real: at T0+2h it is used */
	struct lav_regime_carry cc = start;
	lav_regime_eval(&in, &p, T0 + 2 * H, &cc, &c);
	cr_assert(c.signals[LAV_COMP_GL][0].x == 50, "x at T0+2h is T0's revision");
	cr_assert(c.etf == 500, "ETF at T0+2h = -500 + 1000, got %g", c.etf);
	cr_assert(!c.rrp_up && c.tga_up);
	cr_assert(c.stables_yoy == -1);
}

/* ================================================================== */
/* Steps 2–3: components and the composite                             */
/* ================================================================== */

Test(composite, component_with_negative_weight)
{
	/* GL: Z15 (z 1.5) w +1, Z15 (z 1.5) w -0.5, INS w 3 (insufficient, left out)
	 * c = (1·1.5 + (-0.5)·1.5) / (|1| + |-0.5|) = 0.75 / 1.5 = 0.5
	 * (were INS in the denominator: 0.75/4.5 = 0.1667)
	 * CN: Z15 w 2 → 3/2 = 1.5.  MP: ZM15 w 1 → -1.5.
	 * r = (0.4·0.5 + 0.4·1.5 + 0.2·(-1.5)) / (0.4+0.4+0.2)
	 *   = (0.2 + 0.6 - 0.3) / 1 = 0.5 */
	struct feed a, b, ins, cn, mp;
	mk_z15(&a);
	mk_z15(&b);
	mk_ins(&ins);
	mk_z15(&cn);
	mk_zm15(&mp);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 1);
	put(&in, LAV_COMP_GL, &b, -0.5);
	put(&in, LAV_COMP_GL, &ins, 3);
	put(&in, LAV_COMP_CN, &cn, 2);
	put(&in, LAV_COMP_MP, &mp, 1);
	struct lav_regime_params p = params();
	struct lav_regime_carry carry = fresh_carry();
	static struct lav_regime_point out;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert(out.valid);
	cr_assert_not(out.signals[LAV_COMP_GL][2].sufficient);
	cr_assert(out.comp_available[0] && out.comp_available[1] && out.comp_available[2]);
	NEAR(out.comp[LAV_COMP_GL], 0.5);
	NEAR(out.comp[LAV_COMP_CN], 1.5);
	NEAR(out.comp[LAV_COMP_MP], -1.5);
	NEAR(out.raw, 0.5);
	/* fresh: GL 2 of 3 feeds sufficient and fresh; CN 1/1; MP 1/1 */
	NEAR(out.fresh[LAV_COMP_GL], 2.0 / 3.0);
	NEAR(out.fresh[LAV_COMP_CN], 1);
	NEAR(out.fresh[LAV_COMP_MP], 1);
}

Test(composite, unavailable_component_renormalizes)
{
	/* GL c = 0.5 (as above), CN only INS → unavailable, MP -1.5:
	 * r = (0.4·0.5 + 0.2·(-1.5)) / (0.4 + 0.2) = (0.2 - 0.3)/0.6 = -1/6 */
	struct feed a, b, ins, mp;
	mk_z15(&a);
	mk_z15(&b);
	mk_ins(&ins);
	mk_zm15(&mp);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 1);
	put(&in, LAV_COMP_GL, &b, -0.5);
	put(&in, LAV_COMP_CN, &ins, 1);
	put(&in, LAV_COMP_MP, &mp, 1);
	struct lav_regime_params p = params();
	struct lav_regime_carry carry = fresh_carry();
	static struct lav_regime_point out;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert(out.valid);
	cr_assert_not(out.comp_available[LAV_COMP_CN]);
	cr_assert(out.comp_available[LAV_COMP_GL] && out.comp_available[LAV_COMP_MP]);
	NEAR(out.raw, -1.0 / 6.0);
	NEAR(out.smoothed, -1.0 / 6.0);

	/* MP unavailable instead (no feeds at all), CN = Z15 w 1 → 1.5:
	 * r = (0.4·0.5 + 0.4·1.5) / 0.8 = 0.8/0.8 = 1 */
	struct feed cn;
	mk_z15(&cn);
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 1);
	put(&in, LAV_COMP_GL, &b, -0.5);
	put(&in, LAV_COMP_CN, &cn, 1);
	carry = fresh_carry();
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert(out.valid && !out.comp_available[LAV_COMP_MP]);
	NEAR(out.raw, 1.0);
}

Test(composite, no_component_no_point)
{
	struct feed ins1, ins2;
	mk_ins(&ins1);
	mk_ins(&ins2);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &ins1, 1);
	put(&in, LAV_COMP_CN, &ins2, -1);
	/* MP has no feeds */
	struct lav_regime_params p = params();
	struct lav_regime_carry carry = fresh_carry();
	carry.has_prev = true;
	carry.smoothed = 0.7;
	carry.state = LAV_VERDE;
	carry.run_candidate = LAV_ROJO;
	carry.run_start = T0 - 5 * H;
	struct lav_regime_carry before = carry;
	static struct lav_regime_point out;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert_not(out.valid);
	cr_assert_not(out.comp_available[0] || out.comp_available[1] || out.comp_available[2]);
	cr_assert(memcmp(&carry, &before, sizeof(carry)) == 0, "carry moved on an invalid point");

	/* fresh carry, nothing at all */
	inputs_init(&in);
	carry = fresh_carry();
	before = carry;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert_not(out.valid);
	cr_assert(memcmp(&carry, &before, sizeof(carry)) == 0);
}

/* ================================================================== */
/* Step 4: EMA and score                                               */
/* ================================================================== */

/* GL only, one feed with weight 1: r = 0.4·z/0.4 = z. */
static void gl_only(struct lav_regime_inputs *in, const struct feed *f)
{
	inputs_init(in);
	put(in, LAV_COMP_GL, f, 1);
}

Test(ema, first_point_and_second_point)
{
	/* {0,0,0,2} at T0-3h..T0 and 0 at T0+1h, GL only (r = z) */
	struct feed f;
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 0, 2);
	add(&f, T0 + H, T0 + H, 0);
	struct lav_regime_inputs in;
	gl_only(&in, &f);
	struct lav_regime_params p = params();
	struct lav_regime_carry carry = fresh_carry();
	static struct lav_regime_point out;

	/* T0: r = z = 1.5; first point s = r = 1.5; score = 100·4.5/6 = 75 */
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.raw, 1.5);
	cr_assert(out.smoothed == out.raw, "first point: s must equal r");
	NEAR(out.score, 75);
	cr_assert(carry.has_prev);
	NEAR(carry.smoothed, 1.5);

	/* T0+1h: window {0,0,0,2,0}: μ = 0.4; Σd² = 3·0.16 + 1.6² + 0.16 = 3.2;
	 * s² = 0.8; σ = 0.894427190999916; z = -0.4/σ = -1/√5 = -0.4472135954999579
	 * s = 0.2·(-0.4472135954999579) + 0.8·1.5 = -0.08944271909999159 + 1.2
	 *   = 1.1105572809000084; score = 100·(4.1105572809000084)/6 = 68.50928801500014 */
	lav_regime_eval(&in, &p, T0 + H, &carry, &out);
	NEAR(out.raw, -0.4472135954999579);
	NEAR(out.smoothed, 1.1105572809000084);
	NEAR(out.score, 68.50928801500014);
	NEAR(carry.smoothed, 1.1105572809000084);
}

Test(ema, from_carry_and_skipped_points)
{
	/* GL = Z15 and a second GL feed at -0.5 → c = 0.5 = r.
	 * carry s = 1.0: s = 0.2·0.5 + 0.8·1.0 = 0.9; score = 100·3.9/6 = 65 */
	struct feed a, b;
	mk_z15(&a);
	mk_z15(&b);
	struct lav_regime_inputs in, empty;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 1);
	put(&in, LAV_COMP_GL, &b, -0.5);
	inputs_init(&empty);
	struct lav_regime_params p = params();
	struct lav_regime_carry carry = fresh_carry();
	carry.has_prev = true;
	carry.smoothed = 1.0;
	carry.state = carry.run_candidate = LAV_AMARILLO;
	carry.run_start = T0 - 3 * H;
	static struct lav_regime_point out;

	/* skipped grid points in between do not decay the EMA */
	lav_regime_eval(&empty, &p, T0 - 2 * H, &carry, &out);
	cr_assert_not(out.valid);
	lav_regime_eval(&empty, &p, T0 - H, &carry, &out);
	cr_assert_not(out.valid);
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert(out.valid);
	NEAR(out.raw, 0.5);
	NEAR(out.smoothed, 0.9);
	NEAR(out.score, 65);

	/* α = 1 → s = r */
	p.alpha = 1;
	carry.smoothed = -2;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.smoothed, 0.5);
}

Test(ema, score_formula_and_clamp)
{
	struct lav_regime_params p = params();
	p.window_us = 20 * H;
	struct lav_regime_inputs in;
	static struct lav_regime_point out;
	struct lav_regime_carry carry;
	struct feed f;

	/* z = +3 (clamped, see zscore.clamped_to_3) → s = 3 → 100·6/6 = 100 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16);
	gl_only(&in, &f);
	carry = fresh_carry();
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.smoothed, 3);
	NEAR(out.score, 100);

	/* z = -3 → s = -3 → 0 */
	feed_init(&f, H);
	HOURLY(&f, T0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -16);
	gl_only(&in, &f);
	carry = fresh_carry();
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.smoothed, -3);
	NEAR(out.score, 0);

	/* z = 0 → 50 */
	mk_z0(&f);
	gl_only(&in, &f);
	carry = fresh_carry();
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.score, 50);

	/* z = -1.5 → 100·1.5/6 = 25 */
	mk_zm15(&f);
	gl_only(&in, &f);
	carry = fresh_carry();
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.score, 25);

	/* beyond ±3 (only reachable with a carried s outside the range):
	 * r = -1.5, s_prev = 10 → s = -0.3 + 8 = 7.7; 100·10.7/6 = 178.3 → 100 */
	carry = fresh_carry();
	carry.has_prev = true;
	carry.smoothed = 10;
	carry.state = carry.run_candidate = LAV_VERDE;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.smoothed, 7.7);
	cr_assert(out.score == 100, "score %g", out.score);
	/* s_prev = -10 → s = -0.3 - 8 = -8.3; 100·(-5.3)/6 = -88.3 → 0 */
	carry.smoothed = -10;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	NEAR(out.smoothed, -8.3);
	cr_assert(out.score == 0, "score %g", out.score);
}

/* ================================================================== */
/* Step 5: candidates                                                  */
/* ================================================================== */

/* Binary-exact weights so that s lands exactly on 1.5 / -1.5 / 0:
 * GL only, one feed with w 1 → r = 0.5·z/0.5 = z exactly. */
static struct lav_regime_params cparams(void)
{
	struct lav_regime_params p = params();
	p.weights[0] = 0.5;
	p.weights[1] = 0.25;
	p.weights[2] = 0.25;
	return p;
}

struct rules {
	struct feed score, btc, eth, stables, rrp, tga;
};

enum { SCORE_UP, SCORE_DOWN, SCORE_MID }; /* s = 1.5, -1.5, 0 */

static void rules_init(struct rules *r, int score)
{
	if (score == SCORE_UP)
		mk_z15(&r->score);
	else if (score == SCORE_DOWN)
		mk_zm15(&r->score);
	else
		mk_z0(&r->score);
	feed_init(&r->btc, 24 * H);
	feed_init(&r->eth, 24 * H);
	feed_init(&r->stables, 24 * H);
	feed_init(&r->rrp, 24 * H);
	feed_init(&r->tga, 24 * H);
}

/* X at T0 - 5h (the lookback) and at T0 */
static void trend(struct feed *f, double then, double now)
{
	add(f, T0 - 5 * H, T0 - 5 * H, then);
	add(f, T0, T0, now);
}

static enum lav_regime candidate(const struct rules *r, struct lav_regime_params *p,
				 struct lav_regime_point *out)
{
	struct lav_regime_inputs in;
	gl_only(&in, &r->score);
	in.etf[0] = view(&r->btc);
	in.etf[1] = view(&r->eth);
	in.stables_yoy = view(&r->stables);
	in.rrp = view(&r->rrp);
	in.tga = view(&r->tga);
	struct lav_regime_carry carry = fresh_carry();
	lav_regime_eval(&in, p, T0, &carry, out);
	cr_assert(out->valid);
	cr_assert_eq(out->state, out->candidate, "first point takes its candidate");
	return out->candidate;
}

#define CAND(r, p, want)                                                                           \
	do {                                                                                       \
		static struct lav_regime_point o_;                                                 \
		enum lav_regime got_ = candidate(r, p, &o_);                                       \
		cr_assert_eq(got_, want, "line %d: candidate %s, expected %s (s %.17g)", __LINE__, \
			     lav_regime_name(got_), lav_regime_name(want), o_.smoothed);           \
	} while (0)

Test(candidate, verde_and_its_blockers)
{
	static struct rules r;
	struct lav_regime_params p = cparams();
	static struct lav_regime_point out;

	/* s 1.5 > 0.8, ETF = 100 + 50 = 150 > 0, stables 0.05 > 0 → verde */
	rules_init(&r, SCORE_UP);
	one_point(&r.btc, T0 - 3 * H, 100);
	one_point(&r.eth, T0 - H, 50);
	one_point(&r.stables, T0 - 12 * H, 0.05);
	cr_assert_eq(candidate(&r, &p, &out), LAV_VERDE);
	cr_assert(out.smoothed == 1.5);
	cr_assert(out.etf_present && out.etf == 150, "etf %g", out.etf);
	cr_assert(out.stables_present && out.stables_yoy == 0.05);

	/* stables_yoy = 0 → not > 0 → amarillo */
	one_point(&r.stables, T0, 0);
	CAND(&r, &p, LAV_AMARILLO);
	/* stables_yoy < 0 → amarillo */
	one_point(&r.stables, T0, -0.1);
	CAND(&r, &p, LAV_AMARILLO);
	/* stables_yoy missing → clause false → amarillo */
	feed_init(&r.stables, 24 * H);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.stables_present);
	/* stables known only after T0 → missing at T0 */
	add(&r.stables, T0 - H, T0 + 1, 0.5);
	CAND(&r, &p, LAV_AMARILLO);
	one_point(&r.stables, T0, 0.05);
	CAND(&r, &p, LAV_VERDE);

	/* ETF = 100 - 150 = -50 → amarillo (and not rojo: RRP/TGA missing) */
	one_point(&r.eth, T0, -150);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert(out.etf == -50);
	/* ETF = 100 - 100 = 0 → not > 0 → amarillo */
	one_point(&r.eth, T0, -100);
	CAND(&r, &p, LAV_AMARILLO);
	/* both ETF feeds missing → amarillo, etf_present false */
	feed_init(&r.btc, 24 * H);
	feed_init(&r.eth, 24 * H);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.etf_present);
	/* btc missing, eth 20 → ETF = 20 → verde */
	one_point(&r.eth, T0, 20);
	cr_assert_eq(candidate(&r, &p, &out), LAV_VERDE);
	cr_assert(out.etf_present && out.etf == 20);
	/* eth missing, btc 30 → ETF = 30 → verde */
	feed_init(&r.eth, 24 * H);
	one_point(&r.btc, T0, 30);
	cr_assert_eq(candidate(&r, &p, &out), LAV_VERDE);
	cr_assert(out.etf == 30);
	/* btc -5 with eth missing → ETF -5 → amarillo */
	one_point(&r.btc, T0, -5);
	CAND(&r, &p, LAV_AMARILLO);
}

Test(candidate, thresholds_are_strict)
{
	static struct rules r;
	struct lav_regime_params p = cparams();
	rules_init(&r, SCORE_UP);
	one_point(&r.btc, T0, 100);
	one_point(&r.stables, T0, 0.05);
	/* s = 1.5 exactly; θ_hi = 1.5 → s > θ_hi false → amarillo */
	p.theta_hi = 1.5;
	CAND(&r, &p, LAV_AMARILLO);
	p.theta_hi = 1.4999;
	CAND(&r, &p, LAV_VERDE);

	/* s = -1.5: rojo with θ_lo -0.8, even with verde's inputs */
	p = cparams();
	rules_init(&r, SCORE_DOWN);
	one_point(&r.btc, T0, 100);
	one_point(&r.stables, T0, 0.05);
	CAND(&r, &p, LAV_ROJO);
	/* θ_lo = -1.5 exactly → s < θ_lo false → amarillo */
	p.theta_lo = -1.5;
	CAND(&r, &p, LAV_AMARILLO);
	p.theta_lo = -1.4999;
	CAND(&r, &p, LAV_ROJO);

	/* s = 0 sits between the default thresholds: amarillo */
	p = cparams();
	rules_init(&r, SCORE_MID);
	one_point(&r.btc, T0, 100);
	one_point(&r.stables, T0, 0.05);
	CAND(&r, &p, LAV_AMARILLO);
}

Test(candidate, rojo_by_flows)
{
	static struct rules r;
	struct lav_regime_params p = cparams(); /* lookback 5h */
	static struct lav_regime_point out;

	/* s = 0 (between thresholds); RRP 10 → 12 ↑, TGA 5 → 6 ↑, ETF -40 → rojo */
	rules_init(&r, SCORE_MID);
	trend(&r.rrp, 10, 12);
	trend(&r.tga, 5, 6);
	one_point(&r.btc, T0, -40);
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);
	cr_assert(out.rrp_up && out.tga_up && out.etf == -40);

	/* only RRP rises (TGA flat 5 → 5: not >) → amarillo */
	feed_init(&r.tga, 24 * H);
	trend(&r.tga, 5, 5);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert(out.rrp_up && !out.tga_up);
	/* only TGA rises (RRP falls 12 → 10) → amarillo */
	feed_init(&r.tga, 24 * H);
	trend(&r.tga, 5, 6);
	feed_init(&r.rrp, 24 * H);
	trend(&r.rrp, 12, 10);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert(!out.rrp_up && out.tga_up);
	/* both rise again, ETF missing → amarillo */
	feed_init(&r.rrp, 24 * H);
	trend(&r.rrp, 10, 12);
	feed_init(&r.btc, 24 * H);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert(out.rrp_up && out.tga_up && !out.etf_present);
	/* ETF = 0 → not < 0 → amarillo; ETF > 0 → amarillo */
	one_point(&r.btc, T0, 0);
	CAND(&r, &p, LAV_AMARILLO);
	one_point(&r.btc, T0, 7);
	CAND(&r, &p, LAV_AMARILLO);
	/* ETF from eth alone: btc missing, eth -20 → ETF -20 → rojo */
	feed_init(&r.btc, 24 * H);
	one_point(&r.eth, T0, -20);
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);
	cr_assert(out.etf_present && out.etf == -20);
	/* btc +15, eth -20 → -5 → rojo; btc +25 → +5 → amarillo */
	one_point(&r.btc, T0, 15);
	CAND(&r, &p, LAV_ROJO);
	one_point(&r.btc, T0, 25);
	CAND(&r, &p, LAV_AMARILLO);

	/* the flow clause fires above θ_hi too (verde blocked by ETF < 0) */
	rules_init(&r, SCORE_UP);
	trend(&r.rrp, 10, 12);
	trend(&r.tga, 5, 6);
	one_point(&r.btc, T0, -40);
	one_point(&r.stables, T0, 0.05);
	CAND(&r, &p, LAV_ROJO);
}

Test(candidate, trend_is_asof_lookback)
{
	static struct rules r;
	struct lav_regime_params p = cparams();
	static struct lav_regime_point out;
	rules_init(&r, SCORE_MID);
	one_point(&r.btc, T0, -40);
	trend(&r.tga, 5, 6);
	/* RRP: T0-5h 100, T0-3h 300, T0 200.
	 * lookback 5h: as of T0-5h = 100 < 200 → ↑ → rojo.
	 * lookback 3h: as of T0-3h = 300 > 200 → not ↑ → amarillo.
	 * lookback 4h: as of T0-4h = 100 (newest ts ≤ T0-4h) → ↑. */
	add(&r.rrp, T0 - 5 * H, T0 - 5 * H, 100);
	add(&r.rrp, T0 - 3 * H, T0 - 3 * H, 300);
	add(&r.rrp, T0, T0, 200);
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);
	cr_assert(out.rrp_up);
	p.trend_lookback_us = 3 * H;
	/* TGA's T0-5h value is still as of T0-3h → 5 < 6 ↑ */
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert(!out.rrp_up && out.tga_up);
	p.trend_lookback_us = 4 * H;
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);

	/* no value as of T0 - lookback → not ↑ */
	p = cparams();
	feed_init(&r.rrp, 24 * H);
	add(&r.rrp, T0 - 4 * H, T0 - 4 * H, 1);
	add(&r.rrp, T0, T0, 1000);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.rrp_up);
	/* the old value exists but was only known after T0 - lookback: as of
	 * T0-5h it does not exist → not ↑ */
	feed_init(&r.rrp, 24 * H);
	add(&r.rrp, T0 - 6 * H, T0 - 4 * H, 1);
	add(&r.rrp, T0, T0, 1000);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.rrp_up);
}

Test(candidate, rule_inputs_stop_at_the_horizon)
{
	static struct rules r;
	struct lav_regime_params p = cparams(); /* window 10h + lookback 5h: horizon T0 - 15h */
	static struct lav_regime_point out;

	/* ETF: btc at T0 - 15h is at the horizon (not read), eth at T0 - 14h
	 * is read: ETF = -40 only → with RRP↑ ∧ TGA↑ → rojo */
	rules_init(&r, SCORE_MID);
	one_point(&r.btc, T0 - 15 * H, 1000);
	one_point(&r.eth, T0 - 14 * H, -40);
	trend(&r.tga, 5, 6);
	trend(&r.rrp, 5, 6);
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);
	cr_assert(out.etf_present && out.etf == -40, "etf %g", out.etf);

	/* both ETF feeds beyond the horizon: missing → the rojo clause is false */
	one_point(&r.eth, T0 - 16 * H, -40);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.etf_present);

	/* trend: the lookback value at T0 - 15h is beyond reach → not ↑ */
	rules_init(&r, SCORE_MID);
	one_point(&r.btc, T0, -40);
	trend(&r.tga, 5, 6);
	add(&r.rrp, T0 - 15 * H, T0 - 15 * H, 1);
	add(&r.rrp, T0, T0, 1000);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.rrp_up);
	/* one µs later it is within reach → ↑ → rojo */
	feed_init(&r.rrp, 24 * H);
	add(&r.rrp, T0 - 15 * H + 1, T0 - 15 * H + 1, 1);
	add(&r.rrp, T0, T0, 1000);
	cr_assert_eq(candidate(&r, &p, &out), LAV_ROJO);

	/* stables_yoy beyond the horizon: missing → no verde */
	rules_init(&r, SCORE_UP);
	one_point(&r.btc, T0, 100);
	one_point(&r.stables, T0 - 15 * H, 0.05);
	cr_assert_eq(candidate(&r, &p, &out), LAV_AMARILLO);
	cr_assert_not(out.stables_present);
}

/* ================================================================== */
/* Step 6: the state machine                                           */
/* ================================================================== */

/* GL: values k at T0 + k·h (k = -3 … n), window 4h → the window always
 * holds {k-3, k-2, k-1, k}: μ = k - 1.5, Σd² = 2.25+0.25+0.25+2.25 = 5,
 * s² = 5/3, σ = 1.2909944487358056, z = 1.5/σ = 1.161895003862225 at every
 * grid point, so r and s stay at 1.1619 > θ_hi 0.8. ETF = 100 throughout.
 * The candidate is then driven by stables_yoy at T_k: > 0 verde, < 0 amarillo. */
#define MAXK 70
struct machine {
	struct feed gl, btc, stables;
	struct lav_regime_point out[MAXK];
	struct lav_regime_carry carry;
};

static void run_machine(struct machine *m, const char *pattern, int64_t confirm_us)
{
	size_t n = strlen(pattern);
	cr_assert_leq(n, (size_t)MAXK);
	feed_init(&m->gl, H);
	for (int64_t k = -3; k < (int64_t)n; k++)
		add(&m->gl, T0 + k * H, T0 + k * H, (double)k);
	one_point(&m->btc, T0 - 10 * H, 100);
	feed_init(&m->stables, 24 * H);
	for (size_t k = 0; k < n; k++)
		add(&m->stables, T0 + (int64_t)k * H, T0 + (int64_t)k * H,
		    pattern[k] == 'V' ? 1.0 : -1.0);
	struct lav_regime_inputs in, empty;
	gl_only(&in, &m->gl);
	in.etf[0] = view(&m->btc);
	in.stables_yoy = view(&m->stables);
	inputs_init(&empty);
	struct lav_regime_params p = params();
	p.window_us = 4 * H;
	/* a long lookback keeps the one btc point (T0 - 10h) within every grid
	 * point's horizon t - window - lookback */
	p.trend_lookback_us = 100 * H;
	p.confirm_us = confirm_us;
	m->carry = fresh_carry();
	for (size_t k = 0; k < n; k++) {
		/* '-' = no data at this grid point (an invalid point) */
		lav_regime_eval(pattern[k] == '-' ? &empty : &in, &p, T0 + (int64_t)k * H,
				&m->carry, &m->out[k]);
		if (pattern[k] == '-') {
			cr_assert_not(m->out[k].valid);
			continue;
		}
		cr_assert(m->out[k].valid);
		NEAR(m->out[k].raw, 1.161895003862225);
		cr_assert_eq(m->out[k].candidate, pattern[k] == 'V' ? LAV_VERDE : LAV_AMARILLO,
			     "k=%zu candidate %s", k, lav_regime_name(m->out[k].candidate));
	}
}

static void expect_state(const struct machine *m, size_t k, enum lav_regime state, bool flip,
			 enum lav_regime from)
{
	const struct lav_regime_point *o = &m->out[k];
	cr_assert(o->state == state && o->flip == flip && (!flip || o->from == from),
		  "k=%zu: state %s flip %d from %s; expected %s flip %d from %s", k,
		  lav_regime_name(o->state), o->flip, lav_regime_name(o->from),
		  lav_regime_name(state), flip, lav_regime_name(from));
	if (!flip)
		cr_assert_eq(o->from, LAV_REGIME_NONE, "k=%zu: from set without a flip", k);
}

static void fill(char *buf, size_t from, size_t to, char c)
{
	for (size_t i = from; i < to; i++)
		buf[i] = c;
}

Test(state, first_point_takes_candidate)
{
	static struct machine m;
	char pat[41] = {0};
	fill(pat, 0, 40, 'V');
	run_machine(&m, pat, 24 * H);
	for (size_t k = 0; k < 40; k++)
		expect_state(&m, k, LAV_VERDE, false, LAV_REGIME_NONE);

	fill(pat, 0, 40, 'A');
	run_machine(&m, pat, 24 * H);
	for (size_t k = 0; k < 40; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
}

Test(state, flip_after_full_confirmation_window)
{
	/* k = 0 amarillo (the state); verde from k = 1 (T_j = T0+1h).
	 * T_k - T_j ≥ 24h ⇔ k ≥ 25: the 25th consecutive verde point flips. */
	static struct machine m;
	char pat[41] = {0};
	pat[0] = 'A';
	fill(pat, 1, 40, 'V');
	run_machine(&m, pat, 24 * H);
	expect_state(&m, 0, LAV_AMARILLO, false, LAV_REGIME_NONE);
	for (size_t k = 1; k <= 24; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 25, LAV_VERDE, true, LAV_AMARILLO);
	for (size_t k = 26; k < 40; k++)
		expect_state(&m, k, LAV_VERDE, false, LAV_REGIME_NONE);
	cr_assert_eq(m.carry.state, LAV_VERDE);

	/* the run starts at the first differing candidate, not at the first
	 * grid point: amarillo for k = 0..5, verde from 6 → flip at 30 */
	char pat2[41] = {0};
	fill(pat2, 0, 6, 'A');
	fill(pat2, 6, 40, 'V');
	run_machine(&m, pat2, 24 * H);
	for (size_t k = 0; k < 30; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 30, LAV_VERDE, true, LAV_AMARILLO);
}

Test(state, wavering_restarts_the_run)
{
	/* A, V×10 (k 1..10), A at k 11, V from k 12 → flip at 12 + 24 = 36 */
	static struct machine m;
	char pat[46] = {0};
	pat[0] = 'A';
	fill(pat, 1, 11, 'V');
	pat[11] = 'A';
	fill(pat, 12, 45, 'V');
	run_machine(&m, pat, 24 * H);
	for (size_t k = 0; k <= 35; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 36, LAV_VERDE, true, LAV_AMARILLO);

	/* verde for 23 points then back to amarillo: never confirmed */
	char pat2[61] = {0};
	pat2[0] = 'A';
	fill(pat2, 1, 24, 'V');
	fill(pat2, 24, 60, 'A');
	run_machine(&m, pat2, 24 * H);
	for (size_t k = 0; k < 60; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
}

Test(state, flip_back)
{
	/* A, V k 1..30 (flip at 25), A from 31 → back at 31 + 24 = 55 */
	static struct machine m;
	char pat[61] = {0};
	pat[0] = 'A';
	fill(pat, 1, 31, 'V');
	fill(pat, 31, 60, 'A');
	run_machine(&m, pat, 24 * H);
	expect_state(&m, 25, LAV_VERDE, true, LAV_AMARILLO);
	for (size_t k = 26; k <= 54; k++)
		expect_state(&m, k, LAV_VERDE, false, LAV_REGIME_NONE);
	expect_state(&m, 55, LAV_AMARILLO, true, LAV_VERDE);
	for (size_t k = 56; k < 60; k++)
		expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
}

Test(state, confirm_zero_flips_immediately)
{
	static struct machine m;
	run_machine(&m, "AVVAAV", 0);
	expect_state(&m, 0, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 1, LAV_VERDE, true, LAV_AMARILLO);
	expect_state(&m, 2, LAV_VERDE, false, LAV_REGIME_NONE);
	expect_state(&m, 3, LAV_AMARILLO, true, LAV_VERDE);
	expect_state(&m, 4, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 5, LAV_VERDE, true, LAV_AMARILLO);
}

Test(state, skipped_points_neither_break_nor_extend)
{
	/* A at 0, V from 1 with no data at k 10..12: the run still starts at
	 * T0+1h and the flip is at k 25 (T_k - T_j = 24h) */
	static struct machine m;
	char pat[31] = {0};
	pat[0] = 'A';
	fill(pat, 1, 30, 'V');
	fill(pat, 10, 13, '-');
	run_machine(&m, pat, 24 * H);
	for (size_t k = 1; k <= 24; k++)
		if (pat[k] != '-')
			expect_state(&m, k, LAV_AMARILLO, false, LAV_REGIME_NONE);
	expect_state(&m, 25, LAV_VERDE, true, LAV_AMARILLO);
}

/* ================================================================== */
/* Step 7: confidence                                                  */
/* ================================================================== */

static void conf_eval(struct lav_regime_inputs *in, struct lav_regime_point *out)
{
	struct lav_regime_params p = params(); /* 0.4 / 0.4 / 0.2 */
	struct lav_regime_carry carry = fresh_carry();
	lav_regime_eval(in, &p, T0, &carry, out);
	cr_assert(out->valid);
}

Test(confidence, unavailable_counts_in_denominator)
{
	/* GL: Z15 w 1 (fresh), Z15S w -0.5 (stale, z 1.5), INS w 3:
	 *     c = (1.5 - 0.75)/1.5 = 0.5; fresh = 1 (Z15) / 3 feeds = 1/3
	 * CN: INS only → unavailable: agree 0, fresh 0
	 * MP: Z15 w 1, Z0 w 1 → (1.5 + 0)/2 = 0.75; fresh 2/2 = 1
	 * r = s = (0.4·0.5 + 0.2·0.75)/(0.4 + 0.2) = 0.35/0.6 = 0.58333…
	 * agree: GL 0.5·s > 0 → 1; MP 0.75·s > 0 → 1
	 * conf = (0.4·1·(1/3) + 0.4·0·0 + 0.2·1·1) / (0.4+0.4+0.2)
	 *      = 0.1333… + 0.2 = 0.33333… (not 0.3333/0.6 = 0.5556) */
	struct feed a, stale, ins1, ins2, m1, m2;
	mk_z15(&a);
	mk_z15_stale(&stale);
	mk_ins(&ins1);
	mk_ins(&ins2);
	mk_z15(&m1);
	mk_z0(&m2);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 1);
	put(&in, LAV_COMP_GL, &stale, -0.5);
	put(&in, LAV_COMP_GL, &ins1, 3);
	put(&in, LAV_COMP_CN, &ins2, 1);
	put(&in, LAV_COMP_MP, &m1, 1);
	put(&in, LAV_COMP_MP, &m2, 1);
	static struct lav_regime_point out;
	conf_eval(&in, &out);
	cr_assert(out.signals[LAV_COMP_GL][1].stale && out.signals[LAV_COMP_GL][1].sufficient);
	NEAR(out.signals[LAV_COMP_GL][1].z, 1.5);
	NEAR(out.comp[LAV_COMP_GL], 0.5);
	cr_assert_not(out.comp_available[LAV_COMP_CN]);
	NEAR(out.comp[LAV_COMP_MP], 0.75);
	NEAR(out.fresh[LAV_COMP_GL], 1.0 / 3.0);
	NEAR(out.fresh[LAV_COMP_CN], 0);
	NEAR(out.fresh[LAV_COMP_MP], 1);
	NEAR(out.smoothed, 0.35 / 0.6);
	NEAR(out.confidence, 0.4 / 3.0 + 0.2);
}

Test(confidence, agree_one_half_zero)
{
	struct feed up, up2, down, down2, flat;
	mk_z15(&up);
	mk_z15(&up2);
	mk_zm15(&down);
	mk_zm15(&down2);
	mk_z0(&flat);
	struct lav_regime_inputs in;
	static struct lav_regime_point out;

	/* GL = 1.5, CN = 0 (σ = 0), MP = -1.5; all fresh.
	 * s = 0.4·1.5 + 0.4·0 + 0.2·(-1.5) = 0.6 - 0.3 = 0.3
	 * agree: GL 1, CN ½ (c = 0), MP 0 (opposite sign)
	 * conf = 0.4·1 + 0.4·½ + 0.2·0 = 0.6 */
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &up, 1);
	put(&in, LAV_COMP_CN, &flat, 1);
	put(&in, LAV_COMP_MP, &down, 1);
	conf_eval(&in, &out);
	NEAR(out.smoothed, 0.3);
	cr_assert(out.comp[LAV_COMP_CN] == 0);
	NEAR(out.confidence, 0.6);

	/* s = 0 exactly: GL = (1.5 - 0.75)/1.5 = 0.5, CN = (-1.5 + 0.75)/1.5 = -0.5,
	 * MP = 0: r = 0.4·0.5 - 0.4·0.5 + 0 = 0 (exact); every agree is ½:
	 * conf = (0.4 + 0.4 + 0.2)·½ = 0.5 */
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &up, 1);
	put(&in, LAV_COMP_GL, &up2, -0.5);
	put(&in, LAV_COMP_CN, &down, 1);
	put(&in, LAV_COMP_CN, &down2, -0.5);
	put(&in, LAV_COMP_MP, &flat, 1);
	conf_eval(&in, &out);
	NEAR(out.comp[LAV_COMP_GL], 0.5);
	NEAR(out.comp[LAV_COMP_CN], -0.5);
	cr_assert(out.smoothed == 0, "s %.17g", out.smoothed);
	NEAR(out.confidence, 0.5);

	/* everyone agrees and is fresh → 1 */
	struct feed u3;
	mk_z15(&u3);
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &up, 1);
	put(&in, LAV_COMP_CN, &up2, 1);
	put(&in, LAV_COMP_MP, &u3, 1);
	conf_eval(&in, &out);
	NEAR(out.confidence, 1);
}

Test(confidence, stale_feed_contributes_but_lowers_confidence)
{
	/* GL stale Z15S (z 1.5, stale), CN Z15, MP Z15: components all 1.5,
	 * s = 1.5 exactly as with a fresh GL; fresh_GL = 0 →
	 * conf = 0.4·1·0 + 0.4·1·1 + 0.2·1·1 = 0.6 */
	struct feed s, c, m;
	mk_z15_stale(&s);
	mk_z15(&c);
	mk_z15(&m);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &s, 1);
	put(&in, LAV_COMP_CN, &c, 1);
	put(&in, LAV_COMP_MP, &m, 1);
	static struct lav_regime_point out;
	conf_eval(&in, &out);
	cr_assert(out.comp_available[LAV_COMP_GL]);
	NEAR(out.comp[LAV_COMP_GL], 1.5);
	NEAR(out.raw, 1.5);
	NEAR(out.fresh[LAV_COMP_GL], 0);
	NEAR(out.confidence, 0.6);
}

/* ================================================================== */
/* Step 8: hints; names; parameters                                    */
/* ================================================================== */

static void expect_hint(const struct lav_hint *h, int stance, double tilt, const char *what)
{
	cr_assert(h->stance == stance, "%s: stance %d, expected %d", what, h->stance, stance);
	cr_assert(fabs(h->tilt - tilt) < EPS, "%s: tilt %.17g, expected %.17g", what, h->tilt,
		  tilt);
}

Test(hints, per_state)
{
	struct lav_hint h[3];
	/* verde, s 1.5 → |s|/3 = 0.5 */
	lav_regime_hints(LAV_VERDE, 1.5, h);
	expect_hint(&h[LAV_SLEEVE_MARKET_NEUTRAL], 0, 0, "verde mn");
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], 1, 0.5, "verde dir");
	expect_hint(&h[LAV_SLEEVE_YIELD], -1, -0.5, "verde yield");
	/* amarillo: all neutral, tilt 0 whatever s */
	lav_regime_hints(LAV_AMARILLO, -2.4, h);
	for (int i = 0; i < 3; i++)
		expect_hint(&h[i], 0, 0, "amarillo");
	/* rojo, s -1.2 → |s|/3 = 0.4 */
	lav_regime_hints(LAV_ROJO, -1.2, h);
	expect_hint(&h[LAV_SLEEVE_MARKET_NEUTRAL], 1, 0.4, "rojo mn");
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], -1, -0.4, "rojo dir");
	expect_hint(&h[LAV_SLEEVE_YIELD], 1, 0.4, "rojo yield");
	/* the tilt uses |s|: rojo held while s is already positive */
	lav_regime_hints(LAV_ROJO, 0.6, h);
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], -1, -0.2, "rojo dir, s > 0");
	/* s = 3 → exactly 1 */
	lav_regime_hints(LAV_VERDE, 3, h);
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], 1, 1, "verde dir s 3");
	/* clamped at 1: |s|/3 = 1.5 / 2 → ±1 */
	lav_regime_hints(LAV_VERDE, 4.5, h);
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], 1, 1, "verde dir clamp");
	expect_hint(&h[LAV_SLEEVE_YIELD], -1, -1, "verde yield clamp");
	lav_regime_hints(LAV_ROJO, -6, h);
	expect_hint(&h[LAV_SLEEVE_MARKET_NEUTRAL], 1, 1, "rojo mn clamp");
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], -1, -1, "rojo dir clamp");
	/* s = 0 → tilt 0 */
	lav_regime_hints(LAV_VERDE, 0, h);
	expect_hint(&h[LAV_SLEEVE_DIRECTIONAL], 1, 0, "verde dir s 0");
}

Test(names, regime_and_stance)
{
	cr_assert_str_eq(lav_regime_name(LAV_VERDE), "verde");
	cr_assert_str_eq(lav_regime_name(LAV_AMARILLO), "amarillo");
	cr_assert_str_eq(lav_regime_name(LAV_ROJO), "rojo");
	cr_assert_not_null(lav_regime_name(LAV_REGIME_NONE));
	cr_assert_str_eq(lav_stance_name(1), "overweight");
	cr_assert_str_eq(lav_stance_name(0), "neutral");
	cr_assert_str_eq(lav_stance_name(-1), "underweight");
}

Test(params, from_liq_config)
{
	struct lav_liq_config liq;
	memset(&liq, 0, sizeof(liq));
	liq.weights[0] = 0.4;
	liq.weights[1] = 0.4;
	liq.weights[2] = 0.2;
	liq.alpha = 0.2;
	liq.theta_hi = 0.8;
	liq.theta_lo = -0.8;
	liq.flip_confirm_ms = 24 * 3600 * 1000LL;
	liq.window_ms = 180 * 86400 * 1000LL;
	liq.min_obs = 10;
	liq.grid_step_ms = 3600 * 1000LL;
	liq.trend_lookback_ms = 7 * 86400 * 1000LL;
	struct lav_regime_params p;
	lav_regime_params_from(&liq, 1.5, &p);
	cr_assert_eq(p.window_us, 180 * LAV_US_PER_DAY);
	cr_assert_eq(p.trend_lookback_us, 7 * LAV_US_PER_DAY);
	cr_assert_eq(p.confirm_us, 24 * H);
	cr_assert_eq(p.min_obs, 10);
	cr_assert(p.freshness_ratio == 1.5 && p.alpha == 0.2);
	cr_assert(p.theta_hi == 0.8 && p.theta_lo == -0.8);
	cr_assert(p.weights[0] == 0.4 && p.weights[1] == 0.4 && p.weights[2] == 0.2);
}

/* ================================================================== */
/* Numerical edges                                                     */
/* ================================================================== */

Test(edges, values_near_dbl_max_are_insufficient_not_nan)
{
	/* {1e308, 1e308, 1e308}: the sum overflows to inf, so μ is inf; such a
	 * feed must drop out (insufficient) instead of poisoning the EMA */
	struct lav_regime_params p = params();
	struct feed f;
	feed_init(&f, H);
	HOURLY(&f, T0, 1e308, 1e308, 1e308);
	struct lav_feed_signal s;
	sig(&f, T0, &p, &s);
	cr_assert(s.present);
	cr_assert_not(s.sufficient);
	cr_assert(s.z == 0);
	struct lav_regime_inputs in;
	gl_only(&in, &f);
	struct lav_regime_carry carry = fresh_carry();
	static struct lav_regime_point out;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert_not(out.valid, "no sufficient feed: no grid point");
	cr_assert_not(carry.has_prev);
}

Test(edges, component_never_passes_three)
{
	/* weights 0.7, 0.2, 0.1 with every z = 3: Σ w z / Σ |w| rounds to
	 * 3.0000000000000004 in doubles; the component stays in [-3, 3] */
	struct lav_regime_params p = params();
	struct feed a, b, c;
	feed_init(&a, H);
	feed_init(&b, H);
	feed_init(&c, H);
	/* 29 zeros and a 100 at T0 in a 30h window: μ = 10/3, σ = 18.26…,
	 * z = 5.29… → clamped to 3 */
	p.window_us = 30 * H;
	struct feed *fs[3] = {&a, &b, &c};
	for (int k = 0; k < 3; k++)
		for (int64_t i = 29; i >= 0; i--)
			add(fs[k], T0 - i * H, T0 - i * H, i == 0 ? 100 : 0);
	struct lav_regime_inputs in;
	inputs_init(&in);
	put(&in, LAV_COMP_GL, &a, 0.7);
	put(&in, LAV_COMP_GL, &b, 0.2);
	put(&in, LAV_COMP_GL, &c, 0.1);
	struct lav_regime_carry carry = fresh_carry();
	static struct lav_regime_point out;
	lav_regime_eval(&in, &p, T0, &carry, &out);
	cr_assert(out.valid);
	cr_assert(out.signals[0][0].z == 3 && out.signals[0][1].z == 3 && out.signals[0][2].z == 3);
	cr_assert(0.7 * 3 + 0.2 * 3 + 0.1 * 3 > 3 * (0.7 + 0.2 + 0.1) ||
			  (0.7 * 3 + 0.2 * 3 + 0.1 * 3) / (0.7 + 0.2 + 0.1) > 3,
		  "the case must round past 3 without the clamp");
	cr_assert(out.comp[LAV_COMP_GL] == 3, "comp %.17g", out.comp[LAV_COMP_GL]);
}
