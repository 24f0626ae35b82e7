#include "lav/feeds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/timefmt.h"

static const char *const COMP_NAMES[LAV_NCOMP] = {"gl", "cn", "mp"};

static bool only_keys(const json_t *obj, const char *const *allowed, const char *file,
		      const char *where, struct lav_errors *errs)
{
	bool ok = true;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		bool known = false;
		for (int i = 0; allowed[i]; i++)
			known |= strcmp(allowed[i], key) == 0;
		if (!known) {
			lav_errors_add(errs, "%s: %s%sunknown field \"%s\"", file, where,
				       *where ? ": " : "", key);
			ok = false;
		}
	}
	return ok;
}

static json_t *path_get(const json_t *doc, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(doc, a);
	if (v && b)
		v = json_object_get(v, b);
	if (v && c)
		v = json_object_get(v, c);
	return v;
}

static char *feature_ref(const json_t *v, const char *file, const char *field,
			 const struct lav_catalog *cat, struct lav_errors *errs)
{
	const char *id = json_string_value(v);
	if (!id) {
		lav_errors_add(errs, "%s: field \"%s\": must be a feature id", file, field);
		return NULL;
	}
	if (!lav_catalog_find(cat, id)) {
		lav_errors_add(errs, "%s: field \"%s\": \"%s\" is not in the feature catalog", file,
			       field, id);
		return NULL;
	}
	return lav_xstrdup(id);
}

static bool duration(const json_t *v, const char *file, const char *field, bool allow_zero,
		     int64_t *out, struct lav_errors *errs)
{
	const char *s = json_string_value(v);
	if (!s || !lav_duration_parse(s, allow_zero, out)) {
		lav_errors_add(errs, "%s: field \"%s\": must be a duration like \"24h\" or \"7d\"",
			       file, field);
		return false;
	}
	return true;
}

