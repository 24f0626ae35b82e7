/* Query-time transforms: aggregation into buckets aligned to UTC or to a
 * time zone, dense buckets with forward fill, compensated summation.
 * Expected values are computed by hand (bucket starts are written as the
 * UTC instant of the local boundary). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/agg.h"
#include "lav/timefmt.h"
#include "lav/tz.h"

#define H (3600 * LAV_US_PER_S)
#define MIN (60 * LAV_US_PER_S)
#define DAY LAV_US_PER_DAY
#define WEEK (7 * LAV_US_PER_DAY)

/* ---- helpers ---- */

static int64_t T(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	bool ok = lav_time_parse(s, strlen(s), &us, &why);
	cr_assert(ok, "bad test timestamp %s: %s", s, why ? why : "?");
	return us;
}

static const char *fmt(int64_t us, char buf[LAV_TIME_STRLEN])
{
	lav_time_format(us, buf);
	return buf;
}

static void expect_time(int64_t got, const char *want, const char *what)
{
	char g[LAV_TIME_STRLEN];
	cr_assert_eq(got, T(want), "%s: got %s, want %s", what, fmt(got, g), want);
}

static void expect_start(const char *ts, int64_t size, const struct lav_tz *tz,
			 const char *want)
{
	char what[128];
	snprintf(what, sizeof(what), "lav_bucket_start(%s, %lld µs, %s)", ts, (long long)size,
		 tz ? tz->name : "UTC");
	expect_time(lav_bucket_start(T(ts), size, tz), want, what);
}

static void expect_next(const char *start, int64_t size, const struct lav_tz *tz,
			const char *want)
{
	char what[128];
	snprintf(what, sizeof(what), "lav_bucket_next(%s, %lld µs, %s)", start,
		 (long long)size, tz ? tz->name : "UTC");
	expect_time(lav_bucket_next(T(start), size, tz), want, what);
}

static struct lav_tz zone;

static const struct lav_tz *load_zone(const char *name)
{
	lav_tz_free(&zone);
	bool ok = lav_tz_load(name, &zone);
	cr_assert(ok, "lav_tz_load(%s) failed (is tzdata installed?)", name);
	return &zone;
}

static void zone_fini(void)
{
	lav_tz_free(&zone);
}

TestSuite(agg_parse);
TestSuite(agg_reduce);
TestSuite(agg_utc);
TestSuite(agg_tz, .fini = zone_fini);
TestSuite(agg_fill, .fini = zone_fini);
TestSuite(agg_sum);

/* ---- lav_agg_parse ---- */

Test(agg_parse, every_name)
{
	static const struct {
		const char *name;
		enum lav_agg agg;
	} cases[] = {{"none", LAV_AGG_NONE}, {"sum", LAV_AGG_SUM},     {"avg", LAV_AGG_AVG},
		     {"min", LAV_AGG_MIN},   {"max", LAV_AGG_MAX},     {"first", LAV_AGG_FIRST},
		     {"last", LAV_AGG_LAST}, {"count", LAV_AGG_COUNT}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum lav_agg a = (enum lav_agg)-1;
		cr_assert(lav_agg_parse(cases[i].name, &a), "%s rejected", cases[i].name);
		cr_assert_eq(a, cases[i].agg, "%s parsed as %d", cases[i].name, (int)a);
	}
}

Test(agg_parse, unknown_names_rejected)
{
	const char *bad[] = {"", "mean", "avg ", "sum\n", "median", "countx"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum lav_agg a = LAV_AGG_SUM;
		cr_assert_not(lav_agg_parse(bad[i], &a), "\"%s\" accepted", bad[i]);
	}
}

/* ---- every aggregation on the same data ---- */

/* Three 1h buckets of 2025-10-20 (UTC): 00h {3, -1, 5}, 01h {10}, 03h {2, 4};
 * hour 02 is empty and is not emitted. */
static const char *const RED_TS[] = {
	"2025-10-20T00:00:00Z", "2025-10-20T00:15:00Z", "2025-10-20T00:59:59.999999Z",
	"2025-10-20T01:30:00Z", "2025-10-20T03:00:00Z", "2025-10-20T03:59:59.999999Z",
};
static const double RED_V[] = {3, -1, 5, 10, 2, 4};
#define RED_N 6

static void reduce_expect(enum lav_agg agg, const double want[3])
{
	int64_t ts[RED_N], ots[RED_N];
	double ov[RED_N];
	uint32_t oc[RED_N];
	for (size_t i = 0; i < RED_N; i++)
		ts[i] = T(RED_TS[i]);
	size_t m = lav_aggregate(ts, RED_V, RED_N, agg, H, NULL, ots, ov, oc);
	cr_assert_eq(m, 3, "agg %d: %zu buckets, want 3", (int)agg, m);
	const char *starts[3] = {"2025-10-20T00:00:00Z", "2025-10-20T01:00:00Z",
				 "2025-10-20T03:00:00Z"};
	const uint32_t counts[3] = {3, 1, 2};
	for (size_t k = 0; k < 3; k++) {
		expect_time(ots[k], starts[k], "bucket start");
		cr_assert_eq(oc[k], counts[k], "agg %d bucket %zu: count %u, want %u", (int)agg, k,
			     oc[k], counts[k]);
		cr_assert_eq(ov[k], want[k], "agg %d bucket %zu: %.17g, want %.17g", (int)agg, k,
			     ov[k], want[k]);
	}
}

