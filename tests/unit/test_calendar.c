/* Business-day calendars (include/lav/calendar.h): the holidays of 2024-2026
 * against the published lists (OPM's federal holidays, NYSE's holidays and
 * trading hours page), the observed-date rules at their edges, Good Friday,
 * and lav_calendar_open_us against a day-by-day sum. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "lav/calendar.h"
#include "lav/timefmt.h"

#define DAY  LAV_US_PER_DAY
#define HOUR (3600 * LAV_US_PER_S)

static int64_t day_us(int64_t y, unsigned m, unsigned d)
{
	return lav_days_from_civil(y, m, d) * DAY;
}

/* 0 = Sunday … 6 = Saturday */
static int weekday(int64_t us)
{
	int64_t days = us / DAY - (us % DAY < 0);
	return (int)(((days + 4) % 7 + 7) % 7);
}

struct md {
	int m, d;
};

typedef bool (*holiday_fn)(int, int, int);

/* Every day of year y is a holiday exactly when it is in want. */
static void expect_year(const char *cal, holiday_fn fn, int y, const struct md *want, size_t n)
{
	int64_t from = lav_days_from_civil(y, 1, 1), to = lav_days_from_civil(y + 1, 1, 1);
	for (int64_t z = from; z < to; z++) {
		int64_t yy;
		unsigned m, d;
		lav_civil_from_days(z, &yy, &m, &d);
		bool listed = false;
		for (size_t i = 0; i < n; i++)
			listed |= want[i].m == (int)m && want[i].d == (int)d;
		cr_expect_eq(fn(y, (int)m, (int)d), listed, "%s: %04d-%02u-%02u is %sa holiday",
			     cal, y, m, d, listed ? "" : "not ");
	}
}

#define YEAR(cal, fn, y, ...)                                                                      \
	do {                                                                                       \
		static const struct md w_[] = {__VA_ARGS__};                                       \
		expect_year(cal, fn, y, w_, sizeof(w_) / sizeof(w_[0]));                           \
	} while (0)

/* ---- the published lists ---- */

Test(us_federal, holidays_2024_to_2026)
{
	YEAR("federal", lav_us_federal_holiday, 2024, {1, 1}, {1, 15}, {2, 19}, {5, 27}, {6, 19},
	     {7, 4}, {9, 2}, {10, 14}, {11, 11}, {11, 28}, {12, 25});
	YEAR("federal", lav_us_federal_holiday, 2025, {1, 1}, {1, 20}, {2, 17}, {5, 26}, {6, 19},
	     {7, 4}, {9, 1}, {10, 13}, {11, 11}, {11, 27}, {12, 25});
	/* Jul 4 2026 is a Saturday: observed Friday Jul 3 */
	YEAR("federal", lav_us_federal_holiday, 2026, {1, 1}, {1, 19}, {2, 16}, {5, 25}, {6, 19},
	     {7, 3}, {9, 7}, {10, 12}, {11, 11}, {11, 26}, {12, 25});
}

Test(nyse, holidays_2024_to_2026)
{
	YEAR("nyse", lav_nyse_holiday, 2024, {1, 1}, {1, 15}, {2, 19}, {3, 29}, {5, 27}, {6, 19},
	     {7, 4}, {9, 2}, {11, 28}, {12, 25});
	YEAR("nyse", lav_nyse_holiday, 2025, {1, 1}, {1, 20}, {2, 17}, {4, 18}, {5, 26}, {6, 19},
	     {7, 4}, {9, 1}, {11, 27}, {12, 25});
	YEAR("nyse", lav_nyse_holiday, 2026, {1, 1}, {1, 19}, {2, 16}, {4, 3}, {5, 25}, {6, 19},
	     {7, 3}, {9, 7}, {11, 26}, {12, 25});
}

/* ---- observed dates ---- */

