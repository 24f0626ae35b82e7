/* Gap detection (include/lav/gaps.h, docs/ingestion.md "Backfill and gaps"):
 * which slots of [since, until) have no stored point, merged into ranges to
 * refetch, and the coverage denominator. Exact cases plus a brute-force
 * comparison on deterministic pseudo-random patterns. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "lav/calendar.h"
#include "lav/gaps.h"
#include "lav/timefmt.h"

#define HOUR_US (3600 * LAV_US_PER_S)
#define DAY	LAV_US_PER_DAY
#define WEEK	(7 * LAV_US_PER_DAY)
#define MAXR	64

static int64_t day_us(int64_t y, unsigned m, unsigned d)
{
	return lav_days_from_civil(y, m, d) * LAV_US_PER_DAY;
}

/* 0 = Sunday … 6 = Saturday */
static int weekday(int64_t us)
{
	int64_t days = us / DAY - (us % DAY < 0);
	return (int)(((days + 4) % 7 + 7) % 7);
}

static const struct lav_gap_spec DAILY = {
    .period_us = DAY, .anchor_us = 0, .calendar = LAV_CAL_ALWAYS};
static const struct lav_gap_spec WEEKDAYS = {
    .period_us = DAY, .anchor_us = 0, .calendar = LAV_CAL_WEEKDAYS};
static const struct lav_gap_spec HOURLY = {
    .period_us = HOUR_US, .anchor_us = 0, .calendar = LAV_CAL_ALWAYS};

/* 2024-03-04 is a Monday, 2024-01-03 a Wednesday */
#define MON (day_us(2024, 3, 4))

static size_t find(const struct lav_gap_spec *g, const int64_t *ts, size_t n, int64_t since,
		   int64_t until, struct lav_range *out, size_t max_out)
{
	/* poison, to see that nothing past the returned count is relied on */
	for (size_t i = 0; i < MAXR; i++)
		out[i] = (struct lav_range){-7, -7};
	size_t k = lav_gaps_find(g, ts, n, since, until, out, max_out);
	cr_assert_leq(k, max_out, "wrote %zu ranges, max_out %zu", k, max_out);
	for (size_t i = k; i < MAXR; i++)
		cr_assert(out[i].since == -7 && out[i].until == -7, "wrote past the count at %zu",
			  i);
	for (size_t i = 0; i < k; i++) {
		cr_assert_lt(out[i].since, out[i].until, "range %zu empty or reversed", i);
		if (i)
			cr_assert_lt(out[i - 1].until, out[i].since + 1,
				     "ranges %zu and %zu overlap or are unsorted", i - 1, i);
	}
	return k;
}

static void expect_range(const struct lav_range *r, int64_t since, int64_t until)
{
	char a[LAV_TIME_STRLEN], b[LAV_TIME_STRLEN], c[LAV_TIME_STRLEN], d[LAV_TIME_STRLEN];
	lav_time_format(r->since, a);
	lav_time_format(r->until, b);
	lav_time_format(since, c);
	lav_time_format(until, d);
	cr_assert(r->since == since && r->until == until, "range [%s, %s), expected [%s, %s)", a, b,
		  c, d);
}

static bool covered(const struct lav_range *r, size_t k, int64_t s, int64_t e)
{
	for (size_t i = 0; i < k; i++)
		if (r[i].since <= s && e <= r[i].until)
			return true;
	return false;
}

static bool touched(const struct lav_range *r, size_t k, int64_t s, int64_t e)
{
	for (size_t i = 0; i < k; i++)
		if (r[i].since < e && s < r[i].until)
			return true;
	return false;
}

/* ---- exact cases ---- */

Test(gaps, no_points_one_range)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1), until = day_us(2024, 3, 11);
	size_t k = find(&DAILY, NULL, 0, since, until, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], since, until);

	k = find(&HOURLY, NULL, 0, since, since + 5 * HOUR_US, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], since, since + 5 * HOUR_US);
}

