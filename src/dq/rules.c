#include "lav/dq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/timefmt.h"

#define REJECT(c, ...)                                                                             \
	do {                                                                                       \
		*code = (c);                                                                       \
		snprintf(msg, msglen, __VA_ARGS__);                                                \
		goto fail;                                                                         \
	} while (0)

static bool entity_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > LAV_ENTITY_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':' || c == '/'))
			return false;
	}
	return true;
}

static bool parse_time(const json_t *v, int64_t *out, const char **why)
{
	if (!json_is_string(v)) {
		*why = v ? "must be an RFC 3339 string" : "is required";
		return false;
	}
	return lav_time_parse(json_string_value(v), json_string_length(v), out, why);
}

void lav_dq_flag(struct lav_point *p, const char *flag)
{
	if (!p->meta)
		p->meta = json_object();
	json_t *dq = json_object_get(p->meta, "dq");
	if (!json_is_array(dq)) {
		dq = json_array();
		json_object_set_new(p->meta, "dq", dq);
	}
	size_t i;
	json_t *v;
	json_array_foreach(dq, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), flag) == 0)
			return;
	}
	json_array_append_new(dq, json_string(flag));
}

bool lav_point_check(struct lav_point_in *out, bool has_available_at, int64_t now_us,
		     const char **code, char *msg, size_t msglen)
{
	struct lav_point *p = &out->point;
	const struct lav_feature *f = out->feature;
	if (p->ts > now_us + LAV_DQ_FUTURE_US)
		REJECT("future_timestamp", "field \"ts\": more than 5 minutes in the future");
	if (!isfinite(p->value))
		REJECT("invalid_value", "field \"value\": must be a finite number");
	if (f->dtype == LAV_DTYPE_INT64 &&
	    (p->value != floor(p->value) || fabs(p->value) > 9007199254740992.0))
		REJECT("invalid_value", "field \"value\": feature is int64, got a fraction");
	if (!(p->confidence >= 0 && p->confidence <= 1))
		REJECT("invalid_confidence", "field \"confidence\": must be a number in [0, 1]");
	if (has_available_at) {
		if (p->available_at < p->ts)
			REJECT("invalid_timestamp", "field \"available_at\": must not be before ts");
		if (p->available_at > now_us + LAV_DQ_FUTURE_US)
			REJECT("future_timestamp",
			       "field \"available_at\": more than 5 minutes in the future");
	} else {
		/* known at ts + publication delay, but never later than now: it is
		 * known to lav from this moment (docs/store.md) */
		int64_t due = p->ts + f->publication_delay_ms * 1000;
		p->available_at = due < now_us ? due : now_us;
		if (p->available_at < p->ts)
			p->available_at = p->ts;
	}
	if (f->has_range && (p->value < f->range_lo || p->value > f->range_hi)) {
		if (f->on_violation == LAV_VIOLATION_REJECT)
			REJECT("out_of_range",
			       "field \"value\": %.17g is outside expected_range [%g, %g]",
			       p->value, f->range_lo, f->range_hi);
		lav_dq_flag(p, "out_of_range");
		p->confidence /= 2;
		out->flagged = true;
	}
	return true;
fail:
	lav_point_clear(&out->point);
	return false;
}