Test(agg_reduce, sum)
{
	reduce_expect(LAV_AGG_SUM, (const double[3]){7, 10, 6});
}

Test(agg_reduce, avg)
{
	reduce_expect(LAV_AGG_AVG, (const double[3]){7.0 / 3.0, 10, 3});
}

Test(agg_reduce, min)
{
	reduce_expect(LAV_AGG_MIN, (const double[3]){-1, 10, 2});
}

Test(agg_reduce, max)
{
	reduce_expect(LAV_AGG_MAX, (const double[3]){5, 10, 4});
}

Test(agg_reduce, first)
{
	reduce_expect(LAV_AGG_FIRST, (const double[3]){3, 10, 2});
}

Test(agg_reduce, last)
{
	reduce_expect(LAV_AGG_LAST, (const double[3]){5, 10, 4});
}

Test(agg_reduce, count)
{
	reduce_expect(LAV_AGG_COUNT, (const double[3]){3, 1, 2});
}

Test(agg_reduce, min_max_when_extreme_is_first_or_last)
{
	int64_t ts[4] = {0, 1, 2, 3};
	int64_t ots[4];
	double ov[4];
	double dec[4] = {9, 7, 5, -2};
	cr_assert_eq(lav_aggregate(ts, dec, 4, LAV_AGG_MIN, H, NULL, ots, ov, NULL), 1);
	cr_assert_eq(ov[0], -2);
	cr_assert_eq(lav_aggregate(ts, dec, 4, LAV_AGG_MAX, H, NULL, ots, ov, NULL), 1);
	cr_assert_eq(ov[0], 9);
	double neg[4] = {-5, -3, -8, -4};
	cr_assert_eq(lav_aggregate(ts, neg, 4, LAV_AGG_MAX, H, NULL, ots, ov, NULL), 1);
	cr_assert_eq(ov[0], -3);
	cr_assert_eq(lav_aggregate(ts, neg, 4, LAV_AGG_MIN, H, NULL, ots, ov, NULL), 1);
	cr_assert_eq(ov[0], -8);
}

Test(agg_reduce, empty_input_and_null_counts)
{
	int64_t ots[1];
	double ov[1];
	cr_assert_eq(lav_aggregate(NULL, NULL, 0, LAV_AGG_SUM, H, NULL, ots, ov, NULL), 0);
	int64_t ts[1] = {T("2025-10-20T10:10:00Z")};
	double v[1] = {42};
	cr_assert_eq(lav_aggregate(ts, v, 1, LAV_AGG_AVG, DAY, NULL, ots, ov, NULL), 1);
	expect_time(ots[0], "2025-10-20T00:00:00Z", "single point, day bucket");
	cr_assert_eq(ov[0], 42);
}

Test(agg_reduce, one_bucket_per_point_when_spread_out)
{
	int64_t ts[3] = {T("2025-10-20T00:00:00Z"), T("2025-10-21T00:00:00Z"),
			 T("2025-10-23T12:00:00Z")};
	double v[3] = {1, 2, 3};
	int64_t ots[3];
	double ov[3];
	uint32_t oc[3];
	cr_assert_eq(lav_aggregate(ts, v, 3, LAV_AGG_SUM, DAY, NULL, ots, ov, oc), 3);
	expect_time(ots[2], "2025-10-23T00:00:00Z", "third day");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(oc[i], 1);
		cr_assert_eq(ov[i], v[i]);
	}
}

/* ---- UTC buckets ---- */

Test(agg_utc, hour_day_and_minutes)
{
	expect_start("2025-10-20T13:45:12.345678Z", H, NULL, "2025-10-20T13:00:00Z");
	expect_start("2025-10-20T13:00:00Z", H, NULL, "2025-10-20T13:00:00Z");
	expect_start("2025-10-20T13:59:59.999999Z", H, NULL, "2025-10-20T13:00:00Z");
	expect_start("2025-10-20T13:45:12.345678Z", DAY, NULL, "2025-10-20T00:00:00Z");
	expect_start("2025-10-20T23:59:59.999999Z", DAY, NULL, "2025-10-20T00:00:00Z");
	expect_start("2025-10-21T00:00:00Z", DAY, NULL, "2025-10-21T00:00:00Z");
	expect_start("2025-10-20T13:47:00Z", 5 * MIN, NULL, "2025-10-20T13:45:00Z");
	expect_start("2025-10-20T13:47:00Z", 15 * MIN, NULL, "2025-10-20T13:45:00Z");
	expect_start("2025-10-20T13:44:59.999999Z", 15 * MIN, NULL, "2025-10-20T13:30:00Z");
	expect_start("2024-02-29T18:00:00Z", DAY, NULL, "2024-02-29T00:00:00Z");
}

Test(agg_utc, weeks_start_on_monday)
{
	/* 1970-01-05 was a Monday; so was 2025-10-20 */
	expect_start("1970-01-05T00:00:00Z", WEEK, NULL, "1970-01-05T00:00:00Z");
	expect_start("1970-01-11T23:59:59.999999Z", WEEK, NULL, "1970-01-05T00:00:00Z");
	expect_start("1970-01-12T00:00:00Z", WEEK, NULL, "1970-01-12T00:00:00Z");
	expect_start("1970-01-01T00:00:00Z", WEEK, NULL, "1969-12-29T00:00:00Z");
	expect_start("2025-10-20T00:00:00Z", WEEK, NULL, "2025-10-20T00:00:00Z");
	expect_start("2025-10-22T12:34:56Z", WEEK, NULL, "2025-10-20T00:00:00Z");
	expect_start("2025-10-26T23:59:59.999999Z", WEEK, NULL, "2025-10-20T00:00:00Z");
	expect_start("2025-10-27T00:00:00Z", WEEK, NULL, "2025-10-27T00:00:00Z");
	/* 2-week buckets are anchored on the same Monday */
	expect_start("1970-01-19T00:00:00Z", 2 * WEEK, NULL, "1970-01-19T00:00:00Z");
	expect_start("1970-01-18T23:59:59Z", 2 * WEEK, NULL, "1970-01-05T00:00:00Z");
	expect_next("2025-10-20T00:00:00Z", WEEK, NULL, "2025-10-27T00:00:00Z");
}