Test(gaps, empty_range)
{
	struct lav_range out[MAXR];
	int64_t t = day_us(2024, 3, 1);
	cr_assert_eq(find(&DAILY, NULL, 0, t, t, out, 8), 0);
	cr_assert_eq(find(&DAILY, NULL, 0, t + DAY, t, out, 8), 0);
	cr_assert_eq(lav_gaps_slots(&DAILY, t, t), 0);
	cr_assert_leq(lav_gaps_slots(&DAILY, t + DAY, t), 0);
}

Test(gaps, complete_series_no_gaps)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1);
	int64_t ts[10];
	for (int i = 0; i < 10; i++)
		ts[i] = since + i * DAY;
	cr_assert_eq(find(&DAILY, ts, 10, since, since + 10 * DAY, out, 8), 0);
	/* a point anywhere inside its slot covers it */
	for (int i = 0; i < 10; i++)
		ts[i] = since + i * DAY + (i * 7919 % 24) * HOUR_US + 123;
	cr_assert_eq(find(&DAILY, ts, 10, since, since + 10 * DAY, out, 8), 0);
	/* points outside [since, until) neither help nor hurt */
	int64_t around[] = {since - 3 * DAY,	since - 1,	 since,
			    since + DAY,	since + 2 * DAY, since + 3 * DAY,
			    since + 3 * DAY + 1};
	cr_assert_eq(find(&DAILY, around, 7, since, since + 3 * DAY, out, 8), 0);
}

Test(gaps, missing_slots_merged)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1);
	/* days 0..9 stored except 3, 4 and 7 */
	int64_t ts[10];
	size_t n = 0;
	for (int i = 0; i < 10; i++)
		if (i != 3 && i != 4 && i != 7)
			ts[n++] = since + i * DAY;
	size_t k = find(&DAILY, ts, n, since, since + 10 * DAY, out, 8);
	cr_assert_eq(k, 2);
	expect_range(&out[0], since + 3 * DAY, since + 5 * DAY);
	expect_range(&out[1], since + 7 * DAY, since + 8 * DAY);
}

Test(gaps, missing_at_both_ends)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1);
	int64_t ts[] = {since + 2 * DAY, since + 3 * DAY, since + 5 * DAY};
	size_t k = find(&DAILY, ts, 3, since, since + 8 * DAY, out, 8);
	cr_assert_eq(k, 3);
	expect_range(&out[0], since, since + 2 * DAY);
	expect_range(&out[1], since + 4 * DAY, since + 5 * DAY);
	expect_range(&out[2], since + 6 * DAY, since + 8 * DAY);
}

Test(gaps, max_out_merges_the_rest_into_the_last)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1);
	/* 20 days, every other day missing: 10 single-day gaps 1, 3, …, 19 */
	int64_t ts[10];
	for (int i = 0; i < 10; i++)
		ts[i] = since + 2 * i * DAY;
	size_t k = find(&DAILY, ts, 10, since, since + 20 * DAY, out, 64);
	cr_assert_eq(k, 10);
	for (int i = 0; i < 10; i++)
		expect_range(&out[i], since + (2 * i + 1) * DAY, since + (2 * i + 2) * DAY);

	k = find(&DAILY, ts, 10, since, since + 20 * DAY, out, 10);
	cr_assert_eq(k, 10);

	k = find(&DAILY, ts, 10, since, since + 20 * DAY, out, 3);
	cr_assert_eq(k, 3);
	expect_range(&out[0], since + 1 * DAY, since + 2 * DAY);
	expect_range(&out[1], since + 3 * DAY, since + 4 * DAY);
	expect_range(&out[2], since + 5 * DAY, since + 20 * DAY);

	k = find(&DAILY, ts, 10, since, since + 20 * DAY, out, 1);
	cr_assert_eq(k, 1);
	expect_range(&out[0], since + DAY, since + 20 * DAY);
}

