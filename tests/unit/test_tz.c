/* IANA time zones: TZif parsing, UTC offsets from the transition table and
 * from the POSIX footer rule beyond it, local → UTC conversion, and names
 * that must never reach the file system. Expected offsets and transition
 * instants were computed independently (Python zoneinfo on the same tzdata). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/timefmt.h"
#include "lav/tz.h"

/* ---- helpers ---- */

/* UTC seconds of an RFC 3339 instant. */
static int64_t S(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	bool ok = lav_time_parse(s, strlen(s), &us, &why);
	cr_assert(ok, "bad test timestamp %s: %s", s, why ? why : "?");
	cr_assert_eq(us % LAV_US_PER_S, 0);
	return us / LAV_US_PER_S;
}

/* A wall-clock time as local seconds ("2025-11-02T01:30:00" read as if UTC). */
static int64_t L(const char *wall)
{
	char buf[40];
	snprintf(buf, sizeof(buf), "%sZ", wall);
	return S(buf);
}

static const char *fmt_s(int64_t s, char buf[LAV_TIME_STRLEN])
{
	lav_time_format(s * LAV_US_PER_S, buf);
	return buf;
}

static struct lav_tz zone;

static const struct lav_tz *load(const char *name)
{
	lav_tz_free(&zone);
	bool ok = lav_tz_load(name, &zone);
	cr_assert(ok, "lav_tz_load(%s) failed (is tzdata installed?)", name);
	cr_assert_str_eq(zone.name, name);
	return &zone;
}

static void expect_off(const struct lav_tz *tz, int64_t t, int32_t want)
{
	char b[LAV_TIME_STRLEN];
	int32_t got = lav_tz_offset(tz, t);
	cr_assert_eq(got, want, "%s at %s (%lld): offset %d, want %d", tz->name, fmt_s(t, b),
		     (long long)t, got, want);
}

static void expect_off_at(const struct lav_tz *tz, const char *when, int32_t want)
{
	expect_off(tz, S(when), want);
}

/* The offset changes from before to after exactly at t. */
static void expect_transition(const struct lav_tz *tz, int64_t t, int32_t before, int32_t after)
{
	expect_off(tz, t - 1, before);
	expect_off(tz, t, after);
	expect_off(tz, t + 1, after);
}

static void expect_utc(const struct lav_tz *tz, const char *wall, const char *want)
{
	char g[LAV_TIME_STRLEN];
	int64_t got = lav_tz_local_to_utc(tz, L(wall));
	cr_assert_eq(got, S(want), "%s: local %s → %s, want %s", tz->name, wall, fmt_s(got, g),
		     want);
}

static void tz_fini(void)
{
	lav_tz_free(&zone);
}

TestSuite(tz_offsets, .fini = tz_fini);
TestSuite(tz_footer, .fini = tz_fini);
TestSuite(tz_names, .fini = tz_fini);
TestSuite(tz_local, .fini = tz_fini);
TestSuite(tz_parse, .fini = tz_fini);

#define EST (-5 * 3600)
#define EDT (-4 * 3600)

/* ---- offsets from the transition table ---- */

Test(tz_offsets, new_york_2000)
{
	const struct lav_tz *ny = load("America/New_York");
	expect_off_at(ny, "2000-01-15T12:00:00Z", EST);
	expect_off_at(ny, "2000-07-01T12:00:00Z", EDT);
	expect_off_at(ny, "2000-12-31T23:59:59Z", EST);
	/* 2000-04-02 02:00 EST and 2000-10-29 02:00 EDT */
	expect_transition(ny, 954658800, EST, EDT);
	expect_transition(ny, 972799200, EDT, EST);
	cr_assert_eq(S("2000-04-02T07:00:00Z"), 954658800);
}

Test(tz_offsets, new_york_2025)
{
	const struct lav_tz *ny = load("America/New_York");
	expect_off_at(ny, "2025-01-15T12:00:00Z", EST);
	expect_off_at(ny, "2025-07-01T12:00:00Z", EDT);
	expect_transition(ny, S("2025-03-09T07:00:00Z"), EST, EDT);
	expect_transition(ny, S("2025-11-02T06:00:00Z"), EDT, EST);
}

