/* config/liquidity.feeds.json against the shipped catalog, and the LIQ_*
 * overrides. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/config.h"
#include "lav/feeds.h"

#define FEEDS_FILE "test/liquidity.feeds.json"

static struct lav_catalog cat;
static struct lav_errors errs;
static struct lav_liq_config lc;
static json_t *shipped;
static char dir[512];

static void find_config_dir(void)
{
	const char *repo = getenv("LAV_REPO");
	if (repo && *repo) {
		snprintf(dir, sizeof(dir), "%s/config", repo);
		return;
	}
	const char *cands[] = {"../config", "../../config", "../../../config", "config"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[600];
		snprintf(p, sizeof(p), "%s/liquidity.feeds.json", cands[i]);
		if (access(p, R_OK) == 0) {
			snprintf(dir, sizeof(dir), "%s", cands[i]);
			return;
		}
	}
	cr_assert_fail("config/ not found: set LAV_REPO");
}

static void setup(void)
{
	memset(&cat, 0, sizeof(cat));
	memset(&errs, 0, sizeof(errs));
	memset(&lc, 0, sizeof(lc));
	find_config_dir();
	cr_assert(lav_catalog_load(dir, NULL, NULL, &cat, &errs), "catalog: %s",
		  errs.n ? errs.msg[0] : "?");
	char p[600];
	snprintf(p, sizeof(p), "%s/liquidity.feeds.json", dir);
	shipped = lav_json_load_file(p, &errs);
	cr_assert_not_null(shipped, "%s", errs.n ? errs.msg[0] : "?");
}

static void teardown(void)
{
	lav_liq_config_free(&lc);
	json_decref(shipped);
	lav_catalog_free(&cat);
	lav_errors_free(&errs);
}

TestSuite(feeds, .init = setup, .fini = teardown);

static void all_errors(char *out, size_t outlen)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < errs.n && n + 1 < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "\n  %s", errs.msg[i]);
}

static bool parse(const json_t *doc, const struct lav_config *cfg)
{
	lav_liq_config_free(&lc);
	lav_errors_free(&errs);
	return lav_liq_config_parse(doc, FEEDS_FILE, &cat, cfg, &lc, &errs);
}

static bool has_error(const char *a, const char *b)
{
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msg[i], FEEDS_FILE) && (!a || strstr(errs.msg[i], a)) &&
		    (!b || strstr(errs.msg[i], b)))
			return true;
	return false;
}

/* A copy of the shipped document with one JSON value replaced at a path of
 * object keys (NULL value: the key is deleted). */
static json_t *with(const char *k1, const char *k2, const char *k3, json_t *value)
{
	json_t *doc = json_deep_copy(shipped);
	json_t *parent = doc;
	const char *last = k1;
	if (k2) {
		parent = json_object_get(parent, k1);
		last = k2;
	}
	if (k3) {
		parent = json_object_get(parent, k2);
		last = k3;
	}
	cr_assert(json_is_object(parent));
	if (value)
		json_object_set_new(parent, last, value);
	else
		json_object_del(parent, last);
	return doc;
}

static void expect_err(json_t *doc, const char *field, const char *needle)
{
	bool ok = parse(doc, NULL);
	json_decref(doc);
	char all[4096];
	all_errors(all, sizeof(all));
	cr_assert_not(ok, "accepted; expected an error on %s", field);
	cr_assert(has_error(field, needle), "no error naming %s and %s with \"%s\":%s", FEEDS_FILE,
		  field, needle ? needle : "", all);
	/* nothing is left allocated in lc on failure */
	cr_assert_null(lc.score_id);
	cr_assert_null(lc.comp[0].feeds);
}

/* ---- the shipped file ---- */

