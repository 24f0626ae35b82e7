#include "lav/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/timefmt.h"

static int64_t be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	if (bytes == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* [+-]hh[:mm[:ss]] → seconds; POSIX offsets are west-positive. */
static const char *parse_hms(const char *s, int32_t *out)
{
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s))
		return NULL;
	int32_t v = 0, part = 0;
	int parts = 0;
	while (parts < 3) {
		part = 0;
		if (!isdigit((unsigned char)*s))
			return NULL;
		while (isdigit((unsigned char)*s))
			part = part * 10 + (*s++ - '0');
		v = v * 60 + part;
		parts++;
		if (*s != ':')
			break;
		s++;
	}
	for (; parts < 3; parts++)
		v *= 60;
	*out = sign * v;
	return s;
}

static const char *parse_name(const char *s)
{
	if (*s == '<') {
		const char *e = strchr(s, '>');
		return e ? e + 1 : NULL;
	}
	const char *b = s;
	while (isalpha((unsigned char)*s))
		s++;
	return s - b >= 3 ? s : NULL;
}

static const char *parse_rule(const char *s, struct lav_tz_rule *r)
{
	if (*s != 'M')
		return NULL; /* Julian-day forms are not used by current zones */
	s++;
	char *e;
	r->month = (int)strtol(s, &e, 10);
	if (*e != '.')
		return NULL;
	r->week = (int)strtol(e + 1, &e, 10);
	if (*e != '.')
		return NULL;
	r->wday = (int)strtol(e + 1, &e, 10);
	s = e;
	r->secs = 7200;
	if (*s == '/') {
		s = parse_hms(s + 1, &r->secs);
		if (!s)
			return NULL;
	}
	if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->wday < 0 ||
	    r->wday > 6)
		return NULL;
	return s;
}

static bool parse_footer(const char *s, struct lav_tz *tz)
{
	int32_t off;
	s = parse_name(s);
	if (!s || !(s = parse_hms(s, &off)))
		return false;
	tz->std_off = -off;
	tz->has_footer = true;
	if (!*s)
		return true;
	s = parse_name(s);
	if (!s)
		return false;
	tz->dst_off = tz->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = parse_hms(s, &off)))
			return false;
		tz->dst_off = -off;
	}
	if (*s != ',' || !(s = parse_rule(s + 1, &tz->start)) || *s != ',' ||
	    !(s = parse_rule(s + 1, &tz->end)) || *s) {
		tz->has_footer = false;
		return false;
	}
	tz->has_dst = true;
	return true;
}

bool lav_tz_parse(const unsigned char *d, size_t len, struct lav_tz *tz)
{
	memset(tz, 0, sizeof(*tz));
	if (len < 44 || memcmp(d, "TZif", 4) != 0)
		return false;
	int version = d[4];
	const unsigned char *p = d;
	int tsize = 4;
	/* skip the 32-bit block when a 64-bit one follows */
	for (int pass = 0; pass < 2; pass++) {
		if ((size_t)(p - d) + 44 > len)
			return false;
		int64_t isutc = be(p + 20, 4), isstd = be(p + 24, 4), leap = be(p + 28, 4),
			timecnt = be(p + 32, 4), typecnt = be(p + 36, 4), charcnt = be(p + 40, 4);
		if (timecnt < 0 || typecnt <= 0 || typecnt > 256 || charcnt < 0 || leap < 0 ||
		    isutc < 0 || isstd < 0 || timecnt > 100000)
			return false;
		size_t body = (size_t)(timecnt * tsize + timecnt + typecnt * 6 + charcnt +
				       leap * (tsize + 4) + isstd + isutc);
		if ((size_t)(p - d) + 44 + body > len)
			return false;
		if (pass == 0 && version >= '2') {
			p += 44 + body;
			tsize = 8;
			continue;
		}
		const unsigned char *t = p + 44;
		const unsigned char *idx = t + timecnt * tsize;
		const unsigned char *types = idx + timecnt;
		tz->n = (size_t)timecnt;
		tz->trans = lav_xcalloc(tz->n, sizeof(int64_t));
		tz->off = lav_xcalloc(tz->n, sizeof(int32_t));
		for (int64_t i = 0; i < timecnt; i++) {
			int ti = idx[i];
			if (ti >= typecnt)
				goto bad;
			tz->trans[i] = be(t + i * tsize, tsize);
			tz->off[i] = (int32_t)be(types + ti * 6, 4);
		}
		/* first non-DST type is in force before the first transition */
		tz->off0 = (int32_t)be(types, 4);
		for (int64_t i = 0; i < typecnt; i++)
			if (!types[i * 6 + 4]) {
				tz->off0 = (int32_t)be(types + i * 6, 4);
				break;
			}
		if (tsize == 8) {
			const unsigned char *f = p + 44 + body;
			if ((size_t)(f - d) < len && *f == '\n') {
				const unsigned char *e = memchr(f + 1, '\n', len - (size_t)(f + 1 - d));
				if (e && e - f - 1 < 128) {
					char footer[128];
					memcpy(footer, f + 1, (size_t)(e - f - 1));
					footer[e - f - 1] = '\0';
					parse_footer(footer, tz);
				}
			}
		}
		return true;
	}
bad:
	lav_tz_free(tz);
	return false;
}

