/* libcurl multi on libevent: curl tells which sockets to watch and when its
 * next timeout is; libevent tells curl which socket is ready. */
#include "lav/fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"

struct transfer {
	struct lav_fetcher *owner;
	CURL *easy;
	struct curl_slist *headers;
	struct lav_buf body;
	size_t max_bytes;
	bool too_large;
	lav_fetch_cb cb;
	void *arg;
	struct transfer *prev, *next;
};

struct sock_ctx {
	struct event *ev;
};

struct lav_fetcher {
	struct event_base *base;
	const struct lav_log *log;
	CURLM *multi;
	struct event *timer;
	struct transfer *transfers;
	size_t n;
};

static void check_done(struct lav_fetcher *f)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct transfer *t = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		CURLcode rc = msg->data.result;
		long status = 0;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(f->multi, t->easy);
		if (t->prev)
			t->prev->next = t->next;
		else
			f->transfers = t->next;
		if (t->next)
			t->next->prev = t->prev;
		f->n--;
		char err[160];
		const char *e = NULL;
		if (t->too_large) {
			snprintf(err, sizeof(err), "response larger than %zu bytes", t->max_bytes);
			e = err;
		} else if (rc != CURLE_OK) {
			snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
			e = err;
		}
		t->cb(t->arg, e ? 0 : status, t->body.data ? t->body.data : "", t->body.len, e);
		curl_easy_cleanup(t->easy);
		curl_slist_free_all(t->headers);
		lav_buf_free(&t->body);
		free(t);
	}
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
	struct lav_fetcher *f = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(f->multi, fd, flags, &running);
	check_done(f);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct lav_fetcher *f = arg;
	(void)fd;
	(void)what;
	int running;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct lav_fetcher *f = userp;
	struct sock_ctx *sc = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sc) {
			event_free(sc->ev);
			free(sc);
			curl_multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	short ev = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
			   (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
	if (!sc) {
		sc = lav_xcalloc(1, sizeof(*sc));
		curl_multi_assign(f->multi, s, sc);
	} else {
		event_free(sc->ev);
	}
	sc->ev = event_new(f->base, s, ev, on_socket_ready, f);
	event_add(sc->ev, NULL);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct lav_fetcher *f = userp;
	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(f->timer, &tv);
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	size_t len = size * n;
	if (t->body.len + len > t->max_bytes) {
		t->too_large = true;
		return 0; /* aborts the transfer */
	}
	lav_buf_append(&t->body, data, len);
	return len;
}

struct lav_fetcher *lav_fetcher_new(struct event_base *base, const struct lav_log *log)
{
	struct lav_fetcher *f = lav_xcalloc(1, sizeof(*f));
	f->base = base;
	f->log = log;
	f->multi = curl_multi_init();
	f->timer = evtimer_new(base, on_timeout, f);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
	return f;
}

void lav_fetcher_free(struct lav_fetcher *f)
{
	if (!f)
		return;
	struct transfer *t = f->transfers;
	while (t) {
		struct transfer *next = t->next;
		curl_multi_remove_handle(f->multi, t->easy);
		curl_easy_cleanup(t->easy);
		curl_slist_free_all(t->headers);
		lav_buf_free(&t->body);
		free(t);
		t = next;
	}
	curl_multi_cleanup(f->multi);
	event_free(f->timer);
	free(f);
}

size_t lav_fetch_in_flight(const struct lav_fetcher *f)
{
	return f->n;
}

void lav_fetch(struct lav_fetcher *f, const struct lav_fetch_req *req, int64_t timeout_ms,
	       size_t max_bytes, lav_fetch_cb cb, void *arg)
{
	struct transfer *t = lav_xcalloc(1, sizeof(*t));
	t->owner = f;
	t->max_bytes = max_bytes;
	t->cb = cb;
	t->arg = arg;
	t->easy = curl_easy_init();
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "lavd/0.1 (+feature store; dry-run)");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	t->headers = curl_slist_append(NULL, "Accept: application/json, text/html;q=0.9");
	if (req->body) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 req->content_type ? req->content_type : "application/json");
		t->headers = curl_slist_append(t->headers, ct);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	t->next = f->transfers;
	if (t->next)
		t->next->prev = t;
	f->transfers = t;
	f->n++;
	curl_multi_add_handle(f->multi, e);
}
