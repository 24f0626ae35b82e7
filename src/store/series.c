#include "lav/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"

void lav_point_clear(struct lav_point *p)
{
	json_decref(p->meta);
	json_decref(p->evidence);
	p->meta = p->evidence = NULL;
}

int lav_point_cmp(const struct lav_point *a, const struct lav_point *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->available_at != b->available_at)
		return a->available_at < b->available_at ? -1 : 1;
	return 0;
}

static bool json_same(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	return json_equal((json_t *)a, (json_t *)b);
}

/* First index whose key is >= p's key. */
static size_t lower_bound(const struct lav_series *s, const struct lav_point *p)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lav_point_cmp(&s->pts[mid], p) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Room for one more point after the window, compacting or growing buf. */
static void make_room(struct lav_series *s)
{
	if (s->head + s->n < s->bufcap)
		return;
	if (s->head > 0) {
		memmove(s->buf, s->pts, s->n * sizeof(*s->buf));
		s->head = 0;
	} else {
		size_t cap = s->bufcap ? s->bufcap * 2 : 16;
		/* twice the window: compaction then happens once per max_points drops */
		if (s->max_points && cap > 2 * s->max_points)
			cap = 2 * s->max_points;
		if (cap <= s->n)
			cap = s->n + 1;
		s->buf = lav_xrealloc(s->buf, cap * sizeof(*s->buf));
		s->bufcap = cap;
	}
	s->pts = s->buf + s->head;
}

enum lav_insert_result lav_series_insert(struct lav_series *s, const struct lav_point *p)
{
	size_t i = lower_bound(s, p);
	if (i < s->n && lav_point_cmp(&s->pts[i], p) == 0) {
		const struct lav_point *q = &s->pts[i];
		/* the same bits: -0.0 and 0.0 differ, NaN never reaches here */
		bool same = memcmp(&q->value, &p->value, sizeof(double)) == 0 &&
			    q->confidence == p->confidence && json_same(q->meta, p->meta) &&
			    json_same(q->evidence, p->evidence);
		return same ? LAV_INSERT_SAME : LAV_INSERT_CONFLICT;
	}
	if (s->max_points && s->n == s->max_points) {
		if (i == 0)
			return LAV_INSERT_NEW; /* older than the whole window: PostgreSQL has it */
		lav_point_clear(&s->pts[0]);
		s->head++;
		s->pts++;
		s->n--;
		i--;
	}
	make_room(s);
	memmove(&s->pts[i + 1], &s->pts[i], (s->n - i) * sizeof(*s->pts));
	s->n++;
	s->pts[i] = *p;
	if (p->meta)
		json_incref(p->meta);
	if (p->evidence)
		json_incref(p->evidence);
	return LAV_INSERT_NEW;
}

size_t lav_points_upper(const struct lav_point *pts, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pts[mid].ts <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct lav_point *lav_points_asof(const struct lav_point *pts, size_t n, int64_t t)
{
	/* sorted by (ts, available_at): walking back from the last ts <= t, the
	 * first point with available_at <= t is the newest ts that was known at
	 * t, in its latest revision known at t */
	for (size_t i = lav_points_upper(pts, n, t); i-- > 0;)
		if (pts[i].available_at <= t)
			return &pts[i];
	return NULL;
}

const struct lav_point *lav_series_asof(const struct lav_series *s, int64_t t)
{
	return lav_points_asof(s->pts, s->n, t);
}

static void series_key(char *out, size_t outlen, const char *feature_id, const char *entity)
{
	size_t a = strlen(feature_id);
	size_t b = strlen(entity);
	if (a + b + 2 > outlen) {
		out[0] = '\0';
		return;
	}
	memcpy(out, feature_id, a);
	out[a] = '\x1f';
	memcpy(out + a + 1, entity, b + 1);
}

void lav_series_index_init(struct lav_series_index *ix, size_t max_points)
{
	lav_strmap_init(&ix->map);
	ix->max_points = max_points;
}

void lav_series_index_free(struct lav_series_index *ix)
{
	lav_strmap_foreach(&ix->map, i)
	{
		struct lav_series *s = ix->map.slots[i].value;
		for (size_t k = 0; k < s->n; k++)
			lav_point_clear(&s->pts[k]);
		free(s->buf);
		free(s->feature_id);
		free(s->entity);
		free(s);
	}
	lav_strmap_free(&ix->map);
}

struct lav_series *lav_series_get(const struct lav_series_index *ix, const char *feature_id,
				  const char *entity)
{
	char key[256];
	series_key(key, sizeof(key), feature_id, entity);
	return key[0] ? lav_strmap_get(&ix->map, key) : NULL;
}

struct lav_series *lav_series_get_or_add(struct lav_series_index *ix,
					 const struct lav_feature *f, const char *entity)
{
	char key[256];
	series_key(key, sizeof(key), f->id, entity);
	if (!key[0])
		return NULL;
	struct lav_series *s = lav_strmap_get(&ix->map, key);
	if (s)
		return s;
	s = lav_xcalloc(1, sizeof(*s));
	s->feature_id = lav_xstrdup(f->id);
	s->entity = lav_xstrdup(entity);
	s->feature = f;
	s->max_points = ix->max_points;
	lav_strmap_put(&ix->map, key, s);
	return s;
}

void lav_write_point(struct lav_writer *w, const char *feature_id, const char *entity,
		     const struct lav_point *p, int64_t ttl_ms, int64_t now_us)
{
	lav_w_map_begin(w);
	lav_w_key(w, "featureId");
	lav_w_str(w, feature_id);
	lav_w_key(w, "entity");
	lav_w_str(w, entity);
	lav_w_key(w, "ts");
	lav_w_time(w, p->ts);
	lav_w_key(w, "available_at");
	lav_w_time(w, p->available_at);
	lav_w_key(w, "value");
	lav_w_double(w, p->value);
	lav_w_key(w, "confidence");
	lav_w_double(w, p->confidence);
	lav_w_key(w, "stale");
	lav_w_bool(w, now_us - p->ts > ttl_ms * 1000);
	lav_w_key(w, "meta");
	if (p->meta)
		lav_w_json(w, p->meta);
	else
		lav_w_map_begin(w), lav_w_map_end(w);
	lav_w_key(w, "evidence");
	if (p->evidence)
		lav_w_json(w, p->evidence);
	else
		lav_w_array_begin(w), lav_w_array_end(w);
	lav_w_map_end(w);
}
