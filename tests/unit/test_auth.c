/* Bearer tokens: the tokens file, lookup by hash, scopes and the header. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/auth.h"

#define TOKENS_FILE "test/tokens.json"

static struct lav_tokens toks;
static struct lav_errors errs;

static void setup(void)
{
	memset(&toks, 0, sizeof(toks));
	memset(&errs, 0, sizeof(errs));
}

static void teardown(void)
{
	lav_tokens_free(&toks);
	lav_errors_free(&errs);
}

TestSuite(tokens, .init = setup, .fini = teardown);

static void hex_of(const char *token, char out[65])
{
	unsigned char h[32];
	lav_sha256(token, strlen(token), h);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
}

static bool parse_text(const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	cr_assert_not_null(doc, "%s: %s", text, je.text);
	lav_tokens_free(&toks);
	lav_errors_free(&errs);
	bool ok = lav_tokens_parse(doc, TOKENS_FILE, &toks, &errs);
	json_decref(doc);
	return ok;
}

static bool has_error(const char *a, const char *b)
{
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msg[i], TOKENS_FILE) && (!a || strstr(errs.msg[i], a)) &&
		    (!b || strstr(errs.msg[i], b)))
			return true;
	return false;
}

static void expect_bad(const char *text, const char *a, const char *b)
{
	bool ok = parse_text(text);
	cr_assert_not(ok, "accepted: %s", text);
	cr_assert_eq(toks.n, 0);
	cr_assert_null(toks.tokens);
	cr_assert(has_error(a, b), "no error with \"%s\" and \"%s\" (first: %s)", a ? a : "",
		  b ? b : "", errs.n ? errs.msg[0] : "none");
}

/* A good file: reader (lowercase hex), publisher (uppercase hex), admin. */
static void load_good(void)
{
	char ha[65], hb[65], hc[65];
	hex_of("reader-secret", ha);
	hex_of("publisher-secret", hb);
	upper(hb);
	hex_of("admin-secret", hc);
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"tokens\":["
		 "{\"name\":\"grafana\",\"sha256\":\"%s\",\"scopes\":[\"oracle.reader\"]},"
		 "{\"name\":\"etl\",\"sha256\":\"%s\",\"scopes\":[\"oracle.publisher\"]},"
		 "{\"name\":\"ops\",\"sha256\":\"%s\",\"scopes\":[\"oracle.admin\",\"oracle.reader\"]}"
		 "]}",
		 ha, hb, hc);
	bool ok = parse_text(text);
	cr_assert(ok, "%s", errs.n ? errs.msg[0] : "?");
	cr_assert_eq(toks.n, 3);
}

Test(tokens, good_file)
{
	load_good();
	cr_assert_str_eq(toks.tokens[0].name, "grafana");
	cr_assert_str_eq(toks.tokens[1].name, "etl");
	cr_assert_str_eq(toks.tokens[2].name, "ops");
	unsigned char h[32];
	lav_sha256("publisher-secret", strlen("publisher-secret"), h);
	cr_assert_eq(memcmp(toks.tokens[1].sha256, h, 32), 0, "uppercase hex decoded wrongly");
	lav_sha256("reader-secret", strlen("reader-secret"), h);
	cr_assert_eq(memcmp(toks.tokens[0].sha256, h, 32), 0);
}

Test(tokens, scopes_implied)
{
	load_good();
	cr_assert_eq(toks.tokens[0].scopes, LAV_SCOPE_READER);
	cr_assert_eq(toks.tokens[1].scopes, LAV_SCOPE_PUBLISHER | LAV_SCOPE_READER);
	cr_assert_eq(toks.tokens[2].scopes, LAV_SCOPE_ADMIN | LAV_SCOPE_PUBLISHER | LAV_SCOPE_READER);
}

