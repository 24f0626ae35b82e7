/* bench_regime: what one semáforo evaluation costs, in process (no I/O).
 *
 * Builds the 9 feeds of config/liquidity.feeds.json as production holds
 * them (struct lav_point arrays sorted by (ts, available_at), revisions
 * included; cadence, publication delay and value range from the catalog):
 * 3 hourly (cex depth, perp OI, dex liquidity), 4 daily (RRP, BTC and ETH
 * ETF flows, stables YoY) and 2 weekly (WALCL, TGA), over a year plus the
 * 187 days a grid point can read (window 180d + trend lookback 7d) plus a
 * day. Then it measures, with CLOCK_MONOTONIC:
 *   a. one lav_regime_eval at the newest grid point of the year with the
 *      default parameters, the median of --reps repetitions (µs);
 *   b. the 8760 hourly grid points of the year evaluated in order, carry
 *      and all, the best of --rounds rounds (ms).
 * Output: key=value lines on stdout (scripts/bench_semaforo.sh reads them),
 * including the window statistics of each feed at the grid point of (a), so
 * that a reference computing them elsewhere can be checked against lav.
 *
 *   bench_regime [--config DIR] [--end EPOCH_S] [--reps N] [--rounds N]
 *                [--dump FILE]
 *
 * --end: the year's grid points are end - 8760h ... end - 1h and the data
 * reaches end (default: the current hour, UTC). --dump writes every point
 * as "feature_id TAB ts_us TAB available_at_us TAB value" (for publishing
 * the very same data to lavd). Parameters are the defaults (no LIQ_*
 * variable is read). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lav/buf.h"
#include "lav/catalog.h"
#include "lav/config.h"
#include "lav/feeds.h"
#include "lav/regime.h"
#include "lav/timefmt.h"

#ifndef LAV_BENCH_CONFIG_DIR
#define LAV_BENCH_CONFIG_DIR "config"
#endif

#define US_PER_HOUR (3600 * LAV_US_PER_S)
#define YEAR_POINTS 8760
#define MAX_FEEDS (LAV_NCOMP * LAV_REGIME_MAX_FEEDS + 5)

struct feed {
	const char *id;
	const struct lav_feature *f;
	int64_t step_us, delay_us;
	struct lav_point *pts;
	size_t n, cap;
	size_t revisions;
};

static struct feed feeds[MAX_FEEDS];
static size_t nfeeds;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_regime: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int feed_of(const struct lav_catalog *cat, const char *id)
{
	if (!id)
		return -1;
	for (size_t i = 0; i < nfeeds; i++)
		if (strcmp(feeds[i].id, id) == 0)
			return (int)i;
	if (nfeeds == MAX_FEEDS)
		die("too many feeds (%s)", id);
	const struct lav_feature *f = lav_catalog_find(cat, id);
	if (!f)
		die("feed %s is not in the catalog", id);
	int64_t step_ms = lav_frequency_ms(f->frequency);
	if (step_ms <= 0)
		die("feed %s has no fixed frequency", id);
	feeds[nfeeds] = (struct feed){.id = id,
				      .f = f,
				      .step_us = step_ms * LAV_US_PER_MS,
				      .delay_us = f->publication_delay_ms * LAV_US_PER_MS};
	return (int)nfeeds++;
}

/* ---- deterministic data (splitmix64, no libm in the generator) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* about N(0, 1): Irwin-Hall of 4 uniforms, scaled */
static double rng_normal(void)
{
	double s = rng_unit() + rng_unit() + rng_unit() + rng_unit() - 2.0;
	return s * 1.7320508075688772;
}

static void push(struct feed *fd, int64_t ts, int64_t avail, double value)
{
	if (fd->n == fd->cap) {
		fd->cap = fd->cap ? 2 * fd->cap : 1024;
		fd->pts = lav_xrealloc(fd->pts, fd->cap * sizeof(*fd->pts));
	}
	fd->pts[fd->n++] = (struct lav_point){
		.ts = ts, .available_at = avail, .value = value, .confidence = 1};
}