Test(tz_offsets, new_york_history)
{
	const struct lav_tz *ny = load("America/New_York");
	/* local mean time before 1883-11-18 17:00 UTC: -4:56:02 */
	expect_off_at(ny, "1850-01-01T00:00:00Z", -17762);
	expect_off_at(ny, "1900-01-01T00:00:00Z", EST);
	/* 1943: war time, EDT all year */
	expect_off_at(ny, "1943-01-15T12:00:00Z", EDT);
	/* 1974: the energy-crisis year with DST from January 6 */
	expect_off_at(ny, "1974-02-01T12:00:00Z", EDT);
}

Test(tz_offsets, london)
{
	const struct lav_tz *lon = load("Europe/London");
	expect_off_at(lon, "2025-01-15T12:00:00Z", 0);
	expect_off_at(lon, "2025-07-01T12:00:00Z", 3600);
	expect_transition(lon, S("2025-03-30T01:00:00Z"), 0, 3600);
	expect_transition(lon, S("2025-10-26T01:00:00Z"), 3600, 0);
	/* British Standard Time: +1 all year 1968-10-27 .. 1971-10-31 */
	expect_off_at(lon, "1970-01-15T12:00:00Z", 3600);
}

Test(tz_offsets, kolkata_half_hour)
{
	const struct lav_tz *in = load("Asia/Kolkata");
	expect_off_at(in, "2000-01-01T00:00:00Z", 19800);
	expect_off_at(in, "2025-07-01T00:00:00Z", 19800);
	expect_off_at(in, "2045-07-01T00:00:00Z", 19800);
	/* +06:30 war time in 1943 */
	expect_off_at(in, "1943-06-01T00:00:00Z", 23400);
	cr_assert(in->has_footer);
	cr_assert_not(in->has_dst);
	cr_assert_eq(in->std_off, 19800);
}

Test(tz_offsets, mexico_city_dst_until_2022)
{
	const struct lav_tz *mx = load("America/Mexico_City");
	expect_off_at(mx, "2021-07-01T12:00:00Z", -5 * 3600);
	expect_off_at(mx, "2021-12-01T12:00:00Z", -6 * 3600);
	expect_transition(mx, S("2022-04-03T08:00:00Z"), -6 * 3600, -5 * 3600);
	expect_transition(mx, S("2022-10-30T07:00:00Z"), -5 * 3600, -6 * 3600);
	/* no DST since: CST all year */
	expect_off_at(mx, "2023-07-01T12:00:00Z", -6 * 3600);
	expect_off_at(mx, "2025-04-06T12:00:00Z", -6 * 3600);
	expect_off_at(mx, "2025-07-01T12:00:00Z", -6 * 3600);
	expect_off_at(mx, "2045-07-01T12:00:00Z", -6 * 3600);
	cr_assert(mx->has_footer);
	cr_assert_not(mx->has_dst);
	cr_assert_eq(mx->std_off, -6 * 3600);
}

Test(tz_offsets, utc)
{
	const struct lav_tz *u = load("UTC");
	expect_off_at(u, "1900-01-01T00:00:00Z", 0);
	expect_off_at(u, "2025-07-01T00:00:00Z", 0);
	expect_off_at(u, "2245-07-01T00:00:00Z", 0);
	cr_assert_eq(lav_tz_local_to_utc(u, L("2025-07-01T12:34:56")), S("2025-07-01T12:34:56Z"));
	const struct lav_tz *e = load("Etc/UTC");
	expect_off_at(e, "2025-07-01T00:00:00Z", 0);
}

Test(tz_offsets, etc_gmt_signs_are_inverted)
{
	/* POSIX style: Etc/GMT+5 is five hours west of UTC */
	expect_off_at(load("Etc/GMT+5"), "2025-07-01T00:00:00Z", -5 * 3600);
	expect_off_at(load("Etc/GMT-14"), "2025-07-01T00:00:00Z", 14 * 3600);
}

/* ---- beyond the table: the POSIX footer ---- */

