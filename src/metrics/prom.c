/* Prometheus text exposition. Writers append to a buffer and never fail, so
 * a scrape is one pass over the server's state. */
#include "lav/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const double LAV_PROM_LATENCY_BOUNDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,	  0.25,	 0.5,	 1,	2.5,  5,     10};
const size_t LAV_PROM_LATENCY_NBOUNDS =
    sizeof(LAV_PROM_LATENCY_BOUNDS) / sizeof(LAV_PROM_LATENCY_BOUNDS[0]);

void lav_hist_init(struct lav_hist *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds;
	h->counts = lav_xcalloc(nbounds + 1, sizeof(*h->counts));
}

void lav_hist_free(struct lav_hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void lav_hist_observe(struct lav_hist *h, double v)
{
	if (isnan(v))
		return;
	/* le is inclusive: an observation equal to a bound belongs to it */
	size_t lo = 0, hi = h->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v <= h->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	h->counts[lo]++;
	h->sum += v;
	h->count++;
}

static void escaped(struct lav_buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			lav_buf_puts(out, "\\\\");
		else if (*s == '\n')
			lav_buf_puts(out, "\\n");
		else if (quote && *s == '"')
			lav_buf_puts(out, "\\\"");
		else
			lav_buf_putc(out, *s);
	}
}

void lav_prom_label_value(struct lav_buf *out, const char *v)
{
	escaped(out, v, true);
}

void lav_prom_family(struct lav_buf *out, const char *name, const char *type, const char *help)
{
	lav_buf_printf(out, "# HELP %s ", name);
	escaped(out, help, false);
	lav_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void lav_prom_value(struct lav_buf *out, double v)
{
	if (isnan(v)) {
		lav_buf_puts(out, "NaN");
	} else if (isinf(v)) {
		lav_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		lav_buf_printf(out, "%lld", (long long)v);
	} else {
		char tmp[32];
		/* the shortest form that reads back to the same double */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
			if (prec == 17 || strtod(tmp, NULL) == v)
				break;
		}
		lav_buf_puts(out, tmp);
	}
}

static void labels_open(struct lav_buf *out, const char *const *labels, bool more)
{
	bool any = labels && labels[0];
	if (!any && !more)
		return;
	lav_buf_putc(out, '{');
	for (size_t i = 0; labels && labels[i]; i += 2) {
		if (i)
			lav_buf_putc(out, ',');
		lav_buf_printf(out, "%s=\"", labels[i]);
		lav_prom_label_value(out, labels[i + 1]);
		lav_buf_putc(out, '"');
	}
	if (more && any)
		lav_buf_putc(out, ',');
}

void lav_prom_sample(struct lav_buf *out, const char *name, const char *const *labels, double v)
{
	lav_buf_puts(out, name);
	labels_open(out, labels, false);
	if (labels && labels[0])
		lav_buf_putc(out, '}');
	lav_buf_putc(out, ' ');
	lav_prom_value(out, v);
	lav_buf_putc(out, '\n');
}

void lav_prom_hist(struct lav_buf *out, const char *name, const char *const *labels,
		   const struct lav_hist *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		lav_buf_printf(out, "%s_bucket", name);
		labels_open(out, labels, true);
		lav_buf_puts(out, "le=\"");
		if (i == h->nbounds)
			lav_buf_puts(out, "+Inf");
		else
			lav_prom_value(out, h->bounds[i]);
		lav_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	char sub[128];
	snprintf(sub, sizeof(sub), "%s_sum", name);
	lav_prom_sample(out, sub, labels, h->sum);
	snprintf(sub, sizeof(sub), "%s_count", name);
	lav_prom_sample(out, sub, labels, (double)h->count);
}