bool lav_point_parse(const json_t *obj, const struct lav_catalog *cat, int64_t now_us,
		     struct lav_point_in *out, const char **code, char *msg, size_t msglen)
{
	memset(out, 0, sizeof(*out));
	const char *why = NULL;
	if (!json_is_object(obj))
		REJECT("invalid_point", "a point must be an object");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		static const char *const allowed[] = {"featureId",  "entity", "ts",
						      "available_at", "value", "confidence",
						      "meta",	      "evidence", "stale", NULL};
		bool ok = false;
		for (int i = 0; allowed[i]; i++)
			ok |= strcmp(allowed[i], key) == 0;
		if (!ok)
			REJECT("invalid_field", "unknown field \"%.64s\"", key);
	}
	json_t *fid = json_object_get(obj, "featureId");
	if (!json_is_string(fid) || json_string_length(fid) != strlen(json_string_value(fid)))
		REJECT("invalid_field", "field \"featureId\": required string");
	out->feature = lav_catalog_find(cat, json_string_value(fid));
	if (!out->feature)
		REJECT("unknown_feature", "field \"featureId\": \"%.128s\" is not in the catalog",
		       json_string_value(fid));
	if (out->feature->computed)
		REJECT("computed_feature",
		       "field \"featureId\": \"%.128s\" is computed by lavd (source \"lav\") and "
		       "cannot be published",
		       out->feature->id);
	json_t *ent = json_object_get(obj, "entity");
	if (ent && !json_is_null(ent)) {
		if (!json_is_string(ent) || !entity_ok(json_string_value(ent)) ||
		    json_string_length(ent) != strlen(json_string_value(ent)))
			REJECT("invalid_entity",
			       "field \"entity\": up to %d characters of [A-Za-z0-9_.:/-]",
			       LAV_ENTITY_MAX);
		snprintf(out->entity, sizeof(out->entity), "%s", json_string_value(ent));
	}
	struct lav_point *p = &out->point;
	if (!parse_time(json_object_get(obj, "ts"), &p->ts, &why))
		REJECT("invalid_timestamp", "field \"ts\": %s", why);
	json_t *val = json_object_get(obj, "value");
	if (!json_is_number(val)) {
		if (json_is_string(val) && (strcmp(json_string_value(val), "NaN") == 0 ||
					    strstr(json_string_value(val), "Infinity")))
			REJECT("invalid_value", "field \"value\": must be a finite number, got %s",
			       json_string_value(val));
		REJECT("invalid_value", "field \"value\": must be a finite number");
	}
	p->value = json_number_value(val);
	json_t *conf = json_object_get(obj, "confidence");
	p->confidence = 1.0;
	if (conf && !json_is_null(conf)) {
		double c = json_number_value(conf);
		if (!json_is_number(conf) || !(c >= 0 && c <= 1))
			REJECT("invalid_confidence",
			       "field \"confidence\": must be a number in [0, 1]");
		p->confidence = c;
	}
	json_t *meta = json_object_get(obj, "meta");
	if (meta && !json_is_null(meta)) {
		if (!json_is_object(meta))
			REJECT("invalid_field", "field \"meta\": must be an object");
		if (json_object_size(meta)) /* {} and no meta are the same point */
			p->meta = json_deep_copy(meta);
	}
	json_t *ev = json_object_get(obj, "evidence");
	if (ev && !json_is_null(ev)) {
		if (!json_is_array(ev))
			REJECT("invalid_field", "field \"evidence\": must be an array");
		size_t i;
		json_t *e;
		json_array_foreach(ev, i, e)
		{
			if (!json_is_object(e) || !json_is_string(json_object_get(e, "source")))
				REJECT("invalid_field",
				       "field \"evidence[%zu]\": must be {source, ref?, fetched_at?, "
				       "sha256?}",
				       i);
		}
		if (json_array_size(ev))
			p->evidence = json_deep_copy(ev);
	}
	json_t *stale = json_object_get(obj, "stale");
	if (stale && !json_is_boolean(stale) && !json_is_null(stale))
		REJECT("invalid_field", "field \"stale\": must be a boolean (it is computed anyway)");
	json_t *avail = json_object_get(obj, "available_at");
	bool has_avail = avail && !json_is_null(avail);
	if (has_avail && !parse_time(avail, &p->available_at, &why))
		REJECT("invalid_timestamp", "field \"available_at\": %s", why);
	return lav_point_check(out, has_avail, now_us, code, msg, msglen);
	return true;
fail:
	lav_point_clear(&out->point);
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool lav_dq_is_outlier(const double *window, size_t n, double x, double k)
{
	if (n < LAV_DQ_OUTLIER_MIN)
		return false;
	double *tmp = lav_xmalloc(n * sizeof(double));
	memcpy(tmp, window, n * sizeof(double));
	double med = median(tmp, n);
	for (size_t i = 0; i < n; i++)
		tmp[i] = fabs(window[i] - med);
	double mad = median(tmp, n);
	free(tmp);
	double dev = fabs(x - med);
	if (mad == 0)
		return dev > 0;
	return dev / (1.4826 * mad) > k;
}
