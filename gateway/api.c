/* api.c — the HTTP endpoints, on libevent's evhttp on the gateway's loop.
 *
 *     GET  /healthz      200 {"status":"ok"|"degraded",...}; 503 stopping
 *     GET  /metrics      Prometheus text format 0.0.4
 *     GET  /v1/sources   health of every source (JSON array)
 *     POST /v1/items     bearer push token; one item or a batch; answers
 *                        each item's classification and dedup verdict
 *     POST /v1/reload    bearer admin token; answers the reload's outcome
 *
 * evhttp is enough here: a handful of endpoints, small bodies, one
 * thread, and it already lives on our event_base (libmicrohttpd would
 * need a thread of its own and locking around the pipeline). Requests that
 * wait for the pipeline (push, reload) are kept in a list; when the client
 * goes away first, the connection's close callback cancels the wait so no
 * answer is ever written to a freed request. Tokens are compared in
 * constant time and never logged; an endpoint whose token is not
 * configured answers 404, so it cannot be probed. When accept() fails
 * (out of descriptors: EMFILE), the listener pauses for a second rather
 * than retry at once, which would spin the loop and flood the log.
 *
 * Slow and many clients. evhttp's own timeout restarts whenever a byte
 * arrives, so a client trickling a byte every few seconds would hold its
 * connection (and a descriptor Redis, fetches and the spool need) for
 * ever, and libevent 2.1 has no connection limit. So every connection
 * gets a record (struct conn): made when evhttp accepts it (we make its
 * bufferevent, evhttp_set_bevcb) and hooked to the evhttp connection
 * right after (evhttp gives the bevcb no connection; the bufferevent's
 * callback argument is it), dropped when evhttp frees it (the close
 * callback). A request must be complete (line, headers, body) within
 * request_timeout of the connection opening, or of the previous answer on
 * a kept-alive one; past that the connection is freed, whatever trickles.
 * The deadline stops while a complete request waits for the pipeline (a
 * push may take a couple of seconds) and starts again with the answer,
 * so it also bounds a client reading the answer slowly. Connections above
 * max_connections are closed at once, unread: answering 503 would mean
 * reading their request, which is what a slow client does not finish.
 * Rejected: a minimum data rate (Apache's mod_reqtimeout), which needs
 * byte counts evhttp does not expose; evhttp_set_newreqcb (libevent 2.2).
 */
#include "gateway/gateway_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"

#define API_COMP "api"

/* How long the listener rests after a failed accept(): long enough that
 * a lack of descriptors costs nothing, short enough that the API is back
 * soon after one is free. */
#define API_ACCEPT_PAUSE_MS 1000
/* While accept() keeps failing, one log line per minute says so. */
#define API_ACCEPT_LOG_MS 60000
/* The same for connections refused over the cap and cut at the deadline:
 * a flood of them is one line a minute, with counts. */
#define API_CONN_LOG_MS 60000
/* Defaults of [api] request_timeout and max_connections (conf.c). */
#define API_REQUEST_TIMEOUT_MS 30000
#define API_MAX_CONNECTIONS 128

enum pend_kind {
    PEND_PUSH = 0,
    PEND_RELOAD = 1,
};

struct conn;

struct pending {
    struct api *a;
    struct pending *prev, *next;
    struct evhttp_request *req; /* NULL once the client went away */
    struct conn *conn;          /* its connection's record, or NULL */
    enum pend_kind kind;
    void *handle; /* gw push/reload handle */
};

/* One client connection, from accept until evhttp frees it. */
struct conn {
    struct api *a;
    struct conn *prev, *next;
    struct bufferevent *bev;         /* own reference (see conn_gone) */
    struct evhttp_connection *evcon; /* NULL until hooked */
    struct event *timer;             /* owned: the hook, then the deadline */
    struct pending *pend;            /* its request waiting, or NULL */
};

