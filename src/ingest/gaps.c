/* Gap detection over a series' expected slots. */
#include "lav/gaps.h"

#include "lav/timefmt.h"

static int64_t first_slot(const struct lav_gap_spec *g, int64_t since)
{
	int64_t off = since - g->anchor_us;
	int64_t k = off / g->period_us; /* truncates toward zero: rounds up below 0 */
	if (off > 0 && off % g->period_us != 0)
		k++;
	return g->anchor_us + k * g->period_us;
}

/* A weekly slot stands for its whole week, which always has open days, so
 * only daily and finer slots look at the calendar. */
static bool expected(const struct lav_gap_spec *g, int64_t s)
{
	return g->period_us > LAV_US_PER_DAY || lav_calendar_open(g->calendar, s);
}

bool lav_gaps_expected(const struct lav_gap_spec *g, int64_t t)
{
	return g->period_us > 0 && (t - g->anchor_us) % g->period_us == 0 && expected(g, t);
}

int64_t lav_gaps_slots(const struct lav_gap_spec *g, int64_t since, int64_t until)
{
	int64_t n = 0;
	if (g->period_us <= 0)
		return 0;
	for (int64_t s = first_slot(g, since); s < until; s += g->period_us)
		n += expected(g, s);
	return n;
}

size_t lav_gaps_find(const struct lav_gap_spec *g, const int64_t *ts, size_t n, int64_t since,
		     int64_t until, struct lav_range *out, size_t max_out)
{
	size_t nout = 0, i = 0;
	bool open = false;
	if (g->period_us <= 0 || max_out == 0)
		return 0;
	for (int64_t s = first_slot(g, since); s < until; s += g->period_us) {
		int64_t e = s + g->period_us;
		while (i < n && ts[i] < s)
			i++;
		bool covered = i < n && ts[i] < e;
		if (!expected(g, s))
			continue;
		if (covered) {
			open = false;
			continue;
		}
		int64_t end = e < until ? e : until;
		if (open) {
			out[nout - 1].until = end;
		} else if (nout < max_out) {
			out[nout++] = (struct lav_range){s, end};
			open = true;
		} else {
			out[nout - 1].until = end; /* beyond max_out: one last range */
			open = true;
		}
	}
	return nout;
}
