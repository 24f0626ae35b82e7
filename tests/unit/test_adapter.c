/* Source adapters (docs/ingestion.md, "Adapters"): requests and the parsers
 * of the upstreams' real response formats, on the recorded bodies under
 * tests/fixtures/upstream/. Features come from the shipped config/ catalog;
 * where a test needs a source.series the catalog does not name (klines,
 * funding, open interest) it uses a copy of a catalog feature with the series
 * written as in the ingestion contract. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/adapter.h"
#include "lav/catalog.h"
#include "lav/timefmt.h"

#define FRED_KEY      "fredKEY0123456789abcdef"
#define ETHERSCAN_KEY "ETHSCANKEY9876543210"

/* ---- environment and catalog ---- */

struct env {
	const char *k[8];
	const char *v[8];
	int n;
};

static const char *env_get(const char *name, void *arg)
{
	struct env *e = arg;
	for (int i = 0; e && i < e->n; i++)
		if (strcmp(e->k[i], name) == 0)
			return e->v[i];
	return NULL;
}

static struct lav_catalog cat;

static const char *repo_dir(void)
{
	const char *repo = getenv("LAV_REPO");
	if (repo && *repo)
		return repo;
	const char *cands[] = {"..", "../..", "../../..", "."};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/config/features.catalog.json", cands[i]);
		if (access(p, R_OK) == 0)
			return cands[i];
	}
	cr_assert_fail("config/ not found: set LAV_REPO");
	return NULL;
}

static void load_catalog(struct env *e)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/config", repo_dir());
	lav_catalog_free(&cat);
	memset(&cat, 0, sizeof(cat));
	struct lav_errors errs = {0};
	bool ok = lav_catalog_load(dir, env_get, e, &cat, &errs);
	cr_assert(ok, "shipped catalog rejected: %s", errs.n ? errs.msg[0] : "?");
	lav_errors_free(&errs);
}

static struct env keys_env = {
    {"LAV_SOURCE_FRED_KEY", "LAV_SOURCE_ETHERSCAN_KEY"}, {FRED_KEY, ETHERSCAN_KEY}, 2};

static void setup(void)
{
	memset(&cat, 0, sizeof(cat));
	load_catalog(&keys_env);
}

/* Heap blocks handed out by the code under test: a failed assertion ends
 * the test before it frees them, so teardown does (no leak reports on top
 * of the failure). */
static void *owned[64];

static void own(void *ptr)
{
	if (!ptr)
		return;
	for (size_t i = 0; i < 64; i++)
		if (!owned[i]) {
			owned[i] = ptr;
			return;
		}
	cr_assert_fail("too many live blocks");
}

static void disown(void *ptr)
{
	for (size_t i = 0; ptr && i < 64; i++)
		if (owned[i] == ptr)
			owned[i] = NULL;
}

static void teardown(void)
{
	for (size_t i = 0; i < 64; i++) {
		free(owned[i]);
		owned[i] = NULL;
	}
	lav_catalog_free(&cat);
	memset(&cat, 0, sizeof(cat));
}

TestSuite(adapter, .init = setup, .fini = teardown);
TestSuite(adapter_fred, .init = setup, .fini = teardown);
TestSuite(adapter_farside, .init = setup, .fini = teardown);
TestSuite(adapter_defillama, .init = setup, .fini = teardown);
TestSuite(adapter_binance, .init = setup, .fini = teardown);
TestSuite(adapter_blockchain, .init = setup, .fini = teardown);
TestSuite(adapter_etherscan, .init = setup, .fini = teardown);
TestSuite(adapter_tradingview, .init = setup, .fini = teardown);
TestSuite(adapter_cexagg, .init = setup, .fini = teardown);
TestSuite(adapter_garbage, .init = setup, .fini = teardown);
TestSuite(adapter_yoy);

/* ---- helpers ---- */

static const struct lav_feature *feat(const char *id)
{
	const struct lav_feature *f = lav_catalog_find(&cat, id);
	cr_assert_not_null(f, "catalog feature %s missing", id);
	return f;
}

/* A copy of a catalog feature reading another upstream series. The copy
 * shares the catalog's strings; it is never freed on its own. */
static struct lav_feature with_series(const char *id, char *series)
{
	struct lav_feature f = *feat(id);
	f.source_series = series;
	return f;
}

static int64_t day_us(int64_t y, unsigned m, unsigned d)
{
	return lav_days_from_civil(y, m, d) * LAV_US_PER_DAY;
}

static int64_t t_us(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	cr_assert(lav_time_parse(s, strlen(s), &us, &why), "bad time %s: %s", s, why ? why : "?");
	return us;
}

static char *fixture(const char *rel, size_t *len)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/tests/fixtures/upstream/%s", repo_dir(), rel);
	FILE *fp = fopen(p, "rb");
	cr_assert_not_null(fp, "fixture %s not readable", p);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	cr_assert_geq(n, 0);
	char *buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	size_t got = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	cr_assert_eq(got, (size_t)n);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static const struct lav_adapter *adapter_of(const struct lav_feature *f)
{
	char err[256] = "";
	const struct lav_adapter *a = lav_adapter_for(f, err, sizeof(err));
	cr_assert_not_null(a, "no adapter for %s (%s \"%s\"): %s", f->id, f->source_id,
			   f->source_series ? f->source_series : "(null)", err);
	return a;
}

static struct lav_adapter_ctx ctx_of(const struct lav_feature *f, int64_t since, int64_t until,
				     int64_t fetched_at)
{
	const struct lav_source *s = lav_catalog_source(&cat, f->source_id);
	cr_assert_not_null(s, "source %s", f->source_id);
	struct lav_adapter_ctx c = {
	    .feature = f, .source = s, .since = since, .until = until, .fetched_at = fetched_at};
	return c;
}

struct parsed {
	bool ok;
	struct lav_obs_vec out;
	int64_t next_since;
	char err[512];
};

static void parse_body(const struct lav_feature *f, int64_t since, int64_t until, int64_t fetched,
		       long status, const char *body, size_t len, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->next_since = -12345;
	const struct lav_adapter *a = adapter_of(f);
	struct lav_adapter_ctx c = ctx_of(f, since, until, fetched);
	p->ok = lav_adapter_parse(a, &c, status, body, len, &p->out, &p->next_since, p->err,
				  sizeof(p->err));
	own(p->out.v);
}

static void release(struct parsed *p)
{
	disown(p->out.v);
	lav_obs_free(&p->out);
}

static void parse_fixture(const struct lav_feature *f, int64_t since, int64_t until,
			  int64_t fetched, long status, const char *rel, struct parsed *p)
{
	size_t len = 0;
	char *body = fixture(rel, &len);
	parse_body(f, since, until, fetched, status, body, len, p);
	free(body);
}

/* Every parse result: sorted, inside [since, until), available_at (when set)
 * not after the fetch time. */
static void check_obs(const struct parsed *p, int64_t since, int64_t until, int64_t fetched)
{
	for (size_t i = 0; i < p->out.n; i++) {
		const struct lav_obs *o = &p->out.v[i];
		cr_assert_geq(o->ts, since, "obs %zu ts %lld before since", i, (long long)o->ts);
		cr_assert_lt(o->ts, until, "obs %zu ts %lld not before until", i, (long long)o->ts);
		if (i)
			cr_assert_lt(p->out.v[i - 1].ts, o->ts, "obs %zu not sorted", i);
		cr_assert(isfinite(o->value), "obs %zu value not finite", i);
		if (o->available_at != 0)
			cr_assert_leq(o->available_at, fetched, "obs %zu available_at after fetch",
				      i);
	}
}

static void expect_value(const struct parsed *p, size_t i, int64_t ts, double value)
{
	cr_assert_lt(i, p->out.n, "only %zu observations", p->out.n);
	char a[LAV_TIME_STRLEN], b[LAV_TIME_STRLEN];
	lav_time_format(p->out.v[i].ts, a);
	lav_time_format(ts, b);
	cr_assert_eq(p->out.v[i].ts, ts, "obs %zu at %s, expected %s", i, a, b);
	double got = p->out.v[i].value;
	double tol = fabs(value) * 1e-12 + 1e-15;
	cr_assert(fabs(got - value) <= tol, "obs %zu at %s: %.17g, expected %.17g", i, b, got,
		  value);
}

