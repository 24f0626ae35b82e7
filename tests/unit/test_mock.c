/* ORACLE_SOURCE_MODE=mock (docs/ingestion.md, "The mock generator"): values
 * are a pure function of (seed, feature, slot), stay inside each feature's
 * expected_range, follow the shared liquidity cycle in the semáforo's
 * direction, and slots follow the feature's frequency. All on the shipped
 * config/ catalog. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/adapter.h"
#include "lav/catalog.h"
#include "lav/gaps.h"
#include "lav/mock.h"
#include "lav/timefmt.h"

#define HOUR_US (3600 * LAV_US_PER_S)
#define MIN_US	(60 * LAV_US_PER_S)
#define YEAR_US (365 * LAV_US_PER_DAY)

static const char *env_none(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

static void config_dir(char *out, size_t outlen)
{
	const char *repo = getenv("LAV_REPO");
	if (repo && *repo) {
		snprintf(out, outlen, "%s/config", repo);
		return;
	}
	const char *cands[] = {"../config", "../../config", "../../../config", "config"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/features.catalog.json", cands[i]);
		if (access(p, R_OK) == 0) {
			snprintf(out, outlen, "%s", cands[i]);
			return;
		}
	}
	cr_assert_fail("config/ not found: set LAV_REPO");
}

static void load(struct lav_catalog *c)
{
	char dir[512];
	config_dir(dir, sizeof(dir));
	memset(c, 0, sizeof(*c));
	struct lav_errors errs = {0};
	bool ok = lav_catalog_load(dir, env_none, NULL, c, &errs);
	cr_assert(ok, "shipped catalog rejected: %s", errs.n ? errs.msg[0] : "?");
	lav_errors_free(&errs);
}

static struct lav_catalog cat, other;

static void setup(void)
{
	load(&cat);
}

static void teardown(void)
{
	lav_catalog_free(&cat);
	memset(&cat, 0, sizeof(cat));
	lav_catalog_free(&other); /* freed here even when an assertion ended the test */
	memset(&other, 0, sizeof(other));
}