/* A rate-limited log line about connections: how many since the last. */
struct conn_note {
    int64_t logged_ms;
    uint64_t count;
};

struct api {
    struct gw *g;
    struct evhttp *http; /* owned */
    int port;
    char *push_token;  /* owned secret or NULL */
    char *admin_token; /* owned secret or NULL */
    struct pending *pend;
    struct evconnlistener *lev; /* borrowed from http */
    struct event *resume;       /* owned: re-enables lev after a pause */
    int64_t accept_logged_ms;   /* last log line about accept; 0: none */
    uint64_t accept_failures;   /* since that line */
    struct api *reg_next;       /* in the list of live APIs */
    struct conn *conns;         /* every open connection */
    int nconns;
    int max_conns;
    struct timeval deadline; /* request_timeout */
    struct conn_note refused, cut;
};

/* The live APIs: evconnlistener's error callback gets evhttp's pointer
 * (evhttp owns the listener's callback argument), and finds its API here.
 * A mutex, since engines on different threads may each have one. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api *reg_head;

static void reg_add(struct api *a)
{
    pthread_mutex_lock(&reg_lock);
    a->reg_next = reg_head;
    reg_head = a;
    pthread_mutex_unlock(&reg_lock);
}

static void reg_remove(struct api *a)
{
    pthread_mutex_lock(&reg_lock);
    for (struct api **p = &reg_head; *p; p = &(*p)->reg_next) {
        if (*p == a) {
            *p = a->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct api *a = arg;
    evconnlistener_enable(a->lev);
}

/* accept() failed with something other than EAGAIN/EINTR (libevent
 * retries those itself). The listening socket stays readable, so without
 * this libevent would call accept() again at once, and log each failure,
 * for as long as the cause lasts. */
