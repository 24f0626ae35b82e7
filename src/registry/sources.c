/* datasources.json: the upstream sources features come from. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/catalog.h"

static const char *const CLASS_NAMES[] = {"onchain", "cex", "macro", "derived", NULL};

void lav_source_env_name(const char *source_id, const char *suffix, char *out, size_t outlen)
{
	size_t n = (size_t)snprintf(out, outlen, "LAV_SOURCE_");
	for (const char *p = source_id; *p && n + 1 < outlen; p++)
		out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	out[n < outlen ? n : outlen - 1] = '\0';
	snprintf(out + strlen(out), outlen - strlen(out), "_%s", suffix);
}

static bool valid_base_url(const char *s)
{
	const char *rest;
	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (!*rest || *rest == '/')
		return false;
	for (const char *p = s; *p; p++)
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
			return false;
	return true;
}

static bool valid_source_id(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return false;
	return true;
}

bool lav_sources_parse(const json_t *doc, const char *file, lav_env_get env, void *env_arg,
		       struct lav_source **out, size_t *nout, struct lav_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	*out = NULL;
	*nout = 0;
	if (!json_is_array(doc)) {
		lav_errors_add(errs, "%s: must be a JSON array of sources", file);
		return false;
	}
	size_t n = json_array_size(doc);
	struct lav_source *src = lav_xcalloc(n, sizeof(*src));
	size_t i;
	json_t *item;
	json_array_foreach(doc, i, item)
	{
		struct lav_source *s = &src[i];
		if (!json_is_object(item)) {
			lav_errors_add(errs, "%s: source[%zu]: must be an object", file, i);
			continue;
		}
		const char *key;
		json_t *v;
		json_object_foreach(item, key, v)
		{
			static const char *const allowed[] = {
				"id",	       "name", "class", "base_url", "rate_limit_rpm",
				"reliability", "auth", "docs",	NULL};
			bool ok = false;
			for (int k = 0; allowed[k]; k++)
				ok |= strcmp(key, allowed[k]) == 0;
			if (!ok)
				lav_errors_add(errs, "%s: source[%zu]: unknown field \"%s\"", file,
					       i, key);
		}
		const char *id = json_string_value(json_object_get(item, "id"));
		if (!id || !valid_source_id(id)) {
			lav_errors_add(errs,
				       "%s: source[%zu]: field \"id\": must be a lowercase "
				       "identifier ([a-z0-9-]+)",
				       file, i);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (src[j].id && strcmp(src[j].id, id) == 0)
				lav_errors_add(errs, "%s: source[%zu] \"%s\": duplicate id", file,
					       i, id);
		s->id = lav_xstrdup(id);
		const char *name = json_string_value(json_object_get(item, "name"));
		if (!name || !*name)
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"name\": must be a "
				       "non-empty string",
				       file, i, id);
		s->name = lav_xstrdup(name ? name : "");
		const char *cls = json_string_value(json_object_get(item, "class"));
		bool cls_ok = false;
		for (int k = 0; cls && CLASS_NAMES[k]; k++)
			if (strcmp(cls, CLASS_NAMES[k]) == 0) {
				s->cls = (enum lav_source_class)k;
				cls_ok = true;
			}
		if (!cls_ok)
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"class\": must be one of "
				       "onchain, cex, macro, derived",
				       file, i, id);
		const char *url = json_string_value(json_object_get(item, "base_url"));
		if (!url || !valid_base_url(url))
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"base_url\": must be an "
				       "http(s)://host[:port] URL",
				       file, i, id);
		char envname[128];
		lav_source_env_name(id, "URL", envname, sizeof(envname));
		const char *over = env ? env(envname, env_arg) : NULL;
		if (over && *over) {
			if (!valid_base_url(over))
				lav_errors_add(errs, "%s=\"%.80s\": must be an http(s)://host[:port] URL",
					       envname, over);
			s->base_url = lav_xstrdup(over);
			s->base_url_from_env = true;
		} else {
			s->base_url = lav_xstrdup(url ? url : "");
		}
		lav_source_env_name(id, "KEY", envname, sizeof(envname));
		const char *secret = env ? env(envname, env_arg) : NULL;
		s->key = secret && *secret ? lav_xstrdup(secret) : NULL;
		json_t *rpm = json_object_get(item, "rate_limit_rpm");
		if (!json_is_integer(rpm) || json_integer_value(rpm) < 1 ||
		    json_integer_value(rpm) > 1000000)
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"rate_limit_rpm\": must be "
				       "an integer between 1 and 1000000",
				       file, i, id);
		else
			s->rate_limit_rpm = (int)json_integer_value(rpm);
		json_t *rel = json_object_get(item, "reliability");
		if (!json_is_number(rel) || json_number_value(rel) < 0 ||
		    json_number_value(rel) > 1)
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"reliability\": must be a "
				       "number in [0, 1]",
				       file, i, id);
		else
			s->reliability = json_number_value(rel);
		const char *auth = json_string_value(json_object_get(item, "auth"));
		if (!auth || (strcmp(auth, "none") != 0 && strcmp(auth, "api_key") != 0))
			lav_errors_add(errs,
				       "%s: source[%zu] \"%s\": field \"auth\": must be \"none\" or "
				       "\"api_key\"",
				       file, i, id);
		else
			s->needs_key = strcmp(auth, "api_key") == 0;
		json_t *docs = json_object_get(item, "docs");
		if (docs && !json_is_string(docs))
			lav_errors_add(errs, "%s: source[%zu] \"%s\": field \"docs\": must be a string",
				       file, i, id);
		s->docs = lav_xstrdup(json_is_string(docs) ? json_string_value(docs) : "");
	}
	if (errs->n + errs->dropped != before) {
		lav_sources_free(src, n);
		return false;
	}
	*out = src;
	*nout = n;
	return true;
}

void lav_sources_free(struct lav_source *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].name);
		free(s[i].base_url);
		free(s[i].docs);
		free(s[i].key);
	}
	free(s);
}
