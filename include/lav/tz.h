/* IANA time zones from TZif data (/usr/share/zoneinfo), for buckets aligned
 * to local days. Parsing is pure; lav_tz_load reads the file. Times after the
 * last transition follow the file's POSIX TZ footer (M-format DST rules). */
#ifndef LAV_TZ_H
#define LAV_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lav_tz_rule { /* Mm.w.d/secs */
	int month, week, wday;
	int32_t secs;
};

struct lav_tz {
	char name[64];
	int64_t *trans; /* UTC seconds, ascending */
	int32_t *off;	/* UTC offset in seconds in force from trans[i] */
	size_t n;
	int32_t off0; /* before the first transition */
	/* footer */
	bool has_footer;
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct lav_tz_rule start, end;
};

bool lav_tz_parse(const unsigned char *data, size_t len, struct lav_tz *out);
/* name like "America/Mexico_City" or "UTC"; false for unknown or unsafe names. */
bool lav_tz_load(const char *name, struct lav_tz *out);
void lav_tz_free(struct lav_tz *tz);

/* Offset east of UTC, in seconds, in force at utc_s. */
int32_t lav_tz_offset(const struct lav_tz *tz, int64_t utc_s);
/* UTC instant of a local wall-clock time (the earlier one when ambiguous). */
int64_t lav_tz_local_to_utc(const struct lav_tz *tz, int64_t local_s);

#endif