bool lav_tz_load(const char *name, struct lav_tz *tz)
{
	memset(tz, 0, sizeof(*tz));
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof(tz->name) || name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *c = name; *c; c++)
		if (!(isalnum((unsigned char)*c) || strchr("/_+-", *c)))
			return false;
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
		snprintf(tz->name, sizeof(tz->name), "%s", name);
		return true;
	}
	char path[256];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	unsigned char buf[1 << 16];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!lav_tz_parse(buf, len, tz))
		return false;
	snprintf(tz->name, sizeof(tz->name), "%s", name);
	return true;
}

void lav_tz_free(struct lav_tz *tz)
{
	free(tz->trans);
	free(tz->off);
	tz->trans = NULL;
	tz->off = NULL;
	tz->n = 0;
}

/* UTC second at which a rule fires in year y, given the offset in force
 * just before it. */
static int64_t rule_utc(const struct lav_tz_rule *r, int64_t y, int32_t off_before)
{
	int64_t first = lav_days_from_civil(y, (unsigned)r->month, 1);
	int wday_first = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
	int64_t day = first + (r->wday - wday_first + 7) % 7 + (r->week - 1) * 7;
	if (r->week == 5) {
		unsigned dim = (unsigned)(lav_days_from_civil(y + (r->month == 12),
							      r->month == 12 ? 1u
									     : (unsigned)r->month + 1,
							      1) -
					  first);
		while (day - first >= dim)
			day -= 7;
	}
	return day * 86400 + r->secs - off_before;
}

int32_t lav_tz_offset(const struct lav_tz *tz, int64_t t)
{
	if (tz->n == 0 && !tz->has_footer)
		return tz->off0;
	if (tz->n && t < tz->trans[0])
		return tz->off0;
	if (tz->n && (t <= tz->trans[tz->n - 1] || !tz->has_footer)) {
		size_t lo = 0, hi = tz->n; /* last transition <= t */
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			if (tz->trans[mid] <= t)
				lo = mid;
			else
				hi = mid;
		}
		return tz->off[lo];
	}
	if (!tz->has_dst)
		return tz->std_off;
	int64_t y;
	unsigned m, d;
	lav_civil_from_days((t + tz->std_off) / 86400 - ((t + tz->std_off) % 86400 < 0), &y, &m,
			    &d);
	int64_t s = rule_utc(&tz->start, y, tz->std_off);
	int64_t e = rule_utc(&tz->end, y, tz->dst_off);
	bool dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
	return dst ? tz->dst_off : tz->std_off;
}

int64_t lav_tz_local_to_utc(const struct lav_tz *tz, int64_t local)
{
	/* try both offsets around the instant; prefer the earlier valid one */
	int32_t o1 = lav_tz_offset(tz, local - 86400);
	int32_t o2 = lav_tz_offset(tz, local + 86400);
	int64_t a = local - o1, b = local - o2;
	bool a_ok = lav_tz_offset(tz, a) == o1;
	bool b_ok = lav_tz_offset(tz, b) == o2;
	if (a_ok && b_ok)
		return a < b ? a : b;
	if (a_ok)
		return a;
	if (b_ok)
		return b;
	/* a gap (spring forward): the wall time never happened; answer the instant
	 * the clock jumped, the first one whose offset is the new one */
	int64_t lo = a < b ? a : b, hi = a > b ? a : b;
	int32_t after = lav_tz_offset(tz, hi);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (lav_tz_offset(tz, mid) == after)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}