static void request_for(const struct lav_feature *f, int64_t since, int64_t until,
			struct lav_fetch_req *r)
{
	memset(r, 0, sizeof(*r));
	const struct lav_adapter *a = adapter_of(f);
	struct lav_adapter_ctx c = ctx_of(f, since, until, 0);
	char err[256] = "";
	cr_assert(lav_adapter_request(a, &c, r, err, sizeof(err)), "%s: request failed: %s", f->id,
		  err);
	own(r->url);
	own(r->public_url);
	own(r->body);
	cr_assert_not_null(r->url);
	cr_assert_not_null(r->public_url);
}

static void drop_req(struct lav_fetch_req *r)
{
	disown(r->url);
	disown(r->public_url);
	disown(r->body);
	lav_fetch_req_free(r);
}

static void assert_has(const char *s, const char *needle)
{
	cr_assert_not_null(strstr(s, needle), "\"%s\" lacks \"%s\"", s, needle);
}

static void url_decode(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	for (const char *p = in; *p && n + 1 < outlen; p++) {
		unsigned hi, lo;
		if (p[0] == '%' && p[1] && p[2] && sscanf(p + 1, "%1x%1x", &hi, &lo) == 2) {
			out[n++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void assert_prefix(const char *s, const char *prefix)
{
	cr_assert_eq(strncmp(s, prefix, strlen(prefix)), 0, "\"%s\" does not start with \"%s\"", s,
		     prefix);
}

/* ---- lav_obs_vec ---- */

Test(adapter, obs_vec_push_and_free)
{
	struct lav_obs_vec v = {0};
	for (int i = 0; i < 5000; i++)
		lav_obs_push(&v, (int64_t)i * 1000, i % 3 ? 0 : (int64_t)i * 1000 + 7, i * 0.5);
	cr_assert_eq(v.n, 5000);
	cr_assert_geq(v.cap, v.n);
	for (int i = 0; i < 5000; i++) {
		cr_assert_eq(v.v[i].ts, (int64_t)i * 1000);
		cr_assert_eq(v.v[i].available_at, i % 3 ? 0 : (int64_t)i * 1000 + 7);
		cr_assert_eq(v.v[i].value, i * 0.5);
	}
	lav_obs_free(&v);
	cr_assert_eq(v.n, 0);
	lav_obs_free(&v); /* twice is harmless */
}

/* ---- adapter lookup ---- */

Test(adapter, every_catalog_feature_has_an_adapter)
{
	/* lavd checks this at start: the shipped catalog must be fetchable. */
	for (size_t i = 0; i < cat.nfeatures; i++) {
		const struct lav_feature *f = &cat.features[i];
		if (f->computed)
			continue; /* the semáforo's outputs: nothing to fetch */
		char err[256] = "";
		const struct lav_adapter *a = lav_adapter_for(f, err, sizeof(err));
		cr_expect_not_null(a, "%s (%s \"%s\"): %s", f->id, f->source_id,
				   f->source_series ? f->source_series : "(null)", err);
		if (a) {
			const char *name = lav_adapter_name(a);
			cr_expect(name && *name, "%s: adapter without a name", f->id);
		}
	}
}

Test(adapter, unknown_series_is_refused_with_a_message)
{
	static char nosuch[] = "no/such/series";
	const char *ids[] = {"macro/us/walcl_total_usd", "crypto/etf/btc_net_flow_usd",
			     "crypto/stables/mcap_total_usd", "crypto/btc/price_usd",
			     "onchain/eth/gas_price_gwei"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct lav_feature f = with_series(ids[i], nosuch);
		char err[256] = "";
		const struct lav_adapter *a = lav_adapter_for(&f, err, sizeof(err));
		cr_assert_null(a, "%s with series %s got an adapter", f.source_id, nosuch);
		cr_assert_neq(err[0], '\0', "%s: no message", f.source_id);
	}
	/* a source lav has no adapter for */
	static char nosrc[] = "no-such-source";
	struct lav_feature f = *feat("macro/us/walcl_total_usd");
	f.source_id = nosrc;
	char err[256] = "";
	cr_assert_null(lav_adapter_for(&f, err, sizeof(err)));
	cr_assert_neq(err[0], '\0');
	/* a FRED feature without a series */
	f = *feat("macro/us/walcl_total_usd");
	f.source_series = NULL;
	err[0] = '\0';
	cr_assert_null(lav_adapter_for(&f, err, sizeof(err)));
	cr_assert_neq(err[0], '\0');
}

Test(adapter, unknown_unit_names_every_known_series)
{
	static char nosuch[] = "NOSUCH";
	struct lav_feature f = with_series("macro/us/walcl_total_usd", nosuch);
	char err[256] = "";
	cr_assert_null(lav_adapter_for(&f, err, sizeof(err)));
	cr_expect_str_eq(err, "feature \"macro/us/walcl_total_usd\": FRED series \"NOSUCH\" has no "
			      "known unit (lav knows WALCL, WTREGEN, RRPONTSYD)");
	f = with_series("onchain/btc/hashrate_ehs", nosuch);
	cr_assert_null(lav_adapter_for(&f, err, sizeof(err)));
	cr_expect_str_eq(err, "feature \"onchain/btc/hashrate_ehs\": blockchain.com chart \"NOSUCH\" "
			      "has no known unit (lav knows hash-rate, total-bitcoins)");
}

Test(adapter, history_kinds)
{
	static char kl[] = "klines/BTCUSDT/1h/close", fr[] = "fundingRate/BTCUSDT",
		    oi[] = "openInterestHist/BTCUSDT/1h";
	struct {
		const char *id;
		char *series; /* NULL: the catalog's */
		enum lav_history h;
	} cases[] = {
	    {"macro/us/walcl_total_usd", NULL, LAV_HISTORY_RANGE},
	    {"macro/us/rrp_total_usd", NULL, LAV_HISTORY_RANGE},
	    {"crypto/etf/btc_net_flow_usd", NULL, LAV_HISTORY_FULL},
	    {"crypto/stables/mcap_total_usd", NULL, LAV_HISTORY_FULL},
	    {"onchain/eth/tvl_usd", NULL, LAV_HISTORY_FULL},
	    {"dex/agg/active_liquidity_usd", NULL, LAV_HISTORY_NONE},
	    {"cex/binance/btcusdt_volume_usd", kl, LAV_HISTORY_RANGE},
	    {"cex/binance/btcusdt_funding_rate", fr, LAV_HISTORY_RANGE},
	    {"cex/binance/btcusdt_funding_rate", oi, LAV_HISTORY_RANGE},
	    {"onchain/btc/hashrate_ehs", NULL, LAV_HISTORY_RANGE},
	    {"onchain/eth/gas_price_gwei", NULL, LAV_HISTORY_NONE},
	    {"macro/us/dxy_index", NULL, LAV_HISTORY_NONE},
	    {"cex/agg/spot_depth_2pct_usd", NULL, LAV_HISTORY_RANGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lav_feature f = *feat(cases[i].id);
		if (cases[i].series)
			f.source_series = cases[i].series;
		const struct lav_adapter *a = adapter_of(&f);
		cr_expect_eq(lav_adapter_history(a), cases[i].h, "%s (%s): history %d, expected %d",
			     f.id, f.source_series, (int)lav_adapter_history(a), (int)cases[i].h);
	}
}

Test(adapter, business_day_calendars)
{
	/* markets closed at weekends and on their holidays (docs/ingestion.md:
	 * farside on NYSE days, tradingview on weekdays, FRED daily series on US
	 * federal business days) expect no slot on their closed days */
	struct {
		const char *id;
		enum lav_calendar cal;
	} c[] = {
	    {"macro/us/rrp_total_usd", LAV_CAL_US_FEDERAL},
	    {"macro/us/walcl_total_usd", LAV_CAL_US_FEDERAL},
	    {"crypto/etf/btc_net_flow_usd", LAV_CAL_NYSE},
	    {"crypto/etf/eth_net_flow_usd", LAV_CAL_NYSE},
	    {"macro/us/dxy_index", LAV_CAL_WEEKDAYS},
	    {"macro/us/spx_index", LAV_CAL_WEEKDAYS},
	    {"macro/us/vix_index", LAV_CAL_WEEKDAYS},
	    {"crypto/stables/mcap_total_usd", LAV_CAL_ALWAYS},
	    {"onchain/btc/hashrate_ehs", LAV_CAL_ALWAYS},
	    {"onchain/btc/supply_btc", LAV_CAL_ALWAYS},
	    {"onchain/eth/tvl_usd", LAV_CAL_ALWAYS},
	    {"crypto/btc/price_usd", LAV_CAL_ALWAYS},
	    {"onchain/eth/gas_price_gwei", LAV_CAL_ALWAYS},
	    {"cex/agg/spot_depth_2pct_usd", LAV_CAL_ALWAYS},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		enum lav_calendar got = lav_adapter_calendar(adapter_of(feat(c[i].id)));
		cr_expect_eq(got, c[i].cal, "%s: calendar %s, expected %s", c[i].id,
			     lav_calendar_name(got), lav_calendar_name(c[i].cal));
	}
}

Test(adapter, upstream_period)
{
	static char oi[] = "openInterestHist/BTCUSDT/1h";
	struct lav_feature oif = with_series("cex/binance/btcusdt_funding_rate", oi);
	struct {
		const struct lav_feature *f;
		int64_t p;
	} c[] = {
	    {feat("macro/us/walcl_total_usd"), 7 * LAV_US_PER_DAY},
	    {feat("macro/us/rrp_total_usd"), LAV_US_PER_DAY},
	    {feat("crypto/etf/btc_net_flow_usd"), LAV_US_PER_DAY},
	    {feat("crypto/stables/mcap_total_usd"), LAV_US_PER_DAY},
	    /* an hourly feature fed by a daily history */
	    {feat("onchain/eth/tvl_usd"), LAV_US_PER_DAY},
	    {feat("crypto/btc/price_usd"), 60 * LAV_US_PER_S},
	    {feat("cex/binance/btcusdt_volume_usd"), 3600 * LAV_US_PER_S},
	    /* funding settles every 8 hours */
	    {feat("cex/binance/btcusdt_funding_rate"), 8 * 3600 * LAV_US_PER_S},
	    {&oif, 3600 * LAV_US_PER_S},
	    {feat("onchain/btc/hashrate_ehs"), LAV_US_PER_DAY},
	    {feat("onchain/eth/gas_price_gwei"), 300 * LAV_US_PER_S},
	    {feat("cex/agg/spot_depth_2pct_usd"), 3600 * LAV_US_PER_S},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int64_t got = lav_adapter_period_us(adapter_of(c[i].f), c[i].f);
		cr_expect_eq(got, c[i].p, "%s (%s): period %lld us, expected %lld", c[i].f->id,
			     c[i].f->source_series, (long long)got, (long long)c[i].p);
	}
}

/* ---- FRED ---- */

Test(adapter_fred, request_carries_key_and_public_url_hides_it)
{
	const struct lav_feature *f = feat("macro/us/walcl_total_usd");
	struct lav_fetch_req r;
	request_for(f, day_us(2024, 1, 10), day_us(2024, 2, 21), &r);
	assert_prefix(r.url, "https://api.stlouisfed.org/fred/series/observations?");
	assert_has(r.url, "series_id=WALCL");
	assert_has(r.url, "api_key=" FRED_KEY);
	assert_has(r.url, "file_type=json");
	assert_has(r.url, "observation_start=2024-01-10");
	const char *end = strstr(r.url, "observation_end=");
	cr_assert_not_null(end, "%s", r.url);
	end += strlen("observation_end=");
	cr_assert(strncmp(end, "2024-02-20", 10) == 0 || strncmp(end, "2024-02-21", 10) == 0,
		  "observation_end in %s", r.url);
	cr_assert_null(r.body, "FRED is a GET");

	assert_prefix(r.public_url, "https://api.stlouisfed.org/fred/series/observations?");
	assert_has(r.public_url, "api_key=***");
	assert_has(r.public_url, "series_id=WALCL");
	cr_assert_null(strstr(r.public_url, FRED_KEY), "key leaked: %s", r.public_url);
	drop_req(&r);
}

Test(adapter_fred, walcl_millions_to_usd_in_range)
{
	const struct lav_feature *f = feat("macro/us/walcl_total_usd");
	int64_t since = day_us(2024, 1, 10), until = day_us(2024, 2, 21);
	int64_t fetched = t_us("2024-03-04T15:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "fred/walcl_2024q1.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	/* 2024-01-03 is before since, 2024-02-21 is until (exclusive), 02-28 after */
	cr_assert_eq(p.out.n, 6);
	expect_value(&p, 0, day_us(2024, 1, 10), 7719591e6);
	expect_value(&p, 1, day_us(2024, 1, 17), 7677318e6);
	expect_value(&p, 2, day_us(2024, 1, 24), 7676885e6);
	expect_value(&p, 3, day_us(2024, 1, 31), 7631731e6);
	expect_value(&p, 4, day_us(2024, 2, 7), 7633221e6);
	expect_value(&p, 5, day_us(2024, 2, 14), 7632114e6);
	cr_assert_eq(p.next_since, -1);
	release(&p);

	/* the whole fixture */
	since = day_us(2024, 1, 1);
	until = day_us(2024, 3, 1);
	parse_fixture(f, since, until, fetched, 200, "fred/walcl_2024q1.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 9);
	expect_value(&p, 0, day_us(2024, 1, 3), 7713295e6);
	expect_value(&p, 8, day_us(2024, 2, 28), 7581708e6);
	for (size_t i = 0; i < p.out.n; i++) {
		cr_assert_eq(p.out.v[i].ts % LAV_US_PER_DAY, 0, "not 00:00 UTC");
		cr_assert(p.out.v[i].value >= f->range_lo && p.out.v[i].value <= f->range_hi);
	}
	release(&p);
}

Test(adapter_fred, rrp_billions_to_usd_and_missing_values_skipped)
{
	const struct lav_feature *f = feat("macro/us/rrp_total_usd");
	int64_t since = day_us(2024, 1, 1), until = day_us(2024, 1, 20);
	int64_t fetched = t_us("2024-01-22T14:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "fred/rrpontsyd_2024jan.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	/* 15 observations, 2 of them "." (New Year's Day, MLK day): skipped, not 0 */
	cr_assert_eq(p.out.n, 13);
	expect_value(&p, 0, day_us(2024, 1, 2), 680.621e9);
	expect_value(&p, 1, day_us(2024, 1, 3), 688.570e9);
	expect_value(&p, 2, day_us(2024, 1, 4), 706.349e9);
	expect_value(&p, 8, day_us(2024, 1, 12), 579.043e9);
	expect_value(&p, 9, day_us(2024, 1, 16), 574.634e9);
	expect_value(&p, 12, day_us(2024, 1, 19), 578.112e9);
	for (size_t i = 0; i < p.out.n; i++)
		cr_assert_neq(p.out.v[i].value, 0.0, "a missing value became 0");
	release(&p);
}

/* FRED publishes WTREGEN in billions of USD (the catalog says "normalized
 * from billions"; docs/ingestion.md's table lists it with the millions
 * series). In millions, $769 bn would come out as $769 m, outside the
 * feature's expected_range [5e10, 2e12]. */
Test(adapter_fred, wtregen_billions_to_usd)
{
	const struct lav_feature *f = feat("macro/us/tga_balance_usd");
	int64_t since = day_us(2024, 1, 1), until = day_us(2024, 2, 1);
	int64_t fetched = t_us("2024-02-05T14:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "fred/wtregen_2024jan.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 5);
	expect_value(&p, 0, day_us(2024, 1, 3), 769.466e9);
	expect_value(&p, 4, day_us(2024, 1, 31), 843.562e9);
	for (size_t i = 0; i < p.out.n; i++)
		cr_expect(p.out.v[i].value >= f->range_lo && p.out.v[i].value <= f->range_hi,
			  "TGA %.6g outside expected_range", p.out.v[i].value);
	release(&p);
}

Test(adapter_fred, http_400_quotes_fred_error_message)
{
	const struct lav_feature *f = feat("macro/us/walcl_total_usd");
	struct parsed p;
	parse_fixture(f, day_us(2024, 1, 1), day_us(2024, 3, 1), t_us("2024-03-04T15:00:00Z"), 400,
		      "fred/error_bad_api_key.json", &p);
	cr_assert_not(p.ok);
	cr_assert_eq(p.out.n, 0);
	assert_has(p.err, "The value for variable api_key is not registered");
	cr_assert_null(strstr(p.err, FRED_KEY));
	release(&p);
}

Test(adapter_fred, http_error_status_with_a_valid_body_fails)
{
	const struct lav_feature *f = feat("macro/us/walcl_total_usd");
	struct parsed p;
	parse_fixture(f, day_us(2024, 1, 1), day_us(2024, 3, 1), t_us("2024-03-04T15:00:00Z"), 500,
		      "fred/walcl_2024q1.json", &p);
	cr_assert_not(p.ok);
	cr_assert_neq(p.err[0], '\0');
	release(&p);
}

Test(adapter_fred, garbage_bodies_fail_cleanly)
{
	const struct lav_feature *f = feat("macro/us/walcl_total_usd");
	const char *files[] = {"fred/truncated.json", "fred/bad_gateway_502.html",
			       "fred/empty.json"};
	for (size_t i = 0; i < 3; i++) {
		struct parsed p;
		parse_fixture(f, day_us(2024, 1, 1), day_us(2024, 3, 1),
			      t_us("2024-03-04T15:00:00Z"), 200, files[i], &p);
		cr_assert_not(p.ok, "%s accepted", files[i]);
		cr_assert_neq(p.err[0], '\0', "%s: no message", files[i]);
		release(&p);
	}
	/* valid JSON without observations */
	const char *odd[] = {"{}", "[]", "{\"observations\":{}}", "null", "{\"observations\":[{"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct parsed p;
		parse_body(f, day_us(2024, 1, 1), day_us(2024, 3, 1), t_us("2024-03-04T15:00:00Z"),
			   200, odd[i], strlen(odd[i]), &p);
		cr_assert_not(p.ok, "%s accepted", odd[i]);
		release(&p);
	}
}

/* ---- Farside ---- */

Test(adapter_farside, requests)
{
	struct lav_fetch_req r;
	request_for(feat("crypto/etf/btc_net_flow_usd"), day_us(2024, 1, 1), day_us(2024, 4, 1),
		    &r);
	cr_assert_str_eq(r.url, "https://farside.co.uk/bitcoin-etf-flow-all-data/");
	cr_assert_str_eq(r.public_url, r.url);
	cr_assert_null(r.body);
	drop_req(&r);
	request_for(feat("crypto/etf/eth_net_flow_usd"), day_us(2024, 7, 1), day_us(2024, 8, 1),
		    &r);
	cr_assert_str_eq(r.url, "https://farside.co.uk/ethereum-etf-flow-all-data/");
	drop_req(&r);
}

Test(adapter_farside, btc_total_column)
{
	const struct lav_feature *f = feat("crypto/etf/btc_net_flow_usd");
	int64_t since = day_us(2024, 1, 1), until = day_us(2024, 4, 1);
	int64_t fetched = t_us("2024-03-15T09:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "farside/bitcoin_etf_flow_all_data.html", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	/* 8 day rows, 18 Jan 2024 is all "-"; header and summary rows skipped */
	cr_assert_eq(p.out.n, 7);
	expect_value(&p, 0, day_us(2024, 1, 11), 574.8e6);
	expect_value(&p, 1, day_us(2024, 1, 12), 143.3e6);
	expect_value(&p, 2, day_us(2024, 1, 16), -240.1e6); /* (240.1) */
	expect_value(&p, 3, day_us(2024, 1, 17), 36.7e6);
	expect_value(&p, 4, day_us(2024, 1, 19), -124.5e6);
	expect_value(&p, 5, day_us(2024, 3, 12), 1045.6e6); /* 1,045.6 */
	expect_value(&p, 6, day_us(2024, 3, 13), 701.0e6);
	release(&p);

	/* [since, until) */
	since = day_us(2024, 1, 12);
	until = day_us(2024, 1, 19);
	parse_fixture(f, since, until, fetched, 200, "farside/bitcoin_etf_flow_all_data.html", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 3);
	expect_value(&p, 0, day_us(2024, 1, 12), 143.3e6);
	expect_value(&p, 2, day_us(2024, 1, 17), 36.7e6);
	release(&p);
}

Test(adapter_farside, eth_total_column)
{
	const struct lav_feature *f = feat("crypto/etf/eth_net_flow_usd");
	int64_t since = day_us(2024, 7, 1), until = day_us(2024, 8, 1);
	int64_t fetched = t_us("2024-07-27T09:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "farside/ethereum_etf_flow_all_data.html", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 3);
	expect_value(&p, 0, day_us(2024, 7, 23), 57.9e6);
	expect_value(&p, 1, day_us(2024, 7, 24), -197.5e6);
	expect_value(&p, 2, day_us(2024, 7, 25), -249.9e6);
	release(&p);
}

Test(adapter_farside, page_without_the_table_fails)
{
	const struct lav_feature *f = feat("crypto/etf/btc_net_flow_usd");
	struct parsed p;
	parse_fixture(f, day_us(2024, 1, 1), day_us(2024, 4, 1), t_us("2024-03-15T09:00:00Z"), 200,
		      "fred/bad_gateway_502.html", &p);
	cr_assert_not(p.ok);
	cr_assert_neq(p.err[0], '\0');
	release(&p);
	parse_fixture(f, day_us(2024, 1, 1), day_us(2024, 4, 1), t_us("2024-03-15T09:00:00Z"), 503,
		      "farside/bitcoin_etf_flow_all_data.html", &p);
	cr_assert_not(p.ok, "HTTP 503 accepted");
	release(&p);
}

/* ---- DefiLlama ---- */

/* Σ totalCirculatingUSD over pegs, as in the fixture */
static double stables_sum(int y, unsigned d)
{
	static const struct {
		int y;
		unsigned d;
		double usd, eur, var, sgd;
	} rows[] = {
	    {2023, 1, 137848888889.01, 121523456.78, 1232888888.89, 1235568.39},
	    {2023, 2, 137897777778.02, 121646913.56, 1231777777.78, 1236568.89},
	    {2023, 3, 137923703703.67, 121770370.34, 1230666666.67, 1237569.39},
	    {2023, 4, 137972592592.68, 121893827.12, 1229555555.56, 1238569.89},
	    {2023, 5, 138021481481.69, 122017283.9, 1228444444.45, 1239570.39},
	    {2023, 7, 138096296296.35, 122264197.46, 1226222222.23, 1241571.39},
	    {2023, 8, 138145185185.36, 122387654.24, 1225111111.12, 1242571.89},
	    {2023, 9, 138171111111.01, 122511111.02, 1224000000.01, 1243572.39},
	    {2023, 10, 138220000000.02, 122634567.8, 1222888888.9, 1244572.89},
	    {2024, 1, 129548888889.01, 155423456.78, 891888888.89, 1235568.39},
	    {2024, 2, 129597777778.02, 155546913.56, 890777777.78, 1236568.89},
	    {2024, 3, 129623703703.67, 155670370.34, 889666666.67, 1237569.39},
	    {2024, 4, 129672592592.68, 155793827.12, 888555555.56, 1238569.89},
	    {2024, 5, 129721481481.69, 155917283.9, 887444444.45, 1239570.39},
	    {2024, 6, 129747407407.34, 156040740.68, 886333333.34, 1240570.89},
	    {2024, 7, 129796296296.35, 156164197.46, 885222222.23, 1241571.39},
	    {2024, 8, 129845185185.36, 156287654.24, 884111111.12, 1242571.89},
	    {2024, 9, 129871111111.01, 156411111.02, 883000000.01, 1243572.39},
	    {2024, 10, 129920000000.02, 156534567.8, 881888888.9, 1244572.89},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].y == y && rows[i].d == d)
			return rows[i].usd + rows[i].eur + rows[i].var + rows[i].sgd;
	cr_assert_fail("no fixture row %d-01-%02u", y, d);
	return 0;
}

Test(adapter_defillama, requests)
{
	struct lav_fetch_req r;
	request_for(feat("crypto/stables/mcap_total_usd"), day_us(2024, 1, 1), day_us(2024, 2, 1),
		    &r);
	cr_assert_str_eq(r.url, "https://stablecoins.llama.fi/stablecoincharts/all");
	cr_assert_null(r.body);
	drop_req(&r);
	request_for(feat("crypto/stables/mcap_total_usd_yoy"), day_us(2024, 1, 1),
		    day_us(2024, 2, 1), &r);
	cr_assert_str_eq(r.url, "https://stablecoins.llama.fi/stablecoincharts/all");
	drop_req(&r);
	request_for(feat("onchain/eth/tvl_usd"), day_us(2024, 3, 1), day_us(2024, 3, 9), &r);
	cr_assert_str_eq(r.url, "https://api.llama.fi/v2/historicalChainTvl/Ethereum");
	drop_req(&r);
	request_for(feat("dex/agg/active_liquidity_usd"), day_us(2024, 3, 5), day_us(2024, 3, 6),
		    &r);
	cr_assert_str_eq(r.url, "https://api.llama.fi/protocols");
	drop_req(&r);
}

Test(adapter_defillama, stablecoins_sum_over_pegs)
{
	const struct lav_feature *f = feat("crypto/stables/mcap_total_usd");
	int64_t since = day_us(2023, 1, 1), until = day_us(2024, 1, 11);
	int64_t fetched = t_us("2024-01-11T02:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "defillama/stablecoincharts_all.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 19);
	expect_value(&p, 0, day_us(2023, 1, 1), stables_sum(2023, 1));
	expect_value(&p, 4, day_us(2023, 1, 5), stables_sum(2023, 5));
	expect_value(&p, 5, day_us(2023, 1, 7), stables_sum(2023, 7)); /* 01-06 absent */
	expect_value(&p, 9, day_us(2024, 1, 1), stables_sum(2024, 1));
	expect_value(&p, 18, day_us(2024, 1, 10), stables_sum(2024, 10));
	release(&p);

	since = day_us(2024, 1, 3);
	until = day_us(2024, 1, 5);
	parse_fixture(f, since, until, fetched, 200, "defillama/stablecoincharts_all.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 2);
	expect_value(&p, 0, day_us(2024, 1, 3), stables_sum(2024, 3));
	expect_value(&p, 1, day_us(2024, 1, 4), stables_sum(2024, 4));
	release(&p);
}

Test(adapter_defillama, stablecoins_yoy)
{
	const struct lav_feature *f = feat("crypto/stables/mcap_total_usd_yoy");
	int64_t since = day_us(2024, 1, 1), until = day_us(2024, 1, 11);
	int64_t fetched = t_us("2024-01-11T02:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "defillama/stablecoincharts_all.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 10);
	for (unsigned d = 1; d <= 10; d++) {
		/* 2024-01-d − 365 d = 2023-01-d; 2023-01-06 is absent, so the newest
		 * observation at or before it (01-05) is the base */
		unsigned base = d == 6 ? 5 : d;
		double want = stables_sum(2024, d) / stables_sum(2023, base) - 1.0;
		expect_value(&p, d - 1, day_us(2024, 1, d), want);
		cr_assert(p.out.v[d - 1].value > -0.07 && p.out.v[d - 1].value < -0.05);
	}
	release(&p);

	/* no value a year before: nothing to write */
	parse_fixture(f, day_us(2023, 1, 1), day_us(2023, 1, 11), fetched, 200,
		      "defillama/stablecoincharts_all.json", &p);
	cr_assert_eq(p.out.n, 0, "yoy without a base a year earlier");
	release(&p);
}

Test(adapter_defillama, chain_tvl)
{
	const struct lav_feature *f = feat("onchain/eth/tvl_usd");
	int64_t since = day_us(2024, 3, 2), until = day_us(2024, 3, 6);
	int64_t fetched = t_us("2024-03-09T00:30:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "defillama/historicalChainTvl_Ethereum.json",
		      &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 4);
	expect_value(&p, 0, day_us(2024, 3, 2), 53012345678.9);
	expect_value(&p, 1, day_us(2024, 3, 3), 54567890123.45);
	expect_value(&p, 2, day_us(2024, 3, 4), 55102938475.6);
	expect_value(&p, 3, day_us(2024, 3, 5), 54020304050.6);
	release(&p);
}

Test(adapter_defillama, protocols_sum_dexes_at_fetch_hour)
{
	const struct lav_feature *f = feat("dex/agg/active_liquidity_usd");
	int64_t fetched = t_us("2024-03-05T13:47:12Z");
	int64_t since = fetched - LAV_US_PER_DAY, until = fetched + 3600 * LAV_US_PER_S;
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "defillama/protocols.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 1);
	/* Uniswap V3 + Uniswap V2 + Curve DEX + PancakeSwap (Dead DEX has tvl null;
	 * CEX, Lending, Liquid Staking and CDP are not counted) */
	expect_value(&p, 0, t_us("2024-03-05T13:00:00Z"),
		     4567890123.45 + 1234567890.12 + 2109876543.21 + 1987654321.0);
	release(&p);
}

/* ---- Binance ---- */

static char kl_close_1h[] = "klines/BTCUSDT/1h/close";
static char kl_qvol_1h[] = "klines/BTCUSDT/1h/quote_volume";
static char kl_close_1m[] = "klines/BTCUSDT/1m/close";
static char fr_btc[] = "fundingRate/BTCUSDT";
static char oi_btc[] = "openInterestHist/BTCUSDT/1h";

Test(adapter_binance, klines_request)
{
	struct lav_feature f = with_series("crypto/btc/price_usd", kl_close_1h);
	struct lav_fetch_req r;
	request_for(&f, t_us("2024-03-01T00:00:00Z"), t_us("2024-03-02T00:00:00Z"), &r);
	assert_prefix(r.url, "https://api.binance.com/api/v3/klines?");
	assert_has(r.url, "symbol=BTCUSDT");
	assert_has(r.url, "interval=1h");
	assert_has(r.url, "startTime=");
	assert_has(r.url, "endTime=");
	assert_has(r.url, "limit=1000");
	cr_assert_str_eq(r.public_url, r.url);
	cr_assert_null(r.body);
	drop_req(&r);
}

Test(adapter_binance, klines_close_at_candle_close_open_candle_skipped)
{
	struct lav_feature f = with_series("crypto/btc/price_usd", kl_close_1h);
	int64_t since = t_us("2024-03-01T00:00:00Z"), until = t_us("2024-03-02T00:00:00Z");
	/* inside the sixth candle (05:00–05:59:59.999): still open */
	int64_t fetched = t_us("2024-03-01T05:30:00Z");
	struct parsed p;
	parse_fixture(&f, since, until, fetched, 200, "binance-api/klines_BTCUSDT_1h.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 5);
	/* ts = openTime + 1h = closeTime + 1 ms */
	expect_value(&p, 0, t_us("2024-03-01T01:00:00Z"), 61439.99);
	expect_value(&p, 1, t_us("2024-03-01T02:00:00Z"), 61777.03);
	expect_value(&p, 2, t_us("2024-03-01T03:00:00Z"), 61601.47);
	expect_value(&p, 3, t_us("2024-03-01T04:00:00Z"), 61123.45);
	expect_value(&p, 4, t_us("2024-03-01T05:00:00Z"), 61402.87);
	cr_assert_eq(p.next_since, -1, "6 rows < limit: no next page");
	release(&p);

	/* once the sixth candle has closed it is there too */
	fetched = t_us("2024-03-01T06:00:01Z");
	parse_fixture(&f, since, until, fetched, 200, "binance-api/klines_BTCUSDT_1h.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 6);
	expect_value(&p, 5, t_us("2024-03-01T06:00:00Z"), 61488.00);
	release(&p);

	/* [since, until) on the close time */
	since = t_us("2024-03-01T02:00:00Z");
	until = t_us("2024-03-01T04:00:00Z");
	parse_fixture(&f, since, until, fetched, 200, "binance-api/klines_BTCUSDT_1h.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 2);
	expect_value(&p, 0, t_us("2024-03-01T02:00:00Z"), 61777.03);
	expect_value(&p, 1, t_us("2024-03-01T03:00:00Z"), 61601.47);
	release(&p);
}

Test(adapter_binance, klines_quote_volume)
{
	struct lav_feature f = with_series("cex/binance/btcusdt_volume_usd", kl_qvol_1h);
	int64_t since = t_us("2024-03-01T00:00:00Z"), until = t_us("2024-03-02T00:00:00Z");
	int64_t fetched = t_us("2024-03-01T05:30:00Z");
	struct parsed p;
	parse_fixture(&f, since, until, fetched, 200, "binance-api/klines_BTCUSDT_1h.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 5);
	expect_value(&p, 0, t_us("2024-03-01T01:00:00Z"), 78654321.12345678);
	expect_value(&p, 3, t_us("2024-03-01T04:00:00Z"), 92654381.830012);
	expect_value(&p, 4, t_us("2024-03-01T05:00:00Z"), 53742211.92);
	release(&p);
}

/* A body of n closed 1m candles from open time o0 (ms). */
static char *klines_body(int64_t o0_ms, int n, size_t *len)
{
	size_t cap = (size_t)n * 200 + 16, off = 0;
	char *b = malloc(cap);
	cr_assert_not_null(b);
	off += (size_t)snprintf(b + off, cap - off, "[");
	for (int i = 0; i < n; i++) {
		int64_t ot = o0_ms + (int64_t)i * 60000;
		off += (size_t)snprintf(
		    b + off, cap - off,
		    "%s[%lld,\"62000.00000000\",\"62010.00000000\",\"61990.00000000\","
		    "\"%d.%02d000000\",\"12.34500000\",%lld,\"765432.10000000\",321,"
		    "\"6.10000000\",\"378000.00000000\",\"0\"]",
		    i ? "," : "", (long long)ot, 62000 + i % 50, i % 100, (long long)(ot + 59999));
	}
	off += (size_t)snprintf(b + off, cap - off, "]");
	cr_assert_lt(off, cap);
	*len = off;
	return b;
}

Test(adapter_binance, klines_pagination)
{
	struct lav_feature f = with_series("crypto/btc/price_usd", kl_close_1m);
	int64_t o0_ms = 1709251200000LL; /* 2024-03-01T00:00:00Z */
	int64_t since = o0_ms * LAV_US_PER_MS;
	int64_t until = since + 3 * LAV_US_PER_DAY;
	int64_t fetched = until + LAV_US_PER_DAY;
	size_t len;
	char *body = klines_body(o0_ms, 1000, &len);
	struct parsed p;
	parse_body(&f, since, until, fetched, 200, body, len, &p);
	free(body);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 1000);
	int64_t last = (o0_ms + 1000 * 60000LL) * LAV_US_PER_MS; /* close of candle 999 */
	expect_value(&p, 0, since + 60 * LAV_US_PER_S, 62000.0);
	expect_value(&p, 999, last, 62049.99);
	cr_assert_neq(p.next_since, -1, "a full page of 1000 must ask for the next one");
	cr_assert(p.next_since >= last && p.next_since <= last + 60 * LAV_US_PER_S,
		  "next_since %lld, last ts %lld", (long long)p.next_since, (long long)last);
	release(&p);

	/* a short page ends the range */
	body = klines_body(o0_ms, 999, &len);
	parse_body(&f, since, until, fetched, 200, body, len, &p);
	free(body);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 999);
	cr_assert_eq(p.next_since, -1);
	release(&p);
}

Test(adapter_binance, klines_invalid_symbol)
{
	struct lav_feature f = with_series("crypto/btc/price_usd", kl_close_1h);
	struct parsed p;
	parse_fixture(&f, t_us("2024-03-01T00:00:00Z"), t_us("2024-03-02T00:00:00Z"),
		      t_us("2024-03-02T00:00:00Z"), 400, "binance-api/klines_invalid_symbol.json",
		      &p);
	cr_assert_not(p.ok);
	assert_has(p.err, "Invalid symbol.");
	release(&p);
}

Test(adapter_binance, funding_rate)
{
	struct lav_feature f = with_series("cex/binance/btcusdt_funding_rate", fr_btc);
	struct lav_fetch_req r;
	int64_t since = t_us("2024-03-01T00:00:00Z"), until = t_us("2024-03-03T00:00:00Z");
	request_for(&f, since, until, &r);
	assert_prefix(r.url, "https://fapi.binance.com/fapi/v1/fundingRate?");
	assert_has(r.url, "symbol=BTCUSDT");
	assert_has(r.url, "startTime=");
	assert_has(r.url, "endTime=");
	assert_has(r.url, "limit=1000");
	drop_req(&r);

	int64_t fetched = t_us("2024-03-03T00:10:00Z");
	struct parsed p;
	parse_fixture(&f, since, until, fetched, 200, "binance-api/fundingRate_BTCUSDT.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 6);
	/* fundingTime to the second: 1709280000001 ms → 08:00:00 */
	expect_value(&p, 0, t_us("2024-03-01T00:00:00Z"), 0.00031529);
	expect_value(&p, 1, t_us("2024-03-01T08:00:00Z"), 0.00028113);
	expect_value(&p, 2, t_us("2024-03-01T16:00:00Z"), 0.00035067);
	expect_value(&p, 3, t_us("2024-03-02T00:00:00Z"), 0.00021784);
	expect_value(&p, 4, t_us("2024-03-02T08:00:00Z"), -0.0000125);
	expect_value(&p, 5, t_us("2024-03-02T16:00:00Z"), 0.0001);
	release(&p);
}

Test(adapter_binance, open_interest_hist)
{
	struct lav_feature f = with_series("cex/binance/btcusdt_funding_rate", oi_btc);
	struct lav_fetch_req r;
	int64_t since = t_us("2024-03-01T00:00:00Z"), until = t_us("2024-03-01T04:00:00Z");
	request_for(&f, since, until, &r);
	assert_prefix(r.url, "https://fapi.binance.com/futures/data/openInterestHist?");
	assert_has(r.url, "symbol=BTCUSDT");
	assert_has(r.url, "period=1h");
	assert_has(r.url, "limit=500");
	drop_req(&r);

	int64_t fetched = t_us("2024-03-01T06:00:00Z");
	struct parsed p;
	parse_fixture(&f, since, until, fetched, 200,
		      "binance-api/openInterestHist_BTCUSDT_1h.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 4); /* the 04:00 row is at until */
	expect_value(&p, 0, t_us("2024-03-01T00:00:00Z"), 4912345678.12345678);
	expect_value(&p, 1, t_us("2024-03-01T01:00:00Z"), 4955102938.41);
	expect_value(&p, 3, t_us("2024-03-01T03:00:00Z"), 4920876543.21);
	release(&p);
}

Test(adapter_binance, base_url_override_applies_to_every_endpoint)
{
	struct env e = {{"LAV_SOURCE_BINANCE_API_URL", "LAV_SOURCE_DEFILLAMA_URL"},
			{"http://127.0.0.1:18081", "http://127.0.0.1:18082"},
			2};
	load_catalog(&e);
	struct lav_fetch_req r;
	struct lav_feature f = with_series("crypto/btc/price_usd", kl_close_1h);
	request_for(&f, t_us("2024-03-01T00:00:00Z"), t_us("2024-03-02T00:00:00Z"), &r);
	assert_prefix(r.url, "http://127.0.0.1:18081/api/v3/klines?");
	drop_req(&r);
	f = with_series("cex/binance/btcusdt_funding_rate", fr_btc);
	request_for(&f, t_us("2024-03-01T00:00:00Z"), t_us("2024-03-02T00:00:00Z"), &r);
	assert_prefix(r.url, "http://127.0.0.1:18081/fapi/v1/fundingRate?");
	drop_req(&r);
	f = with_series("cex/binance/btcusdt_funding_rate", oi_btc);
	request_for(&f, t_us("2024-03-01T00:00:00Z"), t_us("2024-03-02T00:00:00Z"), &r);
	assert_prefix(r.url, "http://127.0.0.1:18081/futures/data/openInterestHist?");
	drop_req(&r);
	request_for(feat("crypto/stables/mcap_total_usd"), day_us(2024, 1, 1), day_us(2024, 2, 1),
		    &r);
	cr_assert_str_eq(r.url, "http://127.0.0.1:18082/stablecoincharts/all");
	drop_req(&r);
	request_for(feat("dex/agg/active_liquidity_usd"), day_us(2024, 1, 1), day_us(2024, 1, 2),
		    &r);
	cr_assert_str_eq(r.url, "http://127.0.0.1:18082/protocols");
	drop_req(&r);
}

/* ---- blockchain.com ---- */

Test(adapter_blockchain, hash_rate_request)
{
	struct lav_fetch_req r;
	request_for(feat("onchain/btc/hashrate_ehs"), day_us(2024, 1, 2), day_us(2024, 1, 6), &r);
	assert_prefix(r.url, "https://api.blockchain.info/charts/hash-rate?");
	assert_has(r.url, "timespan=");
	assert_has(r.url, "start=");
	assert_has(r.url, "format=json");
	assert_has(r.url, "sampled=false");
	cr_assert_null(r.body);
	drop_req(&r);
	request_for(feat("onchain/btc/supply_btc"), day_us(2024, 1, 2), day_us(2024, 1, 6), &r);
	assert_prefix(r.url, "https://api.blockchain.info/charts/total-bitcoins?");
	drop_req(&r);
}

Test(adapter_blockchain, hash_rate_ths_to_ehs)
{
	const struct lav_feature *f = feat("onchain/btc/hashrate_ehs");
	int64_t since = day_us(2024, 1, 2), until = day_us(2024, 1, 6);
	int64_t fetched = t_us("2024-01-08T03:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "blockchain-com/hash-rate.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 4);
	expect_value(&p, 0, day_us(2024, 1, 2), 524012345.678 / 1e6);
	expect_value(&p, 1, day_us(2024, 1, 3), 497531246.802 / 1e6);
	expect_value(&p, 2, day_us(2024, 1, 4), 533221100.5 / 1e6);
	expect_value(&p, 3, day_us(2024, 1, 5), 541987654.321 / 1e6);
	for (size_t i = 0; i < p.out.n; i++)
		cr_assert(p.out.v[i].value >= f->range_lo && p.out.v[i].value <= f->range_hi);
	release(&p);
}

Test(adapter_blockchain, total_bitcoins_by_day)
{
	const struct lav_feature *f = feat("onchain/btc/supply_btc");
	int64_t since = day_us(2024, 1, 1), until = day_us(2024, 1, 8);
	int64_t fetched = t_us("2024-01-09T03:00:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "blockchain-com/total-bitcoins.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 7);
	expect_value(&p, 0, day_us(2024, 1, 1), 19581543.75);
	/* x = 2024-01-04T03:17:05Z → the day */
	expect_value(&p, 3, day_us(2024, 1, 4), 19584250.0);
	expect_value(&p, 6, day_us(2024, 1, 7), 19586962.5);
	release(&p);
}

Test(adapter_blockchain, status_not_ok_or_garbage_fails)
{
	const struct lav_feature *f = feat("onchain/btc/hashrate_ehs");
	const char *bodies[] = {"{\"status\":\"error\",\"error\":\"Unknown chart\"}",
				"{\"status\":\"ok\",\"values\":",
				"{\"status\":\"ok\",\"name\":\"Hash Rate\",\"values\":{}}"};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct parsed p;
		parse_body(f, day_us(2024, 1, 1), day_us(2024, 1, 8), t_us("2024-01-09T03:00:00Z"),
			   200, bodies[i], strlen(bodies[i]), &p);
		cr_assert_not(p.ok, "%s accepted", bodies[i]);
		cr_assert_eq(p.out.n, 0);
		release(&p);
	}
}

/* ---- Etherscan ---- */

Test(adapter_etherscan, request_hides_key)
{
	struct lav_fetch_req r;
	int64_t fetched = t_us("2025-06-10T14:23:41Z");
	request_for(feat("onchain/eth/gas_price_gwei"), fetched - 3600 * LAV_US_PER_S,
		    fetched + 3600 * LAV_US_PER_S, &r);
	assert_prefix(r.url, "https://api.etherscan.io/v2/api?");
	assert_has(r.url, "chainid=1");
	assert_has(r.url, "module=gastracker");
	assert_has(r.url, "action=gasoracle");
	assert_has(r.url, "apikey=" ETHERSCAN_KEY);
	assert_has(r.public_url, "apikey=***");
	cr_assert_null(strstr(r.public_url, ETHERSCAN_KEY), "key leaked: %s", r.public_url);
	drop_req(&r);
}

Test(adapter_etherscan, propose_gas_price_at_five_minute_slot)
{
	const struct lav_feature *f = feat("onchain/eth/gas_price_gwei");
	int64_t fetched = t_us("2025-06-10T14:23:41Z");
	int64_t since = fetched - 3600 * LAV_US_PER_S, until = fetched + 3600 * LAV_US_PER_S;
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "etherscan/gasoracle.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 1);
	expect_value(&p, 0, t_us("2025-06-10T14:20:00Z"), 0.703148337);
	release(&p);
}

Test(adapter_etherscan, status_zero_is_an_error)
{
	const struct lav_feature *f = feat("onchain/eth/gas_price_gwei");
	int64_t fetched = t_us("2025-06-10T14:23:41Z");
	struct parsed p;
	parse_fixture(f, fetched - 3600 * LAV_US_PER_S, fetched + 3600 * LAV_US_PER_S, fetched, 200,
		      "etherscan/gasoracle_invalid_key.json", &p);
	cr_assert_not(p.ok);
	cr_assert_eq(p.out.n, 0);
	assert_has(p.err, "Invalid API Key");
	cr_assert_null(strstr(p.err, ETHERSCAN_KEY));
	release(&p);
}

/* ---- TradingView ---- */

Test(adapter_tradingview, scanner_post_request)
{
	struct lav_fetch_req r;
	request_for(feat("macro/us/dxy_index"), day_us(2024, 3, 1), day_us(2024, 3, 6), &r);
	cr_assert_str_eq(r.url, "https://scanner.tradingview.com/global/scan");
	cr_assert_not_null(r.body, "the scanner is a POST");
	cr_assert_not_null(r.content_type);
	assert_has(r.content_type, "application/json");
	json_error_t je;
	json_t *doc = json_loads(r.body, 0, &je);
	cr_assert_not_null(doc, "body is not JSON: %s (%s)", r.body, je.text);
	json_t *tickers = json_object_get(json_object_get(doc, "symbols"), "tickers");
	cr_assert(json_is_array(tickers) && json_array_size(tickers) == 1, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_array_get(tickers, 0)), "TVC:DXY");
	json_t *cols = json_object_get(doc, "columns");
	cr_assert(json_is_array(cols) && json_array_size(cols) >= 1, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_array_get(cols, 0)), "close");
	json_decref(doc);
	drop_req(&r);
}

Test(adapter_tradingview, value_at_fetch_day_available_at_fetch)
{
	const struct lav_feature *f = feat("macro/us/dxy_index");
	int64_t since = day_us(2024, 3, 1), until = day_us(2024, 3, 6);
	int64_t fetched = t_us("2024-03-05T21:10:00Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "tradingview/scan_TVC_DXY.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 1);
	expect_value(&p, 0, day_us(2024, 3, 5), 104.23);
	cr_assert_eq(p.out.v[0].available_at, fetched);
	release(&p);

	f = feat("macro/us/spx_index");
	parse_fixture(f, since, until, fetched, 200, "tradingview/scan_SP_SPX.json", &p);
	cr_assert(p.ok, "%s", p.err);
	cr_assert_eq(p.out.n, 1);
	expect_value(&p, 0, day_us(2024, 3, 5), 5137.08);
	cr_assert_eq(p.out.v[0].available_at, fetched);
	release(&p);
}

Test(adapter_tradingview, unknown_ticker_gives_nothing)
{
	struct parsed p;
	parse_fixture(feat("macro/us/vix_index"), day_us(2024, 3, 1), day_us(2024, 3, 6),
		      t_us("2024-03-05T21:10:00Z"), 200, "tradingview/scan_unknown.json", &p);
	cr_assert_eq(p.out.n, 0);
	release(&p);
}

/* ---- cex-aggregator ---- */

Test(adapter_cexagg, request_and_points)
{
	const struct lav_feature *f = feat("cex/agg/spot_depth_2pct_usd");
	struct lav_fetch_req r;
	request_for(f, t_us("2024-03-01T01:00:00Z"), t_us("2024-03-01T05:00:00Z"), &r);
	assert_prefix(r.url, "http://127.0.0.1:9100/v1/series/spot_depth_2pct_usd?");
	/* RFC 3339, percent-encoded or not */
	char dec[512];
	url_decode(r.url, dec, sizeof(dec));
	assert_has(dec, "since=2024-03-01T01:00:00");
	assert_has(dec, "until=2024-03-01T05:00:00");
	cr_assert_null(r.body);
	drop_req(&r);

	int64_t since = t_us("2024-03-01T01:00:00Z"), until = t_us("2024-03-01T05:00:00Z");
	int64_t fetched = t_us("2024-03-01T06:00:03Z");
	struct parsed p;
	parse_fixture(f, since, until, fetched, 200, "cex-aggregator/spot_depth_2pct_usd.json", &p);
	cr_assert(p.ok, "%s", p.err);
	check_obs(&p, since, until, fetched);
	cr_assert_eq(p.out.n, 4);
	expect_value(&p, 0, t_us("2024-03-01T01:00:00Z"), 2398765432.1);
	expect_value(&p, 1, t_us("2024-03-01T02:00:00Z"), 2455000000.0);
	expect_value(&p, 2, t_us("2024-03-01T03:00:00Z"), 2501234567.8);
	expect_value(&p, 3, t_us("2024-03-01T04:00:00Z"), 2477777777.7);
	release(&p);
}

/* ---- garbage bodies, every adapter ---- */

static const char HTML_502[] = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
			       "<center><h1>502 Bad Gateway</h1></center>\r\n"
			       "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

Test(adapter_garbage, every_adapter_rejects_empty_html_and_truncated)
{
	struct {
		const char *id;
		char *series;	     /* NULL: the catalog's */
		const char *fixture; /* a good body, truncated below; NULL: HTML source */
	} cases[] = {
	    {"macro/us/walcl_total_usd", NULL, "fred/walcl_2024q1.json"},
	    {"crypto/etf/btc_net_flow_usd", NULL, NULL},
	    {"crypto/stables/mcap_total_usd", NULL, "defillama/stablecoincharts_all.json"},
	    {"crypto/stables/mcap_total_usd_yoy", NULL, "defillama/stablecoincharts_all.json"},
	    {"onchain/eth/tvl_usd", NULL, "defillama/historicalChainTvl_Ethereum.json"},
	    {"dex/agg/active_liquidity_usd", NULL, "defillama/protocols.json"},
	    {"crypto/btc/price_usd", kl_close_1h, "binance-api/klines_BTCUSDT_1h.json"},
	    {"cex/binance/btcusdt_funding_rate", fr_btc, "binance-api/fundingRate_BTCUSDT.json"},
	    {"cex/binance/btcusdt_funding_rate", oi_btc,
	     "binance-api/openInterestHist_BTCUSDT_1h.json"},
	    {"onchain/btc/hashrate_ehs", NULL, "blockchain-com/hash-rate.json"},
	    {"onchain/eth/gas_price_gwei", NULL, "etherscan/gasoracle.json"},
	    {"macro/us/dxy_index", NULL, "tradingview/scan_TVC_DXY.json"},
	    {"cex/agg/spot_depth_2pct_usd", NULL, "cex-aggregator/spot_depth_2pct_usd.json"},
	};
	int64_t since = day_us(2023, 1, 1), until = day_us(2026, 1, 1);
	int64_t fetched = t_us("2025-06-10T14:23:41Z");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lav_feature f = *feat(cases[i].id);
		if (cases[i].series)
			f.source_series = cases[i].series;
		struct parsed p;

		parse_body(&f, since, until, fetched, 200, "", 0, &p);
		cr_expect_not(p.ok, "%s: empty body accepted", f.id);
		cr_expect_neq(p.err[0], '\0', "%s: empty body without a message", f.id);
		release(&p);

		parse_body(&f, since, until, fetched, 200, HTML_502, strlen(HTML_502), &p);
		cr_expect_not(p.ok, "%s: HTML error page accepted", f.id);
		cr_expect_eq(p.out.n, 0, "%s", f.id);
		release(&p);

		parse_body(&f, since, until, fetched, 502, HTML_502, strlen(HTML_502), &p);
		cr_expect_not(p.ok, "%s: HTTP 502 accepted", f.id);
		release(&p);

		if (!cases[i].fixture)
			continue;
		size_t len;
		char *body = fixture(cases[i].fixture, &len);
		/* cut in the middle, and before the last non-blank byte */
		size_t end = len;
		while (end > 0 && (body[end - 1] == '\n' || body[end - 1] == ' '))
			end--;
		cr_assert_gt(end, 1);
		size_t cuts[] = {len / 2, end - 1};
		for (size_t c = 0; c < 2; c++) {
			char *part = malloc(cuts[c] + 1);
			memcpy(part, body, cuts[c]);
			part[cuts[c]] = 'X'; /* not NUL-terminated at len */
			parse_body(&f, since, until, fetched, 200, part, cuts[c], &p);
			cr_expect_not(p.ok, "%s: %s truncated to %zu bytes accepted", f.id,
				      cases[i].fixture, cuts[c]);
			release(&p);
			free(part);
		}
		free(body);
	}
}

/* ---- lav_yoy_at ---- */

static const int64_t Y = 365 * LAV_US_PER_DAY;

Test(adapter_yoy, exact_year_back)
{
	struct lav_obs o[] = {{0, 0, 100.0}, {Y, 0, 125.0}};
	double v = -99;
	cr_assert(lav_yoy_at(o, 2, 1, &v));
	cr_assert_float_eq(v, 0.25, 1e-15);
	cr_assert_not(lav_yoy_at(o, 2, 0, &v), "nothing a year before the first");
}

Test(adapter_yoy, newest_at_or_before_a_year_back)
{
	struct lav_obs o[] = {
	    {0, 0, 50.0},
	    {10 * LAV_US_PER_DAY, 0, 80.0}, /* newest <= t - 365 d */
	    {11 * LAV_US_PER_DAY, 0, 999.0},
	    {Y + 10 * LAV_US_PER_DAY + 12 * 3600 * LAV_US_PER_S, 0, 60.0},
	};
	double v = -99;
	cr_assert(lav_yoy_at(o, 4, 3, &v));
	cr_assert_float_eq(v, 60.0 / 80.0 - 1.0, 1e-15);
	/* one µs short of a year: only the first is old enough */
	struct lav_obs p[] = {{0, 0, 40.0}, {1, 0, 1e9}, {Y, 0, 50.0}};
	cr_assert(lav_yoy_at(p, 3, 2, &v));
	cr_assert_float_eq(v, 0.25, 1e-15);
}

Test(adapter_yoy, no_base_or_zero_base)
{
	double v = 7;
	struct lav_obs a[] = {{1, 0, 100.0}, {Y, 0, 125.0}}; /* 1 µs too late */
	cr_assert_not(lav_yoy_at(a, 2, 1, &v));
	struct lav_obs z[] = {{0, 0, 0.0}, {Y, 0, 125.0}};
	cr_assert_not(lav_yoy_at(z, 2, 1, &v), "a zero base has no yoy");
	struct lav_obs one[] = {{Y, 0, 125.0}};
	cr_assert_not(lav_yoy_at(one, 1, 0, &v));
	/* a later non-zero base is not used in place of a zero one at or before t - 365 d */
	struct lav_obs zl[] = {{-5, 0, 10.0}, {0, 0, 0.0}, {5, 0, 20.0}, {Y, 0, 30.0}};
	cr_assert_not(lav_yoy_at(zl, 4, 3, &v));
}

Test(adapter_yoy, negative_growth)
{
	struct lav_obs o[] = {{0, 0, 138e9}, {Y / 2, 0, 120e9}, {Y, 0, 129.6e9}};
	double v = 0;
	cr_assert(lav_yoy_at(o, 3, 2, &v));
	cr_assert_float_eq(v, 129.6e9 / 138e9 - 1.0, 1e-15);
	cr_assert_not(lav_yoy_at(o, 3, 1, &v));
}
