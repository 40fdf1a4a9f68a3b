/* rconn.c — a managed hiredis async connection (see rconn.h).
 *
 * The handshake (AUTH, SELECT, SCRIPT LOAD..., PING) is queued right after
 * redisAsyncConnect(), so hiredis writes it before any caller command that
 * is issued while the connection is still being set up: callers never wait
 * for "ready" and never see a command overtake AUTH. If a handshake step
 * fails, the context is freed: the caller commands queued behind it come
 * back with IG_EAGAIN (not their NOAUTH errors), and a reconnect is
 * scheduled with backoff.
 *
 * hiredis 0.14 has no async timeouts, hence the watchdog: the connection is
 * dropped when commands are pending and none was answered for timeout_ms.
 * It also bounds a connect that hangs (the handshake is pending).
 *
 * Ownership rule for the context: rc->ac is cleared *before* the context
 * is freed, so a callback running during the free sees "no connection" and
 * gets IG_EAGAIN from rconn_cmd() instead of queuing on a dying context.
 */
#include "gateway/rconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "gateway/dedup.h"

#define RCONN_BACKOFF_MAX_MS 30000
/* Room reserved in hiredis's output buffer when a command does not fit:
 * sds doubles the request, so 32 KiB gives a 64 KiB buffer, below glibc's
 * mmap threshold (a mapping per loop turn would cost more than it saves). */
#define RCONN_OBUF_ROOM (32 * 1024)

enum pend_kind { PEND_USER, PEND_SCRIPT, PEND_HANDSHAKE, PEND_LOAD };

struct pend {
    struct rconn *rc;
    enum pend_kind kind;
    size_t script; /* PEND_SCRIPT, PEND_LOAD */
    rconn_cb cb;
    void *ud;
};

struct rconn {
    struct event_base *base;
    char *host;     /* owned */
    char *sock;     /* owned, or NULL */
    char *user;     /* owned, or NULL */
    char *password; /* owned secret, or NULL */
    int port;
    int db;
    int64_t timeout_ms;
    int64_t retry_ms;
    int64_t backoff_ms;         /* next reconnect delay */
    char *comp;                 /* owned log prefix */
    char *target;               /* owned: "unix:/path" or "host:port" */
    const char *const *scripts; /* borrowed */
    size_t nscripts;
    char (*sha)[41];       /* owned; "" until SCRIPT LOAD answered */
    redisAsyncContext *ac; /* NULL when disconnected */
    bool up;
    bool was_up; /* state for logging on change only */
    bool failing_logged;
    bool freeing;
    size_t pending;
    int64_t progress_ms; /* last reply, or when pending left 0 */
    uint64_t connects;
    struct event *retry_ev;
    struct event *watch_ev;
    struct ig_buf fmt;  /* the command being sent */
    struct ig_pool pends; /* finished pends, reused (a few per item) */
};

#define RCONN_SPARE_MAX 4096

/* A zeroed pend for rc. */
static struct pend *pend_get(struct rconn *rc)
{
    return ig_pool_get(&rc->pends);
}