Test(tokens, find)
{
	load_good();
	const struct lav_token *t = lav_tokens_find(&toks, "reader-secret", 13);
	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "grafana");
	t = lav_tokens_find(&toks, "admin-secret", strlen("admin-secret"));
	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "ops");
	t = lav_tokens_find(&toks, "publisher-secret", strlen("publisher-secret"));
	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "etl");
	cr_assert_eq(t, &toks.tokens[1]);
}

Test(tokens, find_wrong_token)
{
	load_good();
	cr_assert_null(lav_tokens_find(&toks, "wrong", 5));
	cr_assert_null(lav_tokens_find(&toks, "", 0));
	cr_assert_null(lav_tokens_find(&toks, "reader-secre", 12));
	cr_assert_null(lav_tokens_find(&toks, "reader-secretx", 14));
	cr_assert_null(lav_tokens_find(&toks, "Reader-secret", 13));
	/* length is respected: only the first len bytes are the token */
	const struct lav_token *t = lav_tokens_find(&toks, "reader-secret-and-more", 13);
	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "grafana");
	/* the hash itself is not a token */
	char hex[65];
	hex_of("reader-secret", hex);
	cr_assert_null(lav_tokens_find(&toks, hex, 64));
}

Test(tokens, find_in_empty_set)
{
	cr_assert(parse_text("{\"tokens\":[]}"));
	cr_assert_eq(toks.n, 0);
	cr_assert_null(lav_tokens_find(&toks, "x", 1));
}

static void token_json(char *out, size_t outlen, const char *name, const char *sha,
		       const char *scopes, const char *extra)
{
	snprintf(out, outlen, "{\"tokens\":[{\"name\":\"%s\",\"sha256\":\"%s\",\"scopes\":%s%s}]}",
		 name, sha, scopes, extra);
}

Test(tokens, bad_hex)
{
	char good[65];
	hex_of("x", good);
	char bad[80], text[512];

	snprintf(bad, sizeof(bad), "%.63s", good); /* 63 digits */
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "field \"sha256\"");

	snprintf(bad, sizeof(bad), "%s0", good); /* 65 digits */
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "64 hex digits");

	snprintf(bad, sizeof(bad), "%.63sg", good); /* a non-hex digit */
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "64 hex digits");

	snprintf(bad, sizeof(bad), "g%.63s", good);
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "64 hex digits");

	snprintf(bad, sizeof(bad), "%.62s\xc3\xa9", good); /* 64 bytes, not ASCII */
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "64 hex digits");

	snprintf(bad, sizeof(bad), "%.62s 0", good);
	token_json(text, sizeof(text), "t", bad, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0] \"t\"", "64 hex digits");

	expect_bad("{\"tokens\":[{\"name\":\"t\",\"scopes\":[\"oracle.reader\"]}]}",
		   "field \"sha256\"", NULL);
	expect_bad("{\"tokens\":[{\"name\":\"t\",\"sha256\":5,\"scopes\":[\"oracle.reader\"]}]}",
		   "field \"sha256\"", NULL);
}

Test(tokens, unknown_scope)
{
	char h[65], text[512];
	hex_of("x", h);
	token_json(text, sizeof(text), "t", h, "[\"oracle.reader\",\"oracle.root\"]", "");
	expect_bad(text, "unknown scope \"oracle.root\"", "field \"scopes\"");
	token_json(text, sizeof(text), "t", h, "[\"reader\"]", "");
	expect_bad(text, "unknown scope \"reader\"", NULL);
	token_json(text, sizeof(text), "t", h, "[\"ORACLE.READER\"]", "");
	expect_bad(text, "unknown scope", NULL);
	token_json(text, sizeof(text), "t", h, "[1]", "");
	expect_bad(text, "unknown scope", NULL);
}

Test(tokens, plaintext_token_field_rejected)
{
	char h[65], text[512];
	hex_of("x", h);
	token_json(text, sizeof(text), "t", h, "[\"oracle.reader\"]", ",\"token\":\"x\"");
	expect_bad(text, "unknown field \"token\"", "store only the sha256");
	token_json(text, sizeof(text), "t", h, "[\"oracle.reader\"]", ",\"comment\":\"x\"");
	expect_bad(text, "unknown field \"comment\"", NULL);
}