Test(tz_footer, new_york_footer_fields)
{
	const struct lav_tz *ny = load("America/New_York");
	/* "EST5EDT,M3.2.0,M11.1.0" */
	cr_assert(ny->has_footer);
	cr_assert(ny->has_dst);
	cr_assert_eq(ny->std_off, EST);
	cr_assert_eq(ny->dst_off, EDT);
	cr_assert_eq(ny->start.month, 3);
	cr_assert_eq(ny->start.week, 2);
	cr_assert_eq(ny->start.wday, 0);
	cr_assert_eq(ny->start.secs, 7200);
	cr_assert_eq(ny->end.month, 11);
	cr_assert_eq(ny->end.week, 1);
	cr_assert_eq(ny->end.wday, 0);
	cr_assert_eq(ny->end.secs, 7200);
	cr_assert_gt(ny->n, 0);
	cr_assert_lt(ny->trans[ny->n - 1], S("2045-01-01T00:00:00Z"));
}

Test(tz_footer, new_york_2045)
{
	const struct lav_tz *ny = load("America/New_York");
	expect_off_at(ny, "2045-01-15T12:00:00Z", EST);
	expect_off_at(ny, "2045-07-01T12:00:00Z", EDT);
	expect_off_at(ny, "2045-12-31T23:59:59Z", EST);
	expect_off_at(ny, "2046-01-01T04:59:59Z", EST);
	expect_transition(ny, S("2045-03-12T07:00:00Z"), EST, EDT);
	expect_transition(ny, S("2045-11-05T06:00:00Z"), EDT, EST);
}

static const struct {
	const char *zone;
	int64_t t;
	int32_t before, after;
} FOOTER_CASES[] = {
	{"America/New_York", 2152162800LL, -18000, -14400},   /* 2038-03-14T07:00Z */
	{"America/New_York", 2172722400LL, -14400, -18000},   /* 2038-11-07T06:00Z */
	{"America/New_York", 2372914800LL, -18000, -14400},   /* 2045-03-12T07:00Z */
	{"America/New_York", 2393474400LL, -14400, -18000},   /* 2045-11-05T06:00Z */
	{"America/New_York", 4108690800LL, -18000, -14400},   /* 2100-03-14T07:00Z */
	{"America/New_York", 4129250400LL, -14400, -18000},   /* 2100-11-07T06:00Z */
	{"Europe/London", 2153350800LL, 0, 3600},	      /* 2038-03-28T01:00Z */
	{"Europe/London", 2172099600LL, 3600, 0},	      /* 2038-10-31T01:00Z */
	{"Europe/London", 2374102800LL, 0, 3600},	      /* 2045-03-26T01:00Z */
	{"Europe/London", 2392851600LL, 3600, 0},	      /* 2045-10-29T01:00Z */
	{"Europe/London", 4109878800LL, 0, 3600},	      /* 2100-03-28T01:00Z */
	{"Europe/London", 4128627600LL, 3600, 0},	      /* 2100-10-31T01:00Z */
	{"Australia/Sydney", 2153923200LL, 39600, 36000},     /* 2038-04-03T16:00Z */
	{"Australia/Sydney", 2169648000LL, 36000, 39600},     /* 2038-10-02T16:00Z */
	{"Australia/Sydney", 2374675200LL, 39600, 36000},     /* 2045-04-01T16:00Z */
	{"Australia/Sydney", 2390400000LL, 36000, 39600},     /* 2045-09-30T16:00Z */
	{"Australia/Sydney", 4110451200LL, 39600, 36000},     /* 2100-04-03T16:00Z */
	{"Australia/Sydney", 4126176000LL, 36000, 39600},     /* 2100-10-02T16:00Z */
	{"America/Nuuk", 2153350800LL, -7200, -3600},	      /* 2038-03-28T01:00Z */
	{"America/Nuuk", 2172099600LL, -3600, -7200},	      /* 2038-10-31T01:00Z */
	{"America/Nuuk", 2374102800LL, -7200, -3600},	      /* 2045-03-26T01:00Z */
	{"America/Nuuk", 2392851600LL, -3600, -7200},	      /* 2045-10-29T01:00Z */
	{"Asia/Jerusalem", 2153174400LL, 7200, 10800},	      /* 2038-03-26T00:00Z */
	{"Asia/Jerusalem", 2172092400LL, 10800, 7200},	      /* 2038-10-30T23:00Z */
	{"Asia/Jerusalem", 2373926400LL, 7200, 10800},	      /* 2045-03-24T00:00Z */
	{"Asia/Jerusalem", 2392844400LL, 10800, 7200},	      /* 2045-10-28T23:00Z */
	{"Australia/Lord_Howe", 2153919600LL, 39600, 37800},  /* 2038-04-03T15:00Z */
	{"Australia/Lord_Howe", 2169646200LL, 37800, 39600},  /* 2038-10-02T15:30Z */
	{"Australia/Lord_Howe", 2374671600LL, 39600, 37800},  /* 2045-04-01T15:00Z */
	{"Australia/Lord_Howe", 2390398200LL, 37800, 39600},  /* 2045-09-30T15:30Z */
	{"America/Santiago", 2153962800LL, -10800, -14400},   /* 2038-04-04T03:00Z */
	{"America/Santiago", 2167272000LL, -14400, -10800},   /* 2038-09-05T04:00Z */
	{"America/Santiago", 2374714800LL, -10800, -14400},   /* 2045-04-02T03:00Z */
	{"America/Santiago", 2388024000LL, -14400, -10800},   /* 2045-09-03T04:00Z */
	{"America/Havana", 2152155600LL, -18000, -14400},     /* 2038-03-14T05:00Z */
	{"America/Havana", 2172718800LL, -14400, -18000},     /* 2038-11-07T05:00Z */
	{"America/Havana", 2372907600LL, -18000, -14400},     /* 2045-03-12T05:00Z */
	{"America/Havana", 2393470800LL, -14400, -18000},     /* 2045-11-05T05:00Z */
	{"America/Havana", 4108683600LL, -18000, -14400},     /* 2100-03-14T05:00Z */
	{"America/Havana", 4129246800LL, -14400, -18000},     /* 2100-11-07T05:00Z */
};

