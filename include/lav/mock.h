/* ORACLE_SOURCE_MODE=mock: deterministic synthetic series for every catalog
 * feature. A value is a closed-form function of (seed, feature id, slot), so
 * the same seed and range give byte-identical rows whether they were written
 * by a backfill, by live polling or by gap repair, in any order. Every series
 * follows one shared liquidity cycle (about 75 days) in the direction the
 * semáforo reads it, so the regime visibly moves over weeks. Pure. */
#ifndef LAV_MOCK_H
#define LAV_MOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "lav/catalog.h"

/* The first slot (period start) >= t of a feature's frequency; weekly slots
 * fall on Wednesdays (FRED's H.4.1 dates), tick features use 1 minute. */
int64_t lav_mock_slot_ceil(const struct lav_feature *f, int64_t t);
int64_t lav_mock_period_us(const struct lav_feature *f);

/* polarity: +1 when the semáforo reads the feature with a positive weight,
 * -1 with a negative one (TGA, RRP), so every series moves the score the same
 * way; 0 = not read by the semáforo (treated as +1). */
/* A derived yoy feature is the yoy of its input's mock values, as live. */
double lav_mock_value(const struct lav_catalog *cat, const struct lav_feature *f, int polarity,
		      uint64_t seed, int64_t ts);

/* The knowledge time of the mock point at ts: ts + publication_delay. */
int64_t lav_mock_available_at(const struct lav_feature *f, int64_t ts);

#endif