Test(feeds, shipped_file)
{
	bool ok = parse(shipped, NULL);
	char all[4096];
	all_errors(all, sizeof(all));
	cr_assert(ok, "shipped liquidity.feeds.json rejected:%s", all);

	cr_assert_str_eq(lc.comp[LAV_COMP_GL].name, "gl");
	cr_assert_str_eq(lc.comp[LAV_COMP_CN].name, "cn");
	cr_assert_str_eq(lc.comp[LAV_COMP_MP].name, "mp");
	cr_assert_eq(lc.comp[LAV_COMP_GL].nfeeds, 3);
	cr_assert_str_eq(lc.comp[LAV_COMP_GL].feeds[0].feature_id, "macro/us/walcl_total_usd");
	cr_assert_eq(lc.comp[LAV_COMP_GL].feeds[0].weight, 1.0);
	cr_assert_str_eq(lc.comp[LAV_COMP_GL].feeds[1].feature_id, "macro/us/tga_balance_usd");
	cr_assert_eq(lc.comp[LAV_COMP_GL].feeds[1].weight, -1.0);
	cr_assert_str_eq(lc.comp[LAV_COMP_GL].feeds[2].feature_id, "macro/us/rrp_total_usd");
	cr_assert_eq(lc.comp[LAV_COMP_GL].feeds[2].weight, -1.0);
	cr_assert_eq(lc.comp[LAV_COMP_CN].nfeeds, 3);
	cr_assert_str_eq(lc.comp[LAV_COMP_CN].feeds[2].feature_id,
			 "crypto/stables/mcap_total_usd_yoy");
	cr_assert_eq(lc.comp[LAV_COMP_MP].nfeeds, 3);
	cr_assert_str_eq(lc.comp[LAV_COMP_MP].feeds[1].feature_id, "cex/agg/perp_oi_usd");
	cr_assert_eq(lc.comp[LAV_COMP_MP].feeds[1].weight, 0.5);

	cr_assert_str_eq(lc.score_id, "liquidity/score/lav_liq_score");
	cr_assert_float_eq(lc.weights[LAV_COMP_GL], 0.4, 1e-12);
	cr_assert_float_eq(lc.weights[LAV_COMP_CN], 0.4, 1e-12);
	cr_assert_float_eq(lc.weights[LAV_COMP_MP], 0.2, 1e-12);
	cr_assert_float_eq(lc.alpha, 0.2, 1e-12);
	cr_assert_float_eq(lc.theta_hi, 0.8, 1e-12);
	cr_assert_float_eq(lc.theta_lo, -0.8, 1e-12);
	cr_assert_eq(lc.flip_confirm_ms, 24 * 3600000LL);
	cr_assert_eq(lc.window_ms, 180 * 86400000LL);
	cr_assert_eq(lc.min_obs, 10);
	cr_assert_eq(lc.grid_step_ms, 3600000);
	cr_assert_eq(lc.trend_lookback_ms, 7 * 86400000LL);

	cr_assert_str_eq(lc.etf_flows[0], "crypto/etf/btc_net_flow_usd");
	cr_assert_str_eq(lc.etf_flows[1], "crypto/etf/eth_net_flow_usd");
	cr_assert_str_eq(lc.stables_yoy, "crypto/stables/mcap_total_usd_yoy");
	cr_assert_str_eq(lc.rrp, "macro/us/rrp_total_usd");
	cr_assert_str_eq(lc.tga, "macro/us/tga_balance_usd");
}

Test(feeds, defaults_for_optional_keys)
{
	json_t *doc = json_deep_copy(shipped);
	json_object_del(doc, "normalization");
	json_object_del(doc, "grid");
	json_object_del(doc, "trend_lookback");
	json_object_del(json_object_get(doc, "score"), "id");
	bool ok = parse(doc, NULL);
	json_decref(doc);
	char all[2048];
	all_errors(all, sizeof(all));
	cr_assert(ok, "%s", all);
	cr_assert_eq(lc.window_ms, 180 * 86400000LL);
	cr_assert_eq(lc.min_obs, 10);
	cr_assert_eq(lc.grid_step_ms, 3600000);
	cr_assert_eq(lc.trend_lookback_ms, 7 * 86400000LL);
	cr_assert_str_eq(lc.score_id, "liquidity/score/lav_liq_score");
}

