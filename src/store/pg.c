/* A non-blocking libpq connection on the loop. States: connecting (driven by
 * PQconnectPoll), idle, busy (one query in flight; results read as the socket
 * becomes readable). Queued queries run in order. */
#include "lav/pg.h"
#include "lav/prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"

#define MAX_QUEUE 4096
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum pg_state { PG_DOWN, PG_CONNECTING, PG_IDLE, PG_BUSY };

struct pg_query {
	char *sql;
	bool simple;	     /* PQsendQuery: several statements, maybe a COPY */
	struct lav_buf copy; /* COPY FROM STDIN data */
	size_t copy_sent;
	bool copy_ended;
	int nparams;
	char **params;
	lav_pg_cb cb;
	void *arg;
	int64_t sent_us; /* monotonic, for the latency histogram */
	struct pg_query *next;
};

struct lav_pg {
	struct event_base *base;
	char *dsn;
	char *app;
	char options[64];
	const struct lav_log *log;
	PGconn *conn;
	struct event *io;
	struct event *retry;
	enum pg_state state;
	struct pg_query *head, *tail;
	size_t nqueued;
	PGresult *result; /* first error, else last result, of the query in flight */
	bool in_copy;
	char *init_sql;
	lav_pg_notify_cb notify_cb;
	void *notify_arg;
	void (*connect_cb)(void *arg);
	void *connect_arg;
	int backoff_ms;
	char last_error[256];
	struct lav_hist *latency; /* borrowed, may be NULL */
};

static void start_connect(struct lav_pg *pg);
static void on_io(evutil_socket_t fd, short what, void *arg);

static void query_free(struct pg_query *q)
{
	free(q->sql);
	lav_buf_free(&q->copy);
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q);
}

static void set_error(struct lav_pg *pg, const char *what)
{
	const char *msg = pg->conn ? PQerrorMessage(pg->conn) : "";
	snprintf(pg->last_error, sizeof(pg->last_error), "%s%s%s", what, *msg ? ": " : "", msg);
	size_t n = strlen(pg->last_error);
	while (n && (pg->last_error[n - 1] == '\n' || pg->last_error[n - 1] == ' '))
		pg->last_error[--n] = '\0';
}

static void watch(struct lav_pg *pg, short what)
{
	if (pg->io) {
		event_del(pg->io);
		event_free(pg->io);
		pg->io = NULL;
	}
	int fd = PQsocket(pg->conn);
	if (fd < 0)
		return;
	pg->io = event_new(pg->base, fd, what, on_io, pg);
	event_add(pg->io, NULL);
}

/* Fails every queued query: their callers decide whether to retry. */
static void fail_all(struct lav_pg *pg, const char *why)
{
	struct pg_query *q = pg->head;
	pg->head = pg->tail = NULL;
	pg->nqueued = 0;
	while (q) {
		struct pg_query *next = q->next;
		q->cb(NULL, why, q->arg);
		query_free(q);
		q = next;
	}
}

static void schedule_reconnect(struct lav_pg *pg)
{
	if (pg->io) {
		event_del(pg->io);
		event_free(pg->io);
		pg->io = NULL;
	}
	if (pg->result) {
		PQclear(pg->result);
		pg->result = NULL;
	}
	if (pg->conn) {
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
	pg->state = PG_DOWN;
	pg->in_copy = false;
	fail_all(pg, pg->last_error);
	struct timeval tv = {pg->backoff_ms / 1000, (pg->backoff_ms % 1000) * 1000};
	evtimer_add(pg->retry, &tv);
	pg->backoff_ms = pg->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : pg->backoff_ms * 2;
}

static void send_next(struct lav_pg *pg)
{
	if (pg->state != PG_IDLE || !pg->head)
		return;
	struct pg_query *q = pg->head;
	int ok = q->simple ? PQsendQuery(pg->conn, q->sql)
			   : PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL,
					       (const char *const *)q->params, NULL, NULL, 0);
	if (!ok) {
		set_error(pg, "send failed");
		lav_warn(pg->log, "postgres: %s", pg->last_error);
		schedule_reconnect(pg);
		return;
	}
	pg->state = PG_BUSY;
	q->sent_us = lav_monotonic_us();
	int f = PQflush(pg->conn);
	watch(pg, (short)(EV_READ | (f == 1 ? EV_WRITE : 0)));
}

static void finish_query(struct lav_pg *pg)
{
	struct pg_query *q = pg->head;
	pg->head = q->next;
	if (!pg->head)
		pg->tail = NULL;
	pg->nqueued--;
	PGresult *res = pg->result;
	pg->result = NULL;
	pg->state = PG_IDLE;
	const char *err = NULL;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		err = PQresultErrorMessage(res);
	if (pg->latency)
		lav_hist_observe(pg->latency, (double)(lav_monotonic_us() - q->sent_us) / 1e6);
	q->cb(res, err, q->arg);
	PQclear(res);
	query_free(q);
	/* the callback may have sent the next query (or lost the connection) */
	if (pg->state != PG_IDLE)
		return;
	watch(pg, EV_READ | EV_PERSIST); /* notice a server-side close while idle */
	send_next(pg);
}