/* Southern hemisphere rules (start after end in the year), negative and
 * past-midnight rule times (Nuuk /-1, Jerusalem /26, Santiago /24), a
 * half-hour DST (Lord Howe) and angle-bracket names. */
Test(tz_footer, rules_of_many_zones)
{
	for (size_t i = 0; i < sizeof(FOOTER_CASES) / sizeof(FOOTER_CASES[0]); i++) {
		const struct lav_tz *tz = load(FOOTER_CASES[i].zone);
		cr_assert(tz->has_footer && tz->has_dst, "%s: footer not parsed", tz->name);
		cr_assert_lt(tz->trans[tz->n - 1], FOOTER_CASES[i].t - 86400,
			     "%s: case %zu is inside the table, not the footer", tz->name, i);
		expect_transition(tz, FOOTER_CASES[i].t, FOOTER_CASES[i].before,
				  FOOTER_CASES[i].after);
		/* and the offset holds for the hours around it */
		expect_off(tz, FOOTER_CASES[i].t - 6 * 3600, FOOTER_CASES[i].before);
		expect_off(tz, FOOTER_CASES[i].t + 6 * 3600, FOOTER_CASES[i].after);
	}
}

Test(tz_footer, year_boundaries)
{
	/* around new year the local year differs from the UTC year */
	const struct lav_tz *syd = load("Australia/Sydney");
	expect_off_at(syd, "2044-12-31T13:00:00Z", 39600); /* 2045-01-01 00:00 AEDT */
	expect_off_at(syd, "2044-12-31T12:59:59Z", 39600);
	const struct lav_tz *ny = load("America/New_York");
	expect_off_at(ny, "2045-01-01T04:59:59Z", EST); /* 2044-12-31 23:59:59 EST */
	expect_off_at(ny, "2045-01-01T05:00:00Z", EST);
}

/* ---- names ---- */

Test(tz_names, unknown_and_unsafe_rejected)
{
	const char *bad[] = {
		"../etc/passwd",
		"/etc/passwd",
		"Foo/Bar",
		"",
		"America/../../etc/passwd",
		"America/New York",
		"America/New_York\n",
		"America/New_York;rm",
		"America\\New_York",
		"..",
		"America/..",
		"zone.tab",  /* a file there, but not TZif */
		"tzdata.zi", /* likewise */
		"America",   /* a directory */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lav_tz tz;
		memset(&tz, 0xA5, sizeof(tz));
		cr_assert_not(lav_tz_load(bad[i], &tz), "\"%s\" accepted", bad[i]);
		cr_assert_null(tz.trans, "\"%s\": trans left set after failure", bad[i]);
		cr_assert_null(tz.off);
		lav_tz_free(&tz);
	}
}