static void on_accept_error(struct evconnlistener *lev, void *http)
{
    int err = EVUTIL_SOCKET_ERROR();
    struct api *a = NULL;
    pthread_mutex_lock(&reg_lock);
    for (struct api *x = reg_head; x; x = x->reg_next) {
        if ((void *)x->http == http) {
            a = x;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (!a) {
        return;
    }
    evconnlistener_disable(lev);
    struct timeval tv = {.tv_sec = API_ACCEPT_PAUSE_MS / 1000,
                         .tv_usec = (API_ACCEPT_PAUSE_MS % 1000) * 1000};
    evtimer_add(a->resume, &tv);
    a->accept_failures++;
    int64_t now = ig_mono_ms();
    if (!a->accept_logged_ms ||
        now - a->accept_logged_ms >= API_ACCEPT_LOG_MS) {
        ig_warn(API_COMP,
                "accept failed: %s (%llu times); not accepting "
                "connections for %d ms at a time",
                evutil_socket_error_to_string(err),
                (unsigned long long)a->accept_failures, API_ACCEPT_PAUSE_MS);
        a->accept_logged_ms = now;
        a->accept_failures = 0;
    }
}

/* Counts one event of a kind and says whether its log line is due (then
 * *count is how many since the last line). */
static bool note_due(struct conn_note *n, uint64_t *count)
{
    n->count++;
    int64_t now = ig_mono_ms();
    if (n->logged_ms && now - n->logged_ms < API_CONN_LOG_MS) {
        return false;
    }
    *count = n->count;
    n->count = 0;
    n->logged_ms = now;
    return true;
}

static void pend_cancel(struct pending *p);

/* Drops c's record: its timer and our reference on its bufferevent. */
static void conn_free(struct conn *c)
{
    struct api *a = c->a;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        a->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    a->nconns--;
    event_free(c->timer);
    bufferevent_decref(c->bev);
    ig_free(c);
}

/* True when evhttp has freed c's connection without a close callback
 * (or before c was hooked to it): bufferevent_free() clears the
 * callbacks, and our reference keeps the bufferevent there to look. */
static bool conn_gone(struct conn *c)
{
    void *arg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
    return arg == NULL;
}

/* evhttp frees the connection (client gone, deadline, cap, shutdown): a
 * request of it still waiting for the pipeline is cancelled, so no
 * answer is ever written to a freed request. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct conn *c = arg;
    if (c->pend) {
        pend_cancel(c->pend);
    }
    conn_free(c);
}

/* Ties c to evhttp's connection, whose callbacks carry it as argument
 * (evhttp's bufferevent callbacks all take the connection). */
static void conn_hook(struct conn *c)
{
    void *arg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
    c->evcon = arg;
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
}

static void conn_deadline(struct conn *c)
{
    evtimer_add(c->timer, &c->a->deadline);
}

/* First (at once, from on_new_conn): hook the record, and close the
 * connection when it is one too many; then: the request deadline. */
static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    struct api *a = c->a;
    uint64_t n = 0;
    if (conn_gone(c)) {
        conn_free(c);
        return;
    }
    if (!c->evcon) {
        conn_hook(c);
        if (a->nconns <= a->max_conns) {
            conn_deadline(c);
            return;
        }
        gw_note_closed(a->g, "max_connections");
        if (note_due(&a->refused, &n)) {
            ig_warn(API_COMP,
                    "%d connections open (max_connections): closing new "
                    "ones at once (%llu so far)",
                    a->max_conns, (unsigned long long)n);
        }
        evhttp_connection_free(c->evcon); /* on_conn_close frees c */
        return;
    }
    gw_note_closed(a->g, "request_timeout");
    if (note_due(&a->cut, &n)) {
        ig_warn(API_COMP,
                "closed a connection whose request was not complete within "
                "%lld ms (request_timeout; %llu so far)",
                (long long)a->deadline.tv_sec * 1000 +
                    a->deadline.tv_usec / 1000,
                (unsigned long long)n);
    }
    evhttp_connection_free(c->evcon); /* on_conn_close frees c */
}

/* evhttp's bevcb: a connection was accepted. evhttp sets it up once this
 * returns, so the record is hooked from an event made active now, which
 * runs before anything is read from the client. */
static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
    struct api *a = arg;
    /* No BEV_OPT_CLOSE_ON_FREE, as evhttp makes its own: evhttp closes
     * the socket when it frees the connection, whatever our reference. */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    if (!bev) {
        return NULL;
    }
    struct conn *c = ig_calloc(1, sizeof(*c));
    c->timer = evtimer_new(base, on_conn_timer, c);
    if (!c->timer) {
        ig_free(c);
        return bev;
    }
    c->a = a;
    c->bev = bev;
    bufferevent_incref(bev);
    c->next = a->conns;
    if (a->conns) {
        a->conns->prev = c;
    }
    a->conns = c;
    a->nconns++;
    event_active(c->timer, EV_TIMEOUT, 1);
    return bev;
}

/* The record of evcon, or NULL (not made: out of memory). */
static struct conn *conn_of(struct api *a, struct evhttp_connection *evcon)
{
    if (!evcon) {
        return NULL;
    }
    for (struct conn *c = a->conns; c; c = c->next) {
        if (c->evcon == evcon) {
            return c;
        }
    }
    /* Not hooked yet (its event has not run): hook it now. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    for (struct conn *c = a->conns; c; c = c->next) {
        if (!c->evcon && c->bev == bev) {
            event_del(c->timer);
            conn_hook(c);
            return c;
        }
    }
    return NULL;
}

/* Answers req. The request deadline starts again: for the answer to be
 * read and, on a kept-alive connection, the next request to arrive. */
static void reply(struct api *a, struct evhttp_request *req, int code,
                  const char *ctype, const char *body, size_t len)
{
    struct conn *c = conn_of(a, evhttp_request_get_connection(req));
    if (c) {
        conn_deadline(c);
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, len);
    const char *reason = code == 200   ? "OK"
                         : code == 202 ? "Accepted"
                         : code == 400 ? "Bad Request"
                         : code == 401 ? "Unauthorized"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                         : code == 413 ? "Payload Too Large"
                         : code == 422 ? "Unprocessable Entity"
                                       : "Service Unavailable";
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static void reply_json_error(struct api *a, struct evhttp_request *req,
                             int code, const char *msg)
{
    struct ig_buf out;
    ig_buf_init(&out, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &out);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "error", msg);
    ig_jsonw_obj_close(&w);
    ig_buf_addc(&out, '\n');
    if (code == 401) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Bearer");
    }
    reply(a, req, code, "application/json", out.data, out.len);
    ig_buf_fini(&out);
}

