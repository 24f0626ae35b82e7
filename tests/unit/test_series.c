/* The hot window of a series: sorted unique inserts, idempotence and
 * conflicts, trimming, reference counting of meta/evidence, point-in-time
 * reads checked against a brute-force reference, the series index and the
 * FeaturePoint writer. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/series.h"
#include "lav/timefmt.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct lav_point pt(int64_t ts, int64_t av, double v)
{
	struct lav_point p = {.ts = ts, .available_at = av, .value = v, .confidence = 1};
	return p;
}

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
	return v;
}

static void series_free(struct lav_series *s)
{
	for (size_t i = 0; i < s->n; i++)
		lav_point_clear(&s->pts[i]);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void expect_sorted_unique(const struct lav_series *s)
{
	for (size_t i = 1; i < s->n; i++)
		cr_assert_lt(lav_point_cmp(&s->pts[i - 1], &s->pts[i]), 0,
			     "pts[%zu] (%lld,%lld) !< pts[%zu] (%lld,%lld)", i - 1,
			     (long long)s->pts[i - 1].ts, (long long)s->pts[i - 1].available_at, i,
			     (long long)s->pts[i].ts, (long long)s->pts[i].available_at);
}

static int64_t T(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	cr_assert(lav_time_parse(s, strlen(s), &us, &why), "%s: %s", s, why);
	return us;
}

TestSuite(series_insert);
TestSuite(series_trim);
TestSuite(series_asof);
TestSuite(series_index);
TestSuite(series_write);

/* ---- ordering ---- */

Test(series_insert, point_cmp_orders_by_ts_then_available_at)
{
	struct lav_point a = pt(10, 10, 1), b = pt(10, 20, 0), c = pt(11, 0, 0),
			 d = pt(10, 10, 99);
	cr_assert_lt(lav_point_cmp(&a, &b), 0);
	cr_assert_gt(lav_point_cmp(&b, &a), 0);
	cr_assert_lt(lav_point_cmp(&b, &c), 0);
	cr_assert_lt(lav_point_cmp(&a, &c), 0);
	cr_assert_eq(lav_point_cmp(&a, &d), 0, "value is not part of the key");
	struct lav_point e = pt(INT64_MIN, 0, 0), f = pt(INT64_MAX, 0, 0);
	cr_assert_lt(lav_point_cmp(&e, &f), 0);
	cr_assert_gt(lav_point_cmp(&f, &e), 0);
}

Test(series_insert, shuffled_inserts_give_the_same_sorted_array)
{
	enum { N = 300 };
	struct lav_point ref[N];
	/* distinct keys, several revisions per ts, sorted */
	for (int i = 0; i < N; i++)
		ref[i] = pt((i / 3) * 1000, (i / 3) * 1000 + (i % 3) * 7, i * 0.5);
	for (int round = 0; round < 20; round++) {
		rng_state = 0x9E3779B97F4A7C15ULL + (uint64_t)round;
		int order[N];
		for (int i = 0; i < N; i++)
			order[i] = i;
		for (int i = N - 1; i > 0; i--) {
			int j = (int)(rng() % (uint64_t)(i + 1));
			int t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		struct lav_series s = {0};
		for (int i = 0; i < N; i++)
			cr_assert_eq(lav_series_insert(&s, &ref[order[i]]), LAV_INSERT_NEW);
		cr_assert_eq(s.n, N);
		for (int i = 0; i < N; i++) {
			cr_assert_eq(s.pts[i].ts, ref[i].ts, "round %d: pts[%d]", round, i);
			cr_assert_eq(s.pts[i].available_at, ref[i].available_at);
			cr_assert_eq(s.pts[i].value, ref[i].value);
		}
		/* inserting everything again changes nothing */
		for (int i = 0; i < N; i++)
			cr_assert_eq(lav_series_insert(&s, &ref[order[i]]), LAV_INSERT_SAME);
		cr_assert_eq(s.n, N);
		series_free(&s);
	}
}

Test(series_insert, identical_point_is_same)
{
	struct lav_series s = {0};
	struct lav_point p = pt(100, 150, 3.25);
	p.confidence = 0.75;
	cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);
	cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_SAME);
	struct lav_point q = pt(100, 150, 3.25);
	q.confidence = 0.75;
	cr_assert_eq(lav_series_insert(&s, &q), LAV_INSERT_SAME);
	cr_assert_eq(s.n, 1);
	series_free(&s);
}