Test(agg_utc, negative_timestamps_floor)
{
	cr_assert_eq(lav_bucket_start(-1, H, NULL), -H);
	cr_assert_eq(lav_bucket_start(-1, DAY, NULL), -DAY);
	cr_assert_eq(lav_bucket_start(-H, H, NULL), -H);
	cr_assert_eq(lav_bucket_start(-H - 1, H, NULL), -2 * H);
	cr_assert_eq(lav_bucket_start(0, H, NULL), 0);
	expect_start("1969-12-31T12:34:56Z", H, NULL, "1969-12-31T12:00:00Z");
	expect_start("1969-12-31T23:57:30Z", 5 * MIN, NULL, "1969-12-31T23:55:00Z");
	expect_start("1969-07-20T20:17:40Z", DAY, NULL, "1969-07-20T00:00:00Z");
	/* 1969-12-28 was a Sunday: its week began on Monday 1969-12-22 */
	expect_start("1969-12-28T23:59:59Z", WEEK, NULL, "1969-12-22T00:00:00Z");
	expect_start("1969-12-29T00:00:00Z", WEEK, NULL, "1969-12-29T00:00:00Z");
	expect_start("1900-01-01T06:00:00Z", DAY, NULL, "1900-01-01T00:00:00Z");
	/* 1900-01-01 was a Monday */
	expect_start("1900-01-03T00:00:00Z", WEEK, NULL, "1900-01-01T00:00:00Z");
}

Test(agg_utc, aggregate_across_the_epoch)
{
	int64_t ts[4] = {-H - 1, -1, 0, H - 1};
	double v[4] = {1, 2, 3, 4};
	int64_t ots[4];
	double ov[4];
	uint32_t oc[4];
	size_t m = lav_aggregate(ts, v, 4, LAV_AGG_SUM, H, NULL, ots, ov, oc);
	cr_assert_eq(m, 3);
	cr_assert_eq(ots[0], -2 * H);
	cr_assert_eq(ots[1], -H);
	cr_assert_eq(ots[2], 0);
	cr_assert_eq(ov[0], 1);
	cr_assert_eq(ov[1], 2);
	cr_assert_eq(ov[2], 7);
	cr_assert_eq(oc[2], 2);
}

Test(agg_utc, bucket_next_adds_size)
{
	expect_next("2025-10-20T13:00:00Z", H, NULL, "2025-10-20T14:00:00Z");
	expect_next("2025-10-20T00:00:00Z", DAY, NULL, "2025-10-21T00:00:00Z");
	expect_next("2025-12-31T00:00:00Z", DAY, NULL, "2026-01-01T00:00:00Z");
	cr_assert_eq(lav_bucket_next(-H, H, NULL), 0);
}

/* ---- time-zone buckets ---- */

Test(agg_tz, mexico_city_days_start_at_06_utc)
{
	const struct lav_tz *mx = load_zone("America/Mexico_City");
	expect_start("2025-10-20T05:59:59.999999Z", DAY, mx, "2025-10-19T06:00:00Z");
	expect_start("2025-10-20T06:00:00Z", DAY, mx, "2025-10-20T06:00:00Z");
	expect_start("2025-10-20T12:00:00Z", DAY, mx, "2025-10-20T06:00:00Z");
	expect_start("2025-10-21T05:00:00Z", DAY, mx, "2025-10-20T06:00:00Z");
	expect_start("2025-07-01T03:00:00Z", DAY, mx, "2025-06-30T06:00:00Z");
	expect_next("2025-10-20T06:00:00Z", DAY, mx, "2025-10-21T06:00:00Z");
	expect_next("2025-12-31T06:00:00Z", DAY, mx, "2026-01-01T06:00:00Z");
	/* hours are whole in UTC-6 */
	expect_start("2025-10-20T13:45:00Z", H, mx, "2025-10-20T13:00:00Z");
	/* local weeks start on Monday 00:00 local */
	expect_start("2025-10-26T12:00:00Z", WEEK, mx, "2025-10-20T06:00:00Z");
	expect_start("2025-10-27T05:59:59Z", WEEK, mx, "2025-10-20T06:00:00Z");
	expect_start("2025-10-27T06:00:00Z", WEEK, mx, "2025-10-27T06:00:00Z");
}

Test(agg_tz, mexico_city_dst_before_2022)
{
	const struct lav_tz *mx = load_zone("America/Mexico_City");
	/* summer 2021: CDT, UTC-5 */
	expect_start("2021-07-15T12:00:00Z", DAY, mx, "2021-07-15T05:00:00Z");
	/* the last fall back, 2022-10-30 02:00 CDT: that local day has 25 h */
	expect_start("2022-10-30T12:00:00Z", DAY, mx, "2022-10-30T05:00:00Z");
	expect_next("2022-10-30T05:00:00Z", DAY, mx, "2022-10-31T06:00:00Z");
	expect_start("2022-10-31T05:59:59Z", DAY, mx, "2022-10-30T05:00:00Z");
}