static void pend_put(struct rconn *rc, struct pend *p)
{
    ig_pool_put(&rc->pends, p);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule_retry(struct rconn *rc)
{
    struct timeval tv;

    if (rc->freeing) {
        return;
    }
    tv.tv_sec = rc->backoff_ms / 1000;
    tv.tv_usec = (rc->backoff_ms % 1000) * 1000;
    evtimer_add(rc->retry_ev, &tv);
    rc->backoff_ms *= 2;
    if (rc->backoff_ms > RCONN_BACKOFF_MAX_MS) {
        rc->backoff_ms = RCONN_BACKOFF_MAX_MS;
    }
}

/* Logs the first failure after being up (or at start), then stays quiet
 * until the connection is back: a down Redis must not flood the log. */
static void note_down(struct rconn *rc, const char *why)
{
    if (!rc->failing_logged) {
        ig_warn(rc->comp, "redis %s unreachable: %s; retrying", rc->target,
                why);
        rc->failing_logged = true;
    } else {
        ig_debug(rc->comp, "redis still unreachable: %s", why);
    }
}

/* Detaches and frees the context; pending callbacks get IG_EAGAIN (now, or
 * right after the current hiredis callback returns). */
static void drop(struct rconn *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;

    if (!ac) {
        return;
    }
    rc->ac = NULL;
    rc->up = false;
    note_down(rc, why);
    schedule_retry(rc);
    redisAsyncFree(ac);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct pend *p = priv;
    struct rconn *rc = p->rc;
    redisReply *rep = r;
    int st = IG_OK;

    (void)ac;
    rc->pending--;
    rc->progress_ms = mono_ms();
    if (!rep) {
        st = IG_EAGAIN;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        st = IG_EIO;
    }
    switch (p->kind) {
    case PEND_HANDSHAKE:
        if (st == IG_EIO) {
            /* AUTH/SELECT refused: say why (Redis's text never holds the
             * password), then start over later. */
            char why[200];

            snprintf(why, sizeof(why), "handshake refused: %.150s", rep->str);
            rc->failing_logged = false;
            drop(rc, why);
        }
        break;
    case PEND_LOAD:
        if (st == IG_OK && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
            memcpy(rc->sha[p->script], rep->str, 40);
            rc->sha[p->script][40] = '\0';
        } else if (st == IG_EIO) {
            ig_error(rc->comp, "SCRIPT LOAD failed: %.200s", rep->str);
        }
        break;
    case PEND_SCRIPT:
        if (st == IG_EIO && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            /* Someone flushed the script cache: load again, retry. */
            rc->sha[p->script][0] = '\0';
            st = IG_EAGAIN;
            if (rc->ac) {
                struct pend *l = pend_get(rc);

                l->rc = rc;
                l->kind = PEND_LOAD;
                l->script = p->script;
                if (redisAsyncCommand(rc->ac, on_reply, l, "SCRIPT LOAD %s",
                                      rc->scripts[p->script]) == REDIS_OK) {
                    rc->pending++;
                } else {
                    pend_put(rc, l);
                }
            }
        }
        /* fall through */
    case PEND_USER:
        p->cb(p->ud, st, st == IG_EAGAIN ? NULL : rep);
        break;
    }
    pend_put(rc, p);
}

static void on_ping(redisAsyncContext *ac, void *r, void *priv)
{
    struct pend *p = priv;
    struct rconn *rc = p->rc;
    redisReply *rep = r;

    if (rep && rep->type != REDIS_REPLY_ERROR && rc->ac == ac) {
        rc->up = true;
        rc->connects++;
        rc->backoff_ms = rc->retry_ms;
        if (!rc->was_up || rc->failing_logged) {
            ig_info(rc->comp, "redis connected (%s, db %d)",
                    rc->sock ? "unix socket" : "tcp", rc->db);
        }
        rc->was_up = true;
        rc->failing_logged = false;
    }
    on_reply(ac, r, priv);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;

    if (status != REDIS_OK && rc->ac == ac) {
        /* hiredis frees the context itself after this callback. */
        rc->ac = NULL;
        rc->up = false;
        note_down(rc, ac->errstr);
        schedule_retry(rc);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;

    (void)status;
    if (rc->ac == ac) {
        rc->ac = NULL;
        rc->up = false;
        rc->failing_logged = false;
        note_down(rc, ac->err ? ac->errstr : "connection closed");
        schedule_retry(rc);
    }
}

/* Writes the decimal digits of v at p; returns the end. */
static char *put_u(char *p, size_t v)
{
    char d[24];
    size_t k = sizeof(d);

    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, d + k, sizeof(d) - k);
    return p + (sizeof(d) - k);
}

/* The command in the Redis protocol, into b (sized once, then written
 * directly): hiredis's own formatter (sdscatfmt per argument) was a
 * visible share of the loop thread's time per item. */
static void format_cmd(struct ig_buf *b, int argc, const char **argv,
                       const size_t *len)
{
    size_t need = 16, i;
    char *p;

    for (i = 0; i < (size_t)argc; i++) {
        need += len[i] + 24;
    }
    b->len = 0;
    ig_buf_reserve(b, need);
    p = b->data;
    *p++ = '*';
    p = put_u(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (i = 0; i < (size_t)argc; i++) {
        *p++ = '$';
        p = put_u(p, len[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], len[i]);
        p += len[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    b->len = (size_t)(p - b->data);
    *p = '\0';
}

static int send_pend(struct rconn *rc, struct pend *p, redisCallbackFn *fn,
                     int argc, const char **argv, const size_t *len)
{
    format_cmd(&rc->fmt, argc, argv, len);
    /* hiredis starts its output buffer from empty after every complete
     * write and grows it by doubling as commands are appended: a burst of
     * pipelined commands then reallocates (and copies) it a dozen times.
     * One room reservation per burst instead. */
    if (sdsavail(rc->ac->c.obuf) < rc->fmt.len) {
        sds o = sdsMakeRoomFor(rc->ac->c.obuf, rc->fmt.len > RCONN_OBUF_ROOM
                                                   ? rc->fmt.len
                                                   : RCONN_OBUF_ROOM);
        if (o) {
            rc->ac->c.obuf = o;
        }
    }
    if (redisAsyncFormattedCommand(rc->ac, fn, p, rc->fmt.data, rc->fmt.len) !=
        REDIS_OK) {
        pend_put(rc, p);
        return IG_EAGAIN;
    }
    if (rc->pending++ == 0) {
        rc->progress_ms = mono_ms();
    }
    return IG_OK;
}

static void handshake(struct rconn *rc)
{
    const char *argv[3];
    size_t len[3];
    char db[24];
    size_t i;
    struct pend *p;

    if (rc->password) {
        int n = 0;

        argv[n] = "AUTH";
        len[n++] = 4;
        if (rc->user) {
            argv[n] = rc->user;
            len[n++] = strlen(rc->user);
        }
        argv[n] = rc->password;
        len[n++] = strlen(rc->password);
        p = pend_get(rc);
        p->rc = rc;
        p->kind = PEND_HANDSHAKE;
        send_pend(rc, p, on_reply, n, argv, len);
        /* hiredis has its copy; ours held the password. */
        memset(rc->fmt.data, 0, rc->fmt.len);
    }
    if (rc->db) {
        snprintf(db, sizeof(db), "%d", rc->db);
        argv[0] = "SELECT";
        len[0] = 6;
        argv[1] = db;
        len[1] = strlen(db);
        p = pend_get(rc);
        p->rc = rc;
        p->kind = PEND_HANDSHAKE;
        send_pend(rc, p, on_reply, 2, argv, len);
    }
    for (i = 0; i < rc->nscripts; i++) {
        argv[0] = "SCRIPT";
        len[0] = 6;
        argv[1] = "LOAD";
        len[1] = 4;
        argv[2] = rc->scripts[i];
        len[2] = strlen(rc->scripts[i]);
        p = pend_get(rc);
        p->rc = rc;
        p->kind = PEND_LOAD;
        p->script = i;
        send_pend(rc, p, on_reply, 3, argv, len);
    }
    argv[0] = "PING";
    len[0] = 4;
    p = pend_get(rc);
    p->rc = rc;
    p->kind = PEND_HANDSHAKE;
    send_pend(rc, p, on_ping, 1, argv, len);
}

/* Reply objects in one allocation each (hiredis's own take two: the
 * object and its string, or its element vector): a few replies per item
 * made their malloc/free pairs a visible share of the loop's time. The
 * layout is hiredis's redisReply, so callers read replies as before;
 * hiredis frees them through the same table (reader->fn->freeObject). */
static void reply_attach(const redisReadTask *task, redisReply *r)
{
    if (task->parent) {
        redisReply *parent = task->parent->obj;

        parent->element[task->idx] = r;
    }
}

static redisReply *reply_alloc(const redisReadTask *task, size_t extra)
{
    redisReply *r = malloc(sizeof(*r) + extra);

    if (r) {
        memset(r, 0, sizeof(*r));
        r->type = task->type;
    }
    return r;
}

static void *reply_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = reply_alloc(task, len + 1);

    if (!r) {
        return NULL;
    }
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    reply_attach(task, r);
    return r;
}

static void *reply_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = reply_alloc(task, n * sizeof(redisReply *));

    if (!r) {
        return NULL;
    }
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    if (n) {
        r->element = (redisReply **)(void *)(r + 1);
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    reply_attach(task, r);
    return r;
}

static void *reply_integer(const redisReadTask *task, long long value)
{
    redisReply *r = reply_alloc(task, 0);

    if (!r) {
        return NULL;
    }
    r->type = REDIS_REPLY_INTEGER;
    r->integer = value;
    reply_attach(task, r);
    return r;
}

/* Nils carry nothing: one shared object, never freed (an MGET of keys
 * that mostly do not exist yet is mostly nils). Replies are read-only. */
static redisReply reply_nil_obj = {.type = REDIS_REPLY_NIL};

static void *reply_nil(const redisReadTask *task)
{
    reply_attach(task, &reply_nil_obj);
    return &reply_nil_obj;
}

static void reply_free(void *p)
{
    redisReply *r = p;

    if (!r || r == &reply_nil_obj) {
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t j = 0; j < r->elements; j++) {
            reply_free(r->element[j]);
        }
    }
    free(r);
}

static redisReplyObjectFunctions reply_fns = {
    reply_string, reply_array, reply_integer, reply_nil, reply_free,
};

static void do_connect(struct rconn *rc)
{
    redisAsyncContext *ac;

    if (rc->freeing || rc->ac) {
        return;
    }
    ac = rc->sock ? redisAsyncConnectUnix(rc->sock)
                  : redisAsyncConnect(rc->host, rc->port);
    if (!ac) {
        note_down(rc, "out of memory");
        schedule_retry(rc);
        return;
    }
    if (ac->err) {
        note_down(rc, ac->errstr);
        redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    ac->data = rc;
    ac->c.reader->fn = &reply_fns;
    if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    rc->ac = ac;
    handshake(rc);
}

static void on_retry(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    do_connect(ud);
}

static void on_watch(evutil_socket_t fd, short what, void *ud)
{
    struct rconn *rc = ud;

    (void)fd;
    (void)what;
    if (rc->ac && rc->pending > 0 &&
        mono_ms() - rc->progress_ms > rc->timeout_ms) {
        drop(rc, "no answer within the timeout");
    }
}

struct rconn *rconn_new(struct event_base *base, const struct redis_cfg *cfg,
                        const char *comp, const char *const *scripts)
{
    struct rconn *rc;
    struct timeval tv;
    int64_t tick;

    if (!base || !cfg || cfg->port < 0 || cfg->port > 65535 || cfg->db < 0 ||
        cfg->db > 1000000) {
        return NULL;
    }
    rc = ig_calloc(1, sizeof(*rc));
    ig_pool_init(&rc->pends, sizeof(struct pend), RCONN_SPARE_MAX);
    ig_buf_init(&rc->fmt, 0);
    rc->base = base;
    rc->host = ig_strdup(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
    rc->sock = cfg->socket && *cfg->socket ? ig_strdup(cfg->socket) : NULL;
    rc->user = cfg->user && *cfg->user ? ig_strdup(cfg->user) : NULL;
    rc->password = cfg->password ? ig_strdup(cfg->password) : NULL;
    rc->port = cfg->port ? (int)cfg->port : 6379;
    rc->db = (int)cfg->db;
    rc->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    rc->retry_ms = cfg->retry_ms > 0 ? cfg->retry_ms : 250;
    rc->backoff_ms = rc->retry_ms;
    rc->comp = ig_strdup(comp ? comp : "redis");
    rc->target = rc->sock ? ig_asprintf("unix:%s", rc->sock)
                          : ig_asprintf("%s:%d", rc->host, rc->port);
    rc->scripts = scripts;
    while (scripts && scripts[rc->nscripts]) {
        rc->nscripts++;
    }
    rc->sha = ig_calloc(rc->nscripts + 1, sizeof(*rc->sha));
    rc->retry_ev = evtimer_new(base, on_retry, rc);
    rc->watch_ev = event_new(base, -1, EV_PERSIST, on_watch, rc);
    /* Check four times per timeout, at most every 50 ms. */
    tick = rc->timeout_ms / 4 > 50 ? rc->timeout_ms / 4 : 50;
    tv.tv_sec = tick / 1000;
    tv.tv_usec = (tick % 1000) * 1000;
    event_add(rc->watch_ev, &tv);
    do_connect(rc);
    return rc;
}

void rconn_free(struct rconn *rc)
{
    if (!rc) {
        return;
    }
    rc->freeing = true;
    if (rc->ac) {
        redisAsyncContext *ac = rc->ac;

        rc->ac = NULL;
        rc->up = false;
        redisAsyncFree(ac);
    }
    event_free(rc->retry_ev);
    event_free(rc->watch_ev);
    if (rc->password) {
        memset(rc->password, 0, strlen(rc->password));
    }
    ig_free(rc->host);
    ig_free(rc->sock);
    ig_free(rc->user);
    ig_free(rc->password);
    ig_free(rc->comp);
    ig_free(rc->target);
    ig_free(rc->sha);
    ig_buf_fini(&rc->fmt);
    ig_pool_fini(&rc->pends);
    ig_free(rc);
}

int rconn_cmd(struct rconn *rc, rconn_cb cb, void *ud, int argc,
              const char **argv, const size_t *argvlen)
{
    struct pend *p;

    if (!rc->ac || rc->freeing) {
        return IG_EAGAIN;
    }
    p = pend_get(rc);
    p->rc = rc;
    p->kind = PEND_USER;
    p->cb = cb;
    p->ud = ud;
    return send_pend(rc, p, on_reply, argc, argv, argvlen);
}

int rconn_script(struct rconn *rc, size_t idx, rconn_cb cb, void *ud, int nkeys,
                 int argc, const char **argv, const size_t *argvlen)
{
    const char **av;
    size_t *al;
    char nk[16];
    struct pend *p;
    int i, rv;

    if (!rc->ac || rc->freeing) {
        return IG_EAGAIN;
    }
    if (idx >= rc->nscripts || argc < 0) {
        return IG_EINVAL;
    }
    av = ig_malloc((size_t)(argc + 3) * sizeof(*av));
    al = ig_malloc((size_t)(argc + 3) * sizeof(*al));
    /* EVALSHA once the script is known to be loaded; EVAL until then (the
     * very first commands of a connection). */
    if (rc->sha[idx][0]) {
        av[0] = "EVALSHA";
        al[0] = 7;
        av[1] = rc->sha[idx];
        al[1] = 40;
    } else {
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = rc->scripts[idx];
        al[1] = strlen(rc->scripts[idx]);
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[2] = nk;
    al[2] = strlen(nk);
    for (i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    p = pend_get(rc);
    p->rc = rc;
    p->kind = PEND_SCRIPT;
    p->script = idx;
    p->cb = cb;
    p->ud = ud;
    rv = send_pend(rc, p, on_reply, argc + 3, av, al);
    ig_free(av);
    ig_free(al);
    return rv;
}

bool rconn_up(const struct rconn *rc)
{
    return rc && rc->up;
}

bool rconn_accepting(const struct rconn *rc)
{
    return rc && rc->ac && !rc->freeing;
}

size_t rconn_pending(const struct rconn *rc)
{
    return rc->pending;
}

uint64_t rconn_connects(const struct rconn *rc)
{
    return rc->connects;
}