Test(series_insert, same_key_other_value_is_a_conflict_and_not_stored)
{
	struct lav_series s = {0};
	struct lav_point p = pt(100, 150, 3.25);
	cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);
	struct lav_point q = pt(100, 150, 3.5);
	cr_assert_eq(lav_series_insert(&s, &q), LAV_INSERT_CONFLICT);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.pts[0].value, 3.25, "the stored point was replaced");
	/* other confidence */
	struct lav_point c = pt(100, 150, 3.25);
	c.confidence = 0.5;
	cr_assert_eq(lav_series_insert(&s, &c), LAV_INSERT_CONFLICT);
	cr_assert_eq(s.pts[0].confidence, 1);
	/* a later available_at is a revision, not a conflict */
	struct lav_point r = pt(100, 151, 3.5);
	cr_assert_eq(lav_series_insert(&s, &r), LAV_INSERT_NEW);
	cr_assert_eq(s.n, 2);
	series_free(&s);
}

Test(series_insert, negative_zero_conflicts_with_zero)
{
	struct lav_series s = {0};
	struct lav_point z = pt(1, 1, 0.0), nz = pt(1, 1, -0.0);
	cr_assert_eq(lav_series_insert(&s, &z), LAV_INSERT_NEW);
	cr_assert_eq(lav_series_insert(&s, &nz), LAV_INSERT_CONFLICT);
	struct lav_point z2 = pt(2, 2, -0.0), nz2 = pt(2, 2, 0.0);
	cr_assert_eq(lav_series_insert(&s, &z2), LAV_INSERT_NEW);
	cr_assert_eq(lav_series_insert(&s, &nz2), LAV_INSERT_CONFLICT);
	cr_assert_eq(lav_series_insert(&s, &z2), LAV_INSERT_SAME);
	cr_assert_eq(s.n, 2);
	series_free(&s);
}

Test(series_insert, meta_and_evidence_compared_by_content)
{
	struct lav_series s = {0};
	struct lav_point p = pt(5, 5, 1);
	p.meta = J("{\"a\":1,\"b\":[1,2]}");
	p.evidence = J("[{\"source\":\"fred\",\"ref\":\"WALCL\"}]");
	cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);

	/* equal content, different objects, other key order */
	struct lav_point q = pt(5, 5, 1);
	q.meta = J("{\"b\":[1,2],\"a\":1}");
	q.evidence = J("[{\"ref\":\"WALCL\",\"source\":\"fred\"}]");
	cr_assert_eq(lav_series_insert(&s, &q), LAV_INSERT_SAME);
	lav_point_clear(&q);

	struct lav_point m = pt(5, 5, 1);
	m.meta = J("{\"a\":2,\"b\":[1,2]}");
	m.evidence = json_incref(p.evidence);
	cr_assert_eq(lav_series_insert(&s, &m), LAV_INSERT_CONFLICT);
	lav_point_clear(&m);

	struct lav_point e = pt(5, 5, 1);
	e.meta = json_incref(p.meta);
	e.evidence = J("[{\"source\":\"fred\",\"ref\":\"WALCL2\"}]");
	cr_assert_eq(lav_series_insert(&s, &e), LAV_INSERT_CONFLICT);
	lav_point_clear(&e);

	/* missing meta vs present */
	struct lav_point n = pt(5, 5, 1);
	n.evidence = json_incref(p.evidence);
	cr_assert_eq(lav_series_insert(&s, &n), LAV_INSERT_CONFLICT);
	lav_point_clear(&n);

	/* both without meta/evidence */
	struct lav_point a = pt(6, 6, 1), b = pt(6, 6, 1);
	cr_assert_eq(lav_series_insert(&s, &a), LAV_INSERT_NEW);
	cr_assert_eq(lav_series_insert(&s, &b), LAV_INSERT_SAME);
	lav_point_clear(&p);
	cr_assert_eq(s.n, 2);
	series_free(&s);
}