Test(us_federal, observed_dates)
{
	/* Jan 1 2022 was a Saturday: observed Friday Dec 31 2021 */
	cr_expect(lav_us_federal_holiday(2021, 12, 31));
	cr_expect_not(lav_us_federal_holiday(2022, 1, 1), "the Saturday itself is a weekend");
	cr_expect_not(lav_us_federal_holiday(2022, 1, 3));
	/* 2027-12-31 for Jan 1 2028, and Christmas 2027 (Saturday) on Dec 24 */
	cr_expect(lav_us_federal_holiday(2027, 12, 31));
	cr_expect(lav_us_federal_holiday(2027, 12, 24));
	/* Sunday holidays: the Monday after */
	cr_expect(lav_us_federal_holiday(2023, 1, 2));	/* Jan 1 2023 */
	cr_expect(lav_us_federal_holiday(2022, 6, 20)); /* Juneteenth 2022 */
	cr_expect(lav_us_federal_holiday(2022, 12, 26));
	cr_expect(lav_us_federal_holiday(2027, 7, 5));
	cr_expect(lav_us_federal_holiday(2029, 11, 12)); /* Veterans Day on a Sunday */
	/* Saturday holidays: the Friday before */
	cr_expect(lav_us_federal_holiday(2021, 6, 18)); /* the first Juneteenth */
	cr_expect(lav_us_federal_holiday(2023, 11, 10));
	cr_expect(lav_us_federal_holiday(2021, 12, 24));
	cr_expect_not(lav_us_federal_holiday(2026, 7, 4), "a Saturday");
	/* Juneteenth starts in 2021 */
	cr_expect_not(lav_us_federal_holiday(2020, 6, 19), "2020-06-19 was a Friday, no holiday");
	cr_expect_not(lav_us_federal_holiday(2019, 6, 19));
}

Test(nyse, observed_dates)
{
	/* rule 7.2: a Saturday New Year's Day closes nothing */
	cr_expect_not(lav_nyse_holiday(2021, 12, 31));
	cr_expect_not(lav_nyse_holiday(2022, 1, 1));
	cr_expect_not(lav_nyse_holiday(2027, 12, 31));
	cr_expect_not(lav_nyse_holiday(2010, 12, 31)); /* Jan 1 2011, a Saturday */
	/* other Saturday holidays move to the Friday */
	cr_expect(lav_nyse_holiday(2027, 12, 24));
	cr_expect(lav_nyse_holiday(2021, 12, 24));
	cr_expect(lav_nyse_holiday(2020, 7, 3));
	/* Sunday holidays: the Monday after */
	cr_expect(lav_nyse_holiday(2023, 1, 2));
	cr_expect(lav_nyse_holiday(2022, 6, 20)); /* the first NYSE Juneteenth */
	cr_expect(lav_nyse_holiday(2022, 12, 26));
	cr_expect(lav_nyse_holiday(2017, 1, 2));
	/* Juneteenth starts in 2022 at the NYSE */
	cr_expect_not(lav_nyse_holiday(2021, 6, 18));
	cr_expect_not(lav_nyse_holiday(2021, 6, 19));
	cr_expect_not(lav_nyse_holiday(2020, 6, 19));
	/* federal holidays the exchange trades through */
	cr_expect_not(lav_nyse_holiday(2025, 10, 13)); /* Columbus Day */
	cr_expect_not(lav_nyse_holiday(2025, 11, 11)); /* Veterans Day */
	cr_expect(lav_us_federal_holiday(2025, 10, 13));
	cr_expect(lav_us_federal_holiday(2025, 11, 11));
}

Test(nyse, good_friday)
{
	static const struct {
		int y, m, d;
	} gf[] = {
	    {1943, 4, 23}, /* Easter Apr 25: the latest possible */
	    {1954, 4, 16}, {2000, 4, 21}, {2008, 3, 21}, {2011, 4, 22},
	    {2016, 3, 25}, {2019, 4, 19}, {2020, 4, 10}, {2021, 4, 2},
	    {2022, 4, 15}, {2023, 4, 7},  {2024, 3, 29}, {2025, 4, 18},
	    {2026, 4, 3},  {2027, 3, 26}, {2028, 4, 14}, {2038, 4, 23}, /* Easter Apr 25 again */
	    {2285, 3, 20}, /* Easter Mar 22: the earliest possible */
	};
	for (size_t i = 0; i < sizeof(gf) / sizeof(gf[0]); i++) {
		cr_expect(lav_nyse_holiday(gf[i].y, gf[i].m, gf[i].d), "Good Friday %d-%02d-%02d",
			  gf[i].y, gf[i].m, gf[i].d);
		cr_expect_eq(weekday(day_us(gf[i].y, (unsigned)gf[i].m, (unsigned)gf[i].d)), 5);
		cr_expect_not(lav_us_federal_holiday(gf[i].y, gf[i].m, gf[i].d),
			      "Good Friday %d is a federal business day", gf[i].y);
	}
	/* Easter Monday and Holy Thursday are trading days */
	cr_expect_not(lav_nyse_holiday(2025, 4, 21));
	cr_expect_not(lav_nyse_holiday(2025, 4, 17));
	/* years far from today do not misbehave (the computus is periodic) */
	cr_expect(lav_nyse_holiday(1583 + 5700000, 4, 8) == lav_nyse_holiday(1583, 4, 8));
	for (int y = -3000; y < 3000; y += 7) {
		int n = 0;
		for (int m = 3; m <= 4; m++)
			for (int d = 1; d <= 31; d++)
				n += lav_nyse_holiday(y, m, d);
		cr_expect_eq(n, 1, "%d: %d NYSE holidays in March and April", y, n);
	}
}

