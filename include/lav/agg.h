/* Query-time transforms (pure): aggregation into buckets aligned to UTC or to
 * a time zone, and forward fill with a maximum age. */
#ifndef LAV_AGG_H
#define LAV_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/tz.h"

enum lav_agg { LAV_AGG_NONE, LAV_AGG_SUM, LAV_AGG_AVG, LAV_AGG_MIN, LAV_AGG_MAX, LAV_AGG_FIRST,
	       LAV_AGG_LAST, LAV_AGG_COUNT };

bool lav_agg_parse(const char *s, enum lav_agg *out);

/* Start of the bucket holding ts (µs). Buckets of size_us are aligned to the
 * Unix epoch in local time of tz (UTC when tz is NULL); weeks start on
 * Monday. Day and week buckets in a zone with DST follow the wall clock. */
int64_t lav_bucket_start(int64_t ts_us, int64_t size_us, const struct lav_tz *tz);
/* Start of the bucket after the one starting at start_us. */
int64_t lav_bucket_next(int64_t start_us, int64_t size_us, const struct lav_tz *tz);

/* Aggregates points sorted by ts into buckets; writes one (bucket start,
 * value, count) per non-empty bucket; returns how many. Outputs need room
 * for n entries. */
size_t lav_aggregate(const int64_t *ts, const double *v, size_t n, enum lav_agg agg,
		     int64_t size_us, const struct lav_tz *tz, int64_t *out_ts, double *out_v,
		     uint32_t *out_count);

/* Dense buckets over [since, until): every bucket start, with the value of
 * that bucket, or (ffill) the latest earlier bucket's value when its start
 * is at most max_age_us older, or missing. Returns the number of buckets
 * written (at most cap); *more is set when the range had more. */
size_t lav_fill_buckets(const int64_t *bts, const double *bv, size_t n, int64_t since_us,
			int64_t until_us, int64_t size_us, const struct lav_tz *tz, bool ffill,
			int64_t max_age_us, int64_t *out_ts, double *out_v, bool *out_present,
			size_t cap, bool *more);

#endif
