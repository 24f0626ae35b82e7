/* Content negotiation: which body formats a request speaks and wants. */
#include "lav/codec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *lav_format_mime(enum lav_format f)
{
	return f == LAV_FMT_MSGPACK ? "application/msgpack" : "application/json";
}

/* Media type of s[0..n) without parameters and surrounding spaces. */
static void media_type(const char *s, size_t n, const char **start, size_t *len)
{
	const char *semi = memchr(s, ';', n);
	const char *end = semi ? semi : s + n;
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*start = s;
	*len = (size_t)(end - s);
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

bool lav_format_from_content_type(const char *ct, enum lav_format *out)
{
	if (!ct || !*ct) {
		*out = LAV_FMT_JSON;
		return true;
	}
	const char *t;
	size_t n;
	media_type(ct, strlen(ct), &t, &n);
	if (eq(t, n, "application/json")) {
		*out = LAV_FMT_JSON;
		return true;
	}
	if (eq(t, n, "application/msgpack") || eq(t, n, "application/x-msgpack")) {
		*out = LAV_FMT_MSGPACK;
		return true;
	}
	return false;
}

/* q parameter of one media range; 1 when absent, -1 when malformed. */
static double range_q(const char *s, size_t n)
{
	const char *p = memchr(s, ';', n);
	while (p) {
		p++;
		const char *end = s + n;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char tmp[16];
			size_t len = 0;
			p += 2;
			while (p < end && *p != ';' && len < sizeof(tmp) - 1)
				tmp[len++] = *p++;
			tmp[len] = '\0';
			char *e;
			double q = strtod(tmp, &e);
			while (*e && isspace((unsigned char)*e))
				e++;
			if (*e || q < 0 || q > 1)
				return -1;
			return q;
		}
		p = memchr(p, ';', (size_t)(end - p));
	}
	return 1;
}

bool lav_format_from_accept(const char *accept, enum lav_format *out)
{
	*out = LAV_FMT_JSON;
	if (!accept || !*accept)
		return true;
	/* specificity: 3 exact, 2 application/ *, 1 * / *; the most specific range decides */
	double q_json = 0, q_mp = 0;
	int s_json = 0, s_mp = 0;
	const char *p = accept;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *t;
		size_t tn;
		media_type(p, n, &t, &tn);
		double q = range_q(p, n);
		if (q >= 0) {
			int spec_json = 0, spec_mp = 0;
			if (eq(t, tn, "*/*")) {
				spec_json = spec_mp = 1;
			} else if (eq(t, tn, "application/*")) {
				spec_json = spec_mp = 2;
			} else if (eq(t, tn, "application/json")) {
				spec_json = 3;
			} else if (eq(t, tn, "application/msgpack") ||
				   eq(t, tn, "application/x-msgpack")) {
				spec_mp = 3;
			}
			if (spec_json > s_json) {
				s_json = spec_json;
				q_json = q;
			}
			if (spec_mp > s_mp) {
				s_mp = spec_mp;
				q_mp = q;
			}
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (q_json <= 0 && q_mp <= 0)
		return false;
	*out = q_mp > q_json ? LAV_FMT_MSGPACK : LAV_FMT_JSON;
	return true;
}
