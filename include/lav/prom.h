/* The Prometheus text exposition format (version 0.0.4) and fixed-bucket
 * histograms. Pure: the collector (lav/metrics.h) decides what to write. */
#ifndef LAV_PROM_H
#define LAV_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "lav/buf.h"

#define LAV_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds in ascending order; +Inf is implicit. counts[i] holds the
 * observations of bucket i alone (cumulated when written), counts[nbounds]
 * those above the last bound. */
struct lav_hist {
	const double *bounds;
	size_t nbounds;
	uint64_t *counts;
	double sum;
	uint64_t count;
};

/* bounds must outlive the histogram (a static table). */
void lav_hist_init(struct lav_hist *h, const double *bounds, size_t nbounds);
void lav_hist_free(struct lav_hist *h);
/* NaN is ignored: it would poison the sum for the life of the process. */
void lav_hist_observe(struct lav_hist *h, double v);

/* Bounds shared by the latency histograms: 0.5 ms .. 10 s. */
extern const double LAV_PROM_LATENCY_BOUNDS[];
extern const size_t LAV_PROM_LATENCY_NBOUNDS;

/* # HELP and # TYPE lines of a metric family; type is counter, gauge,
 * histogram or untyped. Help text is escaped (backslash, newline). */
void lav_prom_family(struct lav_buf *out, const char *name, const char *type, const char *help);

/* One sample line. labels is a NULL-terminated list of name, value pairs
 * (NULL itself for none); values are escaped. */
void lav_prom_sample(struct lav_buf *out, const char *name, const char *const *labels, double v);

/* The _bucket (cumulative, le last), _sum and _count lines of h. */
void lav_prom_hist(struct lav_buf *out, const char *name, const char *const *labels,
		   const struct lav_hist *h);

/* A sample value: integers exactly, +Inf, -Inf, NaN, else the shortest
 * %.17g round trip. */
void lav_prom_value(struct lav_buf *out, double v);

/* A label value with \\, \" and \n escaped. */
void lav_prom_label_value(struct lav_buf *out, const char *v);

#endif
