/* Data quality of a stored series, computed when scraped (DESIGN.md section
 * 6): coverage of its expected periods and its age in business time. Pure:
 * the collector passes the hot window and the clock. */
#ifndef LAV_QUALITY_H
#define LAV_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/calendar.h"
#include "lav/gaps.h"
#include "lav/series.h"

/* Periods the coverage ratio looks back over. */
#define LAV_DQ_COVERAGE_PERIODS 30

/* Distinct expected periods observed / expected, over the newest
 * LAV_DQ_COVERAGE_PERIODS expected slots that are due: a slot [s, s + period)
 * is due once s + period + delay <= now (its point can have been published).
 * A slot is observed when a point with ts in it is known at now
 * (available_at <= now). Slots that end before the oldest point held are
 * not judged: before its first point a series did not exist for lav (or the
 * hot window let that history go), and a young series is complete when
 * every period since its start is there. Without any point every slot
 * counts (coverage 0). False when no slot is judged (or period is 0: a
 * tick series). */
bool lav_dq_coverage(const struct lav_gap_spec *g, const struct lav_point *pts, size_t n,
		     int64_t delay_us, int64_t now_us, double *ratio);

/* now - ts counted only over the calendar's open days: a daily macro value
 * from Friday is not older on Monday morning than on Saturday morning. */
int64_t lav_dq_business_age_us(enum lav_calendar cal, int64_t ts_us, int64_t now_us);

#endif