Test(feeds, one_etf_flow_is_enough)
{
	json_t *doc = with("rules", "etf_flows", NULL, json_pack("[s]", "crypto/etf/btc_net_flow_usd"));
	bool ok = parse(doc, NULL);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_str_eq(lc.etf_flows[0], "crypto/etf/btc_net_flow_usd");
	cr_assert_null(lc.etf_flows[1]);
}

/* ---- errors ---- */

Test(feeds, feed_not_in_catalog)
{
	json_t *doc = json_deep_copy(shipped);
	json_array_set_new(json_object_get(json_object_get(json_object_get(doc, "components"), "cn"),
					   "feeds"),
			   1, json_string("crypto/etf/sol_net_flow_usd"));
	expect_err(doc, "components.cn.feeds[1]", "\"crypto/etf/sol_net_flow_usd\" is not in the feature catalog");
}

Test(feeds, rule_feature_not_in_catalog)
{
	expect_err(with("rules", "rrp", NULL, json_string("macro/us/rrp_nope")), "rules.rrp",
		   "not in the feature catalog");
	expect_err(with("rules", "tga", NULL, json_integer(1)), "rules.tga", "must be a feature id");
	expect_err(with("rules", "etf_flows", NULL,
			json_pack("[s,s,s]", "crypto/etf/btc_net_flow_usd",
				  "crypto/etf/eth_net_flow_usd", "crypto/etf/btc_net_flow_usd")),
		   "rules.etf_flows", "one or two");
	expect_err(with("rules", NULL, NULL, NULL), "rules", "etf_flows");
}

Test(feeds, weights_length_mismatch)
{
	expect_err(with("components", "gl", "weights", json_pack("[f,f]", 1.0, -1.0)),
		   "components.gl", "same length");
	expect_err(with("components", "mp", "feeds", json_array()), "components.mp", "non-empty");
	expect_err(with("components", "cn", NULL, NULL), "components.cn", "same length");
	expect_err(with("components", NULL, NULL, NULL), "components", "gl, cn, mp");
}

Test(feeds, zero_feed_weight)
{
	expect_err(with("components", "gl", "weights", json_pack("[f,f,f]", 1.0, 0.0, -1.0)),
		   "components.gl.weights[1]", "non-zero");
	expect_err(with("components", "gl", "weights", json_pack("[f,s,f]", 1.0, "x", -1.0)),
		   "components.gl.weights[1]", "non-zero number");
}

Test(feeds, score_weights)
{
	expect_err(with("score", "weights", NULL, json_pack("[f,f]", 0.5, 0.5)), "score.weights",
		   "3 numbers");
	expect_err(with("score", "weights", NULL, json_pack("[f,f,f]", 0.5, -0.1, 0.6)),
		   "score.weights[1]", ">= 0");
	expect_err(with("score", "weights", NULL, json_pack("[i,i,i]", 0, 0, 0)), "score.weights",
		   "at least one");
}

Test(feeds, alpha)
{
	expect_err(with("score", "smoothing", "alpha", json_integer(0)), "score.smoothing.alpha",
		   "(0, 1]");
	expect_err(with("score", "smoothing", "alpha", json_real(1.5)), "score.smoothing.alpha",
		   "(0, 1]");
	expect_err(with("score", "smoothing", "alpha", json_string("0.2")), "score.smoothing.alpha",
		   "(0, 1]");
	expect_err(with("score", "smoothing", NULL, NULL), "score.smoothing.alpha", NULL);
	json_t *doc = with("score", "smoothing", "alpha", json_integer(1));
	bool ok = parse(doc, NULL);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_eq(lc.alpha, 1.0);
}

Test(feeds, thresholds)
{
	expect_err(with("regime", "thresholds", "green", json_real(-0.8)), "regime.thresholds",
		   "green > red");
	expect_err(with("regime", "thresholds", "green", json_real(-1.0)), "regime.thresholds",
		   "green > red");
	expect_err(with("regime", "thresholds", "red", NULL), "regime.thresholds", "green > red");
	expect_err(with("regime", "thresholds", "red", json_string("-0.8")), "regime.thresholds",
		   NULL);
}

