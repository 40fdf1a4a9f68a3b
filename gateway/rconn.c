/* rconn.c — a managed, pipelined Redis connection on the loop (see
 * rconn.h).
 *
 * The socket is ours; hiredis parses the replies (its redisReader, with
 * reply objects made in one allocation each, below). hiredis's async layer
 * was the first version: per command it allocated a callback node, parsed
 * the formatted command again (for SUBSCRIBE), copied it into its output
 * buffer (which it grew by reallocation and shifted with memmove after
 * every partial write) and re-armed the write event — a visible share of
 * the loop thread's time at a few commands per item. Here a command is
 * formatted once, straight into the output buffer; its completion goes in
 * a ring of pending commands (replies come back in order); the buffer is
 * written when the loop finds the socket writable, right after a batch of
 * replies was handled, and whenever more than RCONN_WRITE_EARLY bytes wait
 * (so Redis works on the first commands of a burst while the loop is still
 * making the rest), and compacted only when more than half of it has been
 * sent.
 *
 * The handshake (AUTH, SELECT, SCRIPT LOAD..., PING) is queued first on
 * every new connection, before any caller command that is issued while the
 * connection is still being set up: callers never wait for "ready" and
 * never see a command overtake AUTH. If a handshake step fails, the
 * connection is dropped: the caller commands queued behind it come back
 * with IG_EAGAIN (not their NOAUTH errors), and a reconnect is scheduled
 * with backoff.
 *
 * A watchdog drops the connection when commands are pending and none was
 * answered for timeout_ms; it also bounds a connect that hangs (the
 * handshake is pending).
 *
 * Dropping: the socket is closed and rc->fd set to -1 *before* the pending
 * commands are failed, so a callback that sends again gets IG_EAGAIN from
 * rconn_cmd() instead of queuing on a dead connection. A drop decided while
 * replies are being dispatched (a refused handshake) fails the rest after
 * the dispatch loop, never from inside the callback that caused it.
 */
#include "gateway/rconn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "gateway/dedup.h"

#define RCONN_BACKOFF_MAX_MS 30000
/* Bytes read from the socket per read(): replies to a burst of pipelined
 * commands come back in a few reads, not dozens. */
#define RCONN_READ_CHUNK (64 * 1024)
/* Output queued past this much is written at once, not at the end of the
 * loop turn. */
#define RCONN_WRITE_EARLY (32 * 1024)

enum pend_kind { PEND_USER, PEND_SCRIPT, PEND_HANDSHAKE, PEND_PING, PEND_LOAD };

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
    char (*sha)[41]; /* owned; "" until SCRIPT LOAD answered */
    /* The connection: fd -1 when there is none. */
    int fd;
    bool connecting; /* non-blocking connect not finished */
    bool wr_armed;   /* wr_ev is pending */
    struct event *rd_ev, *wr_ev;
    redisReader *reader;
    struct ig_buf out; /* formatted commands; out_off bytes already sent */
    size_t out_off;
    /* Commands sent and not answered, oldest first (a ring). */
    struct pend **ring;
    size_t rhead, rlen, rcap;
    bool dispatching; /* inside the reply loop */
    bool up;
    bool was_up; /* state for logging on change only */
    bool failing_logged;
    bool freeing;
    size_t pending;
    int64_t progress_ms; /* last read of answers, or when pending left 0 */
    uint64_t connects;
    struct event *retry_ev;
    struct event *watch_ev;
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

static void ring_push(struct rconn *rc, struct pend *p)
{
    if (rc->rlen == rc->rcap) {
        size_t ncap = rc->rcap ? rc->rcap * 2 : 256;
        struct pend **n = ig_malloc(ncap * sizeof(*n));

        for (size_t i = 0; i < rc->rlen; i++) {
            n[i] = rc->ring[(rc->rhead + i) % rc->rcap];
        }
        ig_free(rc->ring);
        rc->ring = n;
        rc->rcap = ncap;
        rc->rhead = 0;
    }
    rc->ring[(rc->rhead + rc->rlen) % rc->rcap] = p;
    rc->rlen++;
}

