/* The Prometheus text writer (include/lav/prom.h), the counters behind
 * /metrics (include/lav/metrics.h) and the series quality gauges
 * (include/lav/quality.h): coverage and business-time age. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "lav/metrics.h"
#include "lav/prom.h"
#include "lav/quality.h"
#include "lav/timefmt.h"

#define DAY  LAV_US_PER_DAY
#define HOUR (3600 * LAV_US_PER_S)

static char *text(struct lav_buf *b)
{
	return lav_buf_cstr(b);
}

/* ---- values and labels ---- */

static void expect_value(double v, const char *want)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_value(&b, v);
	cr_expect_str_eq(text(&b), want);
	lav_buf_free(&b);
}

Test(prom_value, integers_exact_and_specials)
{
	expect_value(0, "0");
	expect_value(42, "42");
	expect_value(-7, "-7");
	expect_value(9007199254740991.0, "9007199254740991");
	expect_value(INFINITY, "+Inf");
	expect_value(-INFINITY, "-Inf");
	expect_value(NAN, "NaN");
}

Test(prom_value, fractions_round_trip)
{
	expect_value(0.5, "0.5");
	expect_value(0.1, "0.1");
	expect_value(1e-9, "1e-09");
	double vals[] = {0.1 + 0.2, 1.0 / 3, 123.456, 6.02214076e23, -2.5e-300};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct lav_buf b = LAV_BUF_INIT;
		lav_prom_value(&b, vals[i]);
		cr_expect_eq(strtod(text(&b), NULL), vals[i], "%s", text(&b));
		lav_buf_free(&b);
	}
}

Test(prom_sample, escapes_label_values)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_sample(&b, "m", (const char *[]){"a", "x\"y\\z\nw", "b", "", NULL}, 1);
	cr_expect_str_eq(text(&b), "m{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 1\n");
	lav_buf_free(&b);
}

Test(prom_sample, without_labels)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_sample(&b, "m", NULL, 2.5);
	lav_prom_sample(&b, "n", (const char *[]){NULL}, 3);
	cr_expect_str_eq(text(&b), "m 2.5\nn 3\n");
	lav_buf_free(&b);
}

Test(prom_family, help_is_escaped)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_family(&b, "m", "gauge", "a \\ b\nc \"q\"");
	cr_expect_str_eq(text(&b), "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n");
	lav_buf_free(&b);
}

/* ---- histograms ---- */

static const double BOUNDS[] = {0.1, 1, 10};

Test(prom_hist, buckets_are_cumulative_and_le_inclusive)
{
	struct lav_hist h;
	lav_hist_init(&h, BOUNDS, 3);
	lav_hist_observe(&h, 0.1); /* on the bound: le="0.1" */
	lav_hist_observe(&h, 0.5);
	lav_hist_observe(&h, 1);
	lav_hist_observe(&h, 100);
	lav_hist_observe(&h, NAN); /* ignored */
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_hist(&b, "d", (const char *[]){"r", "/x", NULL}, &h);
	cr_expect_str_eq(text(&b), "d_bucket{r=\"/x\",le=\"0.1\"} 1\n"
				   "d_bucket{r=\"/x\",le=\"1\"} 3\n"
				   "d_bucket{r=\"/x\",le=\"10\"} 3\n"
				   "d_bucket{r=\"/x\",le=\"+Inf\"} 4\n"
				   "d_sum{r=\"/x\"} 101.6\n"
				   "d_count{r=\"/x\"} 4\n");
	lav_buf_free(&b);
	lav_hist_free(&h);
}

Test(prom_hist, without_labels)
{
	struct lav_hist h;
	lav_hist_init(&h, BOUNDS, 3);
	struct lav_buf b = LAV_BUF_INIT;
	lav_prom_hist(&b, "d", NULL, &h);
	cr_expect_str_eq(text(&b), "d_bucket{le=\"0.1\"} 0\nd_bucket{le=\"1\"} 0\n"
				   "d_bucket{le=\"10\"} 0\nd_bucket{le=\"+Inf\"} 0\n"
				   "d_sum 0\nd_count 0\n");
	lav_buf_free(&b);
	lav_hist_free(&h);
}

/* ---- counters ---- */

static struct lav_feature FEATURES[2];
static struct lav_catalog CAT = {.features = FEATURES, .nfeatures = 2};

Test(metrics, stored_points_count_flags)
{
	struct lav_metrics m;
	lav_metrics_init(&m, &CAT);
	json_t *meta = json_pack("{s:[s,s,s]}", "dq", "out_of_range", "outlier", "stale");
	lav_metrics_stored(&m, &CAT, &FEATURES[1], meta);
	lav_metrics_stored(&m, &CAT, &FEATURES[1], NULL);
	cr_expect_eq(m.features[1].ingested, 2);
	cr_expect_eq(m.features[1].flagged[LAV_DQ_RULE_OUT_OF_RANGE], 1);
	cr_expect_eq(m.features[1].flagged[LAV_DQ_RULE_OUTLIER], 1);
	cr_expect_eq(m.features[0].ingested, 0);
	json_decref(meta);
	lav_metrics_free(&m);
}

