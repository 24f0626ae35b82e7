/* Server-wide helpers: correlation ids, the Date header, the readiness probe,
 * and signal-driven drain. */
#include "lav/server.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lav/http.h"
#include "lav/timefmt.h"


static bool cid_safe(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LAV_CID_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == ':' ||
		      *p == '-'))
			return false;
	return true;
}

void lav_server_assign_cid(struct lav_server *srv, struct lav_request *r)
{
	const char *given = lav_request_header(r, "x-correlation-id");
	if (given && cid_safe(given)) {
		snprintf(r->cid, sizeof(r->cid), "%s", given);
		return;
	}
	snprintf(r->cid, sizeof(r->cid), "%s%016llx", srv->cid_prefix,
		 (unsigned long long)++srv->cid_counter);
}

const char *lav_server_date(struct lav_server *srv)
{
	time_t now = time(NULL);
	if (now != srv->date_sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		srv->date_sec = now;
	}
	return srv->date;
}
