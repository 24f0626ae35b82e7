/* Time values are int64 microseconds since the Unix epoch, UTC (PostgreSQL's
 * resolution). Parsing and formatting are pure so they are unit-tested directly. */
#ifndef LAV_TIMEFMT_H
#define LAV_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAV_US_PER_MS 1000LL
#define LAV_US_PER_S 1000000LL
#define LAV_US_PER_DAY 86400000000LL

/* Longest output of lav_time_format plus NUL. */
#define LAV_TIME_STRLEN 32

/* RFC 3339 date-time with any offset ("2025-10-20T00:00:00Z", "...+02:00",
 * fractional seconds up to 9 digits, truncated to microseconds).
 * Returns false on anything else; *why names the first problem. */
bool lav_time_parse(const char *s, size_t len, int64_t *out_us, const char **why);

/* "2025-10-20T00:00:00.000Z": milliseconds, or microseconds when the value
 * has a sub-millisecond part, so distinct instants never print the same. */
size_t lav_time_format(int64_t us, char out[LAV_TIME_STRLEN]);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t lav_days_from_civil(int64_t y, unsigned m, unsigned d);
void lav_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Durations: "<integer><unit>" with unit ms, s, m, h, d, w ("1h", "180d").
 * Result in milliseconds, > 0 unless allow_zero. */
bool lav_duration_parse(const char *s, bool allow_zero, int64_t *out_ms);

#endif