Test(metrics, rejections_by_reason_and_unknown_features)
{
	struct lav_metrics m;
	lav_metrics_init(&m, &CAT);
	lav_metrics_rejected(&m, &CAT, &FEATURES[0], "out_of_range");
	lav_metrics_rejected(&m, &CAT, &FEATURES[0], "no_such_code");
	lav_metrics_rejected(&m, &CAT, NULL, "unknown_feature");
	struct lav_feature stranger = {0};
	lav_metrics_rejected(&m, &CAT, &stranger, "invalid_value");
	lav_metrics_failed(&m, &CAT, &FEATURES[0], 3);
	cr_expect_eq(m.features[0].failed, 5);
	size_t oor = 0, other = 0;
	for (size_t i = 0; lav_metrics_reason_name(i); i++) {
		if (strcmp(lav_metrics_reason_name(i), "out_of_range") == 0)
			oor = i;
		if (strcmp(lav_metrics_reason_name(i), "other") == 0)
			other = i;
	}
	cr_expect_eq(m.features[0].rejected[oor], 1);
	cr_expect_eq(m.features[0].rejected[other], 1);
	cr_expect_eq(m.unknown_feature_rejects, 2);
	lav_metrics_free(&m);
}

Test(metrics, http_by_route_method_code)
{
	struct lav_metrics m;
	lav_metrics_init(&m, &CAT);
	static const char route[] = "/api/features/v1/latest";
	char copy[sizeof(route)];
	memcpy(copy, route, sizeof(route));
	lav_metrics_http(&m, route, 1, 200, 0.001);
	lav_metrics_http(&m, copy, 1, 200, 0.002); /* same pattern, other pointer */
	lav_metrics_http(&m, route, 1, 400, 0.001);
	lav_metrics_http(&m, NULL, 1, 404, 0.001);
	cr_assert_eq(m.nroutes, 2);
	cr_expect_eq(m.routes[0].ncodes, 2);
	cr_expect_eq(m.routes[0].codes[0].n, 2);
	cr_expect_eq(m.routes[0].duration.count, 3);
	cr_expect_str_eq(m.routes[1].route, "unmatched");
	lav_metrics_free(&m);
}

/* ---- coverage ---- */

static struct lav_point pt(int64_t ts, int64_t avail)
{
	return (struct lav_point){.ts = ts, .available_at = avail, .value = 1, .confidence = 1};
}

static int64_t day(int64_t y, unsigned m, unsigned d)
{
	return lav_days_from_civil(y, m, d) * DAY;
}

Test(coverage, hourly_every_slot_then_gaps)
{
	struct lav_gap_spec g = {.period_us = HOUR};
	struct lav_point pts[40];
	int64_t now = 100 * HOUR + 10 * LAV_US_PER_S;
	/* slots 60..99 are due at now (slot 99 ends at 100h) */
	for (int i = 0; i < 40; i++)
		pts[i] = pt((60 + i) * HOUR, (61 + i) * HOUR);
	double r = -1;
	cr_assert(lav_dq_coverage(&g, pts, 40, 0, now, &r));
	cr_expect_eq(r, 1.0);
	/* drop slots 80, 85, 90, 95 of the last 30 (70..99) */
	struct lav_point some[40];
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		if (!(i >= 20 && i % 5 == 0))
			some[n++] = pts[i];
	cr_assert(lav_dq_coverage(&g, some, n, 0, now, &r));
	cr_expect_float_eq(r, 26.0 / 30, 1e-12);
}

Test(coverage, a_point_not_yet_known_is_not_observed)
{
	struct lav_gap_spec g = {.period_us = HOUR};
	int64_t now = 10 * HOUR;
	struct lav_point pts[] = {pt(9 * HOUR - HOUR, now + 1)}; /* slot 8, known later */
	double r = -1;
	cr_assert(lav_dq_coverage(&g, pts, 1, 0, now, &r));
	cr_expect_eq(r, 0.0);
}

Test(coverage, publication_delay_moves_the_due_slots)
{
	struct lav_gap_spec g = {.period_us = DAY};
	int64_t now = day(2026, 3, 31) + 12 * HOUR;
	struct lav_point pts[40];
	size_t n = 0;
	/* Feb 19 .. Mar 30 without Feb 27 and 28; Mar 30 ends at 31 00:00 */
	for (int64_t t = day(2026, 2, 19); t <= day(2026, 3, 30); t += DAY)
		if (t != day(2026, 2, 27) && t != day(2026, 2, 28))
			pts[n++] = pt(t, t + DAY);
	double r;
	cr_assert(lav_dq_coverage(&g, pts, n, 0, now, &r));
	cr_expect_eq(r, 1.0);
	/* with a 2-day delay only slots ending by March 29 12:00 are due: the
	 * newest 30 are Feb 27 .. Mar 28, of which Feb 27 and 28 are missing */
	cr_assert(lav_dq_coverage(&g, pts, n, 2 * DAY, now, &r));
	cr_expect_float_eq(r, 28.0 / 30, 1e-12);
}

