#include "lav/agg.h"

#include <math.h>
#include <string.h>

#include "lav/timefmt.h"

static const char *const AGG_NAMES[] = {"none", "sum", "avg", "min", "max",
					"first", "last", "count", NULL};

bool lav_agg_parse(const char *s, enum lav_agg *out)
{
	for (int i = 0; AGG_NAMES[i]; i++)
		if (strcmp(s, AGG_NAMES[i]) == 0) {
			*out = (enum lav_agg)i;
			return true;
		}
	return false;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Monday 1970-01-05 is where week buckets are anchored. */
#define WEEK_ANCHOR_US (4 * LAV_US_PER_DAY)

static int64_t align(int64_t t, int64_t size)
{
	int64_t anchor = size % (7 * LAV_US_PER_DAY) == 0 ? WEEK_ANCHOR_US : 0;
	return floor_div(t - anchor, size) * size + anchor;
}

static int32_t off_at(const struct lav_tz *tz, int64_t us)
{
	return lav_tz_offset(tz, floor_div(us, LAV_US_PER_S));
}

/* First whole second in (lo, hi] whose offset differs from lo's (given that
 * hi's does), in µs. Offsets change at whole seconds. */
static int64_t first_change(const struct lav_tz *tz, int64_t lo_us, int64_t hi_us)
{
	int64_t lo = floor_div(lo_us, LAV_US_PER_S), hi = floor_div(hi_us, LAV_US_PER_S);
	int32_t before = lav_tz_offset(tz, lo);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (lav_tz_offset(tz, mid) == before)
			lo = mid;
		else
			hi = mid;
	}
	return hi * LAV_US_PER_S;
}

/* Local label of an instant: its local time aligned down to the bucket size. */
static int64_t label(const struct lav_tz *tz, int64_t us, int64_t size)
{
	return align(us + (int64_t)off_at(tz, us) * LAV_US_PER_S, size);
}

/* A bucket is a maximal run of consecutive instants with the same local
 * label. So a local day stays one bucket when its midnight repeats or is
 * skipped (23- and 25-hour days), while when the clock goes back the
 * repeated quarter hours form buckets of their own, each 15 real minutes. */
int64_t lav_bucket_start(int64_t ts, int64_t size, const struct lav_tz *tz)
{
	if (!tz)
		return align(ts, size);
	int64_t want = label(tz, ts, size);
	for (int guard = 0; guard < 8; guard++) {
		int32_t off = off_at(tz, ts);
		int64_t b = want - (int64_t)off * LAV_US_PER_S;
		if (off_at(tz, b) != off)
			b = first_change(tz, b, ts); /* where ts's offset period begins */
		if (b <= floor_div(INT64_MIN, 2) || label(tz, b - 1, size) != want)
			return b;
		ts = b - 1; /* the run goes on before an offset change */
	}
	return ts;
}

int64_t lav_bucket_next(int64_t start, int64_t size, const struct lav_tz *tz)
{
	if (!tz)
		return start + size;
	int64_t want = label(tz, start, size);
	int64_t t = start;
	for (int guard = 0; guard < 8; guard++) {
		int32_t off = off_at(tz, t);
		int64_t cand = want + size - (int64_t)off * LAV_US_PER_S;
		if (off_at(tz, cand) == off)
			return cand > start ? cand : start + size;
		int64_t change = first_change(tz, t, cand);
		if (label(tz, change, size) != want)
			return change;
		t = change; /* same label after the change: the run continues */
	}
	return start + size;
}

size_t lav_aggregate(const int64_t *ts, const double *v, size_t n, enum lav_agg agg,
		     int64_t size, const struct lav_tz *tz, int64_t *out_ts, double *out_v,
		     uint32_t *out_count)
{
	size_t m = 0;
	size_t i = 0;
	while (i < n) {
		int64_t b = lav_bucket_start(ts[i], size, tz);
		int64_t end = lav_bucket_next(b, size, tz);
		double acc = v[i], sum = 0, comp = 0;
		uint32_t cnt = 0;
		/* every bucket takes at least its first point, so the loop always ends
		 * and never writes more than n buckets */
		for (size_t first = i; i < n && (ts[i] < end || i == first); i++) {
			double x = v[i];
			/* Neumaier summation: a sum does not depend on how the
			 * values happen to be split between requests */
			double t = sum + x;
			comp += fabs(sum) >= fabs(x) ? (sum - t) + x : (x - t) + sum;
			sum = t;
			if ((agg == LAV_AGG_MIN && x < acc) || (agg == LAV_AGG_MAX && x > acc) ||
			    agg == LAV_AGG_LAST)
				acc = x;
			cnt++;
		}
		sum += comp;
		double out;
		switch (agg) {
		case LAV_AGG_SUM:
			out = sum;
			break;
		case LAV_AGG_AVG:
			out = sum / cnt;
			break;
		case LAV_AGG_COUNT:
			out = cnt;
			break;
		default: /* min, max, first (acc is the first value), last */
			out = acc;
		}
		out_ts[m] = b;
		out_v[m] = out;
		if (out_count)
			out_count[m] = cnt;
		m++;
	}
	return m;
}

size_t lav_fill_buckets(const int64_t *bts, const double *bv, size_t n, int64_t since,
			int64_t until, int64_t size, const struct lav_tz *tz, bool ffill,
			int64_t max_age, int64_t *out_ts, double *out_v, bool *out_present,
			size_t cap, bool *more)
{
	size_t m = 0, j = 0;
	bool have = false;
	int64_t last_ts = 0;
	double last_v = 0;
	*more = false;
	for (int64_t b = lav_bucket_start(since, size, tz); b < until;
	     b = lav_bucket_next(b, size, tz)) {
		if (m == cap) {
			*more = true;
			break;
		}
		while (j < n && bts[j] < b) {
			have = true;
			last_ts = bts[j];
			last_v = bv[j];
			j++;
		}
		out_ts[m] = b;
		if (j < n && bts[j] == b) {
			out_v[m] = bv[j];
			out_present[m] = true;
			have = true;
			last_ts = bts[j];
			last_v = bv[j];
			j++;
		} else if (ffill && have && b - last_ts <= max_age) {
			out_v[m] = last_v;
			out_present[m] = true;
		} else {
			out_v[m] = 0;
			out_present[m] = false;
		}
		m++;
	}
	return m;
}