Test(series_insert, references_taken_only_when_stored)
{
	struct lav_series s = {0};
	struct lav_point p = pt(5, 5, 1);
	p.meta = J("{\"a\":1}");
	p.evidence = J("[]");
	cr_assert_eq(p.meta->refcount, 1);
	cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);
	cr_assert_eq(p.meta->refcount, 2, "insert must take a reference to meta");
	cr_assert_eq(p.evidence->refcount, 2);
	cr_assert_eq(s.pts[0].meta, p.meta);

	struct lav_point q = pt(5, 5, 1);
	q.meta = J("{\"a\":1}");
	q.evidence = J("[]");
	cr_assert_eq(lav_series_insert(&s, &q), LAV_INSERT_SAME);
	cr_assert_eq(q.meta->refcount, 1, "SAME must not take a reference");
	cr_assert_eq(q.evidence->refcount, 1);
	lav_point_clear(&q);

	struct lav_point c = pt(5, 5, 2);
	c.meta = J("{\"a\":1}");
	cr_assert_eq(lav_series_insert(&s, &c), LAV_INSERT_CONFLICT);
	cr_assert_eq(c.meta->refcount, 1, "CONFLICT must not take a reference");
	lav_point_clear(&c);

	/* the caller's reference can go: the series keeps its own */
	json_t *meta = p.meta;
	lav_point_clear(&p);
	cr_assert_eq(meta->refcount, 1);
	cr_assert_eq(json_integer_value(json_object_get(s.pts[0].meta, "a")), 1);
	series_free(&s);
}

/* ---- trimming ---- */

Test(series_trim, oldest_dropped_at_max_points)
{
	struct lav_series s = {.max_points = 5};
	for (int i = 1; i <= 5; i++) {
		struct lav_point p = pt(i * 10, i * 10, i);
		cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);
	}
	cr_assert_eq(s.n, 5);
	struct lav_point p6 = pt(60, 60, 6);
	cr_assert_eq(lav_series_insert(&s, &p6), LAV_INSERT_NEW);
	cr_assert_eq(s.n, 5);
	cr_assert_eq(s.pts[0].ts, 20);
	cr_assert_eq(s.pts[4].ts, 60);
	/* in the middle: the oldest still goes */
	struct lav_point mid = pt(35, 35, 3.5);
	cr_assert_eq(lav_series_insert(&s, &mid), LAV_INSERT_NEW);
	cr_assert_eq(s.n, 5);
	const int64_t want[5] = {30, 35, 40, 50, 60};
	for (int i = 0; i < 5; i++)
		cr_assert_eq(s.pts[i].ts, want[i], "pts[%d].ts = %lld", i, (long long)s.pts[i].ts);
	expect_sorted_unique(&s);
	cr_assert_leq(s.bufcap, 10, "storage %zu beyond twice max_points", s.bufcap);
	series_free(&s);
}

Test(series_trim, older_than_the_full_window_reported_new_not_stored)
{
	struct lav_series s = {.max_points = 3};
	for (int i = 1; i <= 3; i++) {
		struct lav_point p = pt(i * 10, i * 10, i);
		lav_series_insert(&s, &p);
	}
	struct lav_point old = pt(5, 5, 0.5);
	old.meta = J("{\"x\":1}");
	cr_assert_eq(lav_series_insert(&s, &old), LAV_INSERT_NEW);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.pts[0].ts, 10);
	cr_assert_eq(old.meta->refcount, 1, "a point not stored must not be referenced");
	lav_point_clear(&old);
	/* same ts as the oldest but an earlier revision: also before the window */
	struct lav_point rev = pt(10, 9, 1);
	cr_assert_eq(lav_series_insert(&s, &rev), LAV_INSERT_NEW);
	cr_assert_eq(s.pts[0].available_at, 10);
	/* an exact duplicate of the oldest is still SAME */
	struct lav_point dup = pt(10, 10, 1);
	cr_assert_eq(lav_series_insert(&s, &dup), LAV_INSERT_SAME);
	series_free(&s);
}

