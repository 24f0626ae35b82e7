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

int64_t lav_bucket_start(int64_t ts, int64_t size, const struct lav_tz *tz)
{
	if (!tz)
		return align(ts, size);
	int64_t s = floor_div(ts, LAV_US_PER_S);
	int64_t local = ts + (int64_t)lav_tz_offset(tz, s) * LAV_US_PER_S;
	int64_t b_local = align(local, size);
	int64_t b = lav_tz_local_to_utc(tz, floor_div(b_local, LAV_US_PER_S)) * LAV_US_PER_S;
	if (b > ts) /* ts sits before a boundary shifted by a DST change */
		b = lav_tz_local_to_utc(tz, floor_div(b_local - size, LAV_US_PER_S)) * LAV_US_PER_S;
	return b;
}

int64_t lav_bucket_next(int64_t start, int64_t size, const struct lav_tz *tz)
{
	if (!tz)
		return start + size;
	/* the next local boundary: step past this bucket in local time */
	int64_t s = floor_div(start, LAV_US_PER_S);
	int64_t local = start + (int64_t)lav_tz_offset(tz, s) * LAV_US_PER_S;
	int64_t next_local = align(local, size) + size;
	int64_t next = lav_tz_local_to_utc(tz, floor_div(next_local, LAV_US_PER_S)) * LAV_US_PER_S;
	return next > start ? next : start + size;
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
		for (; i < n && ts[i] < end; i++) {
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
