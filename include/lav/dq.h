/* Data quality of incoming points (DESIGN.md section 6): parsing and the
 * always-rejected rules, the range policy, the outlier rule. Pure. */
#ifndef LAV_DQ_H
#define LAV_DQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lav/catalog.h"
#include "lav/series.h"

/* How far ahead of lav's clock a ts or available_at may be (clock skew). */
#define LAV_DQ_FUTURE_US (5 * 60 * 1000000LL)
/* Points considered by the outlier rule. */
#define LAV_DQ_OUTLIER_WINDOW 30
#define LAV_DQ_OUTLIER_MIN 10
#define LAV_DQ_OUTLIER_K 6.0

struct lav_point_in {
	const struct lav_feature *feature;
	char entity[LAV_ENTITY_MAX + 1];
	struct lav_point point; /* owns meta/evidence references */
	bool flagged;		/* meta.dq was added to */
};

/* Parses one FeaturePoint object and applies the always-rejected rules and
 * the feature's range policy. On rejection returns false with a stable error
 * code and a message naming the field. out is cleared on failure. */
bool lav_point_parse(const json_t *obj, const struct lav_catalog *cat, int64_t now_us,
		     struct lav_point_in *out, const char **code, char *msg, size_t msglen);

/* The rules that do not depend on the wire form, for a point built in
 * lav (ingestion) or parsed by lav_point_parse: future ts, finite value,
 * int64, confidence, available_at (defaulted from the publication delay
 * unless has_available_at), the range policy. Clears the point on
 * rejection. */
bool lav_point_check(struct lav_point_in *in, bool has_available_at, int64_t now_us,
		     const char **code, char *msg, size_t msglen);

/* |x - median| / (1.4826 * MAD) > k over the given window (at least
 * LAV_DQ_OUTLIER_MIN values; MAD = 0 flags any x != median). */
bool lav_dq_is_outlier(const double *window, size_t n, double x, double k);

/* Appends flag to p->meta.dq (creating meta and the array as needed). */
void lav_dq_flag(struct lav_point *p, const char *flag);

#endif
