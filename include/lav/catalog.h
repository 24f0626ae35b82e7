/* The feature catalog and the data sources it names. Parsing and validation
 * are pure (a jansson document in, structs or precise errors out); reading the
 * files is a thin wrapper. Every error names the file, the feature and the
 * field so an operator can fix it without reading code. */
#ifndef LAV_CATALOG_H
#define LAV_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/config.h"

enum lav_entity_kind { LAV_ENTITY_ASSET, LAV_ENTITY_PAIR, LAV_ENTITY_MARKET, LAV_ENTITY_MACRO };
enum lav_frequency { LAV_FREQ_TICK, LAV_FREQ_1M, LAV_FREQ_5M, LAV_FREQ_1H, LAV_FREQ_1D, LAV_FREQ_1W };
enum lav_source_class { LAV_CLASS_ONCHAIN, LAV_CLASS_CEX, LAV_CLASS_MACRO, LAV_CLASS_DERIVED };
enum lav_on_violation { LAV_VIOLATION_FLAG, LAV_VIOLATION_REJECT };
enum lav_dtype { LAV_DTYPE_FLOAT64, LAV_DTYPE_INT64 };

const char *lav_entity_kind_name(enum lav_entity_kind k);
bool lav_entity_kind_parse(const char *s, enum lav_entity_kind *out);
const char *lav_frequency_name(enum lav_frequency f);
/* Period of a frequency in milliseconds; 0 for tick. */
int64_t lav_frequency_ms(enum lav_frequency f);

/* Collected validation errors (at most LAV_ERRORS_MAX are kept). */
#define LAV_ERRORS_MAX 100
struct lav_errors {
	char *msg[LAV_ERRORS_MAX];
	size_t n;
	size_t dropped;
};
void lav_errors_add(struct lav_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lav_errors_free(struct lav_errors *e);

struct lav_source {
	char *id;
	char *name;
	enum lav_source_class cls;
	char *base_url; /* LAV_SOURCE_<ID>_URL when set, else the file's */
	bool base_url_from_env;
	char *docs;
	int rate_limit_rpm;
	double reliability;
	bool needs_key;
	char *key; /* LAV_SOURCE_<ID>_KEY; a secret: never logged or served */
};

/* The source id a feature names when lavd itself computes it (the score and
 * components of the semáforo); it is not a datasources.json entry. */
#define LAV_SOURCE_SELF "lav"

struct lav_derived {
	char *op;
	char **inputs;
	size_t ninputs;
	json_t *params; /* owned */
};

struct lav_feature {
	char *id;
	enum lav_entity_kind entity;
	char *description;
	char *unit;
	char **tags;
	size_t ntags;
	enum lav_frequency frequency;
	int64_t ttl_ms;
	char *source_id;
	enum lav_source_class source_class;
	char *source_schema;
	char *source_series; /* NULL when absent */
	bool has_range;
	double range_lo, range_hi;
	bool seasonal;
	enum lav_on_violation on_violation;
	int64_t publication_delay_ms;
	enum lav_dtype dtype;
	struct lav_derived *derived; /* NULL unless computed by lav */
	bool computed; /* source "lav": written by lavd itself (the semáforo), never
			* ingested nor accepted from publishers */
	int version;
	json_t *spec; /* normalized spec (defaults filled in), owned */
};

struct lav_catalog {
	struct lav_source *sources;
	size_t nsources;
	struct lav_feature *features; /* sorted by id */
	size_t nfeatures;
	int64_t version; /* catalog version recorded in PostgreSQL; 0 until synced */
};

/* datasources.json: an array of sources. env supplies LAV_SOURCE_<ID>_URL/KEY. */
bool lav_sources_parse(const json_t *doc, const char *file, lav_env_get env, void *env_arg,
		       struct lav_source **out, size_t *nout, struct lav_errors *errs);
void lav_sources_free(struct lav_source *s, size_t n);

/* features.catalog.json: an array of FeatureSpec, or {"features": [...]}.
 * On success fills out->features (sources are not touched). */
bool lav_catalog_parse_features(const json_t *doc, const char *file,
				const struct lav_source *sources, size_t nsources,
				struct lav_catalog *out, struct lav_errors *errs);

/* Reads and validates <dir>/datasources.json and <dir>/features.catalog.json. */
bool lav_catalog_load(const char *dir, lav_env_get env, void *env_arg, struct lav_catalog *out,
		      struct lav_errors *errs);
void lav_catalog_free(struct lav_catalog *c);

const struct lav_feature *lav_catalog_find(const struct lav_catalog *c, const char *id);
const struct lav_source *lav_catalog_source(const struct lav_catalog *c, const char *id);

/* Environment variable names of a source: LAV_SOURCE_BINANCE_API_URL. */
void lav_source_env_name(const char *source_id, const char *suffix, char *out, size_t outlen);

/* Reads a whole JSON file; on failure adds an error naming the file. */
json_t *lav_json_load_file(const char *path, struct lav_errors *errs);

#endif
