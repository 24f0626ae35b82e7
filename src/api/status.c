/* GET /: the live status page, one self-contained HTML file embedded at
 * build time (src/api/status.html). The policy header keeps it that way:
 * nothing but this origin and its WebSocket can be reached from it. */
#include "lav/api.h"
#include "lav/server.h"

extern const unsigned char lav_status_html[];
extern const unsigned long lav_status_html_len;

void lav_api_status_page(struct lav_server *srv, struct lav_request *req)
{
	(void)srv;
	lav_respond(req, 200, "text/html; charset=utf-8", lav_status_html,
		    (size_t)lav_status_html_len,
		    "Cache-Control: no-cache\r\n"
		    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
		    "style-src 'unsafe-inline'; img-src data:; connect-src 'self' ws: wss:\r\n"
		    "X-Content-Type-Options: nosniff\r\n");
}