Test(gaps, weekly_on_wednesdays)
{
	struct lav_range out[MAXR];
	struct lav_gap_spec wk = {
	    .period_us = WEEK, .anchor_us = day_us(2024, 1, 3), .calendar = LAV_CAL_ALWAYS};
	int64_t since = day_us(2024, 1, 3), until = day_us(2024, 3, 6); /* 9 Wednesdays */
	cr_assert_eq(lav_gaps_slots(&wk, since, until), 9);
	int64_t ts[9];
	size_t n = 0;
	for (int i = 0; i < 9; i++) {
		int64_t w = since + i * WEEK;
		if (w != day_us(2024, 1, 24) && w != day_us(2024, 1, 31))
			ts[n++] = w;
	}
	size_t k = find(&wk, ts, n, since, until, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], day_us(2024, 1, 24), day_us(2024, 2, 7));

	/* an anchor far in the past works the same */
	struct lav_gap_spec old = {
	    .period_us = WEEK, .anchor_us = day_us(2002, 12, 18), .calendar = LAV_CAL_ALWAYS};
	k = find(&old, ts, n, since, until, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], day_us(2024, 1, 24), day_us(2024, 2, 7));
	cr_assert_eq(lav_gaps_slots(&old, since, until), 9);
}

Test(gaps, unaligned_bounds_give_aligned_ranges)
{
	struct lav_range out[MAXR];
	int64_t since = day_us(2024, 3, 1) + 6 * HOUR_US;
	int64_t until = day_us(2024, 3, 11) + 6 * HOUR_US;
	size_t k = find(&DAILY, NULL, 0, since, until, out, 8);
	cr_assert_eq(k, 1);
	/* starts on a slot; ends on a slot boundary or at until (clipped) */
	cr_assert_eq(out[0].since % DAY, 0, "range start not on a slot");
	cr_assert(out[0].until % DAY == 0 || out[0].until == until,
		  "range end neither on a slot nor until");
	cr_assert(out[0].since >= since - DAY && out[0].since <= since + DAY);
	cr_assert(out[0].until >= until - DAY && out[0].until <= until + DAY);
	/* the slots fully inside are all covered */
	cr_assert(covered(out, k, day_us(2024, 3, 2), day_us(2024, 3, 11)));
}

/* ---- weekdays ---- */

Test(gaps, weekdays_skip_the_weekend)
{
	struct lav_range out[MAXR];
	int64_t since = MON, until = MON + 14 * DAY;
	cr_assert_eq(weekday(MON), 1);
	/* every weekday stored, no weekend point: complete */
	int64_t ts[10];
	size_t n = 0;
	for (int i = 0; i < 14; i++)
		if (weekday(since + i * DAY) != 0 && weekday(since + i * DAY) != 6)
			ts[n++] = since + i * DAY;
	cr_assert_eq(n, 10);
	cr_assert_eq(find(&WEEKDAYS, ts, n, since, until, out, 8), 0);
	/* the same points as a 7-day-a-week series miss the weekends */
	size_t k = find(&DAILY, ts, n, since, until, out, 8);
	cr_assert_eq(k, 2);
	expect_range(&out[0], MON + 5 * DAY, MON + 7 * DAY);
	expect_range(&out[1], MON + 12 * DAY, MON + 14 * DAY);

	/* Mon–Wed stored, Thu and Fri missing */
	int64_t mtw[] = {MON, MON + DAY, MON + 2 * DAY};
	k = find(&WEEKDAYS, mtw, 3, MON, MON + 5 * DAY, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], MON + 3 * DAY, MON + 5 * DAY);
	/* a range that is only a weekend has no slot */
	cr_assert_eq(find(&WEEKDAYS, NULL, 0, MON + 5 * DAY, MON + 7 * DAY, out, 8), 0);
}

Test(gaps, weekdays_missing_across_a_weekend)
{
	struct lav_range out[MAXR];
	/* week 1 Mon–Thu stored, Fri missing; week 2 Mon missing, Tue–Fri stored */
	int64_t ts[] = {MON,	       MON + DAY,     MON + 2 * DAY,  MON + 3 * DAY,
			MON + 8 * DAY, MON + 9 * DAY, MON + 10 * DAY, MON + 11 * DAY};
	size_t k = find(&WEEKDAYS, ts, 8, MON, MON + 12 * DAY, out, 8);
	cr_assert(k == 1 || k == 2, "%zu ranges", k);
	cr_assert(covered(out, k, MON + 4 * DAY, MON + 5 * DAY), "Friday not refetched");
	cr_assert(covered(out, k, MON + 7 * DAY, MON + 8 * DAY), "Monday not refetched");
	for (size_t i = 0; i < 8; i++)
		cr_assert_not(touched(out, k, ts[i], ts[i] + DAY), "stored day %zu refetched", i);
}