Test(calendar, ordinary_days_are_not_holidays)
{
	static const struct {
		int y, m, d;
	} days[] = {
	    {2024, 12, 24}, {2024, 12, 26}, {2025, 7, 3},  {2025, 11, 28},
	    {2025, 12, 31}, {2026, 1, 2},   {2026, 4, 6},  {2026, 7, 6},
	    {2025, 1, 2},   {2025, 3, 17},  {2024, 11, 5}, /* election day */
	    {2025, 1, 9}, /* President Carter's day of mourning: a one-off, not modelled */
	};
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		cr_expect_not(lav_us_federal_holiday(days[i].y, days[i].m, days[i].d),
			      "federal %d-%02d-%02d", days[i].y, days[i].m, days[i].d);
		cr_expect_not(lav_nyse_holiday(days[i].y, days[i].m, days[i].d),
			      "nyse %d-%02d-%02d", days[i].y, days[i].m, days[i].d);
	}
}

Test(calendar, invalid_dates_are_not_holidays)
{
	cr_expect_not(lav_us_federal_holiday(2025, 0, 1));
	cr_expect_not(lav_us_federal_holiday(2025, 13, 1));
	cr_expect_not(lav_us_federal_holiday(2025, 1, 0));
	cr_expect_not(lav_us_federal_holiday(2025, 1, 32));
	cr_expect_not(lav_us_federal_holiday(2025, 12, 32));
	cr_expect_not(lav_us_federal_holiday(2025, -1, 1));
	cr_expect_not(lav_nyse_holiday(2025, 2, 29));
	cr_expect_not(lav_nyse_holiday(2025, 11, 31));
	/* Dec 31 2021 wraps from Jan 1 2022; asking for "2022-01-00" is not it */
	cr_expect_not(lav_us_federal_holiday(2022, 1, 0));
}

/* Each year has its holidays once: 11 federal (10 before Juneteenth), one fewer
 * when Jan 1 falls on a Saturday (observed the year before), one more when
 * the next Jan 1 does; 10 at the NYSE (9 before 2022), one fewer when Jan 1
 * is a Saturday (not observed). No two holidays share a day. */
Test(calendar, holidays_per_year)
{
	for (int y = 1950; y <= 2150; y++) {
		int fed = 0, nyse = 0;
		for (int64_t z = lav_days_from_civil(y, 1, 1); z < lav_days_from_civil(y + 1, 1, 1);
		     z++) {
			int64_t yy;
			unsigned m, d;
			lav_civil_from_days(z, &yy, &m, &d);
			bool f = lav_us_federal_holiday(y, (int)m, (int)d);
			bool n = lav_nyse_holiday(y, (int)m, (int)d);
			fed += f;
			nyse += n;
			cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, z * DAY + HOUR) && f);
			cr_expect_eq(lav_calendar_open(LAV_CAL_NYSE, z * DAY + 5 * HOUR),
				     !n && weekday(z * DAY) % 6 != 0);
		}
		bool sat = weekday(day_us(y, 1, 1)) == 6,
		     next_sat = weekday(day_us(y + 1, 1, 1)) == 6;
		cr_expect_eq(fed, (y >= 2021 ? 11 : 10) - sat + next_sat, "%d: %d federal", y, fed);
		cr_expect_eq(nyse, (y >= 2022 ? 10 : 9) - sat, "%d: %d NYSE", y, nyse);
	}
}

/* ---- open days ---- */

