/* RFC 3339 parsing/formatting, civil-date arithmetic and durations. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "lav/timefmt.h"

#define S(x) ((int64_t)(x) * LAV_US_PER_S)

/* 2025-10-20T00:00:00Z */
static const int64_t OCT20 = 1760918400LL * LAV_US_PER_S;

static int64_t parse_ok(const char *s)
{
	int64_t us = INT64_MIN;
	const char *why = NULL;
	bool ok = lav_time_parse(s, strlen(s), &us, &why);
	cr_assert(ok, "lav_time_parse(\"%s\") failed: %s", s, why ? why : "(no reason)");
	return us;
}

static const char *parse_bad(const char *s)
{
	int64_t us = 12345;
	const char *why = NULL;
	bool ok = lav_time_parse(s, strlen(s), &us, &why);
	cr_assert(!ok, "lav_time_parse(\"%s\") accepted it as %lld", s, (long long)us);
	cr_assert_not_null(why, "no reason given for rejecting \"%s\"", s);
	cr_assert_gt(strlen(why), 0);
	return why;
}

static void expect_format(int64_t us, const char *want)
{
	char out[LAV_TIME_STRLEN];
	memset(out, 'x', sizeof(out));
	size_t n = lav_time_format(us, out);
	cr_assert_str_eq(out, want, "format(%lld)", (long long)us);
	cr_assert_eq(n, strlen(want), "format(%lld) returned %zu", (long long)us, n);
}

/* ---- parsing ---- */

Test(time_parse, epoch_and_known_instant)
{
	cr_assert_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00Z"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T13:45:07Z"), OCT20 + S(13 * 3600 + 45 * 60 + 7));
	cr_assert_eq(parse_ok("2000-03-01T00:00:00Z"), S(11017LL * 86400));
}

Test(time_parse, separators_and_lowercase)
{
	cr_assert_eq(parse_ok("2025-10-20t00:00:00z"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20 00:00:00Z"), OCT20);
}

Test(time_parse, offsets_normalize_to_utc)
{
	cr_assert_eq(parse_ok("2025-10-20T02:00:00+02:00"), OCT20);
	cr_assert_eq(parse_ok("2025-10-19T19:00:00-05:00"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T05:30:00+05:30"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00+00:00"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00-00:00"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T23:59:00+23:59"), OCT20);
	cr_assert_eq(parse_ok("2025-10-19T00:01:00-23:59"), OCT20);
	/* an offset that crosses a year boundary */
	cr_assert_eq(parse_ok("2025-12-31T23:00:00-01:00"), parse_ok("2026-01-01T00:00:00Z"));
}

Test(time_parse, fractions_one_to_nine_digits_truncate_to_us)
{
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.1Z"), OCT20 + 100000);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.12Z"), OCT20 + 120000);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.123Z"), OCT20 + 123000);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.000001Z"), OCT20 + 1);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.123456Z"), OCT20 + 123456);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.1234567Z"), OCT20 + 123456);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.12345678Z"), OCT20 + 123456);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.123456789Z"), OCT20 + 123456);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.999999999Z"), OCT20 + 999999);
	cr_assert_eq(parse_ok("2025-10-20T00:00:00.0000009Z"), OCT20);
	cr_assert_eq(parse_ok("2025-10-20T01:00:00.5+01:00"), OCT20 + 500000);
}

Test(time_parse, fraction_digit_count_rejected)
{
	parse_bad("2025-10-20T00:00:00.Z");
	parse_bad("2025-10-20T00:00:00.1234567890Z");
	parse_bad("2025-10-20T00:00:00.+01:00");
}

