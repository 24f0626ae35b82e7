/* Redis connection state: connect, watch with PING, reconnect with backoff.
 * The latest-point cache and pub/sub fan-out are built on this context. */
#include "lav/redis.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/log.h"
#include "lav/prom.h"

#define PING_MS	       2000
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

struct lav_redis {
	struct event_base *base;
	char *host;
	int port;
	int db;
	const struct lav_log *log;
	redisAsyncContext *ac;
	enum lav_redis_state state;
	struct event *timer;
	int backoff_ms;
	bool ping_pending;
	void (*connect_cb)(void *arg);
	void *connect_arg;
	/* subscriber mode: SUBSCRIBE after each connect, no PINGs after it
	 * (hiredis 0.14 cannot route a PING reply on a subscribed connection) */
	const char *const *channels;
	size_t nchannels;
	lav_redis_message_cb message_cb;
	void *message_arg;
	bool subscribed;
	struct lav_hist *latency; /* borrowed, may be NULL */
	int64_t used_memory;	  /* INFO memory, -1 until read */
};

static void connect_now(struct lav_redis *r);

static void arm(struct lav_redis *r, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(r->timer, &tv);
}

static void lost(struct lav_redis *r, const char *why)
{
	if (r->state == LAV_REDIS_CONNECTED)
		lav_warn(r->log, "redis: disconnected (%s); serving without the cache", why);
	r->state = LAV_REDIS_DISCONNECTED;
	r->ac = NULL;
	r->ping_pending = false;
	r->subscribed = false;
	arm(r, r->backoff_ms);
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void on_message(redisAsyncContext *ac, void *reply, void *arg)
{
	struct lav_redis *r = arg;
	(void)ac;
	redisReply *rep = reply;
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return; /* subscribe confirmations */
	r->message_cb(rep->element[1]->str, rep->element[2]->str, rep->element[2]->len,
		      r->message_arg);
}

static void subscribe_now(struct lav_redis *r)
{
	const char *argv[1 + 8];
	size_t lens[1 + 8];
	argv[0] = "SUBSCRIBE";
	lens[0] = 9;
	for (size_t i = 0; i < r->nchannels && i < 8; i++) {
		argv[1 + i] = r->channels[i];
		lens[1 + i] = strlen(r->channels[i]);
	}
	r->subscribed = true;
	redisAsyncCommandArgv(r->ac, on_message, r, (int)(1 + r->nchannels), argv, lens);
}

/* privdata of a command is its send time: no allocation per command */
static void on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct lav_redis *r = ac->data;
	if (!r || !reply || !r->latency)
		return;
	lav_hist_observe(r->latency, (double)(lav_monotonic_us() - (int64_t)(intptr_t)arg) / 1e6);
}

static void on_info(redisAsyncContext *ac, void *reply, void *arg)
{
	struct lav_redis *r = arg;
	redisReply *rep = reply;
	(void)ac;
	if (!rep || rep->type != REDIS_REPLY_STRING)
		return;
	const char *p = strstr(rep->str, "\nused_memory:");
	if (p)
		r->used_memory = atoll(p + 13);
}

