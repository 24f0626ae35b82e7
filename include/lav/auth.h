/* Bearer tokens with scopes. The tokens file holds only SHA-256 hashes; a
 * presented token is hashed and compared in constant time. */
#ifndef LAV_AUTH_H
#define LAV_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/catalog.h"

enum lav_scope {
	LAV_SCOPE_NONE = 0,
	LAV_SCOPE_READER = 1u << 0,
	LAV_SCOPE_PUBLISHER = 1u << 1,
	LAV_SCOPE_ADMIN = 1u << 2,
};

struct lav_token {
	char name[64];
	unsigned char sha256[32];
	unsigned scopes; /* effective: admin implies publisher implies reader */
};

struct lav_tokens {
	struct lav_token *tokens;
	size_t n;
};

/* {"tokens":[{"name":..,"sha256":"<64 hex>","scopes":["oracle.reader",..]}]} */
bool lav_tokens_parse(const json_t *doc, const char *file, struct lav_tokens *out,
		      struct lav_errors *errs);
bool lav_tokens_load(const char *path, struct lav_tokens *out, struct lav_errors *errs);
void lav_tokens_free(struct lav_tokens *t);

/* The token whose hash matches, or NULL. Every entry is compared, always. */
const struct lav_token *lav_tokens_find(const struct lav_tokens *t, const char *token, size_t len);

/* "Bearer <token>" → token; false when the header has another shape. */
bool lav_bearer_token(const char *authorization, const char **tok, size_t *len);

const char *lav_scope_name(unsigned scope);

void lav_sha256(const void *data, size_t len, unsigned char out[32]);

/* Per-token rate limit (FEATURE_API_RATE_LIMIT_RPM): a token bucket holding
 * up to rpm requests, refilled at rpm per minute. Pure. */
struct lav_rate_bucket {
	double tokens;
	int64_t last_us; /* 0: new, full */
};

/* Takes one request; false when none is left, with the whole seconds until
 * one is in *retry_after_s. */
bool lav_rate_take(struct lav_rate_bucket *b, int rpm, int64_t now_us, int *retry_after_s);

#endif
