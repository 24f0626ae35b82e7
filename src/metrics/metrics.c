/* The counters behind GET /metrics. Recording is a few increments on the
 * request path; everything that needs a lookup is over short fixed lists. */
#include "lav/metrics.h"

#include <jansson.h>
#include <string.h>

static const char *const REASONS[LAV_METRICS_MAX_REASONS] = {
    "out_of_range",
    "invalid_value",
    "future_timestamp",
    "invalid_timestamp",
    "invalid_confidence",
    "invalid_entity",
    "invalid_field",
    "invalid_point",
    "computed_feature",
    "other",
    NULL,
    NULL,
};

const char *lav_metrics_reason_name(size_t i)
{
	return i < LAV_METRICS_MAX_REASONS ? REASONS[i] : NULL;
}

static size_t reason_index(const char *code)
{
	size_t other = 0;
	for (size_t i = 0; i < LAV_METRICS_MAX_REASONS && REASONS[i]; i++) {
		if (strcmp(REASONS[i], "other") == 0)
			other = i;
		else if (code && strcmp(REASONS[i], code) == 0)
			return i;
	}
	return other;
}

void lav_metrics_init(struct lav_metrics *m, const struct lav_catalog *cat)
{
	memset(m, 0, sizeof(*m));
	m->nfeatures = cat->nfeatures;
	m->features = lav_xcalloc(cat->nfeatures ? cat->nfeatures : 1, sizeof(*m->features));
	for (size_t i = 0; i < LAV_METRICS_NENDPOINTS; i++)
		lav_hist_init(&m->query[i], LAV_PROM_LATENCY_BOUNDS, LAV_PROM_LATENCY_NBOUNDS);
	lav_hist_init(&m->pg_query, LAV_PROM_LATENCY_BOUNDS, LAV_PROM_LATENCY_NBOUNDS);
	lav_hist_init(&m->redis_command, LAV_PROM_LATENCY_BOUNDS, LAV_PROM_LATENCY_NBOUNDS);
	lav_hist_init(&m->loop_lag, LAV_PROM_LATENCY_BOUNDS, LAV_PROM_LATENCY_NBOUNDS);
	m->pg_storage_bytes = -1;
}

void lav_metrics_free(struct lav_metrics *m)
{
	free(m->features);
	for (size_t i = 0; i < m->nroutes; i++) {
		lav_hist_free(&m->routes[i].duration);
		free(m->routes[i].codes);
	}
	free(m->routes);
	for (size_t i = 0; i < LAV_METRICS_NENDPOINTS; i++)
		lav_hist_free(&m->query[i]);
	lav_hist_free(&m->pg_query);
	lav_hist_free(&m->redis_command);
	lav_hist_free(&m->loop_lag);
	free(m->ws_closes);
	memset(m, 0, sizeof(*m));
}

static void count_code(struct lav_http_code_count **v, size_t *n, int method, int code)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i].method == method && (*v)[i].code == code) {
			(*v)[i].n++;
			return;
		}
	}
	*v = lav_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct lav_http_code_count){.method = method, .code = code, .n = 1};
	(*n)++;
}

struct lav_route_stats *lav_metrics_http(struct lav_metrics *m, const char *route, int method,
					 int status, double seconds)
{
	if (!route)
		route = "unmatched";
	struct lav_route_stats *rs = NULL;
	/* patterns are the route table's own strings: a pointer is found without
	 * comparing text; another copy of a pattern still finds its entry */
	for (size_t i = 0; i < m->nroutes && !rs; i++)
		if (m->routes[i].route == route)
			rs = &m->routes[i];
	for (size_t i = 0; i < m->nroutes && !rs; i++)
		if (strcmp(m->routes[i].route, route) == 0)
			rs = &m->routes[i];
	if (!rs) {
		m->routes = lav_xrealloc(m->routes, (m->nroutes + 1) * sizeof(*m->routes));
		rs = &m->routes[m->nroutes++];
		memset(rs, 0, sizeof(*rs));
		rs->route = route;
		rs->endpoint = -2;
		lav_hist_init(&rs->duration, LAV_PROM_LATENCY_BOUNDS, LAV_PROM_LATENCY_NBOUNDS);
	}
	/* status codes lavd answers with are a short list, methods a known enum */
	count_code(&rs->codes, &rs->ncodes, method, status);
	lav_hist_observe(&rs->duration, seconds);
	return rs;
}

static struct lav_feature_stats *stats_of(struct lav_metrics *m, const struct lav_catalog *cat,
					  const struct lav_feature *f)
{
	if (!f || f < cat->features || f >= cat->features + cat->nfeatures)
		return NULL;
	size_t i = (size_t)(f - cat->features);
	return i < m->nfeatures ? &m->features[i] : NULL;
}

void lav_metrics_stored(struct lav_metrics *m, const struct lav_catalog *cat,
			const struct lav_feature *f, const json_t *meta)
{
	struct lav_feature_stats *s = stats_of(m, cat, f);
	if (!s)
		return;
	s->ingested++;
	const json_t *dq = json_object_get(meta, "dq");
	bool has[LAV_DQ_NRULES] = {false};
	size_t i;
	const json_t *flag;
	json_array_foreach(dq, i, flag)
	{
		const char *name = json_string_value(flag);
		if (name && strcmp(name, "out_of_range") == 0)
			has[LAV_DQ_RULE_OUT_OF_RANGE] = true;
		else if (name && strcmp(name, "outlier") == 0)
			has[LAV_DQ_RULE_OUTLIER] = true;
	}
	/* a point counts once per rule, however often its meta names it */
	for (int r = 0; r < LAV_DQ_NRULES; r++)
		s->flagged[r] += has[r];
}

void lav_metrics_failed(struct lav_metrics *m, const struct lav_catalog *cat,
			const struct lav_feature *f, size_t n)
{
	struct lav_feature_stats *s = stats_of(m, cat, f);
	if (s)
		s->failed += n;
}

void lav_metrics_rejected(struct lav_metrics *m, const struct lav_catalog *cat,
			  const struct lav_feature *f, const char *code)
{
	struct lav_feature_stats *s = stats_of(m, cat, f);
	if (!s) {
		m->unknown_feature_rejects++;
		return;
	}
	s->failed++;
	s->rejected[reason_index(code)]++;
}

void lav_metrics_ws_sent(struct lav_metrics *m, enum lav_ws_msg_type type)
{
	if (type < LAV_WSM_COUNT)
		m->ws_sent[type]++;
}

void lav_metrics_ws_closed(struct lav_metrics *m, int code)
{
	/* a peer's close code is echoed back (RFC 6455 5.5.1): only the codes
	 * lav or the protocol define get a label of their own */
	static const int KNOWN[] = {1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011};
	bool known = false;
	for (size_t i = 0; i < sizeof(KNOWN) / sizeof(KNOWN[0]); i++)
		known |= KNOWN[i] == code;
	count_code(&m->ws_closes, &m->nws_closes, 0, known ? code : LAV_METRICS_OTHER_CODE);
}
