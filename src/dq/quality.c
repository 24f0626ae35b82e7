/* Coverage and business-time freshness of a series. */
#include "lav/quality.h"

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Is some revision of a point with ts in [s, e) known at now? */
static bool observed(const struct lav_point *pts, size_t n, int64_t s, int64_t e, int64_t now)
{
	for (size_t i = lav_points_upper(pts, n, s - 1); i < n && pts[i].ts < e; i++)
		if (pts[i].available_at <= now)
			return true;
	return false;
}

bool lav_dq_coverage(const struct lav_gap_spec *g, const struct lav_point *pts, size_t n,
		     int64_t delay_us, int64_t now_us, double *ratio)
{
	if (g->period_us <= 0)
		return false;
	int64_t p = g->period_us;
	int64_t k = floor_div(now_us - delay_us - p - g->anchor_us, p);
	int64_t oldest = n ? pts[0].ts : INT64_MIN;
	int expected = 0, seen = 0;
	/* closed days are skipped, so look back further than 30 slots, but not
	 * without end: a calendar is never closed for long stretches */
	for (int steps = 0;
	     expected < LAV_DQ_COVERAGE_PERIODS && steps < 4 * LAV_DQ_COVERAGE_PERIODS;
	     steps++, k--) {
		int64_t s = g->anchor_us + k * p;
		if (s + p <= oldest)
			break; /* before the window: not judged */
		if (!lav_gaps_expected(g, s))
			continue;
		expected++;
		if (observed(pts, n, s, s + p, now_us))
			seen++;
	}
	if (expected == 0)
		return false;
	*ratio = (double)seen / expected;
	return true;
}

int64_t lav_dq_business_age_us(enum lav_calendar cal, int64_t ts_us, int64_t now_us)
{
	if (now_us <= ts_us)
		return 0;
	if (cal == LAV_CAL_ALWAYS)
		return now_us - ts_us;
	return lav_calendar_open_us(cal, ts_us, now_us);
}
