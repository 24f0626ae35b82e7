/* config/liquidity.feeds.json: the semáforo's feeds, weights and rules
 * (DESIGN.md section 5), with the seed's LIQ_* variables taking precedence. */
#ifndef LAV_FEEDS_H
#define LAV_FEEDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/catalog.h"
#include "lav/config.h"

enum { LAV_COMP_GL, LAV_COMP_CN, LAV_COMP_MP, LAV_NCOMP };

struct lav_liq_feed {
	char *feature_id;
	double weight; /* signed */
};

struct lav_liq_component {
	const char *name; /* "gl", "cn", "mp" */
	struct lav_liq_feed *feeds;
	size_t nfeeds;
};

struct lav_liq_config {
	struct lav_liq_component comp[LAV_NCOMP];
	char *score_id;
	double weights[LAV_NCOMP];
	double alpha;
	double theta_hi, theta_lo;
	int64_t flip_confirm_ms;
	int64_t window_ms;
	int min_obs;
	int64_t grid_step_ms;
	int64_t trend_lookback_ms;
	char *etf_flows[2];
	char *stables_yoy, *rrp, *tga;
};

/* Validates doc against the catalog and applies the LIQ_* overrides in cfg. */
bool lav_liq_config_parse(const json_t *doc, const char *file, const struct lav_catalog *cat,
			  const struct lav_config *cfg, struct lav_liq_config *out,
			  struct lav_errors *errs);
void lav_liq_config_free(struct lav_liq_config *lc);

#endif
