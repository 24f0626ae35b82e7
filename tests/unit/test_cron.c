/* Five-field cron: parsing into bitsets and the next matching minute. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "lav/cron.h"
#include "lav/timefmt.h"

/* UTC instant in microseconds. */
static int64_t T(int64_t y, unsigned mo, unsigned d, int h, int mi, int s)
{
	return (lav_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * LAV_US_PER_S;
}

static struct lav_cron parse_ok(const char *expr)
{
	struct lav_cron c;
	char err[160] = "";
	cr_assert(lav_cron_parse(expr, &c, err, sizeof(err)), "\"%s\" rejected: %s", expr, err);
	return c;
}

static void parse_bad(const char *expr, const char *needle)
{
	struct lav_cron c;
	char err[160] = "";
	cr_assert_not(lav_cron_parse(expr, &c, err, sizeof(err)), "\"%s\" accepted", expr);
	cr_assert_gt(strlen(err), 0, "\"%s\": no message", expr);
	if (needle)
		cr_assert_not_null(strstr(err, needle), "\"%s\": \"%s\" does not mention \"%s\"", expr,
				   err, needle);
}

static uint64_t bits(const int *v, int n)
{
	uint64_t b = 0;
	for (int i = 0; i < n; i++)
		b |= 1ULL << v[i];
	return b;
}

static uint64_t range_bits(int lo, int hi, int step)
{
	uint64_t b = 0;
	for (int i = lo; i <= hi; i += step)
		b |= 1ULL << i;
	return b;
}

static void next_is(const char *expr, int64_t after, int64_t want)
{
	struct lav_cron c = parse_ok(expr);
	int64_t got = lav_cron_next(&c, after);
	char a[LAV_TIME_STRLEN], g[LAV_TIME_STRLEN], w[LAV_TIME_STRLEN];
	lav_time_format(after, a);
	lav_time_format(got, g);
	lav_time_format(want, w);
	cr_assert_eq(got, want, "\"%s\" after %s: got %s, want %s", expr, a,
		     got < 0 && got != want ? "-1" : g, want < 0 ? "-1" : w);
}

/* ---- parsing ---- */

Test(cron_parse, every_15_minutes)
{
	struct lav_cron c = parse_ok("*/15 * * * *");
	const int m[] = {0, 15, 30, 45};
	cr_assert_eq(c.minute, bits(m, 4));
	cr_assert_eq(c.hour, (uint32_t)range_bits(0, 23, 1));
	cr_assert_eq(c.mday, (uint32_t)range_bits(1, 31, 1));
	cr_assert_eq(c.month, (uint16_t)range_bits(1, 12, 1));
	cr_assert_eq(c.wday, 0x7f);
	cr_assert(c.mday_any);
	cr_assert(c.wday_any);
}

Test(cron_parse, star)
{
	struct lav_cron c = parse_ok("* * * * *");
	cr_assert_eq(c.minute, range_bits(0, 59, 1));
	cr_assert_eq(c.wday, 0x7f);
}

Test(cron_parse, ranges_lists_steps)
{
	struct lav_cron c = parse_ok("0,30 9-17 1,15 1-6/2 1-5");
	const int m[] = {0, 30};
	cr_assert_eq(c.minute, bits(m, 2));
	cr_assert_eq(c.hour, (uint32_t)range_bits(9, 17, 1));
	const int d[] = {1, 15};
	cr_assert_eq(c.mday, (uint32_t)bits(d, 2));
	const int mo[] = {1, 3, 5};
	cr_assert_eq(c.month, (uint16_t)bits(mo, 3));
	cr_assert_eq(c.wday, (uint8_t)range_bits(1, 5, 1));
	cr_assert_not(c.mday_any);
	cr_assert_not(c.wday_any);

	c = parse_ok("5/15 */6 * * *");
	const int m2[] = {5, 20, 35, 50};
	cr_assert_eq(c.minute, bits(m2, 4));
	const int h2[] = {0, 6, 12, 18};
	cr_assert_eq(c.hour, (uint32_t)bits(h2, 4));

	c = parse_ok("1-10/3,59 0 * * *");
	const int m3[] = {1, 4, 7, 10, 59};
	cr_assert_eq(c.minute, bits(m3, 5));

	c = parse_ok("59 23 31 12 6");
	cr_assert_eq(c.minute, 1ULL << 59);
	cr_assert_eq(c.hour, 1u << 23);
	cr_assert_eq(c.mday, 1u << 31);
	cr_assert_eq(c.month, 1u << 12);
	cr_assert_eq(c.wday, 1u << 6);
}

Test(cron_parse, seven_is_sunday)
{
	cr_assert_eq(parse_ok("0 0 * * 7").wday, 0x01);
	cr_assert_eq(parse_ok("0 0 * * 0").wday, 0x01);
	cr_assert_eq(parse_ok("0 0 * * 0,7").wday, 0x01);
	cr_assert_eq(parse_ok("0 0 * * 5-7").wday, (1u << 5) | (1u << 6) | 1u);
	cr_assert_eq(parse_ok("0 0 * * 0-7").wday, 0x7f);
}

Test(cron_parse, whitespace)
{
	struct lav_cron c = parse_ok("  */5\t*  *  * *  ");
	cr_assert_eq(c.minute, range_bits(0, 55, 5));
}

Test(cron_parse, field_count)
{
	parse_bad("", "5 fields");
	parse_bad("   ", "5 fields");
	parse_bad("* * * *", "5 fields");
	parse_bad("* * * * * *", "5 fields");
	parse_bad("0 */15 * * * *", "5 fields");
}

Test(cron_parse, out_of_range)
{
	parse_bad("60 * * * *", "minute");
	parse_bad("0-60 * * * *", "minute");
	parse_bad("* 24 * * *", "hour");
	parse_bad("* * 0 * *", "day-of-month");
	parse_bad("* * 32 * *", "day-of-month");
	parse_bad("* * * 0 *", "month");
	parse_bad("* * * 13 *", "month");
	parse_bad("* * * * 8", "day-of-week");
	parse_bad("-1 * * * *", "minute");
}

Test(cron_parse, malformed_items)
{
	parse_bad("*/0 * * * *", "minute");
	parse_bad("*/61 * * * *", "minute");
	parse_bad("5-3 * * * *", "minute");
	parse_bad("a * * * *", "minute");
	parse_bad("1, * * * *", "minute");
	parse_bad(",1 * * * *", "minute");
	parse_bad("1,,2 * * * *", "minute");
	parse_bad("1-- * * * *", "minute");
	parse_bad("*5 * * * *", "minute");
	parse_bad("1-/2 * * * *", "minute");
	parse_bad("*/ * * * *", "minute");
	parse_bad("0 * * JAN *", "month");
	parse_bad("0 * * * MON", "day-of-week");
	parse_bad("0 * ? * *", "day-of-month");
	parse_bad("@hourly", NULL);
}

/* ---- next ---- */

Test(cron_next, every_15_minutes)
{
	const char *e = "*/15 * * * *";
	next_is(e, T(2025, 10, 20, 10, 7, 30), T(2025, 10, 20, 10, 15, 0));
	/* strictly after */
	next_is(e, T(2025, 10, 20, 10, 15, 0), T(2025, 10, 20, 10, 30, 0));
	next_is(e, T(2025, 10, 20, 10, 15, 0) - 1, T(2025, 10, 20, 10, 15, 0));
	next_is(e, T(2025, 10, 20, 10, 15, 0) + 1, T(2025, 10, 20, 10, 30, 0));
	next_is(e, T(2025, 10, 20, 10, 59, 59) + 999999, T(2025, 10, 20, 11, 0, 0));
	next_is(e, T(2025, 10, 20, 23, 50, 0), T(2025, 10, 21, 0, 0, 0));
	next_is(e, T(2025, 12, 31, 23, 45, 0), T(2026, 1, 1, 0, 0, 0));
}

Test(cron_next, every_minute)
{
	next_is("* * * * *", T(2025, 10, 20, 10, 0, 0), T(2025, 10, 20, 10, 1, 0));
	next_is("* * * * *", T(2025, 10, 20, 10, 0, 30), T(2025, 10, 20, 10, 1, 0));
}

Test(cron_next, daily_and_yearly)
{
	next_is("30 2 * * *", T(2025, 12, 31, 3, 0, 0), T(2026, 1, 1, 2, 30, 0));
	next_is("30 2 * * *", T(2025, 12, 31, 2, 0, 0), T(2025, 12, 31, 2, 30, 0));
	next_is("15 3 * * *", T(2025, 10, 20, 3, 15, 0), T(2025, 10, 21, 3, 15, 0));
	next_is("0 0 1 1 *", T(2025, 6, 1, 0, 0, 0), T(2026, 1, 1, 0, 0, 0));
	next_is("0 12 * 3 *", T(2025, 10, 20, 0, 0, 0), T(2026, 3, 1, 12, 0, 0));
	next_is("0 0 31 * *", T(2025, 4, 1, 0, 0, 0), T(2025, 5, 31, 0, 0, 0));
	next_is("0 0 1 */3 *", T(2025, 2, 10, 0, 0, 0), T(2025, 4, 1, 0, 0, 0));
}

Test(cron_next, weekdays)
{
	/* 2025-10-20 is a Monday; 2025-10-24 a Friday */
	next_is("0 9 * * 1-5", T(2025, 10, 24, 10, 0, 0), T(2025, 10, 27, 9, 0, 0));
	next_is("0 9 * * 1-5", T(2025, 10, 24, 8, 0, 0), T(2025, 10, 24, 9, 0, 0));
	next_is("0 0 * * 0", T(2025, 10, 20, 0, 0, 0), T(2025, 10, 26, 0, 0, 0));
	next_is("0 0 * * 7", T(2025, 10, 20, 0, 0, 0), T(2025, 10, 26, 0, 0, 0));
	next_is("0 0 * * 6", T(2025, 10, 20, 0, 0, 0), T(2025, 10, 25, 0, 0, 0));
	next_is("0 0 * * 1", T(2025, 10, 20, 0, 0, 0), T(2025, 10, 27, 0, 0, 0));
	/* 1970-01-01 was a Thursday */
	next_is("0 0 * * 4", T(1969, 12, 30, 0, 0, 0), 0);
}

Test(cron_next, day_of_month_or_day_of_week)
{
	/* both restricted: the 13th OR a Friday */
	next_is("0 0 13 * 5", T(2025, 10, 20, 0, 0, 0), T(2025, 10, 24, 0, 0, 0));
	next_is("0 0 13 * 5", T(2025, 11, 8, 0, 0, 0), T(2025, 11, 13, 0, 0, 0));
	next_is("0 0 13 * 5", T(2025, 11, 13, 0, 0, 0), T(2025, 11, 14, 0, 0, 0));
	next_is("0 0 1 * 1", T(2025, 10, 21, 0, 0, 0), T(2025, 10, 27, 0, 0, 0));
	next_is("0 0 1 * 1", T(2025, 10, 28, 0, 0, 0), T(2025, 11, 1, 0, 0, 0));
	/* one restricted: only that one */
	next_is("0 0 13 * *", T(2025, 10, 20, 0, 0, 0), T(2025, 11, 13, 0, 0, 0));
	next_is("0 0 * * 5", T(2025, 11, 8, 0, 0, 0), T(2025, 11, 14, 0, 0, 0));
	/* both restricted but month limits: 13th or Friday, in February only */
	next_is("0 0 13 2 5", T(2025, 10, 20, 0, 0, 0), T(2026, 2, 6, 0, 0, 0));
}

Test(cron_next, leap_day)
{
	next_is("0 0 29 2 *", T(2025, 3, 1, 0, 0, 0), T(2028, 2, 29, 0, 0, 0));
	next_is("0 0 29 2 *", T(2096, 3, 1, 0, 0, 0), T(2104, 2, 29, 0, 0, 0));
}

Test(cron_next, impossible_dates)
{
	next_is("0 0 30 2 *", T(2025, 1, 1, 0, 0, 0), -1);
	next_is("0 0 31 4 *", T(2025, 1, 1, 0, 0, 0), -1);
	next_is("0 0 31 2,4,6,9,11 *", T(2025, 1, 1, 0, 0, 0), -1);
}

Test(cron_next, before_1970)
{
	next_is("0 0 * * *", -1, 0);
	next_is("0 0 * * *", T(1969, 12, 31, 0, 0, 0), 0);
	next_is("* * * * *", -90 * LAV_US_PER_S, -60 * LAV_US_PER_S);
	next_is("* * * * *", -60 * LAV_US_PER_S, 0);
	next_is("* * * * *", -60 * LAV_US_PER_S - 1, -60 * LAV_US_PER_S);
	/* 1969-12-24 and 1969-12-31 were Wednesdays */
	next_is("0 0 * * 3", T(1969, 12, 20, 0, 0, 0), T(1969, 12, 24, 0, 0, 0));
	next_is("30 6 1 * *", T(1960, 5, 15, 0, 0, 0), T(1960, 6, 1, 6, 30, 0));
}

Test(cron_next, results_are_whole_minutes_and_match)
{
	struct lav_cron c = parse_ok("7,31 */5 * * 2");
	int64_t t = T(2025, 1, 1, 0, 0, 0);
	for (int i = 0; i < 200; i++) {
		int64_t n = lav_cron_next(&c, t);
		cr_assert_gt(n, t);
		cr_assert_eq(n % (60 * LAV_US_PER_S), 0);
		int64_t secs = n / LAV_US_PER_S;
		int64_t day = secs / 86400;
		int sod = (int)(secs % 86400);
		int mi = sod / 60 % 60, h = sod / 3600;
		cr_assert(mi == 7 || mi == 31, "minute %d", mi);
		cr_assert_eq(h % 5, 0, "hour %d", h);
		cr_assert_eq(((day % 7) + 11) % 7, 2, "not a Tuesday");
		t = n;
	}
}