Test(series_trim, dropped_points_release_their_references)
{
	struct lav_series s = {.max_points = 2};
	json_t *metas[4];
	for (int i = 0; i < 4; i++) {
		struct lav_point p = pt(i, i, i);
		p.meta = json_pack("{s:i}", "i", i);
		metas[i] = json_incref(p.meta);
		cr_assert_eq(lav_series_insert(&s, &p), LAV_INSERT_NEW);
		lav_point_clear(&p);
	}
	cr_assert_eq(metas[0]->refcount, 1, "dropped point still references its meta");
	cr_assert_eq(metas[1]->refcount, 1);
	cr_assert_eq(metas[2]->refcount, 2);
	cr_assert_eq(metas[3]->refcount, 2);
	series_free(&s);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(metas[i]->refcount, 1);
		json_decref(metas[i]);
	}
}

Test(series_trim, random_inserts_keep_the_newest_window)
{
	rng_state = 12345;
	enum { N = 2000, MAXP = 50 };
	struct lav_series s = {.max_points = MAXP};
	struct lav_series all = {0};
	for (int i = 0; i < N; i++) {
		int64_t ts = (int64_t)(rng() % 500);
		int64_t av = ts + (int64_t)(rng() % 3);
		struct lav_point p = pt(ts, av, (double)(ts * 10 + av));
		p.meta = json_pack("{s:I}", "k", (json_int_t)(ts * 10 + av));
		lav_series_insert(&all, &p);
		lav_series_insert(&s, &p);
		lav_point_clear(&p);
		expect_sorted_unique(&s);
		cr_assert_leq(s.n, MAXP);
	}
	/* values depend only on the key, so re-inserts are SAME: the window is
	 * exactly the MAXP newest keys ever inserted */
	cr_assert_eq(s.n, MAXP);
	cr_assert_geq(all.n, MAXP);
	for (size_t i = 0; i < s.n; i++) {
		const struct lav_point *w = &all.pts[all.n - MAXP + i];
		cr_assert_eq(lav_point_cmp(w, &s.pts[i]), 0, "window[%zu] is (%lld,%lld), want (%lld,%lld)",
			     i, (long long)s.pts[i].ts, (long long)s.pts[i].available_at,
			     (long long)w->ts, (long long)w->available_at);
		cr_assert(json_equal(w->meta, s.pts[i].meta));
	}
	series_free(&s);
	series_free(&all);
}

/* ---- point in time ---- */

Test(series_asof, revisions_by_hand)
{
	struct lav_series s = {0};
	struct lav_point a = pt(10, 10, 1), b = pt(10, 20, 2), c = pt(15, 30, 3);
	lav_series_insert(&s, &c);
	lav_series_insert(&s, &b);
	lav_series_insert(&s, &a);
	cr_assert_null(lav_series_asof(&s, 9));
	cr_assert_eq(lav_series_asof(&s, 10)->value, 1);
	cr_assert_eq(lav_series_asof(&s, 19)->value, 1);
	cr_assert_eq(lav_series_asof(&s, 20)->value, 2);
	/* ts 15 exists but is not known before 30: no look-ahead */
	cr_assert_eq(lav_series_asof(&s, 29)->value, 2);
	cr_assert_eq(lav_series_asof(&s, 30)->value, 3);
	cr_assert_eq(lav_series_asof(&s, INT64_MAX)->value, 3);
	cr_assert_null(lav_series_asof(&s, INT64_MIN));
	series_free(&s);
	struct lav_series empty = {0};
	cr_assert_null(lav_series_asof(&empty, 0));
}