/* Constant-time comparison, so the token cannot be guessed byte by byte
 * from response times. */
static bool token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) {
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    }
    return diff == 0 && lb > 0;
}

static bool authorised(struct evhttp_request *req, const char *token)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        return false;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    return token_eq(h, token);
}

/* The body as one contiguous NUL-terminated string (ig_free), length in
 * *len. The size cap is evhttp's (413 before we see it). */
static char *body_of(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *s = ig_malloc(n + 1);
    evbuffer_copyout(in, s, n);
    s[n] = '\0';
    *len = n;
    return s;
}

/* Removes p from the list and frees it; returns its request (or NULL
 * when the client went away), now safe to answer. */
static struct evhttp_request *pend_unlink(struct pending *p)
{
    struct evhttp_request *req = p->req;
    struct api *a = p->a;
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        a->pend = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
    if (p->conn) {
        p->conn->pend = NULL;
    } else if (req) {
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        if (c) {
            evhttp_connection_set_closecb(c, NULL, NULL);
        }
    }
    ig_free(p);
    return req;
}

/* The client went away: the wait is cancelled and p freed. */
static void pend_cancel(struct pending *p)
{
    if (p->kind == PEND_PUSH) {
        gw_push_cancel(p->a->g, p->handle);
    } else {
        gw_reload_cancel(p->a->g, p->handle);
    }
    p->req = NULL;
    pend_unlink(p);
}

/* The close callback of a connection without a record (see pend_new). */
static void on_pend_close(struct evhttp_connection *c, void *arg)
{
    (void)c;
    pend_cancel(arg);
}

static struct pending *pend_new(struct api *a, struct evhttp_request *req,
                                enum pend_kind kind)
{
    struct pending *p = ig_calloc(1, sizeof(*p));
    p->a = a;
    p->req = req;
    p->kind = kind;
    p->next = a->pend;
    if (a->pend) {
        a->pend->prev = p;
    }
    a->pend = p;
    /* The connection's close callback cancels the wait: its record's,
     * or, for a connection without one, a callback of the wait's own. */
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    p->conn = conn_of(a, c);
    if (p->conn) {
        p->conn->pend = p;
    } else if (c) {
        evhttp_connection_set_closecb(c, on_pend_close, p);
    }
    return p;
}

static void on_push_done(void *ud, int http, const struct ig_buf *body)
{
    struct pending *p = ud;
    struct api *a = p->a;
    gw_note_request(a->g, "/v1/items", http);
    struct evhttp_request *req = pend_unlink(p);
    if (req) {
        reply(a, req, http, "application/json", body->data, body->len);
    }
}

static void on_reload_done(void *ud, bool ok, const struct ig_buf *body)
{
    struct pending *p = ud;
    struct api *a = p->a;
    gw_note_request(a->g, "/v1/reload", ok ? 200 : 422);
    struct evhttp_request *req = pend_unlink(p);
    if (req) {
        reply(a, req, ok ? 200 : 422, "application/json", body->data,
              body->len);
    }
}

/* The handlers return the status they answered with, or 0 when the
 * answer comes later (and is counted then). */