Test(agg_tz, aggregate_mexico_city_days)
{
	const struct lav_tz *mx = load_zone("America/Mexico_City");
	int64_t ts[5] = {T("2025-10-20T05:00:00Z"), T("2025-10-20T05:59:59Z"),
			 T("2025-10-20T06:00:00Z"), T("2025-10-21T05:59:59Z"),
			 T("2025-10-21T06:00:00Z")};
	double v[5] = {1, 2, 10, 20, 100};
	int64_t ots[5];
	double ov[5];
	uint32_t oc[5];
	size_t m = lav_aggregate(ts, v, 5, LAV_AGG_SUM, DAY, mx, ots, ov, oc);
	cr_assert_eq(m, 3);
	expect_time(ots[0], "2025-10-19T06:00:00Z", "first local day");
	expect_time(ots[1], "2025-10-20T06:00:00Z", "second local day");
	expect_time(ots[2], "2025-10-21T06:00:00Z", "third local day");
	cr_assert_eq(ov[0], 3);
	cr_assert_eq(ov[1], 30);
	cr_assert_eq(ov[2], 100);
	cr_assert_eq(oc[1], 2);
}

Test(agg_tz, new_york_spring_forward_day_has_23_hours)
{
	const struct lav_tz *ny = load_zone("America/New_York");
	/* 2025-03-09: 02:00 EST → 03:00 EDT at 07:00Z */
	expect_start("2025-03-09T04:59:59Z", DAY, ny, "2025-03-08T05:00:00Z");
	expect_start("2025-03-09T05:00:00Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_start("2025-03-09T06:59:59Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_start("2025-03-09T07:00:00Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_start("2025-03-09T12:00:00Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_start("2025-03-10T03:59:59.999999Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_start("2025-03-10T04:00:00Z", DAY, ny, "2025-03-10T04:00:00Z");
	expect_next("2025-03-08T05:00:00Z", DAY, ny, "2025-03-09T05:00:00Z");
	expect_next("2025-03-09T05:00:00Z", DAY, ny, "2025-03-10T04:00:00Z");
	expect_next("2025-03-10T04:00:00Z", DAY, ny, "2025-03-11T04:00:00Z");
	/* week of Monday 2025-03-03 (EST) to Monday 2025-03-10 (EDT) */
	expect_start("2025-03-09T12:00:00Z", WEEK, ny, "2025-03-03T05:00:00Z");
	expect_next("2025-03-03T05:00:00Z", WEEK, ny, "2025-03-10T04:00:00Z");
}

Test(agg_tz, new_york_fall_back_day_has_25_hours)
{
	const struct lav_tz *ny = load_zone("America/New_York");
	/* 2025-11-02: 02:00 EDT → 01:00 EST at 06:00Z */
	expect_start("2025-11-02T03:59:59Z", DAY, ny, "2025-11-01T04:00:00Z");
	expect_start("2025-11-02T04:00:00Z", DAY, ny, "2025-11-02T04:00:00Z");
	/* 01:30 local happens twice: 05:30Z (EDT) and 06:30Z (EST) */
	expect_start("2025-11-02T05:30:00Z", DAY, ny, "2025-11-02T04:00:00Z");
	expect_start("2025-11-02T06:30:00Z", DAY, ny, "2025-11-02T04:00:00Z");
	expect_start("2025-11-03T04:59:59.999999Z", DAY, ny, "2025-11-02T04:00:00Z");
	expect_start("2025-11-03T05:00:00Z", DAY, ny, "2025-11-03T05:00:00Z");
	expect_next("2025-11-01T04:00:00Z", DAY, ny, "2025-11-02T04:00:00Z");
	expect_next("2025-11-02T04:00:00Z", DAY, ny, "2025-11-03T05:00:00Z");
	expect_next("2025-11-03T05:00:00Z", DAY, ny, "2025-11-04T05:00:00Z");
	expect_start("2025-11-02T12:00:00Z", WEEK, ny, "2025-10-27T04:00:00Z");
	expect_next("2025-10-27T04:00:00Z", WEEK, ny, "2025-11-03T05:00:00Z");
}

/* Hourly points over three local days; counts per local day. */
static void ny_hourly_counts(const char *from, const char *const starts[3],
			     const uint32_t counts[3])
{
	const struct lav_tz *ny = load_zone("America/New_York");
	int64_t t0 = T(from);
	enum { CAP = 80 };
	int64_t ts[CAP], ots[CAP];
	double v[CAP], ov[CAP];
	uint32_t oc[CAP];
	size_t n = counts[0] + counts[1] + counts[2];
	cr_assert_leq(n, CAP);
	for (size_t i = 0; i < n; i++) {
		ts[i] = t0 + (int64_t)i * H;
		v[i] = 1;
	}
	size_t m = lav_aggregate(ts, v, n, LAV_AGG_COUNT, DAY, ny, ots, ov, oc);
	cr_assert_eq(m, 3, "%zu buckets", m);
	for (int k = 0; k < 3; k++) {
		expect_time(ots[k], starts[k], "local day start");
		cr_assert_eq(oc[k], counts[k], "day %d: %u points, want %u", k, oc[k], counts[k]);
		cr_assert_eq(ov[k], counts[k]);
	}
}

Test(agg_tz, aggregate_new_york_across_march_change)
{
	const char *starts[3] = {"2025-03-08T05:00:00Z", "2025-03-09T05:00:00Z",
				 "2025-03-10T04:00:00Z"};
	ny_hourly_counts("2025-03-08T05:00:00Z", starts, (const uint32_t[3]){24, 23, 24});
}

Test(agg_tz, aggregate_new_york_across_november_change)
{
	const char *starts[3] = {"2025-11-01T04:00:00Z", "2025-11-02T04:00:00Z",
				 "2025-11-03T05:00:00Z"};
	ny_hourly_counts("2025-11-01T04:00:00Z", starts, (const uint32_t[3]){24, 25, 24});
}

Test(agg_tz, kolkata_half_hour_offset)
{
	const struct lav_tz *in = load_zone("Asia/Kolkata");
	expect_start("2025-10-20T12:00:00Z", DAY, in, "2025-10-19T18:30:00Z");
	expect_start("2025-10-20T18:29:59Z", DAY, in, "2025-10-19T18:30:00Z");
	expect_start("2025-10-20T18:30:00Z", DAY, in, "2025-10-20T18:30:00Z");
	/* local hours begin at :30 UTC */
	expect_start("2025-10-20T12:10:00Z", H, in, "2025-10-20T11:30:00Z");
	expect_next("2025-10-20T11:30:00Z", H, in, "2025-10-20T12:30:00Z");
}

Test(agg_tz, new_york_2045_uses_footer_rule)
{
	const struct lav_tz *ny = load_zone("America/New_York");
	/* 2045-03-12 and 2045-11-05 changes come from the POSIX footer */
	expect_start("2045-03-12T12:00:00Z", DAY, ny, "2045-03-12T05:00:00Z");
	expect_next("2045-03-12T05:00:00Z", DAY, ny, "2045-03-13T04:00:00Z");
	expect_start("2045-11-05T12:00:00Z", DAY, ny, "2045-11-05T04:00:00Z");
	expect_next("2045-11-05T04:00:00Z", DAY, ny, "2045-11-06T05:00:00Z");
}

/* Local calendar day (days since epoch) of a UTC µs instant. */
static int64_t local_day(const struct lav_tz *tz, int64_t us)
{
	int64_t s = us >= 0 ? us / LAV_US_PER_S : -((-us + LAV_US_PER_S - 1) / LAV_US_PER_S);
	int64_t l = s + lav_tz_offset(tz, s);
	return l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
}

/* For every half hour of a year: the day bucket holding ts is the first
 * instant of ts's local calendar day, the next bucket is the first instant
 * of the following local day, and the bucket holds ts. */
static void check_day_buckets(const char *name, int year)
{
	const struct lav_tz *tz = load_zone(name);
	char from[32];
	snprintf(from, sizeof(from), "%04d-01-01T00:00:00Z", year);
	int64_t t0 = T(from);
	for (int64_t ts = t0; ts < t0 + 366 * DAY; ts += 30 * MIN) {
		int64_t b = lav_bucket_start(ts, DAY, tz);
		int64_t nx = lav_bucket_next(b, DAY, tz);
		char a[LAV_TIME_STRLEN], bb[LAV_TIME_STRLEN], c[LAV_TIME_STRLEN];
		cr_assert(b <= ts && ts < nx, "%s: ts %s outside its bucket [%s, %s)", name,
			  fmt(ts, a), fmt(b, bb), fmt(nx, c));
		cr_assert_eq(local_day(tz, b), local_day(tz, ts),
			     "%s: bucket %s of ts %s is on another local day", name, fmt(b, bb),
			     fmt(ts, a));
		cr_assert_lt(local_day(tz, b - 1), local_day(tz, ts),
			     "%s: bucket %s of ts %s is not the first instant of its local day",
			     name, fmt(b, bb), fmt(ts, a));
		cr_assert_eq(local_day(tz, nx), local_day(tz, ts) + 1,
			     "%s: next bucket %s after %s is not the next local day", name,
			     fmt(nx, c), fmt(b, bb));
		cr_assert_eq(local_day(tz, nx - 1), local_day(tz, ts),
			     "%s: next bucket %s is not the first instant of the next local day",
			     name, fmt(nx, c));
	}
}

Test(agg_tz, day_buckets_follow_local_days)
{
	const char *zones[] = {"America/New_York",   "Europe/London",    "America/Mexico_City",
			       "Asia/Kolkata",	     "Australia/Sydney", "Australia/Lord_Howe",
			       "Asia/Jerusalem",     "America/Nuuk",	 "UTC"};
	const int years[] = {2021, 2025, 2045};
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
		for (size_t y = 0; y < sizeof(years) / sizeof(years[0]); y++)
			check_day_buckets(zones[z], years[y]);
}

/* Zones whose clocks jump at local midnight (Havana: 00:00 → 01:00 in
 * March; Santiago: 24:00 → 01:00 in September): that local day begins when
 * the clock jumps. */
Test(agg_tz, day_buckets_when_midnight_is_skipped_havana)
{
	check_day_buckets("America/Havana", 2025);
}

Test(agg_tz, day_buckets_when_midnight_is_skipped_santiago)
{
	check_day_buckets("America/Santiago", 2025);
}

/* lav_aggregate advances only while ts < next bucket: a bucket that does not
 * hold its own points would make it loop forever writing outputs. Checked
 * before the call so a broken bucket is a clear failure, not a crash. */
Test(agg_tz, aggregate_havana_hourly_points_over_spring_forward)
{
	const struct lav_tz *tz = load_zone("America/Havana");
	enum { N = 71 }; /* 24 + 23 + 24 hours */
	int64_t t0 = T("2025-03-08T05:00:00Z"); /* 2025-03-08 00:00 CST */
	int64_t ts[N], ots[N];
	double v[N], ov[N];
	uint32_t oc[N];
	for (int i = 0; i < N; i++) {
		ts[i] = t0 + i * H;
		v[i] = 1;
		int64_t b = lav_bucket_start(ts[i], DAY, tz);
		char a[LAV_TIME_STRLEN], bb[LAV_TIME_STRLEN], c[LAV_TIME_STRLEN];
		int64_t nx = lav_bucket_next(b, DAY, tz);
		cr_assert(b <= ts[i] && ts[i] < nx,
			  "ts %s is outside its bucket [%s, %s): lav_aggregate would never "
			  "advance past it",
			  fmt(ts[i], a), fmt(b, bb), fmt(nx, c));
	}
	size_t m = lav_aggregate(ts, v, N, LAV_AGG_COUNT, DAY, tz, ots, ov, oc);
	cr_assert_eq(m, 3);
	/* 03-08 00:00 CST = 05:00Z; 03-09 begins at the jump, 05:00Z (01:00 CDT);
	 * 03-10 00:00 CDT = 04:00Z */
	expect_time(ots[0], "2025-03-08T05:00:00Z", "Havana 03-08");
	expect_time(ots[1], "2025-03-09T05:00:00Z", "Havana 03-09");
	expect_time(ots[2], "2025-03-10T04:00:00Z", "Havana 03-10");
	cr_assert_eq(oc[0], 24);
	cr_assert_eq(oc[1], 23);
	cr_assert_eq(oc[2], 24);
}

/* Sub-day buckets in a zone: every ts must lie inside [start, next(start)),
 * or lav_aggregate never advances. Checked every 5 minutes over the days
 * around each 2025 change. The query API accepts any bucket >= 1s with tz. */
static void check_holds(const char *name, int64_t size, const char *const days[2])
{
	const struct lav_tz *tz = load_zone(name);
	for (int d = 0; d < 2; d++) {
		int64_t t0 = T(days[d]) - DAY;
		for (int64_t ts = t0; ts < t0 + 2 * DAY; ts += 5 * MIN) {
			int64_t b = lav_bucket_start(ts, size, tz);
			int64_t nx = lav_bucket_next(b, size, tz);
			char a[LAV_TIME_STRLEN], bb[LAV_TIME_STRLEN], c[LAV_TIME_STRLEN];
			cr_assert(b <= ts && ts < nx,
				  "%s, %lld s buckets: ts %s outside its bucket [%s, %s)", name,
				  (long long)(size / LAV_US_PER_S), fmt(ts, a), fmt(b, bb), fmt(nx, c));
		}
	}
}

Test(agg_tz, hour_buckets_hold_their_points)
{
	const char *ny[2] = {"2025-03-09T07:00:00Z", "2025-11-02T06:00:00Z"};
	const char *lon[2] = {"2025-03-30T01:00:00Z", "2025-10-26T01:00:00Z"};
	check_holds("America/New_York", H, ny);
	check_holds("America/New_York", 3 * H, ny);
	check_holds("Europe/London", H, lon);
}

Test(agg_tz, quarter_hour_buckets_hold_their_points_new_york)
{
	const char *ny[2] = {"2025-03-09T07:00:00Z", "2025-11-02T06:00:00Z"};
	check_holds("America/New_York", 15 * MIN, ny);
}

Test(agg_tz, quarter_hour_buckets_hold_their_points_london)
{
	const char *lon[2] = {"2025-03-30T01:00:00Z", "2025-10-26T01:00:00Z"};
	check_holds("Europe/London", 15 * MIN, lon);
}

/* Lord Howe shifts by 30 minutes: hour buckets. */
Test(agg_tz, hour_buckets_hold_their_points_lord_howe)
{
	const char *lh[2] = {"2025-04-05T15:00:00Z", "2025-10-04T15:30:00Z"};
	check_holds("Australia/Lord_Howe", H, lh);
}

/* In a whole-hour zone, 15-minute local buckets are 15-minute UTC buckets:
 * points every 5 minutes over the fall back give 3 per bucket. */
Test(agg_tz, aggregate_quarter_hours_over_new_york_fall_back)
{
	const struct lav_tz *ny = load_zone("America/New_York");
	enum { N = 48 }; /* 04:00Z .. 07:55Z */
	int64_t t0 = T("2025-11-02T04:00:00Z");
	int64_t ts[N], ots[N];
	double v[N], ov[N];
	uint32_t oc[N];
	for (int i = 0; i < N; i++) {
		ts[i] = t0 + i * 5 * MIN;
		v[i] = 1;
		int64_t b = lav_bucket_start(ts[i], 15 * MIN, ny);
		int64_t nx = lav_bucket_next(b, 15 * MIN, ny);
		char a[LAV_TIME_STRLEN], bb[LAV_TIME_STRLEN], c[LAV_TIME_STRLEN];
		cr_assert(b <= ts[i] && ts[i] < nx,
			  "ts %s is outside its bucket [%s, %s): lav_aggregate would never "
			  "advance past it",
			  fmt(ts[i], a), fmt(b, bb), fmt(nx, c));
	}
	size_t m = lav_aggregate(ts, v, N, LAV_AGG_COUNT, 15 * MIN, ny, ots, ov, oc);
	cr_assert_eq(m, 16);
	for (size_t k = 0; k < m; k++) {
		cr_assert_eq(ots[k], t0 + (int64_t)k * 15 * MIN);
		cr_assert_eq(oc[k], 3);
	}
}

/* ---- dense buckets and forward fill ---- */

struct fill_out {
	int64_t ts[16];
	double v[16];
	bool present[16];
	size_t n;
	bool more;
};

static void fill(const int64_t *bts, const double *bv, size_t n, const char *since,
		 const char *until, int64_t size, const struct lav_tz *tz, bool ffill,
		 int64_t max_age, size_t cap, struct fill_out *o)
{
	memset(o, 0, sizeof(*o));
	o->more = true; /* must be written */
	cr_assert_leq(cap, 16);
	o->n = lav_fill_buckets(bts, bv, n, T(since), T(until), size, tz, ffill, max_age, o->ts,
				o->v, o->present, cap, &o->more);
}

static void expect_bucket(const struct fill_out *o, size_t i, const char *start, bool present,
			  double v)
{
	cr_assert_lt(i, o->n, "bucket %zu of %zu", i, o->n);
	char what[64];
	snprintf(what, sizeof(what), "bucket %zu start", i);
	expect_time(o->ts[i], start, what);
	cr_assert_eq(o->present[i], present, "bucket %zu (%s): present %d, want %d", i, start,
		     o->present[i], present);
	if (present)
		cr_assert_eq(o->v[i], v, "bucket %zu (%s): %.17g, want %.17g", i, start, o->v[i],
			     v);
}

/* Buckets at 00h=1, 01h=2, 03h=4 of 2025-10-20. */
static int64_t FB_TS[3];
static const double FB_V[3] = {1, 2, 4};

static void fb_init(void)
{
	FB_TS[0] = T("2025-10-20T00:00:00Z");
	FB_TS[1] = T("2025-10-20T01:00:00Z");
	FB_TS[2] = T("2025-10-20T03:00:00Z");
}

Test(agg_fill, dense_without_ffill)
{
	fb_init();
	struct fill_out o;
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, false, DAY,
	     16, &o);
	cr_assert_eq(o.n, 5);
	cr_assert_not(o.more);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 1);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", true, 2);
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", false, 0);
	expect_bucket(&o, 3, "2025-10-20T03:00:00Z", true, 4);
	expect_bucket(&o, 4, "2025-10-20T04:00:00Z", false, 0);
}

Test(agg_fill, ffill_within_max_age)
{
	fb_init();
	struct fill_out o;
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, H, 16,
	     &o);
	cr_assert_eq(o.n, 5);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 1);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", true, 2);
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", true, 2);
	expect_bucket(&o, 3, "2025-10-20T03:00:00Z", true, 4);
	expect_bucket(&o, 4, "2025-10-20T04:00:00Z", true, 4);
}