Test(tz_names, known_names_accepted)
{
	const char *good[] = {"America/New_York", "Europe/London",   "Asia/Kolkata",
			      "UTC",		  "Etc/UTC",	     "America/Mexico_City",
			      "Etc/GMT+5",	  "America/Port-au-Prince"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct lav_tz tz;
		cr_assert(lav_tz_load(good[i], &tz), "\"%s\" rejected", good[i]);
		cr_assert_str_eq(tz.name, good[i]);
		lav_tz_free(&tz);
	}
}

/* ---- local → UTC ---- */

Test(tz_local, unambiguous)
{
	const struct lav_tz *ny = load("America/New_York");
	expect_utc(ny, "2025-01-15T12:00:00", "2025-01-15T17:00:00Z");
	expect_utc(ny, "2025-07-01T12:00:00", "2025-07-01T16:00:00Z");
	expect_utc(ny, "2025-03-09T00:00:00", "2025-03-09T05:00:00Z");
	expect_utc(ny, "2025-03-09T01:59:59", "2025-03-09T06:59:59Z");
	expect_utc(ny, "2025-03-09T03:00:00", "2025-03-09T07:00:00Z");
	expect_utc(ny, "2025-11-02T00:59:59", "2025-11-02T04:59:59Z");
	expect_utc(ny, "2025-11-02T02:00:00", "2025-11-02T07:00:00Z");
	const struct lav_tz *in = load("Asia/Kolkata");
	expect_utc(in, "2025-10-20T00:00:00", "2025-10-19T18:30:00Z");
	const struct lav_tz *mx = load("America/Mexico_City");
	expect_utc(mx, "2025-10-20T00:00:00", "2025-10-20T06:00:00Z");
	expect_utc(mx, "2021-07-01T00:00:00", "2021-07-01T05:00:00Z");
}

Test(tz_local, ambiguous_fall_back_takes_the_earlier_instant)
{
	const struct lav_tz *ny = load("America/New_York");
	/* 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST) */
	expect_utc(ny, "2025-11-02T01:30:00", "2025-11-02T05:30:00Z");
	expect_utc(ny, "2025-11-02T01:00:00", "2025-11-02T05:00:00Z");
	expect_utc(ny, "2025-11-02T01:59:59", "2025-11-02T05:59:59Z");
	expect_utc(ny, "2000-10-29T01:30:00", "2000-10-29T05:30:00Z");
	/* from the footer rule */
	expect_utc(ny, "2045-11-05T01:30:00", "2045-11-05T05:30:00Z");
	const struct lav_tz *lon = load("Europe/London");
	expect_utc(lon, "2025-10-26T01:30:00", "2025-10-26T00:30:00Z");
}

/* A wall time in a spring-forward gap does not exist. lav maps it to the
 * instant the clock jumps (tz.c: "a gap (spring forward): the instant the
 * clock jumps"), so a local boundary inside a gap starts when the new local
 * time begins, never at an instant whose wall time is before the requested
 * one. */
Test(tz_local, nonexistent_spring_forward_gap)
{
	const struct lav_tz *ny = load("America/New_York");
	expect_utc(ny, "2025-03-09T02:30:00", "2025-03-09T07:00:00Z");
	expect_utc(ny, "2025-03-09T02:00:00", "2025-03-09T07:00:00Z");
	expect_utc(ny, "2045-03-12T02:30:00", "2045-03-12T07:00:00Z");
	const struct lav_tz *lon = load("Europe/London");
	expect_utc(lon, "2025-03-30T01:30:00", "2025-03-30T01:00:00Z");
}

/* Whatever the convention inside a gap, the result must not be an instant
 * whose wall-clock time is earlier than the requested one. */
Test(tz_local, gap_result_is_not_before_the_requested_wall_time)
{
	const char *zones[] = {"America/New_York", "Europe/London", "America/Havana",
			       "America/Santiago"};
	const char *walls[] = {"2025-03-09T02:30:00", "2025-03-30T01:30:00",
			       "2025-03-09T00:30:00", "2025-09-07T00:30:00"};
	for (size_t i = 0; i < 4; i++) {
		const struct lav_tz *tz = load(zones[i]);
		int64_t want = L(walls[i]);
		int64_t u = lav_tz_local_to_utc(tz, want);
		int64_t wall = u + lav_tz_offset(tz, u);
		char a[LAV_TIME_STRLEN], b[LAV_TIME_STRLEN];
		cr_assert_geq(wall, want,
			      "%s: local %s → %s, whose wall time %s is before the requested one",
			      zones[i], walls[i], fmt_s(u, a), fmt_s(wall, b));
	}
}