static int handle_push(struct api *a, struct evhttp_request *req)
{
    if (!a->push_token) {
        reply_json_error(a, req, 404, "not found");
        return 404;
    }
    if (!authorised(req, a->push_token)) {
        reply_json_error(a, req, 401, "a valid bearer token is required");
        return 401;
    }
    size_t len = 0;
    char *body = body_of(req, &len);
    struct pending *p = pend_new(a, req, PEND_PUSH);
    const char *why = NULL;
    int rc = gw_push(a->g, body, len, on_push_done, p, &p->handle, &why);
    ig_free(body);
    if (rc < 0) {
        int code = rc == IG_E2BIG ? 413 : rc == IG_EAGAIN ? 503 : 400;
        pend_unlink(p);
        reply_json_error(a, req, code, why ? why : ig_strerror(rc));
        return code;
    }
    return 0;
}

static int handle_reload(struct api *a, struct evhttp_request *req)
{
    if (!a->admin_token) {
        reply_json_error(a, req, 404, "not found");
        return 404;
    }
    if (!authorised(req, a->admin_token)) {
        reply_json_error(a, req, 401, "a valid bearer token is required");
        return 401;
    }
    struct pending *p = pend_new(a, req, PEND_RELOAD);
    gw_reload_request(a->g, on_reload_done, p, &p->handle);
    return 0;
}

/* The endpoints and, for the Allow header of a 405, their methods. */
static const struct {
    const char *path;
    const char *allow;
} api_paths[] = {
    {"/healthz", "GET, HEAD"},    {"/metrics", "GET, HEAD"},
    {"/v1/sources", "GET, HEAD"}, {"/v1/items", "POST"},
    {"/v1/reload", "POST"},       {NULL, NULL},
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct api *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    /* The request is complete: no deadline while it is answered (a push
     * may wait for the pipeline); reply() starts the next one. */
    struct conn *c = conn_of(a, evhttp_request_get_connection(req));
    if (c) {
        event_del(c->timer);
    }
    /* Match on the path only; a query string changes nothing here. */
    size_t plen = strcspn(uri, "?#");
    char path[64] = "";
    if (plen < sizeof(path)) {
        memcpy(path, uri, plen);
        path[plen] = '\0';
    }
    /* Metrics label: a known endpoint, or "other" (bounded cardinality). */
    const char *known = "other";
    const char *allow = NULL;
    for (size_t i = 0; api_paths[i].path; i++) {
        if (strcmp(path, api_paths[i].path) == 0) {
            known = api_paths[i].path;
            allow = api_paths[i].allow;
        }
    }
    bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
    bool post = cmd == EVHTTP_REQ_POST;
    struct ig_buf out;
    ig_buf_init(&out, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &out);
    int code = 0;

    if (strcmp(known, "/healthz") == 0 && get) {
        bool ok = gw_health_json(a->g, &w);
        ig_buf_addc(&out, '\n');
        code = ok ? 200 : 503;
        reply(a, req, code, "application/json", out.data, out.len);
    } else if (strcmp(known, "/metrics") == 0 && get) {
        gw_note_request(a->g, known, 200);
        gw_metrics_text(a->g, &out);
        reply(a, req, 200, "text/plain; version=0.0.4; charset=utf-8",
              out.data ? out.data : "", out.len);
    } else if (strcmp(known, "/v1/sources") == 0 && get) {
        gw_sources_json(a->g, &w);
        ig_buf_addc(&out, '\n');
        code = 200;
        reply(a, req, code, "application/json", out.data, out.len);
    } else if (strcmp(known, "/v1/items") == 0 && post) {
        code = handle_push(a, req);
    } else if (strcmp(known, "/v1/reload") == 0 && post) {
        code = handle_reload(a, req);
    } else if (allow) {
        /* RFC 9110 15.5.6: a 405 lists the methods the resource has. */
        code = 405;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          allow);
        reply_json_error(a, req, code, "method not allowed");
    } else {
        code = 404;
        reply_json_error(a, req, code, "not found");
    }
    if (code) {
        gw_note_request(a->g, known, code);
    }
    ig_buf_fini(&out);
}