/* Brute force: among points with ts <= t that were known at t
 * (available_at <= t), the newest ts, and of that ts the latest revision. */
static const struct lav_point *asof_ref(const struct lav_point *pts, size_t n, int64_t t)
{
	const struct lav_point *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct lav_point *p = &pts[i];
		if (p->ts > t || p->available_at > t)
			continue;
		if (!best || p->ts > best->ts ||
		    (p->ts == best->ts && p->available_at > best->available_at))
			best = p;
	}
	return best;
}

Test(series_asof, matches_brute_force_on_random_data)
{
	for (int round = 0; round < 30; round++) {
		rng_state = 0xABCDEF12345ULL + (uint64_t)round * 7919;
		enum { N = 400 };
		struct lav_point raw[N];
		size_t n = 0;
		struct lav_series s = {0};
		for (int i = 0; i < N; i++) {
			int64_t ts = (int64_t)(rng() % 1000) - 200; /* negative too */
			int64_t delay = (rng() % 4 == 0) ? 0 : (int64_t)(rng() % 300);
			struct lav_point p = pt(ts, ts + delay, (double)i);
			enum lav_insert_result r = lav_series_insert(&s, &p);
			if (r == LAV_INSERT_NEW)
				raw[n++] = p; /* unique keys only, in insertion order */
			else
				cr_assert_eq(r, LAV_INSERT_CONFLICT);
		}
		cr_assert_eq(s.n, n);
		for (int64_t t = -300; t <= 1200; t++) {
			const struct lav_point *got = lav_series_asof(&s, t);
			const struct lav_point *want = asof_ref(raw, n, t);
			if (!want) {
				cr_assert_null(got, "round %d t=%lld: got (%lld,%lld), want none",
					       round, (long long)t, (long long)got->ts,
					       (long long)got->available_at);
				continue;
			}
			cr_assert_not_null(got, "round %d t=%lld: got none, want (%lld,%lld)",
					   round, (long long)t, (long long)want->ts,
					   (long long)want->available_at);
			cr_assert(got->ts == want->ts && got->available_at == want->available_at &&
					  got->value == want->value,
				  "round %d t=%lld: got (%lld,%lld)=%g, want (%lld,%lld)=%g", round,
				  (long long)t, (long long)got->ts, (long long)got->available_at,
				  got->value, (long long)want->ts, (long long)want->available_at,
				  want->value);
		}
		series_free(&s);
	}
}

/* ---- the index ---- */

static char FID_A[] = "macro/us/walcl_total_usd";
static char FID_B[] = "crypto/btc/price_usd";
static struct lav_feature FA = {.id = FID_A, .ttl_ms = 1000};
static struct lav_feature FB = {.id = FID_B, .ttl_ms = 1000};

Test(series_index, get_or_add_and_get)
{
	struct lav_series_index ix;
	lav_series_index_init(&ix, 7);
	cr_assert_null(lav_series_get(&ix, FA.id, ""));
	struct lav_series *a = lav_series_get_or_add(&ix, &FA, "");
	cr_assert_not_null(a);
	cr_assert_str_eq(a->feature_id, FA.id);
	cr_assert_str_eq(a->entity, "");
	cr_assert_eq(a->feature, &FA);
	cr_assert_eq(a->max_points, 7);
	cr_assert_eq(a->n, 0);
	cr_assert_eq(lav_series_get_or_add(&ix, &FA, ""), a);
	cr_assert_eq(lav_series_get(&ix, FA.id, ""), a);

	char ent[16] = "BTC";
	struct lav_series *b = lav_series_get_or_add(&ix, &FB, ent);
	struct lav_series *b2 = lav_series_get_or_add(&ix, &FB, "ETH");
	cr_assert_neq(b, b2);
	cr_assert_neq(b, a);
	strcpy(ent, "XXX"); /* the entity was copied */
	cr_assert_str_eq(b->entity, "BTC");
	cr_assert_eq(lav_series_get(&ix, FB.id, "BTC"), b);
	cr_assert_eq(lav_series_get(&ix, FB.id, "ETH"), b2);
	cr_assert_null(lav_series_get(&ix, FB.id, ""));
	cr_assert_null(lav_series_get(&ix, FA.id, "BTC"));
	cr_assert_null(lav_series_get(&ix, "macro/us", ""));
	cr_assert_eq(ix.map.n, 3);

	/* points inserted through the index are freed with it (ASan checks) */
	struct lav_point p = pt(1, 1, 1);
	p.meta = J("{\"a\":[1,2,3]}");
	p.evidence = J("[{\"source\":\"fred\"}]");
	cr_assert_eq(lav_series_insert(b, &p), LAV_INSERT_NEW);
	lav_point_clear(&p);
	for (int i = 0; i < 20; i++) {
		struct lav_point q = pt(i, i, i);
		lav_series_insert(a, &q);
	}
	cr_assert_eq(a->n, 7, "index max_points not applied");
	lav_series_index_free(&ix);
}

