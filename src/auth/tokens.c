#include "lav/auth.h"
#include "lav/buf.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lav_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 32;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

const char *lav_scope_name(unsigned scope)
{
	switch (scope) {
	case LAV_SCOPE_READER:
		return "oracle.reader";
	case LAV_SCOPE_PUBLISHER:
		return "oracle.publisher";
	case LAV_SCOPE_ADMIN:
		return "oracle.admin";
	}
	return "none";
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool lav_tokens_parse(const json_t *doc, const char *file, struct lav_tokens *out,
		      struct lav_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	memset(out, 0, sizeof(*out));
	json_t *arr = json_object_get(doc, "tokens");
	if (!json_is_object(doc) || !json_is_array(arr)) {
		lav_errors_add(errs, "%s: must be {\"tokens\": [...]}", file);
		return false;
	}
	size_t n = json_array_size(arr);
	out->tokens = lav_xcalloc(n, sizeof(struct lav_token));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(arr, i);
		struct lav_token *tok = &out->tokens[i];
		const char *name = json_string_value(json_object_get(t, "name"));
		if (!name || !*name || strlen(name) >= sizeof(tok->name)) {
			lav_errors_add(errs, "%s: token[%zu]: field \"name\": must be 1-63 characters",
				       file, i);
			continue;
		}
		snprintf(tok->name, sizeof(tok->name), "%s", name);
		const char *key;
		json_t *v;
		json_object_foreach(t, key, v)
		{
			if (strcmp(key, "name") && strcmp(key, "sha256") && strcmp(key, "scopes"))
				lav_errors_add(errs, "%s: token[%zu] \"%s\": unknown field \"%s\"%s",
					       file, i, name, key,
					       strcmp(key, "token") == 0
						       ? " (store only the sha256 of a token)"
						       : "");
		}
		const char *hex = json_string_value(json_object_get(t, "sha256"));
		bool hex_ok = hex && strlen(hex) == 64;
		for (size_t k = 0; hex_ok && k < 32; k++) {
			int a = hexval((unsigned char)hex[2 * k]);
			int b = hexval((unsigned char)hex[2 * k + 1]);
			if (a < 0 || b < 0)
				hex_ok = false;
			else
				tok->sha256[k] = (unsigned char)(a << 4 | b);
		}
		if (!hex_ok)
			lav_errors_add(errs,
				       "%s: token[%zu] \"%s\": field \"sha256\": must be 64 hex "
				       "digits",
				       file, i, name);
		json_t *scopes = json_object_get(t, "scopes");
		if (!json_is_array(scopes) || json_array_size(scopes) == 0) {
			lav_errors_add(errs,
				       "%s: token[%zu] \"%s\": field \"scopes\": must be a "
				       "non-empty array",
				       file, i, name);
			continue;
		}
		size_t k;
		json_t *s;
		json_array_foreach(scopes, k, s)
		{
			const char *sc = json_string_value(s);
			if (sc && strcmp(sc, "oracle.reader") == 0)
				tok->scopes |= LAV_SCOPE_READER;
			else if (sc && strcmp(sc, "oracle.publisher") == 0)
				tok->scopes |= LAV_SCOPE_PUBLISHER | LAV_SCOPE_READER;
			else if (sc && strcmp(sc, "oracle.admin") == 0)
				tok->scopes |= LAV_SCOPE_ADMIN | LAV_SCOPE_PUBLISHER |
					       LAV_SCOPE_READER;
			else
				lav_errors_add(errs,
					       "%s: token[%zu] \"%s\": field \"scopes\": unknown "
					       "scope \"%s\" (oracle.reader, oracle.publisher, "
					       "oracle.admin)",
					       file, i, name, sc ? sc : "?");
		}
	}
	out->n = n;
	if (errs->n + errs->dropped != before) {
		lav_tokens_free(out);
		return false;
	}
	return true;
}

bool lav_tokens_load(const char *path, struct lav_tokens *out, struct lav_errors *errs)
{
	json_t *doc = lav_json_load_file(path, errs);
	if (!doc)
		return false;
	bool ok = lav_tokens_parse(doc, path, out, errs);
	json_decref(doc);
	return ok;
}

void lav_tokens_free(struct lav_tokens *t)
{
	free(t->tokens);
	t->tokens = NULL;
	t->n = 0;
}

const struct lav_token *lav_tokens_find(const struct lav_tokens *t, const char *token, size_t len)
{
	unsigned char h[32];
	lav_sha256(token, len, h);
	const struct lav_token *found = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (CRYPTO_memcmp(h, t->tokens[i].sha256, 32) == 0)
			found = &t->tokens[i];
	return found;
}

bool lav_bearer_token(const char *auth, const char **tok, size_t *len)
{
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *p = auth + 7;
	while (*p == ' ')
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == ' ')
		n--;
	if (n == 0)
		return false;
	*tok = p;
	*len = n;
	return true;
}
