/* Business-day calendars: weekends, plus holidays computed by rule for the
 * year asked about, so there is no table to run out of years. */
#include "lav/calendar.h"

#include <string.h>

#include "lav/timefmt.h"

/* the most holidays one calendar has in a year (US federal: 11) */
#define MAX_HOLIDAYS 12

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static const char *const NAMES[] = {
    [LAV_CAL_ALWAYS] = "always",
    [LAV_CAL_WEEKDAYS] = "weekdays",
    [LAV_CAL_US_FEDERAL] = "us_federal",
    [LAV_CAL_NYSE] = "nyse",
};
#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))

bool lav_calendar_parse(const char *name, enum lav_calendar *out)
{
	if (!name)
		return false;
	for (size_t i = 0; i < NNAMES; i++)
		if (strcmp(name, NAMES[i]) == 0) {
			*out = (enum lav_calendar)i;
			return true;
		}
	return false;
}

const char *lav_calendar_name(enum lav_calendar c)
{
	return (unsigned)c < NNAMES ? NAMES[c] : "?";
}

/* Division and remainder rounding toward -infinity (b > 0): times before
 * 1970 belong to the day that starts before them, not after. */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r < 0 ? r + b : r;
}

/* Day numbers count days since 1970-01-01, which was a Thursday. */
static int weekday(int64_t day)
{
	return (int)floor_mod(day + THU, 7);
}

static bool weekend(int64_t day)
{
	int w = weekday(day);
	return w == SAT || w == SUN;
}

/* The n-th (from 1) weekday wd of month m. */
static int64_t nth_weekday(int64_t y, unsigned m, int wd, int n)
{
	int64_t first = lav_days_from_civil(y, m, 1);
	return first + floor_mod(wd - weekday(first), 7) + 7 * (n - 1);
}

/* The last weekday wd of month m (m < 12: the day before the next 1st). */
static int64_t last_weekday(int64_t y, unsigned m, int wd)
{
	int64_t last = lav_days_from_civil(y, m + 1, 1) - 1;
	return last - floor_mod(weekday(last) - wd, 7);
}

/* Easter Sunday by the anonymous Gregorian algorithm (Meeus, Jones, Butcher).
 * Gregorian Easter dates repeat every 5,700,000 years (every term below is
 * unchanged, or changes by whole cycles, when y grows by that much), so
 * reducing the year keeps every operand non-negative for any year. */
static int64_t easter(int64_t year)
{
	int64_t y = floor_mod(year, 5700000);
	int64_t a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
	int64_t f = (b + 8) / 25, g = (b - f + 1) / 3;
	int64_t h = (19 * a + b - d - g + 15) % 30;
	int64_t i = c / 4, k = c % 4;
	int64_t l = (32 + 2 * e + 2 * i - h - k) % 7;
	int64_t m = (a + 11 * h + 22 * l) / 451;
	int64_t n = h + l - 7 * m + 114;
	return lav_days_from_civil(year, (unsigned)(n / 31), (unsigned)(n % 31 + 1));
}

struct hol {
	int64_t day[MAX_HOLIDAYS];
	int n;
};

static void add(struct hol *h, int64_t day)
{
	h->day[h->n++] = day;
}

/* A fixed-date holiday: Saturday → the Friday before, Sunday → the Monday
 * after. sat_moves false: a Saturday holiday is simply not observed. */
static void add_fixed(struct hol *h, int64_t y, unsigned m, unsigned d, bool sat_moves)
{
	int64_t day = lav_days_from_civil(y, m, d);
	int w = weekday(day);
	if (w == SAT) {
		if (sat_moves)
			add(h, day - 1);
	} else if (w == SUN) {
		add(h, day + 1);
	} else {
		add(h, day);
	}
}

/* The observed days of the holidays of nominal year y. Every one is a
 * weekday, and they are distinct; a New Year's Day observed on December 31
 * belongs to the list of the year it is New Year's Day of. */
static void holidays(enum lav_calendar c, int64_t y, struct hol *h)
{
	h->n = 0;
	if (c == LAV_CAL_US_FEDERAL) {
		add_fixed(h, y, 1, 1, true);
		add(h, nth_weekday(y, 1, MON, 3));
		add(h, nth_weekday(y, 2, MON, 3));
		add(h, last_weekday(y, 5, MON));
		if (y >= 2021)
			add_fixed(h, y, 6, 19, true);
		add_fixed(h, y, 7, 4, true);
		add(h, nth_weekday(y, 9, MON, 1));
		add(h, nth_weekday(y, 10, MON, 2));
		add_fixed(h, y, 11, 11, true);
		add(h, nth_weekday(y, 11, THU, 4));
		add_fixed(h, y, 12, 25, true);
	} else if (c == LAV_CAL_NYSE) {
		/* rule 7.2: no Friday close for a Saturday New Year's Day */
		add_fixed(h, y, 1, 1, false);
		add(h, nth_weekday(y, 1, MON, 3));
		add(h, nth_weekday(y, 2, MON, 3));
		add(h, easter(y) - 2);
		add(h, last_weekday(y, 5, MON));
		if (y >= 2022)
			add_fixed(h, y, 6, 19, true);
		add_fixed(h, y, 7, 4, true);
		add(h, nth_weekday(y, 9, MON, 1));
		add(h, nth_weekday(y, 11, THU, 4));
		add_fixed(h, y, 12, 25, true);
	}
}