/* Pushes COPY data until the socket is full (then waits for EV_WRITE) or all
 * is sent and the COPY is ended. Returns false when the connection failed. */
static bool push_copy(struct lav_pg *pg)
{
	struct pg_query *q = pg->head;
	while (q->copy_sent < q->copy.len) {
		size_t chunk = q->copy.len - q->copy_sent;
		if (chunk > 65536)
			chunk = 65536;
		int r = PQputCopyData(pg->conn, q->copy.data + q->copy_sent, (int)chunk);
		if (r < 0)
			return false;
		if (r == 0) {
			watch(pg, EV_WRITE);
			return true;
		}
		q->copy_sent += chunk;
	}
	if (!q->copy_ended) {
		int r = PQputCopyEnd(pg->conn, NULL);
		if (r < 0)
			return false;
		if (r == 0) {
			watch(pg, EV_WRITE);
			return true;
		}
		q->copy_ended = true;
	}
	int f = PQflush(pg->conn);
	if (f < 0)
		return false;
	if (f == 1) {
		watch(pg, EV_WRITE);
		return true;
	}
	pg->in_copy = false;
	watch(pg, EV_READ);
	return true;
}

static void deliver_notifies(struct lav_pg *pg)
{
	PGnotify *n;
	while ((n = PQnotifies(pg->conn)) != NULL) {
		if (pg->notify_cb)
			pg->notify_cb(n->relname, n->extra, pg->notify_arg);
		PQfreemem(n);
	}
}

static bool is_error(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	return st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR || st == PGRES_FATAL_ERROR;
}

static void read_results(struct lav_pg *pg)
{
	if (!PQconsumeInput(pg->conn)) {
		set_error(pg, "connection lost");
		lav_warn(pg->log, "postgres: %s", pg->last_error);
		schedule_reconnect(pg);
		return;
	}
	deliver_notifies(pg);
	if (pg->state != PG_BUSY) {
		if (PQstatus(pg->conn) == CONNECTION_BAD) {
			set_error(pg, "connection lost");
			schedule_reconnect(pg);
		}
		return;
	}
	while (!PQisBusy(pg->conn)) {
		PGresult *res = PQgetResult(pg->conn);
		if (!res) {
			finish_query(pg);
			return;
		}
		if (PQresultStatus(res) == PGRES_COPY_IN) {
			PQclear(res);
			pg->in_copy = true;
			if (!push_copy(pg)) {
				set_error(pg, "COPY failed");
				schedule_reconnect(pg);
			}
			return;
		}
		if (pg->result && is_error(pg->result)) {
			PQclear(res); /* keep the first error */
		} else {
			if (pg->result)
				PQclear(pg->result);
			pg->result = res;
		}
	}
	watch(pg, EV_READ);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct lav_pg *pg = arg;
	(void)fd;
	if (pg->state == PG_CONNECTING) {
		start_connect(pg);
		return;
	}
	if (pg->in_copy) {
		if (!push_copy(pg)) {
			set_error(pg, "COPY failed");
			schedule_reconnect(pg);
		}
		return;
	}
	if (what & EV_WRITE) {
		int f = PQflush(pg->conn);
		if (f < 0) {
			set_error(pg, "write failed");
			schedule_reconnect(pg);
			return;
		}
		if (f == 1) {
			watch(pg, EV_READ | EV_WRITE);
			return;
		}
	}
	read_results(pg);
}

static void on_init_done(const PGresult *res, const char *err, void *arg)
{
	struct lav_pg *pg = arg;
	if (err)
		lav_error(pg->log, "postgres: connection set-up failed: %s", err);
	else if (res && pg->connect_cb)
		pg->connect_cb(pg->connect_arg);
}