/* Splits "host:port" or "[v6]:port". Returns IG_OK or IG_EINVAL. */
static int split_listen(const char *s, char *host, size_t hn, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon) {
        return IG_EINVAL;
    }
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hn) {
        return IG_EINVAL;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535) {
        return IG_EINVAL;
    }
    *port = (int)p;
    return IG_OK;
}

int api_new(struct event_base *base, struct gw *g, const struct api_opts *o,
            struct api **out)
{
    *out = NULL;
    char host[256];
    int port = 0;
    if (split_listen(o->listen, host, sizeof(host), &port) < 0) {
        ig_error(API_COMP, "listen: '%s' is not host:port", o->listen);
        return IG_EINVAL;
    }
    struct api *a = ig_calloc(1, sizeof(*a));
    a->g = g;
    a->max_conns =
        o->max_connections > 0 ? o->max_connections : API_MAX_CONNECTIONS;
    int64_t ms = o->request_timeout_ms > 0 ? o->request_timeout_ms
                                           : API_REQUEST_TIMEOUT_MS;
    a->deadline.tv_sec = (time_t)(ms / 1000);
    a->deadline.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    a->push_token = o->push_token ? ig_strdup(o->push_token) : NULL;
    a->admin_token = o->admin_token ? ig_strdup(o->admin_token) : NULL;
    a->http = evhttp_new(base);
    if (!a->http) {
        api_free(a);
        return IG_EIO;
    }
    /* Every method evhttp parses reaches on_request, which answers 405
     * with Allow (or 404); evhttp itself would answer 501, which says the
     * server does not know the method at all. */
    evhttp_set_allowed_methods(
        a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    if (o->max_body) {
        evhttp_set_max_body_size(a->http, (ev_ssize_t)o->max_body);
    }
    /* Headers are small; 16 KiB refuses header floods early. */
    evhttp_set_max_headers_size(a->http, 16 * 1024);
    /* Between reads or writes (the whole request: request_timeout). */
    evhttp_set_timeout(a->http, 30);
    evhttp_set_bevcb(a->http, on_new_conn, a);
    evhttp_set_gencb(a->http, on_request, a);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
    if (!bs) {
        ig_error(API_COMP, "cannot listen on %s", o->listen);
        api_free(a);
        return IG_EIO;
    }
    a->lev = evhttp_bound_socket_get_listener(bs);
    a->resume = evtimer_new(base, on_accept_resume, a);
    reg_add(a);
    evconnlistener_set_error_cb(a->lev, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            a->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    ig_info(API_COMP,
            "listening on %s:%d (push %s, reload %s; at most %d connections, "
            "%lld ms per request)",
            host, a->port, a->push_token ? "on" : "off",
            a->admin_token ? "on" : "off", a->max_conns, (long long)ms);
    *out = a;
    return IG_OK;
}

int api_port(const struct api *a)
{
    return a->port;
}

void api_free(struct api *a)
{
    if (!a) {
        return;
    }
    while (a->pend) {
        struct pending *p = a->pend;
        if (p->kind == PEND_PUSH) {
            gw_push_cancel(a->g, p->handle);
        } else {
            gw_reload_cancel(a->g, p->handle);
        }
        struct evhttp_request *req = pend_unlink(p);
        if (req) {
            reply_json_error(a, req, 503, "shutting down");
        }
    }
    reg_remove(a);
    if (a->resume) {
        event_free(a->resume);
    }
    if (a->http) {
        /* Frees every connection: their close callbacks drop the records. */
        evhttp_free(a->http);
    }
    while (a->conns) {
        conn_free(a->conns);
    }
    ig_free(a->push_token);
    ig_free(a->admin_token);
    ig_free(a);
}