Test(series_index, many_entities)
{
	struct lav_series_index ix;
	lav_series_index_init(&ix, 0);
	struct lav_series *seen[1000];
	for (int i = 0; i < 1000; i++) {
		char ent[32];
		snprintf(ent, sizeof(ent), "E%d", i);
		seen[i] = lav_series_get_or_add(&ix, i % 2 ? &FA : &FB, ent);
		cr_assert_not_null(seen[i]);
		struct lav_point p = pt(i, i, i);
		lav_series_insert(seen[i], &p);
	}
	cr_assert_eq(ix.map.n, 1000);
	for (int i = 0; i < 1000; i++) {
		char ent[32];
		snprintf(ent, sizeof(ent), "E%d", i);
		cr_assert_eq(lav_series_get(&ix, (i % 2 ? &FA : &FB)->id, ent), seen[i]);
		cr_assert_null(lav_series_get(&ix, (i % 2 ? &FB : &FA)->id, ent));
		cr_assert_eq(seen[i]->pts[0].value, i);
	}
	lav_series_index_free(&ix);
}

Test(series_index, key_too_long_is_refused)
{
	struct lav_series_index ix;
	lav_series_index_init(&ix, 0);
	char ent[300];
	memset(ent, 'A', sizeof(ent) - 1);
	ent[sizeof(ent) - 1] = '\0';
	cr_assert_null(lav_series_get_or_add(&ix, &FA, ent));
	cr_assert_null(lav_series_get(&ix, FA.id, ent));
	cr_assert_eq(ix.map.n, 0);
	/* the longest valid key fits: 128-char id, 64-char entity */
	char id[129];
	memset(id, 'a', 128);
	id[128] = '\0';
	struct lav_feature f = {.id = id};
	char e64[65];
	memset(e64, 'B', 64);
	e64[64] = '\0';
	struct lav_series *s = lav_series_get_or_add(&ix, &f, e64);
	cr_assert_not_null(s);
	cr_assert_eq(lav_series_get(&ix, id, e64), s);
	lav_series_index_free(&ix);
}

/* ---- FeaturePoint on the wire ---- */

static char *write_json(const char *fid, const char *entity, const struct lav_point *p,
			int64_t ttl_ms, int64_t now)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_write_point(&w, fid, entity, p, ttl_ms, now);
	char *s = lav_xstrdup(lav_buf_cstr(&b));
	lav_buf_free(&b);
	return s;
}