/* Starts or continues the non-blocking connect. */
static void start_connect(struct lav_pg *pg)
{
	if (!pg->conn) {
		const char *keys[] = {"dbname", "application_name", "options", "connect_timeout",
				      NULL};
		const char *vals[] = {pg->dsn, pg->app, pg->options, "5", NULL};
		pg->conn = PQconnectStartParams(keys, vals, 1);
		if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
			set_error(pg, "connect failed");
			schedule_reconnect(pg);
			return;
		}
		pg->state = PG_CONNECTING;
	}
	switch (PQconnectPoll(pg->conn)) {
	case PGRES_POLLING_READING:
		watch(pg, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(pg, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		PQsetnonblocking(pg->conn, 1);
		pg->state = PG_IDLE;
		pg->backoff_ms = BACKOFF_MIN_MS;
		lav_info(pg->log, "postgres: connected (%s)", pg->app);
		watch(pg, EV_READ | EV_PERSIST);
		if (pg->init_sql) {
			/* runs ahead of everything queued */
			struct pg_query *q = lav_xcalloc(1, sizeof(*q));
			q->sql = lav_xstrdup(pg->init_sql);
			q->simple = true;
			q->params = lav_xcalloc(1, sizeof(char *));
			q->cb = on_init_done;
			q->arg = pg;
			q->next = pg->head;
			pg->head = q;
			if (!pg->tail)
				pg->tail = q;
			pg->nqueued++;
		} else if (pg->connect_cb) {
			pg->connect_cb(pg->connect_arg);
		}
		send_next(pg);
		return;
	default:
		set_error(pg, "connect failed");
		lav_warn(pg->log, "postgres: %s", pg->last_error);
		schedule_reconnect(pg);
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_connect(arg);
}

struct lav_pg *lav_pg_new(struct event_base *base, const char *dsn, const char *app_name,
			  int statement_timeout_ms, const char *init_sql, const struct lav_log *log)
{
	struct lav_pg *pg = lav_xcalloc(1, sizeof(*pg));
	pg->init_sql = init_sql ? lav_xstrdup(init_sql) : NULL;
	pg->base = base;
	pg->dsn = lav_xstrdup(dsn);
	pg->app = lav_xstrdup(app_name);
	/* jit off: lavd's queries are short and JIT compilation of a misestimated
	 * one (the hot-series load) cost seconds at start */
	snprintf(pg->options, sizeof(pg->options), "-c statement_timeout=%d -c jit=off",
		 statement_timeout_ms);
	pg->log = log;
	pg->retry = evtimer_new(base, on_retry, pg);
	pg->backoff_ms = BACKOFF_MIN_MS;
	snprintf(pg->last_error, sizeof(pg->last_error), "connecting");
	start_connect(pg);
	return pg;
}

void lav_pg_free(struct lav_pg *pg)
{
	if (!pg)
		return;
	snprintf(pg->last_error, sizeof(pg->last_error), "shutting down");
	if (pg->io) {
		event_del(pg->io);
		event_free(pg->io);
	}
	if (pg->result)
		PQclear(pg->result);
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->io = NULL;
	fail_all(pg, pg->last_error);
	event_free(pg->retry);
	free(pg->init_sql);
	free(pg->dsn);
	free(pg->app);
	free(pg);
}

bool lav_pg_connected(const struct lav_pg *pg)
{
	return pg->state == PG_IDLE || pg->state == PG_BUSY;
}

const char *lav_pg_last_error(const struct lav_pg *pg)
{
	return pg->last_error;
}

static struct pg_query *new_query(const char *sql, lav_pg_cb cb, void *arg)
{
	struct pg_query *q = lav_xcalloc(1, sizeof(*q));
	q->sql = lav_xstrdup(sql);
	q->params = lav_xcalloc(1, sizeof(char *));
	q->cb = cb;
	q->arg = arg;
	return q;
}

static void enqueue(struct lav_pg *pg, struct pg_query *q)
{
	if (pg->tail)
		pg->tail->next = q;
	else
		pg->head = q;
	pg->tail = q;
	pg->nqueued++;
	send_next(pg);
}

bool lav_pg_query(struct lav_pg *pg, const char *sql, int nparams, const char *const *params,
		  lav_pg_cb cb, void *arg)
{
	if (pg->nqueued >= MAX_QUEUE)
		return false;
	struct pg_query *q = new_query(sql, cb, arg);
	q->nparams = nparams;
	q->params = lav_xrealloc(q->params, (size_t)(nparams ? nparams : 1) * sizeof(char *));
	for (int i = 0; i < nparams; i++)
		q->params[i] = params[i] ? lav_xstrdup(params[i]) : NULL;
	enqueue(pg, q);
	return true;
}

PGconn *lav_pg_connect_blocking(const char *dsn, const char *app_name, char *err, size_t errlen)
{
	/* start-up work is chatty (IF NOT EXISTS notices): keep stderr for our log */
	const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
	const char *vals[] = {dsn, app_name, "10", "-c client_min_messages=warning -c jit=off", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		PQfinish(c);
		return NULL;
	}
	return c;
}

size_t lav_pg_pending(const struct lav_pg *pg)
{
	return pg->nqueued;
}

bool lav_pg_copy(struct lav_pg *pg, const char *sql, struct lav_buf *data, lav_pg_cb cb,
		 void *arg)
{
	if (pg->nqueued >= MAX_QUEUE) {
		lav_buf_free(data);
		return false;
	}
	struct pg_query *q = new_query(sql, cb, arg);
	q->simple = true;
	q->copy = *data;
	*data = (struct lav_buf)LAV_BUF_INIT;
	enqueue(pg, q);
	return true;
}

void lav_pg_on_notify(struct lav_pg *pg, lav_pg_notify_cb cb, void *arg)
{
	pg->notify_cb = cb;
	pg->notify_arg = arg;
}

void lav_pg_on_connect(struct lav_pg *pg, void (*cb)(void *arg), void *arg)
{
	pg->connect_cb = cb;
	pg->connect_arg = arg;
}

void lav_pg_observe(struct lav_pg *pg, struct lav_hist *latency)
{
	pg->latency = latency;
}