Test(calendar, open_days)
{
	int64_t thanks = day_us(2025, 11, 27) + 15 * HOUR, sat = day_us(2025, 11, 29) + HOUR;
	int64_t gf = day_us(2026, 4, 3) + 12 * HOUR, colum = day_us(2025, 10, 13);
	cr_expect(lav_calendar_open(LAV_CAL_ALWAYS, thanks));
	cr_expect(lav_calendar_open(LAV_CAL_WEEKDAYS, thanks));
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, thanks));
	cr_expect_not(lav_calendar_open(LAV_CAL_NYSE, thanks));
	cr_expect(lav_calendar_open(LAV_CAL_ALWAYS, sat));
	cr_expect_not(lav_calendar_open(LAV_CAL_WEEKDAYS, sat));
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, sat));
	cr_expect_not(lav_calendar_open(LAV_CAL_NYSE, sat));
	cr_expect(lav_calendar_open(LAV_CAL_US_FEDERAL, gf));
	cr_expect_not(lav_calendar_open(LAV_CAL_NYSE, gf));
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, colum));
	cr_expect(lav_calendar_open(LAV_CAL_NYSE, colum));
	/* the whole UTC day, to its last µs */
	int64_t d = day_us(2025, 11, 27);
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, d));
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, d + DAY - 1));
	cr_expect(lav_calendar_open(LAV_CAL_US_FEDERAL, d - 1));
	cr_expect(lav_calendar_open(LAV_CAL_US_FEDERAL, d + DAY));
	/* a value outside the enum is treated as open, never as a crash */
	cr_expect(lav_calendar_open((enum lav_calendar)99, sat));
}

Test(calendar, open_before_1970)
{
	/* 1969-12-27 was a Saturday, 12-25 a Thursday (Christmas), 12-31 a Wednesday */
	int64_t sat = day_us(1969, 12, 27);
	cr_assert_eq(sat, -5 * DAY);
	cr_expect(lav_calendar_open(LAV_CAL_WEEKDAYS, -1), "1969-12-31T23:59:59.999999Z");
	cr_expect_not(lav_calendar_open(LAV_CAL_WEEKDAYS, sat));
	cr_expect_not(lav_calendar_open(LAV_CAL_WEEKDAYS, sat + 1));
	cr_expect_not(lav_calendar_open(LAV_CAL_WEEKDAYS, sat + DAY - 1));
	cr_expect_not(lav_calendar_open(LAV_CAL_WEEKDAYS, sat + 2 * DAY - 1)); /* Sunday */
	cr_expect(lav_calendar_open(LAV_CAL_WEEKDAYS, sat + 2 * DAY));	       /* Monday */
	cr_expect(lav_calendar_open(LAV_CAL_WEEKDAYS, sat - 1));	       /* Friday */
	cr_expect_not(lav_calendar_open(LAV_CAL_US_FEDERAL, day_us(1969, 12, 25) + HOUR));
	cr_expect_not(lav_calendar_open(LAV_CAL_NYSE, day_us(1969, 11, 27))); /* Thanksgiving */
	cr_expect(lav_us_federal_holiday(1969, 11, 27));
	cr_expect(lav_calendar_open(LAV_CAL_US_FEDERAL, day_us(1969, 12, 26)));
	cr_expect(lav_calendar_open(LAV_CAL_ALWAYS, INT64_MIN));
	cr_expect(lav_calendar_open(LAV_CAL_ALWAYS, INT64_MAX));
	/* far ends of the time line: no overflow, some answer */
	(void)lav_calendar_open(LAV_CAL_NYSE, INT64_MIN);
	(void)lav_calendar_open(LAV_CAL_US_FEDERAL, INT64_MAX);
}

/* ---- open µs ---- */

/* The reference: every UTC day of [from, to) looked at one by one. */
static int64_t slow_open_us(enum lav_calendar c, int64_t from, int64_t to)
{
	int64_t sum = 0;
	for (int64_t t = from; t < to;) {
		int64_t day = t / DAY - (t % DAY < 0);
		int64_t end = (day + 1) * DAY;
		if (end > to)
			end = to;
		if (lav_calendar_open(c, t))
			sum += end - t;
		t = end;
	}
	return sum;
}

static const enum lav_calendar ALL[] = {LAV_CAL_ALWAYS, LAV_CAL_WEEKDAYS, LAV_CAL_US_FEDERAL,
					LAV_CAL_NYSE};

Test(calendar_open_us, weekend)
{
	/* Fri 2025-11-21 12:00 → Mon 2025-11-24 06:00 */
	int64_t from = day_us(2025, 11, 21) + 12 * HOUR, to = day_us(2025, 11, 24) + 6 * HOUR;
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, from, to), 66 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, from, to), 18 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, from, to), 18 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, from, to), 18 * HOUR);
	/* only the weekend */
	int64_t sat = day_us(2025, 11, 22);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, sat, sat + 2 * DAY), 0);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, sat + 1, sat + 2 * DAY - 1), 0);
}