/* ---- business-day calendars ---- */

static const struct lav_gap_spec FEDERAL = {
    .period_us = DAY, .anchor_us = 0, .calendar = LAV_CAL_US_FEDERAL};
static const struct lav_gap_spec NYSE = {
    .period_us = DAY, .anchor_us = 0, .calendar = LAV_CAL_NYSE};

Test(gaps, us_federal_skips_thanksgiving)
{
	struct lav_range out[MAXR];
	int64_t mon = day_us(2025, 11, 24), thu = day_us(2025, 11, 27);
	cr_assert_eq(weekday(mon), 1);
	cr_assert_not(lav_gaps_expected(&FEDERAL, thu));
	cr_assert(lav_gaps_expected(&WEEKDAYS, thu));
	cr_assert(lav_gaps_expected(&FEDERAL, thu + DAY), "the Friday after is open");
	/* Mon–Wed and Fri stored: complete for the Fed, a gap for weekdays */
	int64_t ts[] = {mon, mon + DAY, mon + 2 * DAY, mon + 4 * DAY};
	cr_assert_eq(find(&FEDERAL, ts, 4, mon, mon + 7 * DAY, out, 8), 0);
	size_t k = find(&WEEKDAYS, ts, 4, mon, mon + 7 * DAY, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], thu, thu + DAY);
	/* Wed and Fri missing: both refetched (one range across the holiday, as
	 * across a weekend, or two), the stored days not */
	int64_t mt[] = {mon, mon + DAY};
	k = find(&FEDERAL, mt, 2, mon, mon + 7 * DAY, out, 8);
	cr_assert(k == 1 || k == 2, "%zu ranges", k);
	cr_assert(covered(out, k, mon + 2 * DAY, mon + 3 * DAY), "Wednesday not refetched");
	cr_assert(covered(out, k, mon + 4 * DAY, mon + 5 * DAY), "Friday not refetched");
	cr_assert_not(touched(out, k, mon, mon + 2 * DAY), "Monday or Tuesday refetched");
	cr_assert_not(touched(out, k, mon + 5 * DAY, mon + 7 * DAY), "the weekend refetched");
	/* a range that is only the holiday has no slot */
	cr_assert_eq(find(&FEDERAL, NULL, 0, thu, thu + DAY, out, 8), 0);
	cr_assert_eq(lav_gaps_slots(&FEDERAL, thu, thu + DAY), 0);
	cr_assert_eq(lav_gaps_slots(&FEDERAL, mon, mon + 7 * DAY), 4);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, mon, mon + 7 * DAY), 5);
	/* 2025: 261 weekdays, 11 federal holidays all on weekdays, 10 NYSE ones */
	cr_assert_eq(lav_gaps_slots(&FEDERAL, day_us(2025, 1, 1), day_us(2026, 1, 1)), 250);
	cr_assert_eq(lav_gaps_slots(&NYSE, day_us(2025, 1, 1), day_us(2026, 1, 1)), 251);
}

Test(gaps, nyse_skips_good_friday_and_the_fed_does_not)
{
	struct lav_range out[MAXR];
	int64_t gf = day_us(2024, 3, 29), mon = day_us(2024, 3, 25);
	cr_assert_eq(weekday(gf), 5);
	int64_t ts[] = {mon, mon + DAY, mon + 2 * DAY, mon + 3 * DAY, mon + 7 * DAY};
	cr_assert_eq(find(&NYSE, ts, 5, mon, mon + 8 * DAY, out, 8), 0);
	size_t k = find(&FEDERAL, ts, 5, mon, mon + 8 * DAY, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], gf, gf + DAY);
}

