/* The mock generator (docs/ingestion.md): closed-form values, so no state
 * and no random stream can make two runs differ. */
#include "lav/mock.h"

#include <math.h>
#include <string.h>

#include "lav/timefmt.h"

#define CYCLE_DAYS 75.0
#define CYCLE2_DAYS 23.0
#define TWO_PI 6.283185307179586

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Uniform in [0, 1) from (seed, feature, tag). */
static double u01(uint64_t seed, uint64_t feature, uint64_t tag)
{
	uint64_t h = splitmix64(seed ^ splitmix64(feature ^ splitmix64(tag)));
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

int64_t lav_mock_period_us(const struct lav_feature *f)
{
	int64_t ms = lav_frequency_ms(f->frequency);
	return (ms ? ms : 60000) * LAV_US_PER_MS;
}

static int64_t anchor_us(const struct lav_feature *f)
{
	/* 1970-01-07 was a Wednesday: FRED's weekly H.4.1 dates */
	return f->frequency == LAV_FREQ_1W ? 6 * LAV_US_PER_DAY : 0;
}

int64_t lav_mock_slot_ceil(const struct lav_feature *f, int64_t t)
{
	int64_t p = lav_mock_period_us(f), a = anchor_us(f);
	int64_t off = t - a, k = off / p;
	if (off > 0 && off % p != 0)
		k++;
	return a + k * p;
}

static int64_t slot_floor(const struct lav_feature *f, int64_t t)
{
	int64_t p = lav_mock_period_us(f), a = anchor_us(f);
	int64_t off = t - a, k = off / p;
	if (off < 0 && off % p != 0)
		k--;
	return a + k * p;
}

int64_t lav_mock_available_at(const struct lav_feature *f, int64_t ts)
{
	return ts + f->publication_delay_ms * LAV_US_PER_MS;
}

/* The shared liquidity cycle, |L| <= 1. */
static double cycle(uint64_t seed, double days)
{
	double p1 = TWO_PI * u01(seed, 0, 1), p2 = TWO_PI * u01(seed, 0, 2);
	return 0.75 * sin(TWO_PI * days / CYCLE_DAYS + p1) +
	       0.25 * sin(TWO_PI * days / CYCLE2_DAYS + p2);
}

static double raw_value(const struct lav_feature *f, int polarity, uint64_t seed, int64_t ts)
{
	uint64_t fid = fnv1a(f->id);
	double days = (double)ts / (double)LAV_US_PER_DAY;
	double lag = 3.0 * u01(seed, fid, 10);
	double pa = 9.0 + 12.0 * u01(seed, fid, 11), pb = 9.0 + 12.0 * u01(seed, fid, 12);
	double fa = TWO_PI * u01(seed, fid, 13), fb = TWO_PI * u01(seed, fid, 14);
	double wiggle = 0.5 * sin(TWO_PI * days / pa + fa) + 0.5 * sin(TWO_PI * days / pb + fb);
	int64_t slot = ts / lav_mock_period_us(f);
	double noise = 2.0 * u01(seed, fid, 0x100000000ULL ^ (uint64_t)slot) - 1.0;
	double center = 100, span = 100;
	if (f->has_range) {
		center = (f->range_lo + f->range_hi) / 2;
		span = f->range_hi - f->range_lo;
		/* a positive quantity over orders of magnitude (gas, TGA) sits at
		 * the geometric middle, and swings by at most ±20 % of its level so
		 * ratios of it (yoy) stay plausible */
		if (f->range_lo > 0 && f->range_hi > 10 * f->range_lo)
			center = sqrt(f->range_lo * f->range_hi);
		if (f->range_lo > 0 && span > 0.6 * center)
			span = 0.6 * center;
	}
	double pol = polarity < 0 ? -1.0 : 1.0;
	double x = center + span * (0.25 * pol * cycle(seed, days - lag) + 0.04 * wiggle +
				    0.02 * noise);
	return f->dtype == LAV_DTYPE_INT64 ? nearbyint(x) : x;
}

double lav_mock_value(const struct lav_catalog *cat, const struct lav_feature *f, int polarity,
		      uint64_t seed, int64_t ts)
{
	if (f->derived && strcmp(f->derived->op, "yoy") == 0 && f->derived->ninputs == 1) {
		const struct lav_feature *in = lav_catalog_find(cat, f->derived->inputs[0]);
		if (in) {
			double now = raw_value(in, 1, seed, slot_floor(in, ts));
			double then =
				raw_value(in, 1, seed, slot_floor(in, ts - 365 * LAV_US_PER_DAY));
			if (then != 0)
				return now / then - 1;
		}
	}
	return raw_value(f, polarity, seed, ts);
}
