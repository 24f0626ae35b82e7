/* The opening handshake of RFC 6455 section 4.2: what a request must carry to
 * be upgraded, and the Sec-WebSocket-Accept answer. Pure. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lav/ws.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? B64[v & 63] : '=';
	}
	out[o] = '\0';
}

void lav_ws_accept_key(const char *key, size_t len, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha1(), NULL);
	EVP_DigestUpdate(c, key, len);
	EVP_DigestUpdate(c, GUID, sizeof(GUID) - 1);
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	base64(md, n, out); /* 20 bytes: 28 characters */
}

/* The base64 form of exactly 16 bytes: 22 symbols, the last one carrying
 * only 2 bits, then "==". */
static bool key_valid(const char *k)
{
	size_t n = strlen(k);
	if (n != 24 || k[22] != '=' || k[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++) {
		const char *p = strchr(B64, k[i]);
		if (!k[i] || !p)
			return false;
		if (i == 21 && ((p - B64) & 15) != 0)
			return false;
	}
	return true;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool lists_token(const char *value, const char *token)
{
	size_t tn = strlen(token);
	const char *p = value;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == tn && strncasecmp(p, token, tn) == 0)
			return true;
		p = end;
	}
	return false;
}

/* Whether any header called name lists token (repeated headers are one list). */
static bool header_lists(const struct lav_request *r, const char *name, const char *token)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, name) == 0 &&
		    lists_token(r->headers[i].value, token))
			return true;
	return false;
}

/* The first lav subprotocol in the client's order, over every
 * Sec-WebSocket-Protocol header. */
static const char *pick_protocol(const struct lav_request *r, bool *offered)
{
	*offered = false;
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcmp(r->headers[i].name, "sec-websocket-protocol") != 0)
			continue;
		*offered = true;
		const char *p = r->headers[i].value;
		while (*p) {
			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			const char *end = p;
			while (*end && *end != ',' && *end != ' ' && *end != '\t')
				end++;
			size_t n = (size_t)(end - p);
			if (n == strlen(LAV_WS_PROTO_JSON) && strncmp(p, LAV_WS_PROTO_JSON, n) == 0)
				return LAV_WS_PROTO_JSON;
			if (n == strlen(LAV_WS_PROTO_MSGPACK) &&
			    strncmp(p, LAV_WS_PROTO_MSGPACK, n) == 0)
				return LAV_WS_PROTO_MSGPACK;
			p = end;
		}
	}
	return NULL;
}

static bool refuse(int *status, const char **code, int st, const char *c, char *msg, size_t msglen,
		   const char *text)
{
	*status = st;
	*code = c;
	snprintf(msg, msglen, "%s", text);
	return false;
}

bool lav_ws_handshake(const struct lav_request *r, struct lav_ws_accept *out, int *status,
		      const char **code, const char **extra_headers, char *msg, size_t msglen)
{
	memset(out, 0, sizeof(*out));
	*extra_headers = NULL;
	if (!header_lists(r, "upgrade", "websocket") || !header_lists(r, "connection", "upgrade")) {
		*extra_headers = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
		return refuse(status, code, 426, "upgrade_required", msg, msglen,
			      "/ws is a WebSocket endpoint: send Upgrade: websocket and "
			      "Connection: Upgrade");
	}
	const char *version = lav_request_header(r, "sec-websocket-version");
	if (!version || strcmp(version, "13") != 0) {
		*extra_headers = "Sec-WebSocket-Version: 13\r\n";
		return refuse(status, code, 426, "upgrade_required", msg, msglen,
			      "Sec-WebSocket-Version must be 13");
	}
	const char *key = lav_request_header(r, "sec-websocket-key");
	if (!key || !key_valid(key))
		return refuse(status, code, 400, "bad_request", msg, msglen,
			      "Sec-WebSocket-Key must be the base64 of 16 random bytes");
	if (r->body.len > 0)
		return refuse(status, code, 400, "bad_request", msg, msglen,
			      "a WebSocket upgrade request has no body");
	bool offered;
	out->protocol = pick_protocol(r, &offered);
	if (offered && !out->protocol)
		return refuse(status, code, 400, "bad_request", msg, msglen,
			      "Sec-WebSocket-Protocol offers neither " LAV_WS_PROTO_JSON
			      " nor " LAV_WS_PROTO_MSGPACK);
	out->fmt = out->protocol && strcmp(out->protocol, LAV_WS_PROTO_MSGPACK) == 0
		       ? LAV_FMT_MSGPACK
		       : LAV_FMT_JSON;
	lav_ws_accept_key(key, strlen(key), out->accept);
	return true;
}