Test(feeds, durations)
{
	expect_err(with("regime", "confirmation_windows", "flip", json_string("24")),
		   "regime.confirmation_windows.flip", "duration");
	expect_err(with("regime", "confirmation_windows", "flip", json_integer(24)),
		   "regime.confirmation_windows.flip", "duration");
	expect_err(with("normalization", "window", NULL, json_string("0d")), "normalization.window",
		   "duration");
	expect_err(with("normalization", "window", NULL, json_string("six months")),
		   "normalization.window", "duration");
	expect_err(with("trend_lookback", NULL, NULL, json_string("7days")), "trend_lookback",
		   "duration");
	expect_err(with("grid", "step", NULL, json_string("1x")), "grid.step", "duration");
	expect_err(with("grid", "step", NULL, json_string("7s")), "grid.step", "dividing a day");
	expect_err(with("grid", "step", NULL, json_string("1500ms")), "grid.step", "dividing a day");
	/* a zero flip window is allowed (flip at once) */
	json_t *doc = with("regime", "confirmation_windows", "flip", json_string("0h"));
	bool ok = parse(doc, NULL);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_eq(lc.flip_confirm_ms, 0);
}

Test(feeds, min_obs)
{
	expect_err(with("normalization", "min_obs", NULL, json_integer(1)), "normalization.min_obs",
		   ">= 2");
	expect_err(with("normalization", "min_obs", NULL, json_real(10.5)), "normalization.min_obs",
		   "integer");
	json_t *doc = with("normalization", "min_obs", NULL, json_integer(2));
	bool ok = parse(doc, NULL);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_eq(lc.min_obs, 2);
}

Test(feeds, unknown_keys)
{
	expect_err(with("weights", NULL, NULL, json_integer(1)), "unknown field \"weights\"", NULL);
	expect_err(with("components", "xx", NULL, json_object()), "components",
		   "unknown field \"xx\"");
	expect_err(with("components", "gl", "signs", json_array()), "components.gl",
		   "unknown field \"signs\"");
	expect_err(with("score", "ema", NULL, json_integer(1)), "score", "unknown field \"ema\"");
	expect_err(with("regime", "hysteresis", NULL, json_integer(1)), "regime",
		   "unknown field \"hysteresis\"");
	expect_err(with("normalization", "ddof", NULL, json_integer(0)), "normalization",
		   "unknown field \"ddof\"");
	expect_err(with("rules", "vix", NULL, json_string("macro/us/vix_index")), "rules",
		   "unknown field \"vix\"");
}

/* A misspelt grid key must not silently fall back to the 1h default: the
 * catalog and every other section of this file reject unknown keys. */
Test(feeds, unknown_grid_key)
{
	json_t *doc = json_deep_copy(shipped);
	json_object_set_new(doc, "grid", json_pack("{s:s}", "stpe", "5m"));
	bool ok = parse(doc, NULL);
	json_decref(doc);
	cr_assert_not(ok, "\"grid\": {\"stpe\": \"5m\"} accepted; grid step silently %lld ms",
		      (long long)lc.grid_step_ms);
	cr_assert(has_error("grid", "stpe"));
}

Test(feeds, not_an_object)
{
	json_t *doc = json_array();
	cr_assert_not(parse(doc, NULL));
	json_decref(doc);
	cr_assert(has_error("must be a JSON object", NULL));
}

/* ---- LIQ_* overrides ---- */

struct env {
	const char *k[12];
	const char *v[12];
	int n;
};

static const char *env_get(const char *name, void *arg)
{
	struct env *e = arg;
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->k[i], name) == 0)
			return e->v[i];
	return NULL;
}

static void load_cfg(struct env *e, struct lav_config *cfg)
{
	char err[256];
	bool ok = lav_config_load(cfg, env_get, e, err, sizeof(err));
	if (!ok) {
		lav_config_free(cfg);
		cr_assert_fail("config: %s", err);
	}
}

