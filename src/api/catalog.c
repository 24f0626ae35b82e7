/* GET /api/features/v1/catalog and POST .../catalog/validate. */
#include <stdlib.h>
#include <string.h>

#include "lav/api.h"
#include "lav/catalog.h"
#include "lav/router.h"
#include "lav/server.h"

struct filter {
	const char *tag, *entity_name, *source, *id;
	enum lav_entity_kind entity;
	size_t id_prefix; /* > 0: id ends with '*', match this many leading bytes */
};

static bool matches(const struct lav_feature *f, const struct filter *flt)
{
	if (flt->tag) {
		bool found = false;
		for (size_t i = 0; i < f->ntags && !found; i++)
			found = strcmp(f->tags[i], flt->tag) == 0;
		if (!found)
			return false;
	}
	if (flt->entity_name && f->entity != flt->entity)
		return false;
	if (flt->source && strcmp(f->source_id, flt->source) != 0)
		return false;
	if (flt->id) {
		if (flt->id_prefix ? strncmp(f->id, flt->id, flt->id_prefix) != 0
				   : strcmp(f->id, flt->id) != 0)
			return false;
	}
	return true;
}

void lav_api_catalog(struct lav_server *srv, struct lav_request *req)
{
	static const char *const allowed[] = {"tag", "entity", "source", "id", NULL};
	struct lav_query q;
	if (!lav_query_parse(req->query, &q)) {
		lav_respond_error(req, 400, "bad_parameter", "malformed query string");
		return;
	}
	const char *unknown = lav_query_unknown(&q, allowed);
	if (unknown) {
		lav_respond_error(req, 400, "bad_parameter",
				  "unknown query parameter \"%.64s\" (use tag, entity, source, id)",
				  unknown);
		lav_query_free(&q);
		return;
	}
	struct filter flt = {0};
	const char **slots[] = {&flt.tag, &flt.entity_name, &flt.source, &flt.id};
	for (int i = 0; i < 4; i++) {
		bool dup;
		*slots[i] = lav_query_get(&q, allowed[i], &dup);
		if (dup) {
			lav_respond_error(req, 400, "bad_parameter",
					  "query parameter \"%s\" given more than once", allowed[i]);
			lav_query_free(&q);
			return;
		}
	}
	if (flt.entity_name && !lav_entity_kind_parse(flt.entity_name, &flt.entity)) {
		lav_respond_error(req, 400, "bad_parameter",
				  "entity must be one of asset, pair, market, macro (got \"%.64s\")",
				  flt.entity_name);
		lav_query_free(&q);
		return;
	}
	if (flt.id) {
		size_t n = strlen(flt.id);
		if (n && flt.id[n - 1] == '*')
			flt.id_prefix = n - 1;
	}
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "version");
	lav_w_int(&w, srv->catalog.version);
	lav_w_key(&w, "features");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < srv->catalog.nfeatures; i++)
		if (matches(&srv->catalog.features[i], &flt))
			lav_w_json(&w, srv->catalog.features[i].spec);
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
	lav_query_free(&q);
}

void lav_api_catalog_validate(struct lav_server *srv, struct lav_request *req)
{
	json_t *doc = lav_api_body(req);
	if (!doc)
		return;
	struct lav_errors errs = {0};
	struct lav_catalog cand = {0};
	bool ok = lav_catalog_parse_features(doc, "request body", srv->catalog.sources,
					     srv->catalog.nsources, &cand, &errs);
	json_decref(doc);
	if (!ok) {
		if (errs.dropped)
			lav_errors_add(&errs, "... and %zu more errors", errs.dropped);
		lav_respond_error_ex(req, 422, "invalid_catalog", NULL,
				     (const char *const *)errs.msg, errs.n, "%s",
				     errs.n ? errs.msg[0] : "invalid catalog");
		lav_errors_free(&errs);
		return;
	}
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "valid");
	lav_w_bool(&w, true);
	lav_w_key(&w, "features");
	lav_w_int(&w, (int64_t)cand.nfeatures);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
	cand.sources = NULL; /* borrowed from the running catalog */
	cand.nsources = 0;
	lav_catalog_free(&cand);
}
