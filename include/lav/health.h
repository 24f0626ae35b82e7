/* Dependency probes that feed /readyz without blocking a request. */
#ifndef LAV_HEALTH_H
#define LAV_HEALTH_H

struct lav_server;

void lav_health_start(struct lav_server *srv);
void lav_health_stop(struct lav_server *srv);

#endif