/* A mean-reverting walk u in [0.02, 0.98] mapped onto the catalog's
 * expected_range: levels wander slowly, flows (a range around 0) are
 * close to noise. Every 29th point of a daily or weekly feed is revised
 * once, every 87th twice; every 500th hourly point twice. A point or
 * revision not yet known at `end` does not exist. */
static void generate(struct feed *fd, int64_t start, int64_t end, uint64_t seed)
{
	rng_state = seed;
	double lo = fd->f->has_range ? fd->f->range_lo : 0;
	double hi = fd->f->has_range ? fd->f->range_hi : 1;
	bool flow = lo < 0 && hi > 0;
	double rho = flow ? 0.3 : fd->step_us <= US_PER_HOUR ? 0.999 : fd->step_us <= LAV_US_PER_DAY ? 0.98 : 0.9;
	double sd = 0.12, eps = sd * sqrt(1 - rho * rho);
	double u = 0.5;
	bool hourly = fd->step_us <= US_PER_HOUR;
	int64_t first = (start / fd->step_us + 1) * fd->step_us;
	size_t k = 0;
	for (int64_t ts = first; ts <= end; ts += fd->step_us, k++) {
		u = 0.5 + rho * (u - 0.5) + eps * rng_normal();
		u = u < 0.02 ? 0.02 : u > 0.98 ? 0.98 : u;
		double v = lo + (hi - lo) * u;
		int64_t avail = ts + fd->delay_us;
		if (avail > end)
			break;
		push(fd, ts, avail, v);
		int nrev = hourly ? (k % 500 == 7 ? 2 : 0) : k % 87 == 11 ? 2 : k % 29 == 5 ? 1 : 0;
		int64_t gap = hourly ? US_PER_HOUR : LAV_US_PER_DAY;
		for (int r = 1; r <= nrev; r++) {
			int64_t ra = avail + r * gap;
			if (ra > end)
				break;
			double rv = v + (hi - lo) * 0.01 * r * (rng_unit() < 0.5 ? -1 : 1);
			push(fd, ts, ra, rv < lo ? lo : rv > hi ? hi : rv);
			fd->revisions++;
		}
	}
}

/* ---- timing ---- */

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static const char *no_env(const char *name, void *arg)
{
	(void)arg;
	/* lav_config_load insists on a DSN; nothing here connects */
	return strcmp(name, "LAV_PG_DSN") == 0 ? "postgresql://unused@127.0.0.1/unused" : NULL;
}