Test(agg_fill, max_age_boundaries)
{
	int64_t bts[1] = {T("2025-10-20T00:00:00Z")};
	double bv[1] = {7};
	struct fill_out o;
	/* 03:00 is exactly 3 h after the value: filled; 04:00 is older */
	fill(bts, bv, 1, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, 3 * H, 16,
	     &o);
	cr_assert_eq(o.n, 5);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 7);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", true, 7);
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", true, 7);
	expect_bucket(&o, 3, "2025-10-20T03:00:00Z", true, 7);
	expect_bucket(&o, 4, "2025-10-20T04:00:00Z", false, 0);
	/* the age of the 03:00 bucket is one µs more than max_age: missing */
	fill(bts, bv, 1, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true,
	     3 * H - 1, 16, &o);
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", true, 7);
	expect_bucket(&o, 3, "2025-10-20T03:00:00Z", false, 0);
	expect_bucket(&o, 4, "2025-10-20T04:00:00Z", false, 0);
	/* max_age 0 fills nothing */
	fill(bts, bv, 1, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, 0, 16,
	     &o);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 7);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", false, 0);
}

Test(agg_fill, ffill_from_a_value_before_since)
{
	int64_t bts[2] = {T("2025-10-19T23:00:00Z"), T("2025-10-20T03:00:00Z")};
	double bv[2] = {5, 6};
	struct fill_out o;
	fill(bts, bv, 2, "2025-10-20T00:00:00Z", "2025-10-20T04:00:00Z", H, NULL, true, 2 * H, 16,
	     &o);
	cr_assert_eq(o.n, 4);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 5);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", true, 5);
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", false, 0);
	expect_bucket(&o, 3, "2025-10-20T03:00:00Z", true, 6);
	/* and without ffill the earlier value is not used */
	fill(bts, bv, 2, "2025-10-20T00:00:00Z", "2025-10-20T04:00:00Z", H, NULL, false, 2 * H,
	     16, &o);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", false, 0);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", false, 0);
}

