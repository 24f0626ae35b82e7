/* GET /ws: the handshake check, then the connection becomes a WebSocket
 * session (src/ws/). Authentication already happened in the router (the
 * token may come as ?token= here, for browsers). */
#include <stdio.h>

#include "lav/api.h"
#include "lav/server.h"
#include "lav/ws.h"

void lav_api_ws(struct lav_server *srv, struct lav_request *req)
{
	(void)srv;
	struct lav_ws_accept acc;
	int status;
	const char *code, *extra;
	char msg[200];
	if (!lav_ws_handshake(req, &acc, &status, &code, &extra, msg, sizeof(msg))) {
		lav_respond_error_ex(req, status, code, extra, NULL, 0, "%s", msg);
		return;
	}
	char head[512];
	snprintf(head, sizeof(head),
		 "HTTP/1.1 101 Switching Protocols\r\nServer: lavd\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%sx-correlation-id: "
		 "%s\r\n\r\n",
		 acc.accept, acc.protocol ? "Sec-WebSocket-Protocol: " : "",
		 acc.protocol ? acc.protocol : "", acc.protocol ? "\r\n" : "", req->cid);
	if (!lav_http_upgrade(req, head, acc.fmt))
		lav_respond_error(req, 400, "bad_request",
				  "a WebSocket upgrade cannot share its connection with pipelined "
				  "requests");
}