TestSuite(mock, .init = setup, .fini = teardown);
TestSuite(mock_slots, .init = setup, .fini = teardown);
TestSuite(mock_shape, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static const struct lav_feature *feat(const char *id)
{
	const struct lav_feature *f = lav_catalog_find(&cat, id);
	cr_assert_not_null(f, "catalog feature %s missing", id);
	return f;
}

static int64_t day_us(int64_t y, unsigned m, unsigned d)
{
	return lav_days_from_civil(y, m, d) * LAV_US_PER_DAY;
}

/* 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday) */
static int weekday(int64_t us)
{
	int64_t days = us / LAV_US_PER_DAY - (us % LAV_US_PER_DAY < 0);
	return (int)(((days + 4) % 7 + 7) % 7);
}

/* The semáforo's feeds (config/liquidity.feeds.json) and their weight signs. */
static const struct {
	const char *id;
	int sign;
} FEEDS[] = {
    {"macro/us/walcl_total_usd", +1},	  {"macro/us/tga_balance_usd", -1},
    {"macro/us/rrp_total_usd", -1},	  {"crypto/etf/btc_net_flow_usd", +1},
    {"crypto/etf/eth_net_flow_usd", +1},  {"crypto/stables/mcap_total_usd_yoy", +1},
    {"cex/agg/spot_depth_2pct_usd", +1},  {"cex/agg/perp_oi_usd", +1},
    {"dex/agg/active_liquidity_usd", +1},
};
#define NFEEDS (sizeof(FEEDS) / sizeof(FEEDS[0]))

static int polarity_of(const char *id)
{
	for (size_t i = 0; i < NFEEDS; i++)
		if (strcmp(FEEDS[i].id, id) == 0)
			return FEEDS[i].sign;
	return 0;
}

/* The swing of [lo, hi] is visible: a share of the expected range, or of
 * the level for positive quantities spread over orders of magnitude (lav
 * centers those geometrically). */
static bool visible_swing(const struct lav_feature *f, double lo, double hi, double of_range,
			  double of_level)
{
	return hi - lo > of_range * (f->range_hi - f->range_lo) ||
	       hi - lo > of_level * fmax(fabs(hi), fabs(lo));
}

static double corr(const double *a, const double *b, size_t n)
{
	double ma = 0, mb = 0;
	for (size_t i = 0; i < n; i++) {
		ma += a[i];
		mb += b[i];
	}
	ma /= (double)n;
	mb /= (double)n;
	double sab = 0, saa = 0, sbb = 0;
	for (size_t i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		saa += (a[i] - ma) * (a[i] - ma);
		sbb += (b[i] - mb) * (b[i] - mb);
	}
	if (saa == 0 || sbb == 0)
		return 0;
	return sab / sqrt(saa * sbb);
}

static void zscore(double *v, size_t n)
{
	double m = 0, s = 0;
	for (size_t i = 0; i < n; i++)
		m += v[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		s += (v[i] - m) * (v[i] - m);
	s = sqrt(s / (double)n);
	cr_assert_gt(s, 0, "a constant series");
	for (size_t i = 0; i < n; i++)
		v[i] = (v[i] - m) / s;
}

/* ---- determinism ---- */

Test(mock, same_seed_same_bytes_in_any_order)
{
	enum { N = 48 };
	const uint64_t seed = 20240101;
	int64_t t0 = day_us(2024, 5, 1) + 7 * HOUR_US + 13 * MIN_US;
	load(&other);
	for (size_t k = 0; k < cat.nfeatures; k++) {
		const struct lav_feature *f = &cat.features[k];
		const struct lav_feature *g = lav_catalog_find(&other, f->id);
		cr_assert_not_null(g);
		int pol = polarity_of(f->id);
		int64_t ts[N];
		double fwd[N], bwd[N], again[N];
		int64_t t = t0;
		for (int i = 0; i < N; i++) {
			ts[i] = lav_mock_slot_ceil(f, t);
			t = ts[i] + lav_mock_period_us(f) * (1 + i % 3);
		}
		for (int i = 0; i < N; i++)
			fwd[i] = lav_mock_value(&cat, f, pol, seed, ts[i]);
		for (int i = N - 1; i >= 0; i--)
			bwd[i] = lav_mock_value(&cat, f, pol, seed, ts[i]);
		/* a second catalog in other memory: nothing depends on addresses */
		for (int i = 0; i < N; i += 2)
			again[i] = lav_mock_value(&other, g, pol, seed, ts[i]);
		for (int i = 1; i < N; i += 2)
			again[i] = lav_mock_value(&other, g, pol, seed, ts[i]);
		cr_assert_eq(memcmp(fwd, bwd, sizeof(fwd)), 0, "%s: order changed values", f->id);
		cr_assert_eq(memcmp(fwd, again, sizeof(fwd)), 0,
			     "%s: another catalog copy changed values", f->id);
	}
}

Test(mock, different_seed_different_values)
{
	const struct lav_feature *w = feat("macro/us/walcl_total_usd");
	int64_t t = lav_mock_slot_ceil(w, day_us(2024, 1, 1));
	int differ = 0;
	for (int i = 0; i < 20; i++, t += lav_mock_period_us(w)) {
		double a = lav_mock_value(&cat, w, 1, 1, t);
		double b = lav_mock_value(&cat, w, 1, 2, t);
		if (memcmp(&a, &b, sizeof(a)) != 0)
			differ++;
	}
	cr_assert_geq(differ, 18, "seed 1 and 2 agree on %d of 20 WALCL slots", 20 - differ);

	for (size_t k = 0; k < cat.nfeatures; k++) {
		const struct lav_feature *f = &cat.features[k];
		int64_t s = lav_mock_slot_ceil(f, day_us(2024, 6, 3));
		int d = 0;
		for (int i = 0; i < 10; i++) {
			s = lav_mock_slot_ceil(f, s + 1);
			double a = lav_mock_value(&cat, f, polarity_of(f->id), 7, s);
			double b = lav_mock_value(&cat, f, polarity_of(f->id), 8, s);
			d += memcmp(&a, &b, sizeof(a)) != 0;
		}
		cr_assert_gt(d, 0, "%s ignores the seed", f->id);
	}
}

Test(mock, polarity_zero_is_positive)
{
	for (size_t k = 0; k < cat.nfeatures; k++) {
		const struct lav_feature *f = &cat.features[k];
		int64_t s = lav_mock_slot_ceil(f, day_us(2024, 2, 7));
		for (int i = 0; i < 5; i++, s = lav_mock_slot_ceil(f, s + 1)) {
			double a = lav_mock_value(&cat, f, 0, 99, s);
			double b = lav_mock_value(&cat, f, 1, 99, s);
			cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "%s: polarity 0 != +1", f->id);
		}
	}
}

/* ---- ranges ---- */

Test(mock, every_feature_inside_expected_range_for_400_days)
{
	const uint64_t seeds[] = {0, 1, 42, 0xdeadbeefcafebabeULL};
	const int pols[] = {-1, 0, 1};
	int64_t t0 = day_us(2024, 1, 1), t1 = t0 + 400 * LAV_US_PER_DAY;
	for (size_t k = 0; k < cat.nfeatures; k++) {
		const struct lav_feature *f = &cat.features[k];
		if (f->derived)
			continue; /* the yoy: below */
		cr_assert(f->has_range, "%s", f->id);
		int64_t p = lav_mock_period_us(f);
		int64_t step = p >= HOUR_US ? p : 37 * MIN_US;
		for (size_t si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++)
			for (size_t pi = 0; pi < 3; pi++) {
				double lo = INFINITY, hi = -INFINITY;
				for (int64_t t = t0; t < t1; t += step) {
					int64_t ts = lav_mock_slot_ceil(f, t);
					double v = lav_mock_value(&cat, f, pols[pi], seeds[si], ts);
					cr_assert(isfinite(v), "%s: not finite", f->id);
					cr_assert(
					    v >= f->range_lo && v <= f->range_hi,
					    "%s seed %llu pol %d ts %lld: %.17g outside [%g, %g]",
					    f->id, (unsigned long long)seeds[si], pols[pi],
					    (long long)ts, v, f->range_lo, f->range_hi);
					lo = fmin(lo, v);
					hi = fmax(hi, v);
				}
				/* not a constant squeezed into the range */
				cr_assert(visible_swing(f, lo, hi, 0.02, 0.05),
					  "%s barely moves: [%g, %g]", f->id, lo, hi);
			}
	}
}

Test(mock, stables_yoy_is_the_yoy_of_the_mock_mcap)
{
	const struct lav_feature *y = feat("crypto/stables/mcap_total_usd_yoy");
	const struct lav_feature *m = feat("crypto/stables/mcap_total_usd");
	cr_assert_not_null(y->derived);
	const uint64_t seeds[] = {1, 42, 0xdeadbeefcafebabeULL};
	for (size_t si = 0; si < 3; si++)
		for (int d = 0; d < 400; d++) {
			int64_t ts = lav_mock_slot_ceil(y, day_us(2024, 1, 1) + d * LAV_US_PER_DAY);
			double v = lav_mock_value(&cat, y, 1, seeds[si], ts);
			double now = lav_mock_value(&cat, m, 1, seeds[si], ts);
			double ago = lav_mock_value(&cat, m, 1, seeds[si], ts - YEAR_US);
			double want = now / ago - 1.0;
			cr_assert(fabs(v - want) <= 1e-12 * fmax(1.0, fabs(want)),
				  "seed %llu day %d: yoy %.17g, mcap %.17g / %.17g - 1 = %.17g",
				  (unsigned long long)seeds[si], d, v, now, ago, want);
		}
}

Test(mock, stables_yoy_inside_expected_range)
{
	const struct lav_feature *y = feat("crypto/stables/mcap_total_usd_yoy");
	const uint64_t seeds[] = {0, 1, 42, 0xdeadbeefcafebabeULL};
	for (size_t si = 0; si < 4; si++)
		for (int d = 0; d < 400; d++) {
			int64_t ts = lav_mock_slot_ceil(y, day_us(2024, 1, 1) + d * LAV_US_PER_DAY);
			double v = lav_mock_value(&cat, y, 1, seeds[si], ts);
			cr_assert(isfinite(v) && v >= y->range_lo && v <= y->range_hi,
				  "seed %llu day %d: yoy %.17g outside [%g, %g]",
				  (unsigned long long)seeds[si], d, v, y->range_lo, y->range_hi);
		}
}

Test(mock, available_at_is_ts_plus_publication_delay)
{
	struct {
		const char *id;
		int64_t delay;
	} c[] = {
	    {"macro/us/walcl_total_usd", 2 * LAV_US_PER_DAY},
	    {"macro/us/rrp_total_usd", 18 * HOUR_US},
	    {"crypto/etf/btc_net_flow_usd", 32 * HOUR_US},
	    {"crypto/stables/mcap_total_usd", 0},
	    {"onchain/btc/hashrate_ehs", LAV_US_PER_DAY},
	    {"macro/us/dxy_index", LAV_US_PER_DAY},
	    {"crypto/btc/price_usd", 0},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct lav_feature *f = feat(c[i].id);
		int64_t ts = lav_mock_slot_ceil(f, day_us(2024, 3, 4) + 5);
		cr_assert_eq(lav_mock_available_at(f, ts), ts + c[i].delay, "%s", c[i].id);
	}
}

/* ---- slots ---- */

Test(mock_slots, period_by_frequency)
{
	cr_assert_eq(lav_mock_period_us(feat("macro/us/walcl_total_usd")), 7 * LAV_US_PER_DAY);
	cr_assert_eq(lav_mock_period_us(feat("macro/us/rrp_total_usd")), LAV_US_PER_DAY);
	cr_assert_eq(lav_mock_period_us(feat("crypto/stables/mcap_total_usd")), LAV_US_PER_DAY);
	cr_assert_eq(lav_mock_period_us(feat("onchain/eth/tvl_usd")), HOUR_US);
	cr_assert_eq(lav_mock_period_us(feat("onchain/eth/gas_price_gwei")), 5 * MIN_US);
	cr_assert_eq(lav_mock_period_us(feat("crypto/btc/price_usd")), MIN_US);
	struct lav_feature tick = *feat("crypto/btc/price_usd");
	tick.frequency = LAV_FREQ_TICK;
	cr_assert_eq(lav_mock_period_us(&tick), MIN_US, "tick features use 1 minute");
	int64_t t = day_us(2024, 3, 4) + 90 * LAV_US_PER_S + 1;
	cr_assert_eq(lav_mock_slot_ceil(&tick, t), day_us(2024, 3, 4) + 2 * MIN_US);
}

Test(mock_slots, weekly_on_wednesdays)
{
	const char *ids[] = {"macro/us/walcl_total_usd", "macro/us/tga_balance_usd"};
	for (size_t k = 0; k < 2; k++) {
		const struct lav_feature *f = feat(ids[k]);
		int64_t prev = INT64_MIN;
		for (int64_t t = day_us(2024, 1, 1); t < day_us(2024, 3, 1);
		     t += 5 * HOUR_US + 13 * MIN_US) {
			int64_t s = lav_mock_slot_ceil(f, t);
			cr_assert_geq(s, t);
			cr_assert_lt(s - t, 7 * LAV_US_PER_DAY);
			cr_assert_eq(s % LAV_US_PER_DAY, 0, "%s: slot not at 00:00", ids[k]);
			cr_assert_eq(weekday(s), 3, "%s: slot %lld on weekday %d", ids[k],
				     (long long)s, weekday(s));
			cr_assert_eq(lav_mock_slot_ceil(f, s), s, "slot_ceil(slot) != slot");
			cr_assert_geq(s, prev, "not monotonic");
			prev = s;
		}
		/* H.4.1 dates: 2024-01-03, 2024-01-10 */
		cr_assert_eq(lav_mock_slot_ceil(f, day_us(2024, 1, 1)), day_us(2024, 1, 3));
		cr_assert_eq(lav_mock_slot_ceil(f, day_us(2024, 1, 3)), day_us(2024, 1, 3));
		cr_assert_eq(lav_mock_slot_ceil(f, day_us(2024, 1, 3) + 1), day_us(2024, 1, 10));
	}
}

Test(mock_slots, aligned_ceilings_for_every_feature)
{
	for (size_t k = 0; k < cat.nfeatures; k++) {
		const struct lav_feature *f = &cat.features[k];
		int64_t p = lav_mock_period_us(f);
		cr_assert_gt(p, 0, "%s", f->id);
		int64_t prev = INT64_MIN;
		for (int64_t t = day_us(2024, 2, 26); t < day_us(2024, 3, 12);
		     t += 47 * MIN_US + 11) {
			int64_t s = lav_mock_slot_ceil(f, t);
			cr_assert_geq(s, t, "%s", f->id);
			cr_assert_eq(lav_mock_slot_ceil(f, s), s, "%s: slot_ceil(slot) != slot",
				     f->id);
			cr_assert_geq(s, prev, "%s: not monotonic", f->id);
			prev = s;
			if (f->frequency == LAV_FREQ_1W)
				continue; /* above */
			cr_assert_eq(s % p, 0, "%s: slot %lld not on a period boundary", f->id,
				     (long long)s);
			cr_assert_lt(s - t, p, "%s: skipped a slot", f->id);
		}
	}
}

/* Mock slots follow the frequency; markets closed at weekends and holidays
 * get no point on their closed days because the series' gap spec (period and
 * calendar from the adapter, anchor from the mock slots, as lavd builds it)
 * expects none. */
Test(mock_slots, business_day_markets_expect_open_day_slots_only)
{
	/* a Monday; 4 weeks, with Good Friday (2024-03-29, NYSE closed, a US
	 * federal business day) in them */
	int64_t mon = day_us(2024, 3, 4);
	struct {
		const char *id;
		int64_t slots;
	} c[] = {
	    {"macro/us/rrp_total_usd", 20},
	    {"crypto/etf/btc_net_flow_usd", 19},
	    {"crypto/etf/eth_net_flow_usd", 19},
	    {"macro/us/dxy_index", 20},
	    {"macro/us/spx_index", 20},
	    {"macro/us/vix_index", 20},
	    {"crypto/stables/mcap_total_usd", 28},
	    {"onchain/btc/hashrate_ehs", 28},
	    {"macro/us/walcl_total_usd", 4},
	    {"onchain/eth/tvl_usd", 28},
	    {"onchain/eth/gas_price_gwei", 28 * 288},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct lav_feature *f = feat(c[i].id);
		char err[256] = "";
		const struct lav_adapter *a = lav_adapter_for(f, err, sizeof(err));
		cr_assert_not_null(a, "%s: %s", f->id, err);
		struct lav_gap_spec g = {.period_us = lav_adapter_period_us(a, f),
					 .anchor_us = lav_mock_slot_ceil(f, 0),
					 .calendar = lav_adapter_calendar(a)};
		int64_t n = lav_gaps_slots(&g, mon, mon + 28 * LAV_US_PER_DAY);
		cr_expect_eq(n, c[i].slots, "%s: %lld slots in 4 weeks, expected %lld", f->id,
			     (long long)n, (long long)c[i].slots);
	}
}

/* Thanksgiving week 2025 (Thursday 2025-11-27): closed for FRED and the ETF
 * flows, a normal weekday for TradingView's indices and 24/7 series. */
Test(mock_slots, thanksgiving_has_no_slot_where_the_market_is_shut)
{
	int64_t mon = day_us(2025, 11, 24), thu = day_us(2025, 11, 27);
	struct {
		const char *id;
		int64_t slots;
		bool thursday;
	} c[] = {
	    {"macro/us/rrp_total_usd", 4, false},   {"crypto/etf/btc_net_flow_usd", 4, false},
	    {"macro/us/spx_index", 5, true},	    {"onchain/btc/hashrate_ehs", 7, true},
	    {"macro/us/walcl_total_usd", 1, false},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct lav_feature *f = feat(c[i].id);
		char err[256] = "";
		const struct lav_adapter *a = lav_adapter_for(f, err, sizeof(err));
		cr_assert_not_null(a, "%s: %s", f->id, err);
		struct lav_gap_spec g = {.period_us = lav_adapter_period_us(a, f),
					 .anchor_us = lav_mock_slot_ceil(f, 0),
					 .calendar = lav_adapter_calendar(a)};
		int64_t n = lav_gaps_slots(&g, mon, mon + 7 * LAV_US_PER_DAY);
		cr_expect_eq(n, c[i].slots, "%s: %lld slots that week, expected %lld", f->id,
			     (long long)n, (long long)c[i].slots);
		cr_expect_eq(lav_gaps_expected(&g, thu), c[i].thursday, "%s: Thanksgiving", f->id);
	}
}

/* ---- the shape: one liquidity cycle in the semáforo's direction ---- */

Test(mock_shape, walcl_has_high_and_low_phases)
{
	const char *ids[] = {"macro/us/walcl_total_usd", "macro/us/rrp_total_usd",
			     "crypto/etf/btc_net_flow_usd", "dex/agg/active_liquidity_usd"};
	const uint64_t seeds[] = {1, 42, 777};
	for (size_t si = 0; si < 3; si++)
		for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
			const struct lav_feature *f = feat(ids[k]);
			double lo = INFINITY, hi = -INFINITY;
			int64_t t = lav_mock_slot_ceil(f, day_us(2024, 1, 1));
			for (; t < day_us(2024, 1, 1) + 200 * LAV_US_PER_DAY;
			     t = lav_mock_slot_ceil(f, t + 1)) {
				double v =
				    lav_mock_value(&cat, f, polarity_of(f->id), seeds[si], t);
				lo = fmin(lo, v);
				hi = fmax(hi, v);
			}
			/* 20 % of the half-range (WALCL: exactly that), or 20 % of the
			 * level: the cycle, not just noise */
			bool ok = k == 0 ? hi - lo > 0.1 * (f->range_hi - f->range_lo)
					 : visible_swing(f, lo, hi, 0.1, 0.2);
			cr_assert(ok, "%s seed %llu: only [%g, %g] over 200 days of [%g, %g]",
				  f->id, (unsigned long long)seeds[si], lo, hi, f->range_lo,
				  f->range_hi);
		}
}