Test(time_parse, leap_days)
{
	cr_assert_eq(parse_ok("2024-02-29T00:00:00Z"), S(lav_days_from_civil(2024, 2, 29) * 86400));
	cr_assert_eq(parse_ok("2000-02-29T12:00:00Z"),
		     S(lav_days_from_civil(2000, 2, 29) * 86400 + 12 * 3600));
	cr_assert_str_eq(parse_bad("2023-02-29T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2100-02-29T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("1900-02-29T00:00:00Z"), "day out of range");
	parse_bad("2024-02-30T00:00:00Z");
}

Test(time_parse, bad_month_and_day)
{
	cr_assert_str_eq(parse_bad("2025-00-10T00:00:00Z"), "month out of range");
	cr_assert_str_eq(parse_bad("2025-13-10T00:00:00Z"), "month out of range");
	cr_assert_str_eq(parse_bad("2025-10-00T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2025-10-32T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2025-04-31T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2025-06-31T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2025-09-31T00:00:00Z"), "day out of range");
	cr_assert_str_eq(parse_bad("2025-11-31T00:00:00Z"), "day out of range");
	parse_ok("2025-12-31T00:00:00Z");
	parse_ok("2025-01-31T00:00:00Z");
}

Test(time_parse, bad_time_of_day)
{
	cr_assert_str_eq(parse_bad("2025-10-20T24:00:00Z"), "time of day out of range");
	cr_assert_str_eq(parse_bad("2025-10-20T23:60:00Z"), "time of day out of range");
	cr_assert_str_eq(parse_bad("2025-10-20T23:59:60Z"), "time of day out of range");
	parse_ok("2025-10-20T23:59:59Z");
}

Test(time_parse, bad_offsets)
{
	cr_assert_str_eq(parse_bad("2025-10-20T00:00:00+24:00"), "offset out of range");
	cr_assert_str_eq(parse_bad("2025-10-20T00:00:00+05:60"), "offset out of range");
	parse_bad("2025-10-20T00:00:00+0530");
	parse_bad("2025-10-20T00:00:00+05");
	parse_bad("2025-10-20T00:00:00+5:30");
	parse_bad("2025-10-20T00:00:00+05-30");
	parse_bad("2025-10-20T00:00:00 +05:30");
	parse_bad("2025-10-20T00:00:00UTC");
}

Test(time_parse, missing_offset)
{
	parse_bad("2025-10-20T00:00:00");
	cr_assert_str_eq(parse_bad("2025-10-20T00:00:00.123"),
			 "a time zone offset (Z or +HH:MM) is required");
	cr_assert_str_eq(parse_bad("2025-10-20T00:00:00.123456"),
			 "a time zone offset (Z or +HH:MM) is required");
}

Test(time_parse, trailing_junk)
{
	cr_assert_str_eq(parse_bad("2025-10-20T00:00:00Zx"), "unexpected characters after the offset");
	parse_bad("2025-10-20T00:00:00Z ");
	parse_bad("2025-10-20T00:00:00ZZ");
	parse_bad("2025-10-20T00:00:00+01:00:00");
	parse_bad("2025-10-20T00:00:00+01:00Z");
	parse_bad("2025-10-20T00:00:00.5Z.5");
}

Test(time_parse, malformed_shapes)
{
	parse_bad("");
	parse_bad("2025-10-20");
	parse_bad("2025-10-20T00:00Z");
	parse_bad("2025/10/20T00:00:00Z");
	parse_bad("2025-1a-20T00:00:00Z");
	parse_bad("25-10-20T00:00:00Z00");
	parse_bad("2025-10-20X00:00:00Z");
	parse_bad("2025-10-20T00-00-00Z");
	parse_bad("2025-10-20T0a:00:00Z");
	parse_bad("+2025-10-20T00:00:00Z");
	parse_bad("1760918400");
	parse_bad("not a time at all, no");
}

Test(time_parse, uses_len_not_nul)
{
	const char *s = "2025-10-20T00:00:00Zgarbage";
	int64_t us = 0;
	cr_assert(lav_time_parse(s, 20, &us, NULL));
	cr_assert_eq(us, OCT20);
	/* a NULL why is allowed on failure too */
	cr_assert_not(lav_time_parse(s, strlen(s), &us, NULL));
	cr_assert_not(lav_time_parse(s, 19, &us, NULL));
}

Test(time_parse, before_1970)
{
	cr_assert_eq(parse_ok("1969-12-31T23:59:59Z"), -S(1));
	cr_assert_eq(parse_ok("1969-12-31T23:59:59.5Z"), -500000);
	cr_assert_eq(parse_ok("1969-12-31T23:59:59.999999Z"), -1);
	cr_assert_eq(parse_ok("1970-01-01T00:59:59+01:00"), -S(1));
	cr_assert_eq(parse_ok("1900-01-01T00:00:00Z"), -S(2208988800LL));
	cr_assert_eq(parse_ok("0001-01-01T00:00:00Z"), -S(62135596800LL));
	cr_assert_eq(parse_ok("9999-12-31T23:59:59.999999Z"), S(253402300799LL) + 999999);
}

/* ---- formatting ---- */

Test(time_format, milliseconds_by_default)
{
	expect_format(0, "1970-01-01T00:00:00.000Z");
	expect_format(OCT20, "2025-10-20T00:00:00.000Z");
	expect_format(OCT20 + 123000, "2025-10-20T00:00:00.123Z");
	expect_format(OCT20 + 1000, "2025-10-20T00:00:00.001Z");
	expect_format(OCT20 + S(86399), "2025-10-20T23:59:59.000Z");
	expect_format(S(951782400), "2000-02-29T00:00:00.000Z");
}

Test(time_format, microseconds_when_needed)
{
	expect_format(OCT20 + 123456, "2025-10-20T00:00:00.123456Z");
	expect_format(OCT20 + 1, "2025-10-20T00:00:00.000001Z");
	expect_format(OCT20 + 100, "2025-10-20T00:00:00.000100Z");
	expect_format(OCT20 + 999999, "2025-10-20T00:00:00.999999Z");
	expect_format(OCT20 + 1001, "2025-10-20T00:00:00.001001Z");
}

Test(time_format, negative_times)
{
	expect_format(-1, "1969-12-31T23:59:59.999999Z");
	expect_format(-1000, "1969-12-31T23:59:59.999Z");
	expect_format(-S(1), "1969-12-31T23:59:59.000Z");
	expect_format(-500000, "1969-12-31T23:59:59.500Z");
	expect_format(-LAV_US_PER_DAY, "1969-12-31T00:00:00.000Z");
	expect_format(-LAV_US_PER_DAY - 1, "1969-12-30T23:59:59.999999Z");
	expect_format(-S(2208988800LL), "1900-01-01T00:00:00.000Z");
	expect_format(-S(62135596800LL), "0001-01-01T00:00:00.000Z");
}

Test(time_format, extremes)
{
	expect_format(S(253402300799LL) + 999000, "9999-12-31T23:59:59.999Z");
	expect_format(S(253402300799LL) + 999999, "9999-12-31T23:59:59.999999Z");
}

Test(time_format, distinct_instants_print_differently)
{
	char a[LAV_TIME_STRLEN], b[LAV_TIME_STRLEN];
	lav_time_format(OCT20 + 1000, a);
	lav_time_format(OCT20 + 1001, b);
	cr_assert_str_neq(a, b);
	lav_time_format(OCT20, a);
	lav_time_format(OCT20 + 1, b);
	cr_assert_str_neq(a, b);
}

/* A 64-bit LCG, enough to sample a range deterministically. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return rng_state >> 11;
}

Test(time_format, round_trip_over_years_1_to_9999)
{
	const int64_t lo = -S(62135596800LL);		     /* 0001-01-01 */
	const int64_t hi = S(253402300799LL) + 999999; /* 9999-12-31T23:59:59.999999 */
	const uint64_t span = (uint64_t)(hi - lo);
	for (int i = 0; i < 200000; i++) {
		int64_t us = lo + (int64_t)(rng() % span);
		if (i % 3 == 0)
			us -= us % 1000; /* exercise the millisecond form too */
		if (i % 7 == 0)
			us -= us % LAV_US_PER_S;
		char out[LAV_TIME_STRLEN];
		size_t n = lav_time_format(us, out);
		cr_assert(n == 24 || n == 27, "format(%lld) = \"%s\"", (long long)us, out);
		int64_t back = 0;
		const char *why = NULL;
		cr_assert(lav_time_parse(out, n, &back, &why), "parse(\"%s\"): %s", out,
			  why ? why : "?");
		cr_assert_eq(back, us, "\"%s\" parsed back as %lld, not %lld", out,
			     (long long)back, (long long)us);
	}
}

Test(time_format, round_trip_near_epoch)
{
	for (int64_t us = -3 * LAV_US_PER_S; us <= 3 * LAV_US_PER_S; us += 997) {
		char out[LAV_TIME_STRLEN];
		size_t n = lav_time_format(us, out);
		int64_t back = 0;
		cr_assert(lav_time_parse(out, n, &back, NULL), "%s", out);
		cr_assert_eq(back, us, "%s", out);
	}
}

/* ---- civil dates ---- */

Test(civil, known_values)
{
	cr_assert_eq(lav_days_from_civil(1970, 1, 1), 0);
	cr_assert_eq(lav_days_from_civil(1970, 1, 2), 1);
	cr_assert_eq(lav_days_from_civil(1969, 12, 31), -1);
	cr_assert_eq(lav_days_from_civil(2000, 3, 1), 11017);
	cr_assert_eq(lav_days_from_civil(2025, 10, 20), 1760918400LL / 86400);
	cr_assert_eq(lav_days_from_civil(1, 1, 1), -719162);
	cr_assert_eq(lav_days_from_civil(9999, 12, 31), 2932896);
	int64_t y;
	unsigned m, d;
	lav_civil_from_days(-719162, &y, &m, &d);
	cr_assert(y == 1 && m == 1 && d == 1, "%lld-%u-%u", (long long)y, m, d);
	lav_civil_from_days(-1, &y, &m, &d);
	cr_assert(y == 1969 && m == 12 && d == 31, "%lld-%u-%u", (long long)y, m, d);
	lav_civil_from_days(11016, &y, &m, &d);
	cr_assert(y == 2000 && m == 2 && d == 29, "%lld-%u-%u", (long long)y, m, d);
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned dim(int64_t y, unsigned m)
{
	static const unsigned t[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : t[m - 1];
}

/* Every day from 0001-01-01 to 9999-12-31: consecutive day numbers are
 * consecutive calendar dates, and both directions agree. */
Test(civil, every_day_of_years_1_to_9999)
{
	int64_t y = 1;
	unsigned m = 1, d = 1;
	const int64_t first = lav_days_from_civil(1, 1, 1);
	const int64_t last = lav_days_from_civil(9999, 12, 31);
	for (int64_t z = first; z <= last; z++) {
		int64_t cy;
		unsigned cm, cd;
		lav_civil_from_days(z, &cy, &cm, &cd);
		if (cy != y || cm != m || cd != d)
			cr_assert_fail("day %lld: got %lld-%u-%u, want %lld-%u-%u", (long long)z,
				       (long long)cy, cm, cd, (long long)y, m, d);
		if (lav_days_from_civil(y, m, d) != z)
			cr_assert_fail("days_from_civil(%lld-%u-%u) != %lld", (long long)y, m, d,
				       (long long)z);
		if (++d > dim(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	cr_assert_eq(y, 10000);
}

Test(civil, sampled_round_trip)
{
	for (int64_t y = 1; y <= 9999; y += 13) {
		for (unsigned m = 1; m <= 12; m++) {
			unsigned days[3] = {1, 15, dim(y, m)};
			for (int k = 0; k < 3; k++) {
				int64_t z = lav_days_from_civil(y, m, days[k]);
				int64_t cy;
				unsigned cm, cd;
				lav_civil_from_days(z, &cy, &cm, &cd);
				cr_assert(cy == y && cm == m && cd == days[k], "%lld-%u-%u", (long long)y,
					  m, days[k]);
			}
		}
		/* a year is 365 or 366 days long */
		int64_t len = lav_days_from_civil(y + 1, 1, 1) - lav_days_from_civil(y, 1, 1);
		cr_assert_eq(len, leap(y) ? 366 : 365, "year %lld", (long long)y);
	}
}

/* ---- durations ---- */

static int64_t dur_ok(const char *s, bool allow_zero)
{
	int64_t ms = -42;
	cr_assert(lav_duration_parse(s, allow_zero, &ms), "duration \"%s\" rejected", s);
	return ms;
}

static void dur_bad(const char *s, bool allow_zero)
{
	int64_t ms = -42;
	cr_assert_not(lav_duration_parse(s, allow_zero, &ms), "duration \"%s\" accepted as %lld", s,
		      (long long)ms);
	cr_assert_eq(ms, -42, "output written on failure for \"%s\"", s);
}

Test(duration, units)
{
	cr_assert_eq(dur_ok("1ms", false), 1);
	cr_assert_eq(dur_ok("250ms", false), 250);
	cr_assert_eq(dur_ok("1s", false), 1000);
	cr_assert_eq(dur_ok("1m", false), 60000);
	cr_assert_eq(dur_ok("90m", false), 90 * 60000);
	cr_assert_eq(dur_ok("1h", false), 3600000);
	cr_assert_eq(dur_ok("24h", false), 86400000);
	cr_assert_eq(dur_ok("1d", false), 86400000);
	cr_assert_eq(dur_ok("180d", false), 180LL * 86400000);
	cr_assert_eq(dur_ok("1w", false), 7LL * 86400000);
	cr_assert_eq(dur_ok("007s", false), 7000);
}

Test(duration, rejects_malformed)
{
	dur_bad(NULL, true);
	dur_bad("", true);
	dur_bad("h", true);
	dur_bad("ms", true);
	dur_bad("1", true);
	dur_bad("1x", true);
	dur_bad("1H", true);
	dur_bad("1 h", true);
	dur_bad(" 1h", true);
	dur_bad("1h ", true);
	dur_bad("-1h", true);
	dur_bad("+1h", true);
	dur_bad("1.5h", true);
	dur_bad("1hh", true);
	dur_bad("1h30m", true);
	dur_bad("1y", true);
	dur_bad("1msx", true);
}

Test(duration, zero_only_when_allowed)
{
	dur_bad("0s", false);
	dur_bad("0ms", false);
	dur_bad("000d", false);
	cr_assert_eq(dur_ok("0s", true), 0);
	cr_assert_eq(dur_ok("0ms", true), 0);
	cr_assert_eq(dur_ok("0w", true), 0);
}

Test(duration, overflow)
{
	dur_bad("99999999999999999999ms", true);
	dur_bad("9223372036854775808ms", true);
	dur_bad("100000000000000000000000000s", true);
	dur_bad("10000000000000000w", true);
	dur_bad("15250284453w", true);
	cr_assert_eq(dur_ok("15250284452w", false), 15250284452LL * 604800000LL);
	dur_bad("106751991168d", true);
	cr_assert_eq(dur_ok("106751991167d", false), 106751991167LL * 86400000LL);
	dur_bad("9223372036854776s", true);
}