Test(agg_fill, no_values_at_all)
{
	struct fill_out o;
	fill(NULL, NULL, 0, "2025-10-20T00:00:00Z", "2025-10-20T03:00:00Z", H, NULL, true, DAY, 16,
	     &o);
	cr_assert_eq(o.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_not(o.present[i]);
}

Test(agg_fill, unaligned_since_and_empty_range)
{
	fb_init();
	struct fill_out o;
	/* since inside a bucket: the bucket holding since is the first */
	fill(FB_TS, FB_V, 3, "2025-10-20T00:30:00Z", "2025-10-20T02:00:00Z", H, NULL, false, 0, 16,
	     &o);
	cr_assert_eq(o.n, 2);
	expect_bucket(&o, 0, "2025-10-20T00:00:00Z", true, 1);
	expect_bucket(&o, 1, "2025-10-20T01:00:00Z", true, 2);
	/* until is exclusive */
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T01:00:00Z", H, NULL, false, 0, 16,
	     &o);
	cr_assert_eq(o.n, 1);
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T01:00:00.000001Z", H, NULL,
	     false, 0, 16, &o);
	cr_assert_eq(o.n, 2);
	/* since == until: nothing */
	fill(FB_TS, FB_V, 3, "2025-10-20T01:00:00Z", "2025-10-20T01:00:00Z", H, NULL, false, 0, 16,
	     &o);
	cr_assert_eq(o.n, 0);
	cr_assert_not(o.more);
}