Test(coverage, closed_days_are_not_expected)
{
	/* a us_federal daily series: Thanksgiving 2025 (Nov 27) and weekends */
	struct lav_gap_spec g = {.period_us = DAY, .calendar = LAV_CAL_US_FEDERAL};
	struct lav_point pts[64];
	size_t n = 0;
	for (int64_t t = day(2025, 10, 1); t < day(2025, 12, 1); t += DAY)
		if (lav_calendar_open(LAV_CAL_US_FEDERAL, t))
			pts[n++] = pt(t, t + DAY);
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, day(2025, 11, 27)));
	double r;
	/* Monday Dec 1 morning: nothing missing despite the weekend and holiday */
	cr_assert(lav_dq_coverage(&g, pts, n, 0, day(2025, 12, 1) + 9 * HOUR, &r));
	cr_expect_eq(r, 1.0);
	/* the same points judged every day: weekends and the holiday are gaps */
	struct lav_gap_spec every = {.period_us = DAY};
	cr_assert(lav_dq_coverage(&every, pts, n, 0, day(2025, 12, 1) + 9 * HOUR, &r));
	cr_expect_lt(r, 0.8);
}

Test(coverage, judged_from_the_series_first_point)
{
	struct lav_gap_spec g = {.period_us = HOUR};
	struct lav_point pts[10];
	for (int i = 0; i < 10; i++)
		pts[i] = pt((90 + i) * HOUR + 5, (91 + i) * HOUR);
	double r;
	/* a young series complete since its start */
	cr_assert(lav_dq_coverage(&g, pts, 10, 0, 100 * HOUR, &r));
	cr_expect_eq(r, 1.0);
	/* then silent for 20 hours: 10 of the 30 newest slots */
	cr_assert(lav_dq_coverage(&g, pts, 10, 0, 120 * HOUR, &r));
	cr_expect_float_eq(r, 10.0 / 30, 1e-12);
	/* a first point not yet due judges nothing */
	cr_expect_not(lav_dq_coverage(&g, pts + 9, 1, 0, 99 * HOUR + 30, &r));
}

Test(coverage, not_applicable)
{
	struct lav_gap_spec tick = {.period_us = 0};
	double r = -1;
	cr_expect_not(lav_dq_coverage(&tick, NULL, 0, 0, 100 * HOUR, &r));
	cr_expect_eq(r, -1);
	/* nothing stored at all: coverage 0 */
	struct lav_gap_spec g = {.period_us = HOUR, .anchor_us = 100 * HOUR};
	cr_assert(lav_dq_coverage(&g, NULL, 0, 0, 200 * HOUR, &r));
	cr_expect_eq(r, 0.0);
}

/* ---- business-time age ---- */

Test(business_age, weekend_and_holiday_do_not_age_a_macro_value)
{
	int64_t fri = day(2025, 11, 21); /* a Friday */
	int64_t mon_9h = day(2025, 11, 24) + 9 * HOUR;
	cr_expect_eq(lav_dq_business_age_us(LAV_CAL_ALWAYS, fri, mon_9h), 3 * DAY + 9 * HOUR);
	cr_expect_eq(lav_dq_business_age_us(LAV_CAL_US_FEDERAL, fri, mon_9h), DAY + 9 * HOUR);
	/* Wednesday's value on Friday after Thanksgiving */
	int64_t wed = day(2025, 11, 26);
	int64_t fri_9h = day(2025, 11, 28) + 9 * HOUR;
	cr_expect_eq(lav_dq_business_age_us(LAV_CAL_US_FEDERAL, wed, fri_9h), DAY + 9 * HOUR);
	cr_expect_eq(lav_dq_business_age_us(LAV_CAL_WEEKDAYS, wed, fri_9h), 2 * DAY + 9 * HOUR);
	cr_expect_eq(lav_dq_business_age_us(LAV_CAL_US_FEDERAL, fri_9h, wed), 0);
}

Test(metrics, a_flag_named_twice_counts_once)
{
	struct lav_metrics m;
	lav_metrics_init(&m, &CAT);
	json_t *meta = json_pack("{s:[s,s,s]}", "dq", "outlier", "outlier", "out_of_range");
	lav_metrics_stored(&m, &CAT, &FEATURES[0], meta);
	cr_expect_eq(m.features[0].flagged[LAV_DQ_RULE_OUTLIER], 1);
	cr_expect_eq(m.features[0].flagged[LAV_DQ_RULE_OUT_OF_RANGE], 1);
	json_decref(meta);
	lav_metrics_free(&m);
}

Test(metrics, peer_close_codes_share_one_label)
{
	struct lav_metrics m;
	lav_metrics_init(&m, &CAT);
	for (int code = 3000; code < 5000; code++)
		lav_metrics_ws_closed(&m, code);
	lav_metrics_ws_closed(&m, 1000);
	lav_metrics_ws_closed(&m, 1008);
	cr_assert_eq(m.nws_closes, 3);
	cr_expect_eq(m.ws_closes[0].code, LAV_METRICS_OTHER_CODE);
	cr_expect_eq(m.ws_closes[0].n, 2000);
	lav_metrics_free(&m);
}