static bool in_list(const struct hol *h, int64_t day)
{
	for (int i = 0; i < h->n; i++)
		if (h->day[i] == day)
			return true;
	return false;
}

static bool holiday(enum lav_calendar c, int64_t day)
{
	int64_t y;
	unsigned m, d;
	struct hol h;
	lav_civil_from_days(day, &y, &m, &d);
	holidays(c, y, &h);
	if (in_list(&h, day))
		return true;
	if (m == 12 && d == 31) {
		holidays(c, y + 1, &h);
		return in_list(&h, day);
	}
	return false;
}

static bool open_day(enum lav_calendar c, int64_t day)
{
	switch (c) {
	case LAV_CAL_WEEKDAYS:
		return !weekend(day);
	case LAV_CAL_US_FEDERAL:
	case LAV_CAL_NYSE:
		return !weekend(day) && !holiday(c, day);
	case LAV_CAL_ALWAYS:
	default:
		return true;
	}
}

/* Weekdays among days [a, b), a <= b: whole weeks have 5, the rest (under a
 * week) are looked at one by one. */
static int64_t weekdays_in(int64_t a, int64_t b)
{
	int64_t weeks = (b - a) / 7, n = weeks * 5;
	for (int64_t d = a + weeks * 7; d < b; d++)
		n += !weekend(d);
	return n;
}

/* Observed holidays among days [a, b), a < b: those of every nominal year
 * from a's to the one after b - 1's (its New Year's Day may be observed on
 * b - 1, a December 31). */
static int64_t holidays_in(enum lav_calendar c, int64_t a, int64_t b)
{
	int64_t ya, yb, n = 0;
	unsigned m, d;
	struct hol h;
	lav_civil_from_days(a, &ya, &m, &d);
	lav_civil_from_days(b - 1, &yb, &m, &d);
	for (int64_t y = ya; y <= yb + 1; y++) {
		holidays(c, y, &h);
		for (int i = 0; i < h.n; i++)
			n += h.day[i] >= a && h.day[i] < b;
	}
	return n;
}

/* Open days among days [a, b). */
static int64_t open_days(enum lav_calendar c, int64_t a, int64_t b)
{
	if (a >= b)
		return 0;
	switch (c) {
	case LAV_CAL_WEEKDAYS:
		return weekdays_in(a, b);
	case LAV_CAL_US_FEDERAL:
	case LAV_CAL_NYSE:
		/* holidays are observed on weekdays only, so none is subtracted twice */
		return weekdays_in(a, b) - holidays_in(c, a, b);
	case LAV_CAL_ALWAYS:
	default:
		return b - a;
	}
}

static bool valid_date(int year, int month, int day, int64_t *out)
{
	int64_t y;
	unsigned m, d;
	if (month < 1 || month > 12 || day < 1 || day > 31)
		return false;
	*out = lav_days_from_civil(year, (unsigned)month, (unsigned)day);
	/* February 30 comes back as March 1 or 2 */
	lav_civil_from_days(*out, &y, &m, &d);
	return y == year && m == (unsigned)month && d == (unsigned)day;
}

bool lav_us_federal_holiday(int year, int month, int day)
{
	int64_t dn;
	return valid_date(year, month, day, &dn) && !weekend(dn) && holiday(LAV_CAL_US_FEDERAL, dn);
}

bool lav_nyse_holiday(int year, int month, int day)
{
	int64_t dn;
	return valid_date(year, month, day, &dn) && !weekend(dn) && holiday(LAV_CAL_NYSE, dn);
}

bool lav_calendar_open(enum lav_calendar c, int64_t t_us)
{
	if (c == LAV_CAL_ALWAYS)
		return true; /* the hot path of every crypto series' gap scan */
	return open_day(c, floor_div(t_us, LAV_US_PER_DAY));
}

int64_t lav_calendar_open_us(enum lav_calendar c, int64_t from_us, int64_t to_us)
{
	if (to_us <= from_us)
		return 0;
	int64_t d0 = floor_div(from_us, LAV_US_PER_DAY), d1 = floor_div(to_us, LAV_US_PER_DAY);
	if (d0 == d1)
		return open_day(c, d0) ? to_us - from_us : 0;
	/* The sum is at most to_us - from_us, which always fits in uint64;
	 * day * LAV_US_PER_DAY is never formed, since it can fall outside int64
	 * at the ends of the range even when the times themselves do not. */
	uint64_t us = 0;
	if (open_day(c, d0))
		us += (uint64_t)(LAV_US_PER_DAY - floor_mod(from_us, LAV_US_PER_DAY));
	us += (uint64_t)open_days(c, d0 + 1, d1) * (uint64_t)LAV_US_PER_DAY;
	if (open_day(c, d1))
		us += (uint64_t)floor_mod(to_us, LAV_US_PER_DAY);
	return us > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)us;
}