Test(gaps, weekly_series_ignore_the_calendar)
{
	/* the H.4.1 of Christmas 2024 (a Wednesday) is still a slot: only daily
	 * and finer series are thinned */
	struct lav_gap_spec wk = {
	    .period_us = WEEK, .anchor_us = day_us(2024, 1, 3), .calendar = LAV_CAL_US_FEDERAL};
	int64_t xmas = day_us(2024, 12, 25);
	cr_assert(lav_gaps_expected(&wk, xmas));
	cr_assert_eq(lav_gaps_slots(&wk, day_us(2024, 12, 2), day_us(2024, 12, 30)), 4);
	struct lav_range out[MAXR];
	size_t k = find(&wk, NULL, 0, xmas, xmas + WEEK, out, 8);
	cr_assert_eq(k, 1);
	expect_range(&out[0], xmas, xmas + WEEK);
}

Test(gaps, hourly_slots_follow_the_day_they_fall_in)
{
	struct lav_gap_spec h = {
	    .period_us = HOUR_US, .anchor_us = 0, .calendar = LAV_CAL_US_FEDERAL};
	int64_t thu = day_us(2025, 11, 27);
	cr_assert_eq(lav_gaps_slots(&h, thu - 2 * HOUR_US, thu + DAY + 3 * HOUR_US), 5);
	cr_assert_not(lav_gaps_expected(&h, thu + 23 * HOUR_US));
	cr_assert(lav_gaps_expected(&h, thu - HOUR_US));
}

/* ---- slots ---- */

Test(gaps, slot_counts)
{
	int64_t d = day_us(2024, 3, 1);
	cr_assert_eq(lav_gaps_slots(&DAILY, d, d + 10 * DAY), 10);
	cr_assert_eq(lav_gaps_slots(&HOURLY, d, d + DAY), 24);
	cr_assert_eq(lav_gaps_slots(&HOURLY, d, d + 30 * HOUR_US), 30);
	cr_assert_eq(lav_gaps_slots(&DAILY, d, d + DAY), 1);
	/* weekdays: two full weeks, one Mon–Sat, a weekend */
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, MON, MON + 14 * DAY), 10);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, MON, MON + 5 * DAY), 5);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, MON, MON + 6 * DAY), 5);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, MON + 5 * DAY, MON + 7 * DAY), 0);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, MON + 4 * DAY, MON + 8 * DAY), 2);
	/* 5-minute slots over a day; a year of days */
	struct lav_gap_spec m5 = {
	    .period_us = 5 * 60 * LAV_US_PER_S, .anchor_us = 0, .calendar = LAV_CAL_ALWAYS};
	cr_assert_eq(lav_gaps_slots(&m5, d, d + DAY), 288);
	cr_assert_eq(lav_gaps_slots(&DAILY, day_us(2024, 1, 1), day_us(2025, 1, 1)), 366);
	cr_assert_eq(lav_gaps_slots(&WEEKDAYS, day_us(2024, 1, 1), day_us(2025, 1, 1)), 262);
}

/* ---- brute force on pseudo-random patterns ---- */

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

Test(gaps, random_patterns_match_brute_force)
{
	enum { NS = 96 };
	struct lav_range out[MAXR];
	uint64_t seed = 12345;
	int64_t since = day_us(2024, 3, 4) + 0; /* hourly slots, a Monday */
	for (int round = 0; round < 200; round++) {
		bool have[NS];
		int64_t ts[NS];
		size_t n = 0;
		int density = 1 + (int)(lcg(&seed) % 9); /* 10 % … 90 % present */
		for (int i = 0; i < NS; i++) {
			have[i] = (int)(lcg(&seed) % 10) < density;
			if (have[i])
				ts[n++] = since + i * HOUR_US + (int64_t)(lcg(&seed) % HOUR_US);
		}
		/* the runs of missing slots */
		struct lav_range want[NS];
		size_t nw = 0;
		for (int i = 0; i < NS; i++) {
			if (have[i])
				continue;
			if (nw && want[nw - 1].until == since + i * HOUR_US)
				want[nw - 1].until += HOUR_US;
			else
				want[nw++] = (struct lav_range){since + i * HOUR_US,
								since + (i + 1) * HOUR_US};
		}
		size_t max_out = 1 + lcg(&seed) % 12;
		size_t k = find(&HOURLY, ts, n, since, since + NS * HOUR_US, out, max_out);
		size_t ek = nw < max_out ? nw : max_out;
		cr_assert_eq(k, ek, "round %d: %zu ranges, expected %zu", round, k, ek);
		for (size_t i = 0; i < k; i++) {
			int64_t e_until = (i + 1 == k) ? want[nw - 1].until : want[i].until;
			expect_range(&out[i], want[i].since, e_until);
		}
		cr_assert_eq(lav_gaps_slots(&HOURLY, since, since + NS * HOUR_US), NS);
	}
}