Test(tz_local, round_trip_every_hour_of_a_year)
{
	const char *zones[] = {"America/New_York", "Europe/London", "Australia/Sydney",
			       "Asia/Kolkata"};
	for (size_t z = 0; z < 4; z++) {
		const struct lav_tz *tz = load(zones[z]);
		for (int64_t t = S("2025-01-01T00:00:00Z"); t < S("2026-01-01T00:00:00Z");
		     t += 3600) {
			int64_t local = t + lav_tz_offset(tz, t);
			int64_t back = lav_tz_local_to_utc(tz, local);
			/* ambiguous wall times map to the earlier instant */
			cr_assert(back == t || (back < t && back + lav_tz_offset(tz, back) == local),
				  "%s: %lld → local %lld → %lld", tz->name, (long long)t,
				  (long long)local, (long long)back);
		}
	}
}

/* ---- parsing ---- */

static unsigned char *read_zone(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	unsigned char *buf = malloc(1 << 16);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	cr_assert_gt(*len, 44);
	return buf;
}

Test(tz_parse, truncated_new_york_never_crashes)
{
	size_t len;
	unsigned char *d = read_zone("America/New_York", &len);
	/* the footer line starts after the last newline but one */
	size_t footer_at = len - 1;
	while (footer_at > 0 && d[footer_at - 1] != '\n')
		footer_at--;
	footer_at--; /* the '\n' opening the footer */
	cr_assert_eq(memcmp(d + footer_at, "\nEST5EDT,", 9), 0);
	for (size_t n = 0; n <= len; n++) {
		/* a fresh copy of exactly n bytes so ASan sees any overread */
		unsigned char *c = malloc(n ? n : 1);
		memcpy(c, d, n);
		struct lav_tz tz;
		bool ok = lav_tz_parse(c, n, &tz);
		if (n < footer_at)
			cr_assert_not(ok, "%zu of %zu bytes accepted", n, len);
		else
			cr_assert(ok, "%zu of %zu bytes (data complete) rejected", n, len);
		if (ok) {
			cr_assert_eq(tz.has_footer, n == len,
				     "%zu bytes: footer %s", n, tz.has_footer ? "parsed" : "missing");
			lav_tz_free(&tz);
		}
		free(c);
	}
	free(d);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

Test(tz_parse, garbage_never_crashes)
{
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = rng() % 400;
		unsigned char *c = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			c[i] = (unsigned char)rng();
		if (n >= 5 && iter % 2 == 0) {
			memcpy(c, "TZif", 4);
			c[4] = iter % 4 == 0 ? '2' : 0;
			/* small counts so the parser goes deep */
			for (size_t k = 20; k + 4 <= 44 && k + 4 <= n; k += 4) {
				c[k] = c[k + 1] = c[k + 2] = 0;
				c[k + 3] = (unsigned char)(rng() % 6);
			}
		}
		struct lav_tz tz;
		if (lav_tz_parse(c, n, &tz)) {
			/* whatever was parsed must be usable */
			(void)lav_tz_offset(&tz, 0);
			(void)lav_tz_offset(&tz, 4000000000LL);
			(void)lav_tz_local_to_utc(&tz, 4000000000LL);
			lav_tz_free(&tz);
		}
		free(c);
	}
}

/* Builds a TZif file: v1 block (version 0) or a v1 block with no data plus a
 * v2 block and footer (version '2'). */
struct tzb {
	unsigned char d[1024];
	size_t n;
};

static void put32(struct tzb *b, int64_t v)
{
	uint32_t u = (uint32_t)v;
	for (int i = 3; i >= 0; i--)
		b->d[b->n++] = (unsigned char)(u >> (8 * i));
}

static void put64(struct tzb *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 7; i >= 0; i--)
		b->d[b->n++] = (unsigned char)(u >> (8 * i));
}