Test(calendar_open_us, holiday)
{
	/* Wed 2025-11-26 → Fri 2025-11-28, over Thanksgiving */
	int64_t from = day_us(2025, 11, 26), to = day_us(2025, 11, 28);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, from, to), DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, from, to), DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, from, to), 2 * DAY);
	/* Good Friday week 2026: Mon Mar 30 → Mon Apr 6 */
	from = day_us(2026, 3, 30), to = day_us(2026, 4, 6);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, from, to), 4 * DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, from, to), 5 * DAY);
	/* year end 2021: Fri Dec 31 is closed for the Fed only */
	from = day_us(2021, 12, 27), to = day_us(2022, 1, 3);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, from, to), 4 * DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, from, to), 5 * DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, day_us(2021, 12, 31),
					  day_us(2021, 12, 31) + DAY),
		     0);
}

Test(calendar_open_us, partial_days)
{
	int64_t mon = day_us(2025, 11, 24), thu = day_us(2025, 11, 27);
	for (size_t i = 0; i < 4; i++) {
		cr_expect_eq(lav_calendar_open_us(ALL[i], mon + HOUR, mon + 3 * HOUR), 2 * HOUR);
		cr_expect_eq(lav_calendar_open_us(ALL[i], mon + 5, mon + 6), 1);
		cr_expect_eq(lav_calendar_open_us(ALL[i], mon - 1, mon + 1),
			     1 + (ALL[i] == LAV_CAL_ALWAYS), "%s: Sunday's last µs",
			     lav_calendar_name(ALL[i]));
	}
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, thu + HOUR, thu + 2 * HOUR), 0);
	/* Wed 20:00 → Fri 03:00: 4 h + 3 h around the holiday */
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, thu - 4 * HOUR, thu + DAY + 3 * HOUR),
		     7 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, thu - 4 * HOUR, thu + DAY + 3 * HOUR),
		     31 * HOUR);
	/* ending exactly at midnight takes nothing of the next day */
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, thu - HOUR, thu), HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, thu + DAY - 1, thu + DAY + 1), 1);
}

Test(calendar_open_us, empty_and_reversed)
{
	int64_t t = day_us(2025, 11, 24) + 7;
	for (size_t i = 0; i < 4; i++) {
		cr_expect_eq(lav_calendar_open_us(ALL[i], t, t), 0);
		cr_expect_eq(lav_calendar_open_us(ALL[i], t + DAY, t), 0);
		cr_expect_eq(lav_calendar_open_us(ALL[i], t + 1, t), 0);
		cr_expect_eq(lav_calendar_open_us(ALL[i], INT64_MAX, INT64_MIN), 0);
		cr_expect_eq(lav_calendar_open_us(ALL[i], -DAY, -2 * DAY), 0);
	}
}

Test(calendar_open_us, before_1970)
{
	/* 1969-12-24 12:00 (Wed) → 1970-01-02 06:00 (Fri): Dec 24 half, 26, 29,
	 * 30, 31 whole, Jan 2 6 h; Christmas and New Year's Day (Thursdays) and
	 * the weekend closed */
	int64_t from = day_us(1969, 12, 24) + 12 * HOUR, to = day_us(1970, 1, 2) + 6 * HOUR;
	cr_assert_lt(from, 0);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, from, to), 4 * DAY + 18 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, from, to), 4 * DAY + 18 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, from, to), 6 * DAY + 18 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, from, to), to - from);
	/* entirely negative, inside one day and across days */
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, -3 * HOUR, -HOUR), 2 * HOUR);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, -5 * DAY - 1, -5 * DAY + 1), 1);
	for (size_t i = 0; i < 4; i++)
		for (int64_t a = -40 * DAY - 7 * HOUR; a < 3 * DAY; a += 29 * HOUR + 13)
			cr_expect_eq(lav_calendar_open_us(ALL[i], a, a + 9 * DAY + 5 * HOUR),
				     slow_open_us(ALL[i], a, a + 9 * DAY + 5 * HOUR), "%s at %lld",
				     lav_calendar_name(ALL[i]), (long long)a);
}