bool lav_liq_config_parse(const json_t *doc, const char *file, const struct lav_catalog *cat,
			  const struct lav_config *cfg, struct lav_liq_config *lc,
			  struct lav_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	memset(lc, 0, sizeof(*lc));
	if (!json_is_object(doc)) {
		lav_errors_add(errs, "%s: must be a JSON object", file);
		return false;
	}
	static const char *const top[] = {"components", "score", "regime", "normalization",
					  "grid",	"trend_lookback", "rules", NULL};
	only_keys(doc, top, file, "", errs);

	json_t *comps = json_object_get(doc, "components");
	if (!json_is_object(comps)) {
		lav_errors_add(errs, "%s: field \"components\": must be an object with gl, cn, mp",
			       file);
	} else {
		only_keys(comps, (const char *const[]){"gl", "cn", "mp", NULL}, file,
			  "components", errs);
		for (int c = 0; c < LAV_NCOMP; c++) {
			struct lav_liq_component *comp = &lc->comp[c];
			comp->name = COMP_NAMES[c];
			json_t *o = json_object_get(comps, COMP_NAMES[c]);
			json_t *feeds = json_object_get(o, "feeds");
			json_t *weights = json_object_get(o, "weights");
			char field[64];
			snprintf(field, sizeof(field), "components.%s", COMP_NAMES[c]);
			if (!json_is_object(o) || !json_is_array(feeds) || !json_is_array(weights) ||
			    json_array_size(feeds) == 0 ||
			    json_array_size(feeds) != json_array_size(weights)) {
				lav_errors_add(errs,
					       "%s: field \"%s\": must have non-empty \"feeds\" and "
					       "\"weights\" arrays of the same length",
					       file, field);
				continue;
			}
			only_keys(o, (const char *const[]){"feeds", "weights", NULL}, file, field,
				  errs);
			size_t n = json_array_size(feeds);
			comp->feeds = lav_xcalloc(n, sizeof(*comp->feeds));
			for (size_t i = 0; i < n; i++) {
				char f[96];
				snprintf(f, sizeof(f), "%s.feeds[%zu]", field, i);
				char *id = feature_ref(json_array_get(feeds, i), file, f, cat, errs);
				json_t *w = json_array_get(weights, i);
				snprintf(f, sizeof(f), "%s.weights[%zu]", field, i);
				if (!json_is_number(w) || json_number_value(w) == 0)
					lav_errors_add(errs,
						       "%s: field \"%s\": must be a non-zero number",
						       file, f);
				if (!id)
					continue;
				comp->feeds[comp->nfeeds].feature_id = id;
				comp->feeds[comp->nfeeds].weight = json_number_value(w);
				comp->nfeeds++;
			}
		}
	}

	json_t *score = json_object_get(doc, "score");
	if (json_is_object(score))
		only_keys(score, (const char *const[]){"id", "weights", "smoothing", NULL}, file,
			  "score", errs);
	const char *sid = json_string_value(json_object_get(score, "id"));
	lc->score_id = lav_xstrdup(sid ? sid : "liquidity/score/lav_liq_score");
	json_t *w = json_object_get(score, "weights");
	double wsum = 0;
	if (!json_is_array(w) || json_array_size(w) != LAV_NCOMP) {
		lav_errors_add(errs, "%s: field \"score.weights\": must be 3 numbers (GL, CN, MP)",
			       file);
	} else {
		for (int c = 0; c < LAV_NCOMP; c++) {
			json_t *x = json_array_get(w, (size_t)c);
			if (!json_is_number(x) || json_number_value(x) < 0)
				lav_errors_add(errs,
					       "%s: field \"score.weights[%d]\": must be a number >= "
					       "0",
					       file, c);
			lc->weights[c] = json_number_value(x);
			wsum += lc->weights[c];
		}
		if (wsum <= 0)
			lav_errors_add(errs, "%s: field \"score.weights\": at least one must be > 0",
				       file);
	}
	json_t *smoothing = path_get(doc, "score", "smoothing", NULL);
	if (json_is_object(smoothing))
		only_keys(smoothing, (const char *const[]){"alpha", NULL}, file, "score.smoothing",
			  errs);
	json_t *alpha = path_get(doc, "score", "smoothing", "alpha");
	lc->alpha = json_number_value(alpha);
	if (!json_is_number(alpha) || !(lc->alpha > 0 && lc->alpha <= 1))
		lav_errors_add(errs, "%s: field \"score.smoothing.alpha\": must be in (0, 1]", file);

	json_t *regime = json_object_get(doc, "regime");
	if (json_is_object(regime))
		only_keys(regime, (const char *const[]){"thresholds", "confirmation_windows", NULL},
			  file, "regime", errs);
	json_t *th = path_get(doc, "regime", "thresholds", NULL);
	if (json_is_object(th))
		only_keys(th, (const char *const[]){"green", "red", NULL}, file, "regime.thresholds",
			  errs);
	json_t *cw = path_get(doc, "regime", "confirmation_windows", NULL);
	if (json_is_object(cw))
		only_keys(cw, (const char *const[]){"flip", NULL}, file,
			  "regime.confirmation_windows", errs);
	json_t *hi = path_get(doc, "regime", "thresholds", "green");
	json_t *lo = path_get(doc, "regime", "thresholds", "red");
	if (!json_is_number(hi) || !json_is_number(lo) ||
	    !(json_number_value(hi) > json_number_value(lo)))
		lav_errors_add(errs,
			       "%s: field \"regime.thresholds\": green and red must be numbers "
			       "with green > red",
			       file);
	lc->theta_hi = json_number_value(hi);
	lc->theta_lo = json_number_value(lo);
	duration(path_get(doc, "regime", "confirmation_windows", "flip"), file,
		 "regime.confirmation_windows.flip", true, &lc->flip_confirm_ms, errs);

	lc->window_ms = 180LL * 86400000;
	lc->min_obs = 10;
	json_t *norm = json_object_get(doc, "normalization");
	if (norm) {
		only_keys(norm, (const char *const[]){"window", "min_obs", NULL}, file,
			  "normalization", errs);
		if (json_object_get(norm, "window"))
			duration(json_object_get(norm, "window"), file, "normalization.window",
				 false, &lc->window_ms, errs);
		json_t *mo = json_object_get(norm, "min_obs");
		if (mo) {
			if (!json_is_integer(mo) || json_integer_value(mo) < 2)
				lav_errors_add(errs,
					       "%s: field \"normalization.min_obs\": must be an "
					       "integer >= 2 (a sample std needs two values)",
					       file);
			else
				lc->min_obs = (int)json_integer_value(mo);
		}
	}
	lc->grid_step_ms = 3600000;
	json_t *grid = json_object_get(doc, "grid");
	if (grid && !json_is_object(grid))
		lav_errors_add(errs, "%s: field \"grid\": must be an object {step}", file);
	else if (grid)
		only_keys(grid, (const char *const[]){"step", NULL}, file, "grid", errs);
	json_t *step = path_get(doc, "grid", "step", NULL);
	if (step)
		duration(step, file, "grid.step", false, &lc->grid_step_ms, errs);
	lc->trend_lookback_ms = 7LL * 86400000;
	json_t *tl = json_object_get(doc, "trend_lookback");
	if (tl)
		duration(tl, file, "trend_lookback", false, &lc->trend_lookback_ms, errs);

	json_t *rules = json_object_get(doc, "rules");
	if (!json_is_object(rules)) {
		lav_errors_add(errs,
			       "%s: field \"rules\": must name etf_flows, stables_yoy, rrp and tga",
			       file);
	} else {
		only_keys(rules,
			  (const char *const[]){"etf_flows", "stables_yoy", "rrp", "tga", NULL},
			  file, "rules", errs);
		json_t *etf = json_object_get(rules, "etf_flows");
		if (!json_is_array(etf) || json_array_size(etf) < 1 || json_array_size(etf) > 2)
			lav_errors_add(errs,
				       "%s: field \"rules.etf_flows\": must list one or two "
				       "features",
				       file);
		else
			for (size_t i = 0; i < json_array_size(etf); i++)
				lc->etf_flows[i] = feature_ref(json_array_get(etf, i), file,
							       "rules.etf_flows", cat, errs);
		lc->stables_yoy = feature_ref(json_object_get(rules, "stables_yoy"), file,
					      "rules.stables_yoy", cat, errs);
		lc->rrp = feature_ref(json_object_get(rules, "rrp"), file, "rules.rrp", cat, errs);
		lc->tga = feature_ref(json_object_get(rules, "tga"), file, "rules.tga", cat, errs);
	}

	/* The seed's environment variables win over the file. */
	if (cfg) {
		if (cfg->has_score_weights)
			memcpy(lc->weights, cfg->score_weights, sizeof(lc->weights));
		if (cfg->has_thresholds) {
			lc->theta_hi = cfg->threshold_hi;
			lc->theta_lo = cfg->threshold_lo;
		}
		if (cfg->has_alpha)
			lc->alpha = cfg->smoothing_alpha;
		if (cfg->has_flip_hours)
			lc->flip_confirm_ms = (int64_t)llround(cfg->flip_confirmation_hours * 3600000);
		if (cfg->has_grid_step)
			lc->grid_step_ms = cfg->grid_step_ms;
	}
	if (lc->grid_step_ms < 1000 || lc->grid_step_ms % 1000 || 86400000LL % lc->grid_step_ms)
		lav_errors_add(errs,
			       "%s: field \"grid.step\": must be whole seconds dividing a day", file);
	if (errs->n + errs->dropped != before) {
		lav_liq_config_free(lc);
		return false;
	}
	return true;
}

void lav_liq_config_free(struct lav_liq_config *lc)
{
	for (int c = 0; c < LAV_NCOMP; c++) {
		for (size_t i = 0; i < lc->comp[c].nfeeds; i++)
			free(lc->comp[c].feeds[i].feature_id);
		free(lc->comp[c].feeds);
	}
	free(lc->score_id);
	free(lc->etf_flows[0]);
	free(lc->etf_flows[1]);
	free(lc->stables_yoy);
	free(lc->rrp);
	free(lc->tga);
	memset(lc, 0, sizeof(*lc));
}
