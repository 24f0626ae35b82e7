/* The adapter registry and what adapters share: URLs with secrets kept out
 * of evidence, upstream error texts, numbers that arrive as strings. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_impl.h"
#include "lav/timefmt.h"

static const struct lav_adapter *const ADAPTERS[] = {
	&lav_adapter_fred,	     &lav_adapter_farside,	   &lav_adapter_llama_stables,
	&lav_adapter_llama_chaintvl, &lav_adapter_llama_protocols, &lav_adapter_binance_klines,
	&lav_adapter_binance_funding, &lav_adapter_binance_oi,	   &lav_adapter_blockchain,
	&lav_adapter_etherscan,	     &lav_adapter_tradingview,	   &lav_adapter_cexagg,
};

void lav_obs_push(struct lav_obs_vec *o, int64_t ts, int64_t available_at, double value)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 64;
		o->v = lav_xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	o->v[o->n++] = (struct lav_obs){ts, available_at, value};
}

void lav_obs_free(struct lav_obs_vec *o)
{
	free(o->v);
	*o = (struct lav_obs_vec){0};
}

void lav_fetch_req_free(struct lav_fetch_req *r)
{
	free(r->url);
	free(r->public_url);
	free(r->body);
	*r = (struct lav_fetch_req){0};
}

bool lav_adapter_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

const struct lav_adapter *lav_adapter_for(const struct lav_feature *f, char *err, size_t errlen)
{
	bool source_known = false;
	for (size_t i = 0; i < sizeof(ADAPTERS) / sizeof(ADAPTERS[0]); i++) {
		const struct lav_adapter *a = ADAPTERS[i];
		if (strcmp(a->source_id, f->source_id) != 0)
			continue;
		source_known = true;
		int m = a->match(f, err, errlen);
		if (m > 0)
			return a;
		if (m < 0)
			return NULL;
	}
	if (source_known)
		snprintf(err, errlen, "feature \"%s\": source \"%s\" has no endpoint for series \"%s\"",
			 f->id, f->source_id, f->source_series ? f->source_series : "(none)");
	else
		snprintf(err, errlen, "feature \"%s\": lav has no adapter for source \"%s\"", f->id,
			 f->source_id);
	return NULL;
}

const char *lav_adapter_name(const struct lav_adapter *a)
{
	return a->name;
}

enum lav_history lav_adapter_history(const struct lav_adapter *a)
{
	return a->history;
}

enum lav_calendar lav_adapter_calendar(const struct lav_adapter *a)
{
	return a->calendar;
}

int64_t lav_adapter_period_us(const struct lav_adapter *a, const struct lav_feature *f)
{
	int64_t fp = lav_frequency_ms(f->frequency) * LAV_US_PER_MS;
	if (fp == 0)
		fp = 60 * LAV_US_PER_S;
	return a->period_us > fp ? a->period_us : fp;
}

bool lav_adapter_request(const struct lav_adapter *a, const struct lav_adapter_ctx *ctx,
			 struct lav_fetch_req *out, char *err, size_t errlen)
{
	*out = (struct lav_fetch_req){0};
	if (ctx->since >= ctx->until)
		return lav_adapter_errf(err, errlen, "empty range");
	return a->request(ctx, out, err, errlen);
}

/* The upstream's own words for an error, when its body says them. */
static void upstream_message(const char *body, size_t len, char *out, size_t outlen)
{
	out[0] = '\0';
	json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (doc) {
		static const char *const keys[] = {"error_message", "msg", "message", "error",
						   "result", NULL};
		for (int i = 0; keys[i] && json_is_object(doc); i++) {
			json_t *v = json_object_get(doc, keys[i]);
			if (json_is_string(v)) {
				snprintf(out, outlen, "%s", json_string_value(v));
				break;
			}
		}
		json_decref(doc);
		if (out[0])
			return;
	}
	/* else the start of the body, printable ASCII only */
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < outlen && n < 120; i++) {
		unsigned char c = (unsigned char)body[i];
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	out[n] = '\0';
}

