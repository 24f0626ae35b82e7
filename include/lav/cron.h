/* Five-field cron expressions ("*\/15 * * * *") for the export schedule.
 * Pure: parse into bitsets, then ask for the next matching minute. */
#ifndef LAV_CRON_H
#define LAV_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lav_cron {
	uint64_t minute; /* bit n: minute n matches */
	uint32_t hour;
	uint32_t mday; /* bits 1..31 */
	uint16_t month; /* bits 1..12 */
	uint8_t wday;   /* bits 0..6, Sunday = 0 (7 accepted as Sunday) */
	bool mday_any, wday_any;
};

bool lav_cron_parse(const char *expr, struct lav_cron *out, char *err, size_t errlen);

/* First matching minute strictly after after_us (UTC), in microseconds;
 * -1 if none within eight years (e.g. "0 0 30 2 *"). */
int64_t lav_cron_next(const struct lav_cron *c, int64_t after_us);

#endif