static struct pend *ring_pop(struct rconn *rc)
{
    struct pend *p;

    if (rc->rlen == 0) {
        return NULL;
    }
    p = rc->ring[rc->rhead];
    rc->rhead = (rc->rhead + 1) % rc->rcap;
    rc->rlen--;
    return p;
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

static void on_reply(struct pend *p, redisReply *rep);
static void load_script(struct rconn *rc, size_t idx);

/* Fails the commands of a closed connection (callbacks with IG_EAGAIN).
 * Nothing joins the ring meanwhile: with no connection, sends are refused
 * (and a new one is only made by the retry timer). */
static void fail_pending(struct rconn *rc)
{
    struct pend *p;

    while ((p = ring_pop(rc))) {
        on_reply(p, NULL);
    }
}

/* Closes the socket and its parser; the pending commands fail now, or
 * after the dispatch loop when inside it. */
static void close_conn(struct rconn *rc)
{
    if (rc->fd < 0) {
        return;
    }
    event_del(rc->rd_ev);
    event_del(rc->wr_ev);
    event_free(rc->rd_ev);
    event_free(rc->wr_ev);
    rc->rd_ev = rc->wr_ev = NULL;
    rc->wr_armed = false;
    close(rc->fd);
    rc->fd = -1;
    rc->connecting = false;
    rc->up = false;
    if (!rc->dispatching) {
        redisReaderFree(rc->reader);
        rc->reader = NULL;
    }
    /* Commands not sent yet (the handshake's AUTH among them) go. */
    if (rc->out.cap) {
        memset(rc->out.data, 0, rc->out.cap);
    }
    rc->out.len = 0;
    rc->out_off = 0;
    if (!rc->dispatching) {
        fail_pending(rc);
    }
}

/* Drops the connection (see the top of the file) and schedules a retry. */
static void drop(struct rconn *rc, const char *why)
{
    if (rc->fd < 0) {
        return;
    }
    note_down(rc, why);
    schedule_retry(rc);
    close_conn(rc);
}

/* Something to send: written when the loop finds the socket writable (so
 * the commands of one loop turn leave in one write). */
static void want_write(struct rconn *rc)
{
    if (!rc->wr_armed) {
        event_add(rc->wr_ev, NULL);
        rc->wr_armed = true;
    }
}

/* Writes what the socket takes now; arms the write event for the rest.
 * An error drops the connection only when may_drop is set; otherwise it is
 * left to the write event (whose callback then drops it), so a caller that
 * must not see completions from inside its own call (a send) can flush. */
static void flush_out(struct rconn *rc, bool may_drop)
{
    while (rc->out_off < rc->out.len) {
        ssize_t n = send(rc->fd, rc->out.data + rc->out_off,
                         rc->out.len - rc->out_off, MSG_NOSIGNAL);

        if (n > 0) {
            rc->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (!may_drop || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
            want_write(rc);
            /* Sent more than half: move the rest to the front, so the
             * buffer does not grow while the peer is slow. */
            if (rc->out_off > rc->out.len / 2) {
                memmove(rc->out.data, rc->out.data + rc->out_off,
                        rc->out.len - rc->out_off);
                rc->out.len -= rc->out_off;
                rc->out_off = 0;
            }
            return;
        }
        drop(rc, n < 0 ? strerror(errno) : "connection closed");
        return;
    }
    rc->out.len = 0;
    rc->out_off = 0;
    if (rc->wr_armed) {
        event_del(rc->wr_ev);
        rc->wr_armed = false;
    }
}

static void on_writable(evutil_socket_t fd, short what, void *ud)
{
    struct rconn *rc = ud;

    (void)fd;
    (void)what;
    if (rc->connecting) {
        int err = 0;
        socklen_t el = sizeof(err);

        if (getsockopt(rc->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) {
            err = errno;
        }
        if (err) {
            drop(rc, strerror(err));
            return;
        }
        rc->connecting = false;
    }
    flush_out(rc, true);
}

static void on_readable(evutil_socket_t fd, short what, void *ud)
{
    struct rconn *rc = ud;
    char buf[RCONN_READ_CHUNK];
    redisReader *reader = rc->reader;
    ssize_t n;

    (void)what;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        drop(rc, n < 0 ? strerror(errno) : "connection closed");
        return;
    }
    /* Answers arrived: progress, for the watchdog (once per read, not per
     * reply: a read carries hundreds). */
    rc->progress_ms = ig_mono_ms();
    if (redisReaderFeed(reader, buf, (size_t)n) != REDIS_OK) {
        drop(rc, "out of memory");
        return;
    }
    rc->dispatching = true;
    for (;;) {
        void *r = NULL;
        struct pend *p;

        if (redisReaderGetReply(reader, &r) != REDIS_OK) {
            char why[160];

            snprintf(why, sizeof(why), "protocol error: %.120s",
                     reader->errstr);
            drop(rc, why);
            break;
        }
        if (!r) {
            break;
        }
        p = ring_pop(rc);
        if (!p) {
            reader->fn->freeObject(r);
            drop(rc, "reply without a command");
            break;
        }
        on_reply(p, r);
        reader->fn->freeObject(r);
        if (rc->fd != (int)fd) {
            break; /* dropped by the callback's handling */
        }
    }
    /* What the replies made the callbacks send goes out now, not on the
     * next loop turn: Redis starts on it while the loop goes on. */
    if (rc->fd == (int)fd && !rc->connecting && rc->out.len > rc->out_off) {
        flush_out(rc, false);
    }
    rc->dispatching = false;
    if (rc->fd != (int)fd) {
        redisReaderFree(reader);
        rc->reader = NULL;
        fail_pending(rc);
    }
}

static void on_reply(struct pend *p, redisReply *rep)
{
    struct rconn *rc = p->rc;
    int st = IG_OK;

    rc->pending--;
    if (!rep) {
        st = IG_EAGAIN;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        st = IG_EIO;
    }
    switch (p->kind) {
    case PEND_PING:
        if (st == IG_OK) {
            rc->up = true;
            rc->connects++;
            rc->backoff_ms = rc->retry_ms;
            if (!rc->was_up || rc->failing_logged) {
                ig_info(rc->comp, "redis connected (%s, db %d)",
                        rc->sock ? "unix socket" : "tcp", rc->db);
            }
            rc->was_up = true;
            rc->failing_logged = false;
            break;
        }
        /* A refused PING (NOAUTH: the server wants a password we do not
         * send; LOADING: a restarted server still reading its data) is a
         * refused handshake: kept, the connection would never be up. */
        /* fall through */
    case PEND_HANDSHAKE:
        if (st == IG_EIO) {
            /* AUTH/SELECT/PING refused: say why (Redis's text never holds
             * the password), then start over later. */
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
            load_script(rc, p->script);
        }
        /* fall through */
    case PEND_USER:
        p->cb(p->ud, st, st == IG_EAGAIN ? NULL : rep);
        break;
    }
    pend_put(rc, p);
}

/* Appends the command in the Redis protocol to rc->out, formatted in
 * place (room reserved once for the whole command). */
/* Length of argument i: from len, or (len NULL) of a NUL-terminated one. */
static size_t arg_len(const char **argv, const size_t *len, size_t i)
{
    return len ? len[i] : strlen(argv[i]);
}

static void format_cmd(struct ig_buf *b, int argc, const char **argv,
                       const size_t *len)
{
    size_t need = 16, i;
    char *p;

    for (i = 0; i < (size_t)argc; i++) {
        need += arg_len(argv, len, i) + 24;
    }
    ig_buf_reserve(b, need); /* no cap on rc->out: cannot fail */
    p = b->data + b->len;
    *p++ = '*';
    p = ig_fmt_u64(p, (uint64_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (i = 0; i < (size_t)argc; i++) {
        size_t n = arg_len(argv, len, i);

        *p++ = '$';
        p = ig_fmt_u64(p, n);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    b->len = (size_t)(p - b->data);
}

/* Queues p's command on the connection (there must be one). */
static void send_pend(struct rconn *rc, struct pend *p, int argc,
                      const char **argv, const size_t *len)
{
    format_cmd(&rc->out, argc, argv, len);
    ring_push(rc, p);
    if (rc->pending++ == 0) {
        rc->progress_ms = ig_mono_ms();
    }
    if (rc->connecting) {
        return;
    }
    /* A long burst (one loop turn of a busy gateway) goes out in parts:
     * Redis works on the first while the rest is being made. */
    if (rc->out.len - rc->out_off >= RCONN_WRITE_EARLY) {
        flush_out(rc, false);
    } else {
        want_write(rc);
    }
}

static void load_script(struct rconn *rc, size_t idx)
{
    const char *argv[3] = {"SCRIPT", "LOAD", rc->scripts[idx]};
    size_t len[3] = {6, 4, strlen(rc->scripts[idx])};
    struct pend *l;

    if (rc->fd < 0) {
        return;
    }
    l = pend_get(rc);
    l->rc = rc;
    l->kind = PEND_LOAD;
    l->script = idx;
    send_pend(rc, l, 3, argv, len);
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
        send_pend(rc, p, n, argv, len);
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
        send_pend(rc, p, 2, argv, len);
    }
    for (i = 0; i < rc->nscripts; i++) {
        load_script(rc, i);
    }
    argv[0] = "PING";
    len[0] = 4;
    p = pend_get(rc);
    p->rc = rc;
    p->kind = PEND_PING;
    send_pend(rc, p, 1, argv, len);
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

/* The two status replies a pipeline gets most ("+OK" for a SET, "+QUEUED"
 * for each command inside MULTI) carry nothing but their text: one shared
 * read-only object each, never freed, like the nil below. */
static redisReply reply_ok_obj = {
    .type = REDIS_REPLY_STATUS, .str = (char *)"OK", .len = 2};
static redisReply reply_queued_obj = {
    .type = REDIS_REPLY_STATUS, .str = (char *)"QUEUED", .len = 6};

static void *reply_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r;

    if (task->type == REDIS_REPLY_STATUS &&
        ((len == 2 && memcmp(str, "OK", 2) == 0) ||
         (len == 6 && memcmp(str, "QUEUED", 6) == 0))) {
        r = len == 2 ? &reply_ok_obj : &reply_queued_obj;
        reply_attach(task, r);
        return r;
    }
    r = reply_alloc(task, len + 1);

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

    if (!r || r == &reply_nil_obj || r == &reply_ok_obj ||
        r == &reply_queued_obj) {
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

/* A non-blocking socket connecting to the target: sets *fd and
 * *in_progress, or returns an error text. */
static const char *open_socket(struct rconn *rc, int *fd, bool *in_progress)
{
    static char why[160];

    *in_progress = false;
    if (rc->sock) {
        struct sockaddr_un sa;
        int s;

        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(rc->sock) >= sizeof(sa.sun_path)) {
            return "unix socket path too long";
        }
        memcpy(sa.sun_path, rc->sock, strlen(rc->sock) + 1);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            return strerror(errno);
        }
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
            errno != EINPROGRESS) {
            snprintf(why, sizeof(why), "%s", strerror(errno));
            close(s);
            return why;
        }
        *fd = s;
        return NULL;
    }
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", rc->port);
    gai = getaddrinfo(rc->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, sizeof(why), "%s", gai_strerror(gai));
        return why;
    }
    snprintf(why, sizeof(why), "no address");
    for (ai = res; ai; ai = ai->ai_next) {
        int s = socket(ai->ai_family,
                       ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        int one = 1;

        if (s < 0) {
            snprintf(why, sizeof(why), "%s", strerror(errno));
            continue;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
            *fd = s;
            freeaddrinfo(res);
            return NULL;
        }
        if (errno == EINPROGRESS) {
            *fd = s;
            *in_progress = true;
            freeaddrinfo(res);
            return NULL;
        }
        snprintf(why, sizeof(why), "%s", strerror(errno));
        close(s);
    }
    freeaddrinfo(res);
    return why;
}

static void do_connect(struct rconn *rc)
{
    const char *why;
    bool in_progress;
    int fd = -1;

    if (rc->freeing || rc->fd >= 0) {
        return;
    }
    why = open_socket(rc, &fd, &in_progress);
    if (why) {
        note_down(rc, why);
        schedule_retry(rc);
        return;
    }
    rc->reader = redisReaderCreateWithFunctions(&reply_fns);
    rc->rd_ev = event_new(rc->base, fd, EV_READ | EV_PERSIST, on_readable, rc);
    rc->wr_ev = event_new(rc->base, fd, EV_WRITE | EV_PERSIST, on_writable, rc);
    if (!rc->reader || !rc->rd_ev || !rc->wr_ev ||
        event_add(rc->rd_ev, NULL) < 0) {
        if (rc->reader) {
            redisReaderFree(rc->reader);
            rc->reader = NULL;
        }
        if (rc->rd_ev) {
            event_free(rc->rd_ev);
        }
        if (rc->wr_ev) {
            event_free(rc->wr_ev);
        }
        rc->rd_ev = rc->wr_ev = NULL;
        close(fd);
        note_down(rc, "out of memory");
        schedule_retry(rc);
        return;
    }
    /* Keep the reader's buffer between bursts (hiredis frees it past
     * 16 KiB of unused room, then grows it again). */
    rc->reader->maxbuf = 0;
    rc->fd = fd;
    rc->connecting = in_progress;
    handshake(rc);
    if (in_progress) {
        want_write(rc); /* writable = connected (or failed) */
    }
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
    if (rc->fd >= 0 && rc->pending > 0 &&
        ig_mono_ms() - rc->progress_ms > rc->timeout_ms) {
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
    rc->fd = -1;
    ig_pool_init(&rc->pends, sizeof(struct pend), RCONN_SPARE_MAX);
    ig_buf_init(&rc->out, 0);
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
    close_conn(rc); /* fails what is in flight */
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
    ig_free(rc->ring);
    ig_buf_fini(&rc->out);
    ig_pool_fini(&rc->pends);
    ig_free(rc);
}

int rconn_cmd(struct rconn *rc, rconn_cb cb, void *ud, int argc,
              const char **argv, const size_t *argvlen)
{
    struct pend *p;

    if (rc->fd < 0 || rc->freeing) {
        return IG_EAGAIN;
    }
    p = pend_get(rc);
    p->rc = rc;
    p->kind = PEND_USER;
    p->cb = cb;
    p->ud = ud;
    send_pend(rc, p, argc, argv, argvlen);
    return IG_OK;
}

void rconn_queued(void *ud, int status, const void *reply)
{
    (void)ud;
    (void)status;
    (void)reply;
}

const char *rconn_exec_failed(int status, const void *reply)
{
    const redisReply *r = reply;

    if (status == IG_OK) {
        if (r->type != REDIS_REPLY_ARRAY) {
            return "transaction aborted";
        }
        for (size_t i = 0; i < r->elements; i++) {
            if (r->element[i]->type == REDIS_REPLY_ERROR) {
                return r->element[i]->str;
            }
        }
        return NULL;
    }
    return status == IG_EIO && r && r->str ? r->str : "redis unreachable";
}

int rconn_script(struct rconn *rc, size_t idx, rconn_cb cb, void *ud, int nkeys,
                 int argc, const char **argv, const size_t *argvlen)
{
    const char **av;
    size_t *al;
    char nk[16];
    struct pend *p;
    int i;

    if (rc->fd < 0 || rc->freeing) {
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
    send_pend(rc, p, argc + 3, av, al);
    ig_free(av);
    ig_free(al);
    return IG_OK;
}

bool rconn_up(const struct rconn *rc)
{
    return rc && rc->up;
}

bool rconn_accepting(const struct rconn *rc)
{
    return rc && rc->fd >= 0 && !rc->freeing;
}

size_t rconn_pending(const struct rconn *rc)
{
    return rc->pending;
}

uint64_t rconn_connects(const struct rconn *rc)
{
    return rc->connects;
}
