/* The Redis connection (hiredis async on the libevent loop). Redis is a cache:
 * lavd runs without it and reconnects by itself with backoff. */
#ifndef LAV_REDIS_H
#define LAV_REDIS_H

#include <event2/event.h>
#include <stdbool.h>

#include "lav/log.h"

enum lav_redis_state {
	LAV_REDIS_DISABLED,
	LAV_REDIS_CONNECTING,
	LAV_REDIS_CONNECTED,
	LAV_REDIS_DISCONNECTED,
};

struct lav_redis;

struct lav_redis *lav_redis_new(struct event_base *base, const char *host, int port, int db,
				const struct lav_log *log);
void lav_redis_free(struct lav_redis *r);
/* Command round trips are observed in latency (borrowed). */
struct lav_hist;
void lav_redis_observe(struct lav_redis *r, struct lav_hist *latency);
/* used_memory of the server (INFO memory, read with each health PING);
 * -1 when unknown or not connected. */
int64_t lav_redis_used_memory(const struct lav_redis *r);
enum lav_redis_state lav_redis_state(const struct lav_redis *r);
const char *lav_redis_state_name(enum lav_redis_state s);

/* Fire-and-forget command when connected; false (and nothing sent) when not.
 * Redis is a cache: a lost write is repaired by the resync on reconnect. */
bool lav_redis_send(struct lav_redis *r, int argc, const char **argv, const size_t *argvlen);
/* Called each time the connection is (re)established, e.g. to resync. */
void lav_redis_on_connect(struct lav_redis *r, void (*cb)(void *arg), void *arg);

/* Subscriber mode (a connection of its own): SUBSCRIBE to channels (at most
 * 8, borrowed) after every (re)connect; cb gets each message. A connection
 * in this mode sends nothing else. */
typedef void (*lav_redis_message_cb)(const char *channel, const char *payload, size_t len,
				     void *arg);
void lav_redis_subscribe(struct lav_redis *r, const char *const *channels, size_t n,
			 lav_redis_message_cb cb, void *arg);

#endif
