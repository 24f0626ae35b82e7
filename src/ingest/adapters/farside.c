/* Farside Investors ETF flow tables (https://farside.co.uk/btc/): an HTML
 * page whose <table class="etf"> has one row per trading day, "11 Jan 2024"
 * in the first cell and the day's net flow of all funds, in US$ millions, in
 * the last ("Total") cell; "(12.3)" is an outflow, "-" no figure yet. Rows
 * that do not start with a date (headers, Total, Average, Maximum, Minimum)
 * are not days. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	const char *s = f->source_series;
	if (s && (strcmp(s, "btc") == 0 || strcmp(s, "eth") == 0))
		return 1;
	lav_adapter_errf(err, errlen, "feature \"%s\": Farside series must be \"btc\" or \"eth\"",
			 f->id);
	return -1;
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL,
		      strcmp(ctx->feature->source_series, "btc") == 0
			      ? "/bitcoin-etf-flow-all-data/"
			      : "/ethereum-etf-flow-all-data/");
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

/* Case-insensitive search bounded by end. */
static const char *find_ci(const char *s, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for (; s + n <= end; s++)
		if (strncasecmp(s, needle, n) == 0)
			return s;
	return NULL;
}

/* The text of a cell: tags dropped, entities &nbsp; and &amp; decoded,
 * whitespace collapsed and trimmed. */
static void cell_text(const char *s, const char *end, char *out, size_t outlen)
{
	size_t n = 0;
	bool space = false;
	while (s < end && n + 1 < outlen) {
		if (*s == '<') {
			const char *gt = memchr(s, '>', (size_t)(end - s));
			s = gt ? gt + 1 : end;
			continue;
		}
		char c = *s++;
		if (c == '&') {
			if (strncmp(s, "nbsp;", 5) == 0) {
				c = ' ';
				s += 5;
			} else if (strncmp(s, "amp;", 4) == 0) {
				s += 4;
			}
		}
		if (isspace((unsigned char)c)) {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < outlen)
			out[n++] = ' ';
		space = false;
		out[n++] = c;
	}
	out[n] = '\0';
}

static bool parse_day(const char *s, int64_t *out)
{
	static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	unsigned d, y;
	char mon[4];
	int used = 0;
	if (sscanf(s, "%2u %3s %4u%n", &d, mon, &y, &used) != 3 || s[used] != '\0')
		return false;
	for (unsigned m = 0; m < 12; m++) {
		if (strcasecmp(mon, MON[m]) != 0)
			continue;
		char iso[16];
		snprintf(iso, sizeof(iso), "%04u-%02u-%02u", y, m + 1, d);
		return lav_parse_date(iso, out);
	}
	return false;
}

/* "1,234.5" → 1234.5, "(45.6)" → -45.6; false for "-", "" and anything else. */
static bool parse_millions(const char *s, double *out)
{
	char buf[64];
	size_t n = 0;
	bool neg = false;
	if (*s == '(') {
		neg = true;
		s++;
	}
	for (; *s && n + 1 < sizeof(buf); s++) {
		if (*s == ',')
			continue;
		if (*s == ')' && neg && s[1] == '\0')
			break;
		buf[n++] = *s;
	}
	buf[n] = '\0';
	if (n == 0 || strcmp(buf, "-") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isdigit((unsigned char)buf[i]) || buf[i] == '.' || (i == 0 && buf[i] == '-')))
			return false;
	char *end;
	double v = strtod(buf, &end);
	if (*end)
		return false;
	*out = neg ? -v : v;
	return true;
}

static bool parse(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
		  struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	(void)next_since;
	const char *end = body + len;
	const char *t = find_ci(body, end, "<table class=\"etf\"");
	if (!t)
		return lav_adapter_errf(err, errlen, "no <table class=\"etf\"> in the page");
	const char *tend = find_ci(t, end, "</table>");
	if (!tend)
		return lav_adapter_errf(err, errlen, "the etf table is not closed");
	size_t from = out->n, days = 0;
	const char *row = t;
	while ((row = find_ci(row, tend, "<tr")) != NULL) {
		const char *rend = find_ci(row + 3, tend, "</tr>");
		if (!rend)
			rend = tend;
		char first[64] = "", last[64] = "";
		int ncells = 0;
		const char *c = row;
		while ((c = find_ci(c, rend, "<td")) != NULL) {
			const char *open_end = memchr(c, '>', (size_t)(rend - c));
			if (!open_end)
				break;
			const char *cend = find_ci(open_end, rend, "</td>");
			if (!cend)
				cend = rend;
			cell_text(open_end + 1, cend, ncells == 0 ? first : last,
				  ncells == 0 ? sizeof(first) : sizeof(last));
			ncells++;
			c = cend;
		}
		row = rend;
		int64_t ts;
		if (ncells < 2 || !parse_day(first, &ts))
			continue;
		days++;
		if (last[0] == '\0' || strcmp(last, "-") == 0)
			continue; /* the day's total is not known yet */
		double v;
		if (!parse_millions(last, &v))
			return lav_adapter_errf(err, errlen, "row \"%s\": total \"%.32s\" is not a number",
						first, last);
		if (lav_in_range(ctx, ts))
			lav_obs_push(out, ts, 0, v * 1e6);
	}
	if (days == 0)
		return lav_adapter_errf(err, errlen, "the etf table has no dated rows");
	lav_obs_sort(out, from);
	return true;
}

const struct lav_adapter lav_adapter_farside = {
	.name = "farside/etf-flow-all-data",
	.source_id = "farside",
	.history = LAV_HISTORY_FULL,
	.calendar = LAV_CAL_NYSE, /* US-listed ETFs: no flow when the exchange is shut */
	.period_us = LAV_US_PER_DAY,
	.match = match,
	.request = request,
	.parse = parse,
};
