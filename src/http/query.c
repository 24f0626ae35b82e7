#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/router.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *decode(const char *s, size_t n, bool *ok)
{
	char *out = lav_xmalloc(n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[j++] = ' ';
		} else if (s[i] == '%') {
			int a = i + 2 < n ? hexval(s[i + 1]) : -1;
			int b = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (a < 0 || b < 0 || (a == 0 && b == 0)) {
				*ok = false;
				free(out);
				return NULL;
			}
			out[j++] = (char)(a << 4 | b);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

bool lav_query_parse(const char *qs, struct lav_query *out)
{
	out->p = NULL;
	out->n = 0;
	if (!qs)
		return true;
	bool ok = true;
	const char *p = qs;
	while (*p && ok) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			char *k = decode(p, klen, &ok);
			char *v = ok ? (eq ? decode(eq + 1, len - klen - 1, &ok) : lav_xstrdup(""))
				     : NULL;
			if (!ok) {
				free(k);
				free(v);
				break;
			}
			out->p = lav_xrealloc(out->p, (out->n + 1) * sizeof(*out->p));
			out->p[out->n].key = k;
			out->p[out->n].value = v;
			out->n++;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	if (!ok)
		lav_query_free(out);
	return ok;
}

void lav_query_free(struct lav_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->p[i].key);
		free(q->p[i].value);
	}
	free(q->p);
	q->p = NULL;
	q->n = 0;
}

const char *lav_query_get(const struct lav_query *q, const char *key, bool *dup)
{
	const char *v = NULL;
	if (dup)
		*dup = false;
	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->p[i].key, key) != 0)
			continue;
		if (v && dup)
			*dup = true;
		if (!v)
			v = q->p[i].value;
	}
	return v;
}

const char *lav_query_unknown(const struct lav_query *q, const char *const *allowed)
{
	for (size_t i = 0; i < q->n; i++) {
		bool known = false;
		for (size_t k = 0; allowed[k]; k++)
			known |= strcmp(allowed[k], q->p[i].key) == 0;
		if (!known)
			return q->p[i].key;
	}
	return NULL;
}
