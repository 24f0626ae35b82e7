/* What ingestion tells /metrics: each source's counters and breaker, and the
 * gap spec (period, anchor, calendar) coverage is judged by. */
#include <string.h>

#include "ingest_impl.h"
#include "lav/ingest.h"
#include "lav/server.h"

size_t lav_ingest_source_count(const struct lav_ingest *in)
{
	return in ? in->nsources : 0;
}

void lav_ingest_source_stats(const struct lav_ingest *in, size_t i, int64_t now_us,
			     struct lav_source_stats *out)
{
	const struct src_rt *s = &in->sources[i];
	out->id = s->src->id;
	out->requests = s->requests;
	out->failures = s->failures;
	out->breaker = lav_breaker_state(&s->breaker, now_us);
}

void lav_ingest_gap_spec(const struct lav_ingest *in, const struct lav_feature *f,
			 struct lav_gap_spec *out)
{
	/* series are made in catalog order: try f's own index first */
	const struct lav_catalog *cat = in ? &in->srv->catalog : NULL;
	if (cat && f >= cat->features && f < cat->features + cat->nfeatures) {
		size_t i = (size_t)(f - cat->features);
		if (i < in->nseries && in->series[i].f == f) {
			*out = in->series[i].gap;
			return;
		}
	}
	for (size_t i = 0; in && i < in->nseries; i++) {
		if (in->series[i].f == f) {
			*out = in->series[i].gap;
			return;
		}
	}
	/* computed and derived features: the catalog's frequency, every day */
	memset(out, 0, sizeof(*out));
	out->period_us = lav_frequency_ms(f->frequency) * 1000;
}