static void on_pong(redisAsyncContext *ac, void *reply, void *arg)
{
	struct lav_redis *r = arg;
	(void)ac;
	r->ping_pending = false;
	redisReply *rep = reply;
	if (rep && rep->type != REDIS_REPLY_ERROR && r->state != LAV_REDIS_CONNECTED) {
		r->state = LAV_REDIS_CONNECTED;
		r->backoff_ms = BACKOFF_MIN_MS;
		r->used_memory = -1;
		lav_info(r->log, "redis: connected to %s:%d/%d", r->host, r->port, r->db);
		if (r->connect_cb)
			r->connect_cb(r->connect_arg);
		if (r->message_cb)
			subscribe_now(r);
	}
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct lav_redis *r = ac->data;
	if (status != REDIS_OK) {
		lost(r, ac->errstr);
		return;
	}
	if (r->db)
		redisAsyncCommand(r->ac, NULL, NULL, "SELECT %d", r->db);
	r->ping_pending = true;
	redisAsyncCommand(r->ac, on_pong, r, "PING");
	redisAsyncCommand(r->ac, on_info, r, "INFO memory");
	arm(r, PING_MS);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct lav_redis *r = ac->data;
	if (!r)
		return; /* lav_redis_free in progress */
	lost(r, status == REDIS_OK ? "closed" : ac->errstr);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lav_redis *r = arg;
	(void)fd;
	(void)what;
	if (!r->ac) {
		connect_now(r);
		return;
	}
	if (r->subscribed)
		return; /* a lost subscriber connection reports itself */
	if (r->ping_pending) {
		/* no answer for a whole period: the server is stuck or gone */
		redisAsyncContext *ac = r->ac;
		ac->data = NULL;
		redisAsyncFree(ac);
		lost(r, "ping timeout");
		return;
	}
	r->ping_pending = true;
	redisAsyncCommand(r->ac, on_pong, r, "PING");
	redisAsyncCommand(r->ac, on_info, r, "INFO memory");
	arm(r, PING_MS);
}

static void connect_now(struct lav_redis *r)
{
	if (r->state != LAV_REDIS_DISCONNECTED)
		r->state = LAV_REDIS_CONNECTING;
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		lost(r, "connect failed");
		return;
	}
	ac->data = r;
	r->ac = ac;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

struct lav_redis *lav_redis_new(struct event_base *base, const char *host, int port, int db,
				const struct lav_log *log)
{
	struct lav_redis *r = lav_xcalloc(1, sizeof(*r));
	r->base = base;
	r->host = lav_xstrdup(host);
	r->port = port;
	r->db = db;
	r->log = log;
	r->timer = evtimer_new(base, on_timer, r);
	r->backoff_ms = BACKOFF_MIN_MS;
	r->state = LAV_REDIS_CONNECTING;
	connect_now(r);
	return r;
}

void lav_redis_free(struct lav_redis *r)
{
	if (!r)
		return;
	if (r->ac) {
		r->ac->data = NULL;
		redisAsyncFree(r->ac);
	}
	event_free(r->timer);
	free(r->host);
	free(r);
}

enum lav_redis_state lav_redis_state(const struct lav_redis *r)
{
	return r ? r->state : LAV_REDIS_DISABLED;
}

const char *lav_redis_state_name(enum lav_redis_state s)
{
	static const char *const names[] = {"disabled", "connecting", "connected", "disconnected"};
	return names[s];
}

bool lav_redis_send(struct lav_redis *r, int argc, const char **argv, const size_t *argvlen)
{
	if (!r || r->state != LAV_REDIS_CONNECTED || !r->ac || r->subscribed)
		return false;
	return redisAsyncCommandArgv(r->ac, on_reply, (void *)(intptr_t)lav_monotonic_us(), argc,
				     argv, argvlen) == REDIS_OK;
}

void lav_redis_on_connect(struct lav_redis *r, void (*cb)(void *arg), void *arg)
{
	r->connect_cb = cb;
	r->connect_arg = arg;
}

void lav_redis_subscribe(struct lav_redis *r, const char *const *channels, size_t n,
			 lav_redis_message_cb cb, void *arg)
{
	r->channels = channels;
	r->nchannels = n < 8 ? n : 8;
	r->message_cb = cb;
	r->message_arg = arg;
	if (r->state == LAV_REDIS_CONNECTED && r->ac && !r->subscribed)
		subscribe_now(r);
}

void lav_redis_observe(struct lav_redis *r, struct lav_hist *latency)
{
	if (r)
		r->latency = latency;
}

int64_t lav_redis_used_memory(const struct lav_redis *r)
{
	return r && r->state == LAV_REDIS_CONNECTED ? r->used_memory : -1;
}
