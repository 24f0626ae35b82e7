/* Business-day calendars per source: on which UTC days an upstream publishes,
 * so freshness, coverage and gap detection of daily series do not alarm on
 * weekends and holidays. Pure: no I/O, no state.
 *
 * Holidays are the observed dates, computed by rule for any year (proleptic
 * Gregorian), not read from a table. Today's rules apply to every year; only
 * Juneteenth, new within the data's history, has a first year:
 *
 * US federal (5 U.S.C. 6103): New Year's Day, Martin Luther King Jr. Day
 * (3rd Monday of January), Washington's Birthday (3rd Monday of February),
 * Memorial Day (last Monday of May), Juneteenth (June 19, from 2021 on),
 * Independence Day, Labor Day (1st Monday of September), Columbus Day (2nd
 * Monday of October), Veterans Day (November 11), Thanksgiving (4th Thursday
 * of November), Christmas Day. A holiday on a Saturday is observed the Friday
 * before (New Year's Day on a Saturday: December 31 of the year before), one
 * on a Sunday the Monday after. The Federal Reserve stays open on the Friday
 * before a Saturday holiday, so for the Fed this calendar is lenient by that
 * one day: a missing point there is not an alarm, which is the safe side.
 *
 * NYSE (rule 7.2): New Year's Day, Martin Luther King Jr. Day, Washington's
 * Birthday, Good Friday (Easter Sunday - 2, Gregorian computus), Memorial Day,
 * Juneteenth (from 2022 on), Independence Day, Labor Day, Thanksgiving,
 * Christmas Day. Saturday holidays are observed the Friday before, except New
 * Year's Day (the Friday is the last trading day of the year and stays open);
 * Sunday holidays the Monday after. Early closes count as open days. One-off
 * closures (national days of mourning, 9/11, Hurricane Sandy) are not
 * modelled: such a day reads as open, and its missing point as a gap. */
#ifndef LAV_CALENDAR_H
#define LAV_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

/* ALWAYS is 0 so a zero-initialised adapter or gap spec is open every day. */
enum lav_calendar {
	LAV_CAL_ALWAYS,	    /* 24/7: crypto venues, on-chain */
	LAV_CAL_WEEKDAYS,   /* Monday..Friday */
	LAV_CAL_US_FEDERAL, /* weekdays except US federal holidays (FRED, the Fed, the Treasury) */
	LAV_CAL_NYSE,	    /* weekdays except NYSE holidays (US-listed ETF flows) */
};

/* "always", "weekdays", "us_federal", "nyse" (exact, lower case); false and
 * *out untouched on anything else, NULL included. */
bool lav_calendar_parse(const char *name, enum lav_calendar *out);
/* The name lav_calendar_parse reads back; "?" for a value outside the enum. */
const char *lav_calendar_name(enum lav_calendar c);

/* Is year-month-day the day a holiday is observed (always a weekday)? The
 * nominal date of a holiday moved off a weekend is false, as is an invalid
 * date (month 0, February 30). */
bool lav_us_federal_holiday(int year, int month, int day);
bool lav_nyse_holiday(int year, int month, int day);

/* Is the UTC day containing t (µs since the epoch, may be negative) open? */
bool lav_calendar_open(enum lav_calendar c, int64_t t_us);

/* µs of [from_us, to_us) that fall on open UTC days; 0 when to_us <= from_us.
 * Exact at partial days; whole weeks and whole years are counted without
 * visiting each day, so ranges of centuries are cheap. Saturates at
 * INT64_MAX (only for ranges wider than about 290,000 years). */
int64_t lav_calendar_open_us(enum lav_calendar c, int64_t from_us, int64_t to_us);

#endif