Test(calendar_open_us, ten_years_equal_the_day_by_day_sum)
{
	int64_t from = day_us(2016, 1, 1) + 7 * HOUR + 123, to = day_us(2026, 3, 15) + 13 * HOUR;
	for (size_t i = 0; i < 4; i++) {
		int64_t fast = lav_calendar_open_us(ALL[i], from, to);
		int64_t slow = slow_open_us(ALL[i], from, to);
		cr_expect_eq(fast, slow, "%s: %lld != %lld", lav_calendar_name(ALL[i]),
			     (long long)fast, (long long)slow);
	}
	/* and against the holiday functions themselves: 2016..2025 whole years */
	int64_t fed = 0, nyse = 0, wd = 0;
	for (int64_t z = lav_days_from_civil(2016, 1, 1); z < lav_days_from_civil(2026, 1, 1);
	     z++) {
		int64_t y;
		unsigned m, d;
		lav_civil_from_days(z, &y, &m, &d);
		if (weekday(z * DAY) % 6 == 0)
			continue;
		wd++;
		fed += !lav_us_federal_holiday((int)y, (int)m, (int)d);
		nyse += !lav_nyse_holiday((int)y, (int)m, (int)d);
	}
	int64_t a = day_us(2016, 1, 1), b = day_us(2026, 1, 1);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_WEEKDAYS, a, b), wd * DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_US_FEDERAL, a, b), fed * DAY);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_NYSE, a, b), nyse * DAY);
	cr_expect_eq(wd, 2609);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 11;
}

Test(calendar_open_us, random_ranges_equal_the_day_by_day_sum)
{
	uint64_t seed = 2024;
	int64_t lo = day_us(1960, 1, 1), span = day_us(2040, 1, 1) - lo;
	for (int round = 0; round < 400; round++) {
		int64_t from = lo + (int64_t)(lcg(&seed) % (uint64_t)span);
		int64_t len =
		    (int64_t)(lcg(&seed) % (uint64_t)(round % 4 == 0 ? 3 * 366 * DAY : 20 * DAY));
		for (size_t i = 0; i < 4; i++)
			cr_assert_eq(lav_calendar_open_us(ALL[i], from, from + len),
				     slow_open_us(ALL[i], from, from + len), "%s: [%lld, +%lld)",
				     lav_calendar_name(ALL[i]), (long long)from, (long long)len);
	}
}

Test(calendar_open_us, the_whole_time_line_saturates)
{
	for (size_t i = 0; i < 4; i++)
		cr_expect_eq(lav_calendar_open_us(ALL[i], INT64_MIN, INT64_MAX), INT64_MAX, "%s",
			     lav_calendar_name(ALL[i]));
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, INT64_MIN + 1, 0), INT64_MAX);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, INT64_MIN, INT64_MIN + 5), 5);
	cr_expect_eq(lav_calendar_open_us(LAV_CAL_ALWAYS, INT64_MAX - 5, INT64_MAX), 5);
	/* about 5/7 of the half above 0 */
	int64_t w = lav_calendar_open_us(LAV_CAL_WEEKDAYS, 0, INT64_MAX);
	cr_expect(w > INT64_MAX / 7 * 5 - 7 * DAY && w < INT64_MAX / 7 * 5 + 7 * DAY);
}

/* ---- names ---- */

Test(calendar, parse_and_name)
{
	static const char *names[] = {"always", "weekdays", "us_federal", "nyse"};
	for (size_t i = 0; i < 4; i++) {
		enum lav_calendar c = (enum lav_calendar)77;
		cr_expect_str_eq(lav_calendar_name(ALL[i]), names[i]);
		cr_expect(lav_calendar_parse(names[i], &c), "%s", names[i]);
		cr_expect_eq(c, ALL[i], "%s", names[i]);
		cr_expect(lav_calendar_parse(lav_calendar_name(ALL[i]), &c));
		cr_expect_eq(c, ALL[i]);
	}
	cr_expect_eq(LAV_CAL_ALWAYS, 0, "a zero-initialised spec is open every day");
	static const char *bad[] = {"",		 "Always",   "NYSE",	"us-federal",
				    "usfederal", "weekday",  "nyse ",	" nyse",
				    "federal",	 "always\n", "alwaysx", "24/7"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum lav_calendar c = LAV_CAL_NYSE;
		cr_expect_not(lav_calendar_parse(bad[i], &c), "\"%s\"", bad[i]);
		cr_expect_eq(c, LAV_CAL_NYSE, "\"%s\" changed the output", bad[i]);
	}
	enum lav_calendar c = LAV_CAL_WEEKDAYS;
	cr_expect_not(lav_calendar_parse(NULL, &c));
	cr_expect_eq(c, LAV_CAL_WEEKDAYS);
	cr_expect_str_eq(lav_calendar_name((enum lav_calendar)99), "?");
	cr_expect_str_eq(lav_calendar_name((enum lav_calendar) - 1), "?");
}