Test(tokens, empty_or_missing_scopes)
{
	char h[65], text[512];
	hex_of("x", h);
	token_json(text, sizeof(text), "t", h, "[]", "");
	expect_bad(text, "field \"scopes\"", "non-empty array");
	token_json(text, sizeof(text), "t", h, "\"oracle.reader\"", "");
	expect_bad(text, "field \"scopes\"", "non-empty array");
	snprintf(text, sizeof(text), "{\"tokens\":[{\"name\":\"t\",\"sha256\":\"%s\"}]}", h);
	expect_bad(text, "field \"scopes\"", NULL);
}

Test(tokens, names)
{
	char h[65], text[512];
	hex_of("x", h);
	token_json(text, sizeof(text), "", h, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0]", "field \"name\"");
	char longname[70];
	memset(longname, 'n', 64);
	longname[64] = '\0';
	token_json(text, sizeof(text), longname, h, "[\"oracle.reader\"]", "");
	expect_bad(text, "token[0]", "1-63 characters");
	longname[63] = '\0';
	token_json(text, sizeof(text), longname, h, "[\"oracle.reader\"]", "");
	cr_assert(parse_text(text), "%s", errs.n ? errs.msg[0] : "");
	cr_assert_str_eq(toks.tokens[0].name, longname);
}

Test(tokens, document_shape)
{
	expect_bad("{}", "must be {\"tokens\": [...]}", NULL);
	expect_bad("[]", "must be {\"tokens\": [...]}", NULL);
	expect_bad("{\"tokens\":{}}", "must be {\"tokens\": [...]}", NULL);
	expect_bad("{\"tokens\":[5]}", "token[0]", NULL);
}

Test(tokens, errors_in_second_entry)
{
	char h[65], text[512];
	hex_of("x", h);
	snprintf(text, sizeof(text),
		 "{\"tokens\":[{\"name\":\"a\",\"sha256\":\"%s\",\"scopes\":[\"oracle.reader\"]},"
		 "{\"name\":\"b\",\"sha256\":\"%s\",\"scopes\":[\"oracle.writer\"]}]}",
		 h, h);
	expect_bad(text, "token[1] \"b\"", "oracle.writer");
}

Test(tokens, load_file)
{
	char path[] = "/tmp/lav-tokens-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char h[65], text[512];
	hex_of("file-secret", h);
	token_json(text, sizeof(text), "f", h, "[\"oracle.publisher\"]", "");
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	bool ok = lav_tokens_load(path, &toks, &errs);
	unlink(path);
	cr_assert(ok, "%s", errs.n ? errs.msg[0] : "");
	const struct lav_token *t = lav_tokens_find(&toks, "file-secret", 11);
	cr_assert_not_null(t);
	cr_assert_eq(t->scopes, LAV_SCOPE_PUBLISHER | LAV_SCOPE_READER);
	lav_tokens_free(&toks);

	cr_assert_not(lav_tokens_load("/nonexistent/tokens.json", &toks, &errs));
	cr_assert_gt(errs.n, 0);
	cr_assert_not_null(strstr(errs.msg[0], "/nonexistent/tokens.json"), "%s", errs.msg[0]);
}

/* ---- Authorization header ---- */

static void bearer_is(const char *h, const char *want)
{
	const char *tok = NULL;
	size_t len = 0;
	cr_assert(lav_bearer_token(h, &tok, &len), "\"%s\" rejected", h);
	cr_assert_eq(len, strlen(want), "\"%s\": length %zu", h, len);
	cr_assert_eq(strncmp(tok, want, len), 0, "\"%s\": got \"%.*s\"", h, (int)len, tok);
}