Test(gaps, random_weekday_patterns_cover_exactly_the_missing_weekdays)
{
	enum { ND = 60 };
	struct lav_range out[MAXR];
	uint64_t seed = 777;
	int64_t since = day_us(2024, 3, 1); /* a Friday */
	for (int round = 0; round < 100; round++) {
		bool have[ND];
		int64_t ts[ND];
		size_t n = 0;
		for (int i = 0; i < ND; i++) {
			int wd = weekday(since + i * DAY);
			/* weekend points may exist (a stray publish); they cover nothing needed */
			have[i] = (int)(lcg(&seed) % 10) < 6 || (wd == 0 && lcg(&seed) % 4 == 0);
			if (have[i])
				ts[n++] = since + i * DAY + 16 * HOUR_US;
		}
		size_t k = find(&WEEKDAYS, ts, n, since, since + ND * DAY, out, MAXR);
		int64_t slots = 0;
		for (int i = 0; i < ND; i++) {
			int64_t s = since + i * DAY;
			int wd = weekday(s);
			if (wd == 0 || wd == 6)
				continue;
			slots++;
			if (have[i])
				cr_assert_not(touched(out, k, s, s + DAY),
					      "round %d: stored day %d refetched", round, i);
			else
				cr_assert(covered(out, k, s, s + DAY),
					  "round %d: missing day %d not refetched", round, i);
		}
		for (size_t i = 0; i < k; i++)
			cr_assert(out[i].since >= since && out[i].until <= since + ND * DAY);
		cr_assert_eq(lav_gaps_slots(&WEEKDAYS, since, since + ND * DAY), slots);
	}
}

Test(gaps, random_federal_patterns_cover_exactly_the_missing_open_days)
{
	/* a year with every kind of holiday, including 2021's observed dates */
	enum { ND = 400 };
	struct lav_range out[MAXR * 4];
	uint64_t seed = 4242;
	int64_t since = day_us(2020, 12, 1);
	for (int round = 0; round < 30; round++) {
		bool have[ND];
		int64_t ts[ND];
		size_t n = 0;
		for (int i = 0; i < ND; i++) {
			have[i] = (int)(lcg(&seed) % 10) < 8;
			if (have[i])
				ts[n++] = since + i * DAY + 20 * HOUR_US;
		}
		size_t k = lav_gaps_find(&FEDERAL, ts, n, since, since + ND * DAY, out, MAXR * 4);
		int64_t slots = 0;
		for (int i = 0; i < ND; i++) {
			int64_t s = since + i * DAY;
			if (!lav_calendar_open(LAV_CAL_US_FEDERAL, s)) {
				cr_assert_not(lav_gaps_expected(&FEDERAL, s));
				continue;
			}
			slots++;
			if (have[i])
				cr_assert_not(touched(out, k, s, s + DAY),
					      "round %d: stored day %d refetched", round, i);
			else
				cr_assert(covered(out, k, s, s + DAY),
					  "round %d: missing day %d not refetched", round, i);
		}
		cr_assert_eq(lav_gaps_slots(&FEDERAL, since, since + ND * DAY), slots);
		cr_assert_eq(slots * DAY,
			     lav_calendar_open_us(LAV_CAL_US_FEDERAL, since, since + ND * DAY));
	}
}