Test(series_write, json_fields_exact)
{
	struct lav_point p = pt(T("2025-10-20T00:00:00Z"), T("2025-10-21T00:00:00.5Z"), 1.5);
	p.confidence = 0.25;
	char *s = write_json("macro/us/walcl_total_usd", "", &p, 86400000,
			     T("2025-10-20T12:00:00Z"));
	cr_assert_str_eq(s, "{\"featureId\":\"macro/us/walcl_total_usd\",\"entity\":\"\","
			    "\"ts\":\"2025-10-20T00:00:00.000Z\","
			    "\"available_at\":\"2025-10-21T00:00:00.500Z\",\"value\":1.5,"
			    "\"confidence\":0.25,\"stale\":false,\"meta\":{},\"evidence\":[]}");
	free(s);

	p.meta = J("{\"dq\":[\"out_of_range\"],\"n\":3}");
	p.evidence = J("[{\"source\":\"fred\",\"ref\":\"WALCL\"}]");
	p.value = 7.5e12;
	p.ts = T("2025-10-20T00:00:00.000123Z");
	s = write_json("macro/us/walcl_total_usd", "BTC", &p, 1000, T("2025-10-20T00:00:00Z"));
	cr_assert_str_eq(s, "{\"featureId\":\"macro/us/walcl_total_usd\",\"entity\":\"BTC\","
			    "\"ts\":\"2025-10-20T00:00:00.000123Z\","
			    "\"available_at\":\"2025-10-21T00:00:00.500Z\",\"value\":7500000000000,"
			    "\"confidence\":0.25,\"stale\":false,"
			    "\"meta\":{\"dq\":[\"out_of_range\"],\"n\":3},"
			    "\"evidence\":[{\"source\":\"fred\",\"ref\":\"WALCL\"}]}");
	free(s);
	lav_point_clear(&p);
}

static bool stale_of(int64_t ts, int64_t ttl_ms, int64_t now)
{
	struct lav_point p = pt(ts, ts, 1);
	char *s = write_json("a/b", "", &p, ttl_ms, now);
	json_t *v = J(s);
	free(s);
	json_t *st = json_object_get(v, "stale");
	cr_assert(json_is_boolean(st));
	bool r = json_is_true(st);
	json_decref(v);
	return r;
}

Test(series_write, stale_from_ttl)
{
	int64_t ts = T("2025-10-20T00:00:00Z");
	/* exactly ttl old: not stale; one µs more: stale */
	cr_assert_not(stale_of(ts, 60000, ts + 60 * LAV_US_PER_S));
	cr_assert(stale_of(ts, 60000, ts + 60 * LAV_US_PER_S + 1));
	cr_assert_not(stale_of(ts, 60000, ts));
	cr_assert_not(stale_of(ts, 60000, ts - LAV_US_PER_S)); /* from the future */
	/* a week-long ttl does not overflow */
	cr_assert_not(stale_of(ts, 604800000, ts + 7 * LAV_US_PER_DAY));
	cr_assert(stale_of(ts, 604800000, ts + 7 * LAV_US_PER_DAY + 1));
}

Test(series_write, msgpack_carries_the_same_fields)
{
	struct lav_point p = pt(T("2025-10-20T00:00:00Z"), T("2025-10-20T00:00:01Z"), -2.5);
	p.meta = J("{\"k\":\"v\"}");
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_write_point(&w, "a/b", "ETH", &p, 1, T("2025-10-20T00:00:00.002Z"));
	char err[128];
	json_t *v = lav_decode_body(LAV_FMT_MSGPACK, b.data, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(v, "featureId")), "a/b");
	cr_assert_str_eq(json_string_value(json_object_get(v, "entity")), "ETH");
	cr_assert_str_eq(json_string_value(json_object_get(v, "ts")), "2025-10-20T00:00:00.000Z");
	cr_assert_str_eq(json_string_value(json_object_get(v, "available_at")),
			 "2025-10-20T00:00:01.000Z");
	cr_assert_eq(json_number_value(json_object_get(v, "value")), -2.5);
	cr_assert_eq(json_number_value(json_object_get(v, "confidence")), 1);
	cr_assert(json_is_true(json_object_get(v, "stale")));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "meta"), "k")), "v");
	cr_assert(json_is_array(json_object_get(v, "evidence")));
	cr_assert_eq(json_object_size(v), 9);
	json_decref(v);
	lav_buf_free(&b);
	lav_point_clear(&p);
}