Test(agg_fill, cap_and_more)
{
	fb_init();
	struct fill_out o;
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, H, 3,
	     &o);
	cr_assert_eq(o.n, 3);
	cr_assert(o.more, "5 buckets with cap 3: more must be set");
	expect_bucket(&o, 2, "2025-10-20T02:00:00Z", true, 2);
	/* exactly cap buckets: not more */
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, H, 5,
	     &o);
	cr_assert_eq(o.n, 5);
	cr_assert_not(o.more);
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, H, 4,
	     &o);
	cr_assert_eq(o.n, 4);
	cr_assert(o.more);
	fill(FB_TS, FB_V, 3, "2025-10-20T00:00:00Z", "2025-10-20T05:00:00Z", H, NULL, true, H, 0,
	     &o);
	cr_assert_eq(o.n, 0);
	cr_assert(o.more);
}

Test(agg_fill, new_york_days_across_fall_back)
{
	const struct lav_tz *ny = load_zone("America/New_York");
	int64_t bts[1] = {T("2025-11-01T04:00:00Z")};
	double bv[1] = {3};
	struct fill_out o;
	/* the gap from 11-02 04:00Z to 11-03 05:00Z is 25 h: beyond a 48 h max_age
	 * only once the third day passes */
	fill(bts, bv, 1, "2025-11-01T04:00:00Z", "2025-11-05T05:00:00Z", DAY, ny, true,
	     2 * DAY + H, 16, &o);
	cr_assert_eq(o.n, 4);
	expect_bucket(&o, 0, "2025-11-01T04:00:00Z", true, 3);
	expect_bucket(&o, 1, "2025-11-02T04:00:00Z", true, 3);
	expect_bucket(&o, 2, "2025-11-03T05:00:00Z", true, 3);	/* 49 h */
	expect_bucket(&o, 3, "2025-11-04T05:00:00Z", false, 0); /* 73 h */
	fill(bts, bv, 1, "2025-11-01T04:00:00Z", "2025-11-05T05:00:00Z", DAY, ny, true, 2 * DAY,
	     16, &o);
	expect_bucket(&o, 2, "2025-11-03T05:00:00Z", false, 0); /* 49 h > 48 h */
}