bool lav_adapter_parse(const struct lav_adapter *a, const struct lav_adapter_ctx *ctx,
		       long http_status, const char *body, size_t len, struct lav_obs_vec *out,
		       int64_t *next_since, char *err, size_t errlen)
{
	*next_since = -1;
	if (http_status < 200 || http_status > 299) {
		char msg[200];
		upstream_message(body ? body : "", body ? len : 0, msg, sizeof(msg));
		return lav_adapter_errf(err, errlen, "HTTP %ld%s%s", http_status, msg[0] ? ": " : "",
					msg);
	}
	if (!body || len == 0)
		return lav_adapter_errf(err, errlen, "empty body");
	/* adapters get a NUL-terminated copy: bodies are not trusted to be */
	char *copy = lav_xstrndup(body, len);
	size_t before = out->n;
	bool ok = a->parse(ctx, copy, len, out, next_since, err, errlen);
	free(copy);
	if (!ok) {
		out->n = before;
		*next_since = -1;
	}
	return ok;
}

/* ---- URLs ---- */

void lav_url_begin(struct lav_buf *url, const struct lav_adapter_ctx *ctx,
		   const char *default_host, const char *path)
{
	const char *base = ctx->source->base_url;
	if (default_host && !ctx->source->base_url_from_env)
		base = default_host;
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	lav_buf_append(url, base, n);
	lav_buf_puts(url, path);
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void lav_url_param(struct lav_buf *url, const char *k, const char *v)
{
	lav_buf_putc(url, memchr(url->data, '?', url->len) ? '&' : '?');
	lav_buf_puts(url, k);
	lav_buf_putc(url, '=');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (unreserved(*p))
			lav_buf_putc(url, (char)*p);
		else
			lav_buf_printf(url, "%%%02X", *p);
	}
}

void lav_url_param_int(struct lav_buf *url, const char *k, int64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)v);
	lav_url_param(url, k, s);
}

void lav_fetch_req_set(struct lav_fetch_req *out, struct lav_buf *url, const char *secret_param)
{
	out->url = lav_buf_cstr(url);
	*url = (struct lav_buf)LAV_BUF_INIT;
	struct lav_buf pub = LAV_BUF_INIT;
	const char *s = out->url;
	size_t klen = secret_param ? strlen(secret_param) : 0;
	while (*s) {
		/* a parameter starts after ? or & */
		if (klen && (s[0] == '?' || s[0] == '&') && strncmp(s + 1, secret_param, klen) == 0 &&
		    s[1 + klen] == '=') {
			lav_buf_append(&pub, s, 2 + klen);
			lav_buf_puts(&pub, "***");
			s += 2 + klen;
			while (*s && *s != '&')
				s++;
			continue;
		}
		lav_buf_putc(&pub, *s++);
	}
	out->public_url = lav_buf_cstr(&pub);
}

/* ---- values ---- */

json_t *lav_adapter_json(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, &je);
	if (!doc)
		lav_adapter_errf(err, errlen, "malformed JSON at line %d column %d: %s", je.line,
				 je.column, je.text);
	return doc;
}

bool lav_json_num(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out);
	}
	if (!json_is_string(v))
		return false;
	const char *s = json_string_value(v);
	if (!*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(d))
		return false;
	/* strtod takes "nan", "inf" and hex; upstream numbers are decimal */
	for (const char *p = s; *p; p++)
		if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+' ||
		      *p == 'e' || *p == 'E'))
			return false;
	*out = d;
	return true;
}