static void header(struct tzb *b, char version, int64_t timecnt, int64_t typecnt,
		   int64_t charcnt)
{
	memcpy(b->d + b->n, "TZif", 4);
	b->n += 4;
	b->d[b->n++] = (unsigned char)version;
	memset(b->d + b->n, 0, 15);
	b->n += 15;
	put32(b, 0); /* isutcnt */
	put32(b, 0); /* isstdcnt */
	put32(b, 0); /* leapcnt */
	put32(b, timecnt);
	put32(b, typecnt);
	put32(b, charcnt);
}

struct ttype {
	int32_t off;
	int isdst;
};

static void body(struct tzb *b, int tsize, const int64_t *trans, const unsigned char *idx,
		 size_t nt, const struct ttype *types, size_t ntypes)
{
	for (size_t i = 0; i < nt; i++) {
		if (tsize == 8)
			put64(b, trans[i]);
		else
			put32(b, trans[i]);
	}
	for (size_t i = 0; i < nt; i++)
		b->d[b->n++] = idx[i];
	for (size_t i = 0; i < ntypes; i++) {
		put32(b, types[i].off);
		b->d[b->n++] = (unsigned char)types[i].isdst;
		b->d[b->n++] = 0;
	}
	memcpy(b->d + b->n, "AAA", 4); /* charcnt 4 */
	b->n += 4;
}

static void build_v2(struct tzb *b, const int64_t *trans, const unsigned char *idx, size_t nt,
		     const struct ttype *types, size_t ntypes, const char *footer)
{
	memset(b, 0, sizeof(*b));
	/* a v1 block with the same data (32-bit times) */
	header(b, '2', (int64_t)nt, (int64_t)ntypes, 4);
	body(b, 4, trans, idx, nt, types, ntypes);
	header(b, '2', (int64_t)nt, (int64_t)ntypes, 4);
	body(b, 8, trans, idx, nt, types, ntypes);
	b->d[b->n++] = '\n';
	size_t fl = strlen(footer);
	memcpy(b->d + b->n, footer, fl);
	b->n += fl;
	b->d[b->n++] = '\n';
}

Test(tz_parse, version_1_file)
{
	struct tzb b = {0};
	const int64_t trans[2] = {1000, 2000};
	const unsigned char idx[2] = {1, 0};
	const struct ttype types[2] = {{3600, 0}, {7200, 1}};
	header(&b, 0, 2, 2, 4);
	body(&b, 4, trans, idx, 2, types, 2);
	struct lav_tz tz;
	cr_assert(lav_tz_parse(b.d, b.n, &tz));
	cr_assert_eq(tz.n, 2);
	cr_assert_not(tz.has_footer);
	expect_off(&tz, 999, 3600);   /* before: the first non-DST type */
	expect_off(&tz, 1000, 7200);  /* type 1 */
	expect_off(&tz, 1999, 7200);
	expect_off(&tz, 2000, 3600);  /* type 0 */
	expect_off(&tz, 1LL << 40, 3600);
	lav_tz_free(&tz);
	/* one byte short */
	cr_assert_not(lav_tz_parse(b.d, b.n - 1, &tz));
}

Test(tz_parse, type_index_out_of_range_rejected)
{
	struct tzb b;
	const int64_t trans[2] = {1000, 2000};
	const unsigned char idx[2] = {0, 2}; /* only 2 types */
	const struct ttype types[2] = {{0, 0}, {3600, 1}};
	build_v2(&b, trans, idx, 2, types, 2, "UTC0");
	struct lav_tz tz;
	cr_assert_not(lav_tz_parse(b.d, b.n, &tz));
	cr_assert_null(tz.trans);
}

Test(tz_parse, bad_headers_rejected)
{
	struct tzb b;
	const int64_t trans[1] = {0};
	const unsigned char idx[1] = {0};
	const struct ttype types[1] = {{0, 0}};
	build_v2(&b, trans, idx, 1, types, 1, "UTC0");
	struct lav_tz tz;
	cr_assert(lav_tz_parse(b.d, b.n, &tz));
	lav_tz_free(&tz);
	struct tzb c = b;
	memcpy(c.d, "TZIF", 4);
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	/* typecnt 0 */
	c = b;
	memset(c.d + 36, 0, 4);
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	/* negative / huge counts */
	c = b;
	memset(c.d + 32, 0xff, 4);
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	c = b;
	c.d[32] = 0x7f;
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	c = b;
	memset(c.d + 40, 0xff, 4);
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	c = b;
	c.d[28] = 0x01; /* leapcnt 16M: beyond the data */
	cr_assert_not(lav_tz_parse(c.d, c.n, &tz));
	cr_assert_not(lav_tz_parse(b.d, 43, &tz));
	cr_assert_not(lav_tz_parse(b.d, 0, &tz));
}

