/* Points and the in-memory hot window of each series (feature_id, entity).
 * Pure data structures: PostgreSQL is the truth, this is what latest, DQ and
 * the semáforo read without a round trip. */
#ifndef LAV_SERIES_H
#define LAV_SERIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/catalog.h"
#include "lav/codec.h"
#include "lav/strmap.h"

/* Longest entity key ("BTC", "AAPL", "" for global series). */
#define LAV_ENTITY_MAX 64

struct lav_point {
	int64_t ts;	      /* valid time, µs */
	int64_t available_at; /* knowledge time, µs */
	double value;
	double confidence;
	json_t *meta;	  /* owned reference or NULL */
	json_t *evidence; /* owned reference or NULL */
};

void lav_point_clear(struct lav_point *p);
/* Orders by (ts, available_at). */
int lav_point_cmp(const struct lav_point *a, const struct lav_point *b);

struct lav_series {
	char *feature_id;
	char *entity;
	const struct lav_feature *feature;
	struct lav_point *pts; /* sorted by (ts, available_at), unique; = buf + head */
	size_t n;
	size_t max_points;
	/* storage: dropping the oldest point moves head, and the window is
	 * compacted to the front only when it reaches the end of buf */
	struct lav_point *buf;
	size_t head, bufcap;
	uint64_t touched; /* flush generation that last changed it (store.c) */
};

enum lav_insert_result { LAV_INSERT_NEW, LAV_INSERT_SAME, LAV_INSERT_CONFLICT };

/* Inserts a copy of p (meta/evidence references are taken). An identical
 * point is a no-op; the same key with another value is a conflict and is
 * not stored. Oldest points are dropped beyond max_points. */
enum lav_insert_result lav_series_insert(struct lav_series *s, const struct lav_point *p);

/* Point-in-time read (DESIGN.md section 3): the latest revision with
 * available_at <= t of the newest point with ts <= t; NULL if none. */
const struct lav_point *lav_series_asof(const struct lav_series *s, int64_t t);

/* The same over any array sorted by (ts, available_at), and the index of
 * its first point with ts > t (binary search). */
const struct lav_point *lav_points_asof(const struct lav_point *pts, size_t n, int64_t t);
size_t lav_points_upper(const struct lav_point *pts, size_t n, int64_t t);

/* Every series, keyed "feature_id\x1f entity". */
struct lav_series_index {
	struct lav_strmap map;
	size_t max_points;
};

void lav_series_index_init(struct lav_series_index *ix, size_t max_points);
void lav_series_index_free(struct lav_series_index *ix);
struct lav_series *lav_series_get(const struct lav_series_index *ix, const char *feature_id,
				  const char *entity);
struct lav_series *lav_series_get_or_add(struct lav_series_index *ix,
					 const struct lav_feature *f, const char *entity);

/* FeaturePoint on the wire: featureId, entity, ts, available_at, value,
 * confidence, stale (now - ts > ttl), meta, evidence. */
void lav_write_point(struct lav_writer *w, const char *feature_id, const char *entity,
		     const struct lav_point *p, int64_t ttl_ms, int64_t now_us);

#endif