bool lav_json_int(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (!json_is_string(v))
		return false;
	const char *s = json_string_value(v);
	if (!*s)
		return false;
	for (const char *p = s + (*s == '-'); *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	errno = 0;
	long long n = strtoll(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = n;
	return true;
}

bool lav_rows_to_obs(const struct lav_adapter_ctx *ctx, const json_t *rows, const char *where,
		     const char *key_ts, int64_t ts_unit_us, int64_t floor_us, const char *key_value,
		     double scale, struct lav_obs_vec *out, int64_t *last, char *err, size_t errlen)
{
	*last = -1;
	if (!json_is_array(rows))
		return lav_adapter_errf(err, errlen, "expected an array of {%s, %s}", key_ts,
					key_value);
	size_t from = out->n, i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		double t, v;
		if (!lav_json_num(json_object_get(r, key_ts), &t) ||
		    !lav_json_num(json_object_get(r, key_value), &v)) {
			out->n = from;
			return lav_adapter_errf(err, errlen, "%s[%zu]: needs numeric \"%s\" and \"%s\"",
						where, i, key_ts, key_value);
		}
		int64_t ts = lav_floor_us((int64_t)t * ts_unit_us, floor_us);
		*last = ts;
		if (lav_in_range(ctx, ts) && ts <= ctx->fetched_at)
			lav_obs_push(out, ts, 0, v * scale);
	}
	lav_obs_sort(out, from);
	return true;
}

const struct lav_series_scale *lav_scale_of(const struct lav_series_scale *table, size_t n,
					    const struct lav_feature *f)
{
	for (size_t i = 0; i < n && f->source_series; i++)
		if (strcmp(table[i].series, f->source_series) == 0)
			return &table[i];
	return NULL;
}

int lav_scale_match(const struct lav_series_scale *table, size_t n, const struct lav_feature *f,
		    const char *what, char *err, size_t errlen)
{
	if (lav_scale_of(table, n, f))
		return 1;
	struct lav_buf known = LAV_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		lav_buf_printf(&known, "%s%s", i ? ", " : "", table[i].series);
	lav_adapter_errf(err, errlen, "feature \"%s\": %s \"%s\" has no known unit (lav knows %s)",
			 f->id, what, f->source_series ? f->source_series : "(none)",
			 lav_buf_cstr(&known));
	lav_buf_free(&known);
	return -1;
}

bool lav_parse_date(const char *s, int64_t *out)
{
	unsigned y, m, d;
	int used = 0;
	if (strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &used) != 3 || used != 10)
		return false;
	if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1900)
		return false;
	int64_t days = lav_days_from_civil(y, m, d);
	int64_t yy;
	unsigned mm, dd;
	lav_civil_from_days(days, &yy, &mm, &dd);
	if (mm != m || dd != d) /* 2024-02-30 */
		return false;
	*out = days * LAV_US_PER_DAY;
	return true;
}

void lav_format_date(int64_t us, char out[11])
{
	int64_t days = lav_floor_us(us, LAV_US_PER_DAY) / LAV_US_PER_DAY;
	int64_t y;
	unsigned m, d;
	lav_civil_from_days(days, &y, &m, &d);
	snprintf(out, 11, "%04d-%02u-%02u", (int)y, m, d);
}

int64_t lav_floor_us(int64_t t, int64_t period)
{
	int64_t r = t % period;
	return r < 0 ? t - r - period : t - r;
}

bool lav_yoy_at(const struct lav_obs *obs, size_t n, size_t i, double *out)
{
	if (i >= n)
		return false;
	int64_t want = obs[i].ts - 365 * LAV_US_PER_DAY;
	/* the newest observation at or before want, at most a week older */
	size_t lo = 0, hi = i;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (obs[mid].ts <= want)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	const struct lav_obs *base = &obs[lo - 1];
	if (want - base->ts > 7 * LAV_US_PER_DAY || base->value == 0)
		return false;
	*out = obs[i].value / base->value - 1;
	return isfinite(*out);
}

struct tagged_obs {
	struct lav_obs o;
	size_t idx;
};

/* by ts, then by arrival: of two observations of one ts the later wins */
static int cmp_tagged(const void *a, const void *b)
{
	const struct tagged_obs *x = a, *y = b;
	if (x->o.ts != y->o.ts)
		return x->o.ts < y->o.ts ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void lav_obs_sort(struct lav_obs_vec *out, size_t from)
{
	size_t n = out->n - from;
	struct lav_obs *v = out->v + from;
	if (n < 2)
		return;
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = v[i - 1].ts < v[i].ts;
	if (!sorted) {
		struct tagged_obs *t = lav_xmalloc(n * sizeof(*t));
		for (size_t i = 0; i < n; i++)
			t[i] = (struct tagged_obs){v[i], i};
		qsort(t, n, sizeof(*t), cmp_tagged);
		for (size_t i = 0; i < n; i++)
			v[i] = t[i].o;
		free(t);
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && v[w - 1].ts == v[i].ts)
			v[w - 1] = v[i];
		else
			v[w++] = v[i];
	}
	out->n = from + w;
}