static void bearer_bad(const char *h)
{
	const char *tok = NULL;
	size_t len = 0;
	cr_assert_not(lav_bearer_token(h, &tok, &len), "\"%s\" accepted as \"%.*s\"",
		      h ? h : "(null)", (int)len, tok ? tok : "");
}

Test(bearer, accepted)
{
	bearer_is("Bearer x", "x");
	bearer_is("Bearer abc.def-123_~+/=", "abc.def-123_~+/=");
	bearer_is("bearer abc", "abc");
	bearer_is("BEARER abc", "abc");
	bearer_is("BeArEr abc", "abc");
	bearer_is("Bearer   abc", "abc");
	bearer_is("Bearer abc   ", "abc");
}

Test(bearer, rejected)
{
	bearer_bad(NULL);
	bearer_bad("");
	bearer_bad("Basic x");
	bearer_bad("Basic dXNlcjpwYXNz");
	bearer_bad("Bearer");
	bearer_bad("Bearer ");
	bearer_bad("Bearer     ");
	bearer_bad("Bearerx");
	bearer_bad("Bearerabc");
	bearer_bad("Token abc");
	bearer_bad(" Bearer abc");
}

Test(bearer, header_to_token_lookup)
{
	setup();
	load_good();
	const char *tok;
	size_t len;
	cr_assert(lav_bearer_token("Bearer admin-secret  ", &tok, &len));
	const struct lav_token *t = lav_tokens_find(&toks, tok, len);
	cr_assert_not_null(t);
	cr_assert(t->scopes & LAV_SCOPE_ADMIN);
	teardown();
}

/* ---- helpers ---- */

static void expect_sha(const char *in, const char *hex)
{
	unsigned char h[32];
	lav_sha256(in, strlen(in), h);
	char got[65];
	for (int i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", h[i]);
	cr_assert_str_eq(got, hex, "sha256(\"%s\")", in);
}

Test(sha256, known_vectors)
{
	expect_sha("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect_sha("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(scope, names)
{
	cr_assert_str_eq(lav_scope_name(LAV_SCOPE_READER), "oracle.reader");
	cr_assert_str_eq(lav_scope_name(LAV_SCOPE_PUBLISHER), "oracle.publisher");
	cr_assert_str_eq(lav_scope_name(LAV_SCOPE_ADMIN), "oracle.admin");
	cr_assert_str_eq(lav_scope_name(LAV_SCOPE_NONE), "none");
}

/* ---- rate limit ---- */

Test(rate, full_bucket_then_refill)
{
	struct lav_rate_bucket b = {0};
	int retry = 0;
	int64_t t = 1000000;
	for (int i = 0; i < 60; i++)
		cr_assert(lav_rate_take(&b, 60, t, &retry), "request %d within the budget", i);
	cr_assert_not(lav_rate_take(&b, 60, t, &retry));
	cr_assert_eq(retry, 1, "60/min refills one per second, got %d", retry);
	cr_assert_not(lav_rate_take(&b, 60, t + 999999, &retry));
	cr_assert(lav_rate_take(&b, 60, t + 1000000, &retry));
}

Test(rate, retry_after_rounds_up)
{
	struct lav_rate_bucket b = {0};
	int retry = 0;
	cr_assert(lav_rate_take(&b, 1, 5, &retry));
	cr_assert_not(lav_rate_take(&b, 1, 5, &retry));
	cr_assert_eq(retry, 60);
	cr_assert_not(lav_rate_take(&b, 1, 5 + 30000000, &retry));
	cr_assert_eq(retry, 30);
}

Test(rate, never_exceeds_capacity)
{
	struct lav_rate_bucket b = {0};
	int retry = 0;
	cr_assert(lav_rate_take(&b, 2, 1, &retry));
	/* an hour idle refills to 2, not 120 */
	int64_t later = 3600LL * 1000000;
	cr_assert(lav_rate_take(&b, 2, later, &retry));
	cr_assert(lav_rate_take(&b, 2, later, &retry));
	cr_assert_not(lav_rate_take(&b, 2, later, &retry));
}
