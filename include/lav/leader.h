/* Leadership among lavd instances sharing one PostgreSQL (DESIGN.md 11b):
 * the instance holding a session-level advisory lock polls the sources,
 * evaluates the semáforo grid and maintains partitions; the others serve
 * reads and WebSockets and try to take the lock every second, so one takes
 * over within about a second of the leader's death (PostgreSQL releases the
 * lock when the leader's session ends). */
#ifndef LAV_LEADER_H
#define LAV_LEADER_H

#include <stdbool.h>

struct lav_server;
struct lav_leader;
struct lav_writer;

/* Starts trying at once; srv->leading follows the lock. */
struct lav_leader *lav_leader_start(struct lav_server *srv);
void lav_leader_free(struct lav_leader *l);
/* readyz checks.leader: {"ok", "leader", "instance"}. */
void lav_leader_write_status(const struct lav_leader *l, struct lav_writer *w);

#endif
