/* Gap detection: which periods of a series' frequency in a range have no
 * stored point, merged into ranges to refetch. Pure. */
#ifndef LAV_GAPS_H
#define LAV_GAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/calendar.h"

struct lav_range {
	int64_t since, until; /* [since, until), µs */
};

struct lav_gap_spec {
	int64_t period_us; /* > 0 */
	int64_t anchor_us; /* a slot start: slots are anchor + k * period */
	/* daily (period <= 1 day) series: slots only on the calendar's open UTC
	 * days; longer periods (weekly) keep every slot */
	enum lav_calendar calendar;
};

/* ts: distinct valid times of the stored points, sorted ascending. A slot
 * [s, s + period) inside [since, until) is missing when no ts falls in it.
 * Missing slots are merged into at most max_out ranges (the rest are merged
 * into the last one). Returns the number of ranges written. */
size_t lav_gaps_find(const struct lav_gap_spec *g, const int64_t *ts, size_t n, int64_t since,
		     int64_t until, struct lav_range *out, size_t max_out);

/* Is t a slot start the series expects a point at (on the grid, and on an
 * open day of the calendar for daily series)? */
bool lav_gaps_expected(const struct lav_gap_spec *g, int64_t t);

/* Number of slots of [since, until) (the coverage denominator). */
int64_t lav_gaps_slots(const struct lav_gap_spec *g, int64_t since, int64_t until);

#endif