/* ---- Neumaier summation ---- */

static double sum_of(const double *v, size_t n, enum lav_agg agg)
{
	int64_t ts[16] = {0};
	int64_t ots[16];
	double ov[16];
	cr_assert_leq(n, 16);
	for (size_t i = 0; i < n; i++)
		ts[i] = (int64_t)i;
	size_t m = lav_aggregate(ts, v, n, agg, H, NULL, ots, ov, NULL);
	cr_assert_eq(m, 1);
	return ov[0];
}

Test(agg_sum, big_small_big_cancels_exactly)
{
	double a[3] = {1e16, 1, -1e16};
	cr_assert_eq(sum_of(a, 3, LAV_AGG_SUM), 1, "got %.17g", sum_of(a, 3, LAV_AGG_SUM));
	double b[3] = {1, 1e16, -1e16};
	cr_assert_eq(sum_of(b, 3, LAV_AGG_SUM), 1);
	double c[3] = {-1e16, 1, 1e16};
	cr_assert_eq(sum_of(c, 3, LAV_AGG_SUM), 1);
	double d[4] = {1, 1e100, 1, -1e100};
	cr_assert_eq(sum_of(d, 4, LAV_AGG_SUM), 2, "got %.17g", sum_of(d, 4, LAV_AGG_SUM));
	double e[3] = {1e16, 1, -1e16};
	cr_assert_eq(sum_of(e, 3, LAV_AGG_AVG), 1.0 / 3.0);
}

Test(agg_sum, tenths_sum_to_one)
{
	double v[10];
	for (int i = 0; i < 10; i++)
		v[i] = 0.1;
	/* naive left-to-right summation gives 0.9999999999999999 */
	cr_assert_eq(sum_of(v, 10, LAV_AGG_SUM), 1.0, "got %.17g", sum_of(v, 10, LAV_AGG_SUM));
	cr_assert_eq(sum_of(v, 10, LAV_AGG_AVG), 0.1);
}

Test(agg_sum, order_of_values_does_not_matter)
{
	double v[6] = {1e20, 3.5, -1e20, 1e-3, 7e15, -7e15};
	double want = 3.5 + 1e-3;
	cr_assert_eq(sum_of(v, 6, LAV_AGG_SUM), want, "got %.17g", sum_of(v, 6, LAV_AGG_SUM));
	double r[6] = {-7e15, 1e-3, 1e20, 7e15, -1e20, 3.5};
	cr_assert_eq(sum_of(r, 6, LAV_AGG_SUM), want, "got %.17g", sum_of(r, 6, LAV_AGG_SUM));
}