Test(feeds, overrides_from_config)
{
	struct env e = {{"LAV_PG_DSN", "LIQ_REGIME_FLIP_CONFIRMATION_HOURS", "LIQ_SCORE_GRID_STEP",
			 "LIQ_SCORE_WEIGHTS", "LIQ_SCORE_THRESHOLDS", "LIQ_SCORE_SMOOTHING_ALPHA"},
			{"x", "0", "1s", "0.5,0.3,0.2", "1.2,-0.6", "0.35"},
			6};
	struct lav_config cfg;
	load_cfg(&e, &cfg);
	cr_assert(cfg.has_flip_hours);
	cr_assert_eq(cfg.flip_confirmation_hours, 0);
	bool ok = parse(shipped, &cfg);
	lav_config_free(&cfg);
	char all[2048];
	all_errors(all, sizeof(all));
	cr_assert(ok, "%s", all);
	cr_assert_eq(lc.flip_confirm_ms, 0);
	cr_assert_eq(lc.grid_step_ms, 1000);
	cr_assert_float_eq(lc.weights[0], 0.5, 1e-12);
	cr_assert_float_eq(lc.weights[1], 0.3, 1e-12);
	cr_assert_float_eq(lc.weights[2], 0.2, 1e-12);
	cr_assert_float_eq(lc.theta_hi, 1.2, 1e-12);
	cr_assert_float_eq(lc.theta_lo, -0.6, 1e-12);
	cr_assert_float_eq(lc.alpha, 0.35, 1e-12);
	/* the rest still comes from the file */
	cr_assert_eq(lc.window_ms, 180 * 86400000LL);
	cr_assert_eq(lc.comp[LAV_COMP_GL].nfeeds, 3);
}

Test(feeds, fractional_flip_hours)
{
	struct env e = {{"LAV_PG_DSN", "LIQ_REGIME_FLIP_CONFIRMATION_HOURS"}, {"x", "1.5"}, 2};
	struct lav_config cfg;
	load_cfg(&e, &cfg);
	bool ok = parse(shipped, &cfg);
	lav_config_free(&cfg);
	cr_assert(ok);
	cr_assert_eq(lc.flip_confirm_ms, 5400000);
}

Test(feeds, unset_variables_keep_the_file)
{
	/* the file says 24h, 1h grid, 0.2; a config without LIQ_* must not override
	 * them, even though its own defaults are the same values */
	json_t *doc = json_deep_copy(shipped);
	json_object_set_new(json_object_get(json_object_get(doc, "regime"), "confirmation_windows"),
			    "flip", json_string("12h"));
	json_object_set_new(json_object_get(doc, "grid"), "step", json_string("5m"));
	json_object_set_new(json_object_get(json_object_get(doc, "score"), "smoothing"), "alpha",
			    json_real(0.5));
	json_object_set_new(json_object_get(doc, "score"), "weights", json_pack("[f,f,f]", 0.2, 0.3, 0.5));
	struct env e = {{"LAV_PG_DSN"}, {"x"}, 1};
	struct lav_config cfg;
	load_cfg(&e, &cfg);
	bool ok = parse(doc, &cfg);
	lav_config_free(&cfg);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_eq(lc.flip_confirm_ms, 12 * 3600000LL);
	cr_assert_eq(lc.grid_step_ms, 300000);
	cr_assert_float_eq(lc.alpha, 0.5, 1e-12);
	cr_assert_float_eq(lc.weights[2], 0.5, 1e-12);
	cr_assert_float_eq(lc.theta_hi, 0.8, 1e-12);
}

Test(feeds, grid_step_override_wins_over_file)
{
	json_t *doc = with("grid", "step", NULL, json_string("5m"));
	struct env e = {{"LAV_PG_DSN", "LIQ_SCORE_GRID_STEP"}, {"x", "1d"}, 2};
	struct lav_config cfg;
	load_cfg(&e, &cfg);
	bool ok = parse(doc, &cfg);
	lav_config_free(&cfg);
	json_decref(doc);
	cr_assert(ok);
	cr_assert_eq(lc.grid_step_ms, 86400000);
}