static long arg_long(const char *s, const char *name)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (!*s || *e || v < 0)
		die("bad value for %s", name);
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = LAV_BENCH_CONFIG_DIR, *dump = NULL;
	int64_t end = -1;
	long reps = 2000, rounds = 3;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("%s needs a value (see the comment at the top of bench_regime.c)", a);
		if (strcmp(a, "--config") == 0)
			dir = v;
		else if (strcmp(a, "--end") == 0)
			end = arg_long(v, a) * LAV_US_PER_S;
		else if (strcmp(a, "--reps") == 0)
			reps = arg_long(v, a);
		else if (strcmp(a, "--rounds") == 0)
			rounds = arg_long(v, a);
		else if (strcmp(a, "--dump") == 0)
			dump = v;
		else
			die("unknown option %s", a);
		i++;
	}
	if (reps < 1 || rounds < 1)
		die("--reps and --rounds must be at least 1");
	if (end < 0) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		end = (int64_t)t.tv_sec * LAV_US_PER_S;
	}
	end -= end % US_PER_HOUR;

	/* the production configuration, defaults only */
	struct lav_config cfg;
	char err[512];
	if (!lav_config_load(&cfg, no_env, NULL, err, sizeof(err)))
		die("config: %s", err);
	struct lav_catalog cat = {0};
	struct lav_errors errs = {0};
	if (!lav_catalog_load(dir, NULL, NULL, &cat, &errs))
		die("catalog: %s", errs.n ? errs.msg[0] : "?");
	char path[1024];
	snprintf(path, sizeof(path), "%s/liquidity.feeds.json", dir);
	json_t *doc = lav_json_load_file(path, &errs);
	if (!doc)
		die("%s", errs.n ? errs.msg[0] : path);
	struct lav_liq_config liq = {0};
	if (!lav_liq_config_parse(doc, path, &cat, &cfg, &liq, &errs))
		die("liquidity.feeds.json: %s", errs.n ? errs.msg[0] : "?");
	json_decref(doc);
	struct lav_regime_params params;
	lav_regime_params_from(&liq, cfg.dq_freshness_max_ratio, &params);
	int64_t step = liq.grid_step_ms * LAV_US_PER_MS;
	if (step != US_PER_HOUR)
		die("the grid step is not 1h");

	/* the feeds, in the engine's order (components, then the rules' feeds) */
	int comp_feed[LAV_NCOMP][LAV_REGIME_MAX_FEEDS];
	for (int c = 0; c < LAV_NCOMP; c++)
		for (size_t f = 0; f < liq.comp[c].nfeeds && f < LAV_REGIME_MAX_FEEDS; f++)
			comp_feed[c][f] = feed_of(&cat, liq.comp[c].feeds[f].feature_id);
	int etf0 = feed_of(&cat, liq.etf_flows[0]), etf1 = feed_of(&cat, liq.etf_flows[1]);
	int stables = feed_of(&cat, liq.stables_yoy), rrp = feed_of(&cat, liq.rrp);
	int tga = feed_of(&cat, liq.tga);

	int64_t since = end - YEAR_POINTS * step; /* first grid point of the year */
	int64_t start = lav_regime_horizon(&params, since) - LAV_US_PER_DAY;
	size_t npoints = 0, nrev = 0;
	for (size_t k = 0; k < nfeeds; k++) {
		generate(&feeds[k], start, end, 0x5eedULL * (k + 1));
		npoints += feeds[k].n;
		nrev += feeds[k].revisions;
	}

	if (dump) {
		FILE *fp = fopen(dump, "w");
		if (!fp)
			die("cannot write %s", dump);
		for (size_t k = 0; k < nfeeds; k++)
			for (size_t i = 0; i < feeds[k].n; i++)
				fprintf(fp, "%s\t%" PRId64 "\t%" PRId64 "\t%.17g\n", feeds[k].id,
					feeds[k].pts[i].ts, feeds[k].pts[i].available_at,
					feeds[k].pts[i].value);
		if (fclose(fp) != 0)
			die("writing %s failed", dump);
	}

	struct lav_feed_view views[MAX_FEEDS];
	for (size_t k = 0; k < nfeeds; k++)
		views[k] = (struct lav_feed_view){
			.pts = feeds[k].pts, .n = feeds[k].n, .ttl_us = feeds[k].f->ttl_ms * LAV_US_PER_MS};
	static const struct lav_feed_view none = {0};
	struct lav_regime_inputs in;
	memset(&in, 0, sizeof(in));
	for (int c = 0; c < LAV_NCOMP; c++) {
		in.nfeeds[c] = liq.comp[c].nfeeds < LAV_REGIME_MAX_FEEDS ? liq.comp[c].nfeeds
									: LAV_REGIME_MAX_FEEDS;
		for (size_t f = 0; f < in.nfeeds[c]; f++) {
			in.comp[c][f] = views[comp_feed[c][f]];
			in.weight[c][f] = liq.comp[c].feeds[f].weight;
		}
	}
	in.etf[0] = etf0 >= 0 ? views[etf0] : none;
	in.etf[1] = etf1 >= 0 ? views[etf1] : none;
	in.stables_yoy = stables >= 0 ? views[stables] : none;
	in.rrp = rrp >= 0 ? views[rrp] : none;
	in.tga = tga >= 0 ? views[tga] : none;

	const struct lav_regime_carry fresh = {.state = LAV_REGIME_NONE,
					       .run_candidate = LAV_REGIME_NONE};
	struct lav_regime_point *pt = lav_xmalloc(sizeof(*pt));
	volatile double sink = 0;

	/* a. one grid point: the newest of the year */
	int64_t t1 = end - step;
	for (int w = 0; w < 50; w++) {
		struct lav_regime_carry carry = fresh;
		lav_regime_eval(&in, &params, t1, &carry, pt);
		sink += pt->score;
	}
	int64_t *ns = lav_xcalloc((size_t)reps, sizeof(*ns));
	for (long r = 0; r < reps; r++) {
		struct lav_regime_carry carry = fresh;
		int64_t a = now_ns();
		lav_regime_eval(&in, &params, t1, &carry, pt);
		ns[r] = now_ns() - a;
		sink += pt->score;
	}
	qsort(ns, (size_t)reps, sizeof(*ns), cmp_i64);
	double median_us = (reps % 2 ? (double)ns[reps / 2]
				     : ((double)ns[reps / 2 - 1] + (double)ns[reps / 2]) / 2) / 1000;
	double p10_us = (double)ns[reps / 10] / 1000, p90_us = (double)ns[reps * 9 / 10] / 1000;
	bool point_valid = pt->valid;
	/* the window statistics of each feed at t1, for the reference */
	struct lav_feed_signal sig[MAX_FEEDS];
	for (size_t k = 0; k < nfeeds; k++)
		lav_feed_signal_at(&views[k], t1, &params, &sig[k]);

	/* b. the year, in order */
	double best_ms = 0;
	size_t valid = 0, flips = 0;
	char rounds_ms[256] = "";
	size_t rl = 0;
	for (long r = 0; r < rounds; r++) {
		struct lav_regime_carry carry = fresh;
		valid = flips = 0;
		int64_t a = now_ns();
		for (int64_t t = since; t < end; t += step) {
			lav_regime_eval(&in, &params, t, &carry, pt);
			valid += pt->valid;
			flips += pt->flip;
		}
		double ms = (double)(now_ns() - a) / 1e6;
		sink += carry.smoothed;
		if (r == 0 || ms < best_ms)
			best_ms = ms;
		if (rl < sizeof(rounds_ms))
			rl += (size_t)snprintf(rounds_ms + rl, sizeof(rounds_ms) - rl, "%s%.1f",
					       r ? "," : "", ms);
	}

	char a1[LAV_TIME_STRLEN], a2[LAV_TIME_STRLEN], a3[LAV_TIME_STRLEN];
	lav_time_format(t1, a1);
	lav_time_format(since, a2);
	lav_time_format(end, a3);
	printf("feeds=%zu\n", nfeeds);
	for (size_t k = 0; k < nfeeds; k++)
		printf("feed.%s=%s,%zu points,%zu revisions\n", feeds[k].id,
		       lav_frequency_name(feeds[k].f->frequency), feeds[k].n, feeds[k].revisions);
	printf("points=%zu\nrevisions=%zu\ndata_days=%.1f\n", npoints, nrev,
	       (double)(end - start) / (double)LAV_US_PER_DAY);
	printf("window_days=%.0f\nmin_obs=%d\ntrend_lookback_days=%.0f\n",
	       (double)params.window_us / (double)LAV_US_PER_DAY, params.min_obs,
	       (double)params.trend_lookback_us / (double)LAV_US_PER_DAY);
	printf("grid_point=%s\ngrid_point_valid=%d\n", a1, point_valid);
	printf("grid_eval_us=%.2f\ngrid_eval_p10_us=%.2f\ngrid_eval_p90_us=%.2f\ngrid_eval_reps=%ld\n",
	       median_us, p10_us, p90_us, reps);
	for (size_t k = 0; k < nfeeds; k++)
		printf("stat.%s=%zu,%.17g,%.17g\n", feeds[k].id, sig[k].nobs, sig[k].mu, sig[k].sigma);
	printf("year_since=%s\nyear_until=%s\nyear_points=%d\n", a2, a3, YEAR_POINTS);
	printf("year_eval_ms=%.1f\nyear_rounds_ms=%s\nyear_valid=%zu\nyear_flips=%zu\n", best_ms,
	       rounds_ms, valid, flips);
	if (sink == 12345.678)
		puts("#");

	free(ns);
	free(pt);
	for (size_t k = 0; k < nfeeds; k++)
		free(feeds[k].pts);
	lav_liq_config_free(&liq);
	lav_catalog_free(&cat);
	lav_errors_free(&errs);
	lav_config_free(&cfg);
	return 0;
}