Test(tz_parse, footer_only_zone_follows_the_rule)
{
	/* no transitions at all: every instant comes from the footer */
	struct tzb b;
	const struct ttype types[1] = {{-18000, 0}};
	build_v2(&b, NULL, NULL, 0, types, 1, "EST5EDT,M3.2.0,M11.1.0");
	struct lav_tz tz;
	cr_assert(lav_tz_parse(b.d, b.n, &tz));
	snprintf(tz.name, sizeof(tz.name), "footer-only");
	cr_assert(tz.has_footer && tz.has_dst);
	expect_off_at(&tz, "2025-01-15T12:00:00Z", EST);
	expect_off_at(&tz, "2025-07-01T12:00:00Z", EDT);
	expect_transition(&tz, S("2025-03-09T07:00:00Z"), EST, EDT);
	expect_transition(&tz, S("2025-11-02T06:00:00Z"), EDT, EST);
	expect_transition(&tz, S("1999-03-14T07:00:00Z"), EST, EDT); /* the rule, back then too */
	lav_tz_free(&tz);
}

Test(tz_parse, footer_forms)
{
	static const struct {
		const char *footer;
		bool has_footer, has_dst;
		int32_t std_off, dst_off;
	} cases[] = {
		{"UTC0", true, false, 0, 0},
		{"IST-5:30", true, false, 19800, 0},
		{"<+0530>-5:30", true, false, 19800, 0},
		{"<-03>3", true, false, -10800, 0},
		{"<+0545>-5:45", true, false, 20700, 0},
		{"CET-1CEST,M3.5.0,M10.5.0/3", true, true, 3600, 7200},
		{"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", true, true, 37800, 39600},
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", true, true, -7200, -3600},
		{"XYZ-1:02:03", true, false, 3723, 0},
	};
	const struct ttype types[1] = {{0, 0}};
	const int64_t trans[1] = {-1000};
	const unsigned char idx[1] = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tzb b;
		build_v2(&b, trans, idx, 1, types, 1, cases[i].footer);
		struct lav_tz tz;
		cr_assert(lav_tz_parse(b.d, b.n, &tz), "%s", cases[i].footer);
		cr_assert_eq(tz.has_footer, cases[i].has_footer, "%s", cases[i].footer);
		cr_assert_eq(tz.has_dst, cases[i].has_dst, "%s", cases[i].footer);
		cr_assert_eq(tz.std_off, cases[i].std_off, "%s: std %d", cases[i].footer,
			     tz.std_off);
		if (cases[i].has_dst)
			cr_assert_eq(tz.dst_off, cases[i].dst_off, "%s: dst %d", cases[i].footer,
				     tz.dst_off);
		if (!cases[i].has_dst)
			expect_off(&tz, 2000000000, cases[i].std_off);
		lav_tz_free(&tz);
	}
}

Test(tz_parse, unusable_footer_falls_back_to_the_table)
{
	/* Julian-day rules are not supported: the last transition's offset holds */
	const char *footers[] = {"EST5EDT,J60,J300", "EST5EDT,M13.1.0,M11.1.0", "E5",
				 "EST5EDT,M3.2.0", "", "EST5EDT,M3.2.0,M11.1.0junk"};
	const struct ttype types[2] = {{-18000, 0}, {-14400, 1}};
	const int64_t trans[2] = {100, 200};
	const unsigned char idx[2] = {1, 0};
	for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
		struct tzb b;
		build_v2(&b, trans, idx, 2, types, 2, footers[i]);
		struct lav_tz tz;
		cr_assert(lav_tz_parse(b.d, b.n, &tz), "\"%s\"", footers[i]);
		cr_assert_not(tz.has_footer && tz.has_dst, "\"%s\" taken as a DST rule",
			      footers[i]);
		if (!tz.has_footer)
			expect_off_at(&tz, "2025-07-01T12:00:00Z", -18000);
		lav_tz_free(&tz);
	}
}