Test(mock_shape, polarity_mirrors_the_cycle)
{
	const struct lav_feature *f = feat("macro/us/rrp_total_usd");
	enum { N = 200 };
	double pos[N], neg[N];
	for (int d = 0; d < N; d++) {
		int64_t ts = lav_mock_slot_ceil(f, day_us(2024, 1, 1) + d * LAV_US_PER_DAY);
		pos[d] = lav_mock_value(&cat, f, 1, 42, ts);
		neg[d] = lav_mock_value(&cat, f, -1, 42, ts);
	}
	double r = corr(pos, neg, N);
	cr_assert_lt(r, -0.5, "polarity +1 and -1 correlate at %.3f", r);
}

Test(mock_shape, composite_swings_through_the_regimes)
{
	enum { N = 200 };
	const uint64_t seeds[] = {1, 42, 0xdeadbeefcafebabeULL};
	static double z[NFEEDS][N];
	double comp[N];
	for (size_t si = 0; si < 3; si++) {
		for (size_t k = 0; k < NFEEDS; k++) {
			const struct lav_feature *f = feat(FEEDS[k].id);
			for (int d = 0; d < N; d++) {
				int64_t t = day_us(2024, 1, 1) + d * LAV_US_PER_DAY + 12 * HOUR_US;
				int64_t ts = lav_mock_slot_ceil(f, t);
				z[k][d] = lav_mock_value(&cat, f, FEEDS[k].sign, seeds[si], ts);
			}
			zscore(z[k], N);
		}
		double lo = INFINITY, hi = -INFINITY;
		for (int d = 0; d < N; d++) {
			comp[d] = 0;
			for (size_t k = 0; k < NFEEDS; k++)
				comp[d] += FEEDS[k].sign * z[k][d] / (double)NFEEDS;
			lo = fmin(lo, comp[d]);
			hi = fmax(hi, comp[d]);
		}
		cr_assert_gt(hi, 0.6, "seed %llu: composite never above %.3f",
			     (unsigned long long)seeds[si], hi);
		cr_assert_lt(lo, -0.6, "seed %llu: composite never below %.3f",
			     (unsigned long long)seeds[si], lo);
		/* every gl/mp feed, read with its weight's sign, moves with the composite */
		for (size_t k = 0; k < NFEEDS; k++) {
			if (strstr(FEEDS[k].id, "_yoy"))
				continue; /* yoy compares with a year ago: its own phase */
			double sz[N];
			for (int d = 0; d < N; d++)
				sz[d] = FEEDS[k].sign * z[k][d];
			double r = corr(sz, comp, N);
			cr_assert_gt(
			    r, 0.5,
			    "seed %llu: %s (weight sign %+d) correlates %.3f with the composite",
			    (unsigned long long)seeds[si], FEEDS[k].id, FEEDS[k].sign, r);
		}
	}
}

Test(mock_shape, tga_and_rrp_move_against_walcl)
{
	enum { N = 200 };
	double w[N], tga[N], rrp[N];
	const struct lav_feature *fw = feat("macro/us/walcl_total_usd");
	const struct lav_feature *ft = feat("macro/us/tga_balance_usd");
	const struct lav_feature *fr = feat("macro/us/rrp_total_usd");
	for (int d = 0; d < N; d++) {
		int64_t t = day_us(2024, 1, 1) + d * LAV_US_PER_DAY;
		w[d] = lav_mock_value(&cat, fw, 1, 42, lav_mock_slot_ceil(fw, t));
		tga[d] = lav_mock_value(&cat, ft, -1, 42, lav_mock_slot_ceil(ft, t));
		rrp[d] = lav_mock_value(&cat, fr, -1, 42, lav_mock_slot_ceil(fr, t));
	}
	double r1 = corr(w, tga, N), r2 = corr(w, rrp, N);
	cr_assert_lt(r1, -0.3, "WALCL vs TGA %.3f", r1);
	cr_assert_lt(r2, -0.3, "WALCL vs RRP %.3f", r2);
}
