/* forward.c — the generic forwarder: queue, batches, retries, dead letters
 * and the spool (see forward.h).
 *
 * Records wait in a FIFO. A flush (on the next loop turn, or after
 * batch_wait) cuts batches of up to batch_max records and hands each to the
 * kind's send() (at most `concurrency` at once). A batch that fails with
 * IG_EAGAIN is retried with exponential backoff and jitter (at least the
 * target's Retry-After) up to `retries` times, keeping its Idempotency-Key;
 * then, with a spool, its records are appended to the spool and completed
 * IG_OK, and the forwarder goes "down": every later record is appended to
 * the spool too, behind the earlier ones, until a replay drains it. Without
 * a spool the records complete with IG_EAGAIN and their owner retries.
 * IG_EREJECTED goes to the dead-letter file with the reason.
 *
 * Replay: one batch at a time from the head of the spool; acknowledged in
 * the spool only after the target accepted it (at least once: a kill -9
 * between the two replays the batch, which the candidate ids make
 * harmless). A failing replay waits backoff, doubling to backoff_max, and
 * never gives up: spooled records are durable and the target is expected
 * back.
 *
 * Completions run from the loop, never from inside forwarder_send(): a
 * kind may finish an attempt inside send(), so the generic layer only ever
 * reacts to completions through a deferred event, which also keeps the
 * call depth flat when a fast kind (file) finishes thousands of batches.
 */
#include "gateway/forward.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "gateway/dedup.h"
#include "gateway/forward_int.h"
#include "gateway/simhash.h"
#include "gateway/spool.h"

/* Generic keys of every [forward NAME] section. */
struct fwd_cfg {
    char *kind;
    int64_t batch_max;
    int64_t batch_wait_ms;
    int64_t max_queue;
    int64_t concurrency;
    int64_t retries;
    int64_t backoff_ms;
    int64_t backoff_max_ms;
    bool spool;
    char *dead_letter;
    char *only;
};

/* Values of `only`, in the order of their level (forwarder_only()). */
static const char *const only_levels[] = {"all", "elevated", "high", NULL};

#define G(f) offsetof(struct fwd_cfg, f)
const struct ig_cfg_field forwarder_cfg_schema[] = {
    {"kind", IG_CFG_STR, NULL, G(kind),
     "stream (Redis XADD), webhook (HTTP POST), file (JSON Lines)",
     IG_CFG_F_REQUIRED, NULL},
    {"batch_max", IG_CFG_INT, "100", G(batch_max),
     "records per delivery attempt (one webhook POST, one pipeline)", 0, NULL},
    {"batch_wait", IG_CFG_DUR_MS, "0", G(batch_wait_ms),
     "wait this long for a batch to fill (0: send on the next loop turn)", 0,
     NULL},
    {"max_queue", IG_CFG_INT, "10000", G(max_queue),
     "records accepted and not yet completed; above this the gateway "
     "holds its sources",
     0, NULL},
    {"concurrency", IG_CFG_INT, "4", G(concurrency),
     "delivery attempts in flight at once (1 keeps strict order)", 0, NULL},
    {"retries", IG_CFG_INT, "3", G(retries),
     "retries of a failed attempt (timeout, 5xx, 408, 429) before the "
     "records go to the spool",
     0, NULL},
    {"backoff", IG_CFG_DUR_MS, "500ms", G(backoff_ms),
     "first retry delay; doubles per retry, with jitter", 0, NULL},
    {"backoff_max", IG_CFG_DUR_MS, "60s", G(backoff_max_ms),
     "longest retry / replay delay", 0, NULL},
    {"spool", IG_CFG_BOOL, "true", G(spool),
     "use the [spool] directory when the target is unreachable", 0, NULL},
    {"dead_letter", IG_CFG_STR, NULL, G(dead_letter),
     "JSON Lines file for rejected records (default: "
     "<state_dir>/dead-letter-<name>.jsonl)",
     0, NULL},
    {"only", IG_CFG_ENUM, "all", G(only),
     "records sent here: all; elevated or high: only candidates and "
     "updates of at least that priority",
     0, only_levels},
    {0},
};
#undef G

/* One record between forwarder_send() and its completion. */
struct qrec {
    struct qrec *next;
    struct fwd_rec rec; /* view of the two strings below */
    const char *id;     /* in this record's own allocation (qrec_new()) */
    const char *json;   /* in this record's own allocation */
    forwarder_cb cb;    /* NULL for records replayed from the spool */
    void *ud;
    struct forwarder *ref; /* forwarder_send_ref(): the strings are the
                              caller's, the struct goes back to its list */
    uint64_t seq;          /* spool sequence of a replayed record */
    bool alone;            /* sent in a batch of its own: it was in a batch
                              the target rejected as a whole */
};

/* A run of failures of one kind, logged when it starts and when it ends
 * (with how many there were), never once per failure. */
struct fail_run {
    bool on;
    uint64_t n; /* failures since it started */
};

/* Counts a failure; true when it starts a run (the caller logs it). */
static bool run_failed(struct fail_run *r)
{
    r->n++;
    if (r->on) {
        return false;
    }
    r->on = true;
    return true;
}

/* Ends the run: true, with its count in *n, when one was on (the caller
 * logs it). */
static bool run_ended(struct fail_run *r, uint64_t *n)
{
    if (!r->on) {
        return false;
    }
    *n = r->n;
    r->on = false;
    r->n = 0;
    return true;
}

struct fwd_batch {
    struct forwarder *f;
    struct fwd_batch *next; /* in f->inflight */
    struct qrec **q;        /* owned array of owned records */
    size_t n;
    char key[40];
    int attempt;
    bool from_spool;
    uint64_t last_seq; /* spool sequence of the last record */
    bool finished;     /* done() called */
    int status;
    int64_t retry_after_ms;
    char *reason;     /* owned */
    struct event *ev; /* completion / retry timer */
};

struct forwarder {
    const struct forwarder_ops *ops;
    char *name;
    char *comp;
    struct fwd_cfg g;
    void *kcfg; /* kind config, ops->cfg_size bytes */
    void *ctx;
    struct forwarder_env env; /* strings owned below */
    char *env_base_dir, *env_prefix, *env_spool_dir, *env_dl_dir;
    struct event_base *base;
    struct qrec *head, *tail;
    struct ig_pool refs; /* finished qrec_ref() records, for reuse */
    size_t nqueue;
    struct fwd_batch *inflight;
    size_t ninflight;
    size_t pending;
    struct spool *spool;
    bool down;                /* route new records to the spool */
    struct fwd_batch *replay; /* the replay batch in flight, or NULL */
    int64_t replay_backoff_ms;
    struct event *flush_ev;
    struct event *replay_ev;
    struct event *tick_ev;
    char *dl_path; /* owned; NULL: log only */
    int dl_fd;
    struct forwarder_stats st;
    bool was_failing;
    bool ack_failing;        /* the spool's ack file could not be written */
    struct fail_run dl;      /* dead-letter writes failing (records kept) */
    struct fail_run spool_w; /* spool writes refused (records handed back) */
    struct fail_run sync;    /* the tick's fsync failing */
    size_t replay_single;    /* replay this many records one at a time */
};

/* --- registry ---------------------------------------------------------- */

#define FWD_MAX_KINDS 16

static const struct forwarder_ops *g_kinds[FWD_MAX_KINDS] = {
    &forwarder_stream_ops,
    &forwarder_webhook_ops,
    &forwarder_file_ops,
};

int forwarder_register(const struct forwarder_ops *ops)
{
    size_t i;

    for (i = 0; i < FWD_MAX_KINDS && g_kinds[i]; i++) {
        if (g_kinds[i] == ops) {
            return IG_OK;
        }
        if (strcmp(g_kinds[i]->kind, ops->kind) == 0) {
            return IG_EINVAL;
        }
    }
    if (i == FWD_MAX_KINDS) {
        return IG_EINVAL;
    }
    g_kinds[i] = ops;
    return IG_OK;
}

const struct forwarder_ops *forwarder_kind(const char *name)
{
    size_t i;

    for (i = 0; name && i < FWD_MAX_KINDS && g_kinds[i]; i++) {
        if (strcmp(g_kinds[i]->kind, name) == 0) {
            return g_kinds[i];
        }
    }
    return NULL;
}

/* --- small helpers ----------------------------------------------------- */

static void arm(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    event_add(ev, &tv);
}

/* The longest Retry-After honoured: a misbehaving server must not park
 * us forever, whichever form it uses. */
#define RETRY_AFTER_MAX_S 86400

int64_t forwarder_retry_after_ms(const char *s)
{
    char *end;
    long long v;
    struct tm tm;

    if (!s) {
        return 0;
    }
    while (*s == ' ') {
        s++;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end != s && errno == 0 && v >= 0) {
        return (v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : v) * 1000;
    }
    memset(&tm, 0, sizeof(tm));
    if (strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        time_t at = timegm(&tm), now = time(NULL);

        if (at <= now) {
            return 0;
        }
        return (at - now > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S
                                             : (int64_t)(at - now)) *
               1000;
    }
    return 0;
}

/* One allocation per queued record: the struct, then copies of the id
 * and the JSON behind it (three mallocs per record showed in profiles).
 * Zeroed but for the copies. */
static struct qrec *qrec_new(const char *id, size_t id_len, const char *json,
                             size_t len)
{
    struct qrec *r = ig_malloc(sizeof(*r) + id_len + 1 + len + 1);
    char *p = (char *)(r + 1);

    memset(r, 0, sizeof(*r));
    memcpy(p, id, id_len);
    p[id_len] = '\0';
    r->id = p;
    p += id_len + 1;
    if (len) {
        memcpy(p, json, len);
    }
    p[len] = '\0';
    r->json = p;
    r->rec.id = r->id;
    r->rec.json = r->json;
    r->rec.len = len;
    return r;
}

/* A queued record that borrows the caller's id and JSON (forwarder_send_ref()):
 * only the struct is allocated. */
static struct qrec *qrec_ref(struct forwarder *f, const struct fwd_rec *rec)
{
    struct qrec *r = ig_pool_get(&f->refs);

    r->ref = f;
    r->id = rec->id;
    r->json = rec->json;
    r->rec.id = rec->id;
    r->rec.json = rec->json;
    r->rec.len = rec->len;
    return r;
}

/* Finished borrowed records kept for reuse, at most. */
#define REF_FREE_MAX 1024

static void qrec_free(struct qrec *r)
{
    if (r && r->ref) {
        ig_pool_put(&r->ref->refs, r);
    } else {
        ig_free(r);
    }
}

static void complete(struct forwarder *f, struct qrec *r, int status)
{
    if (r->cb) {
        f->pending--;
        if (status == IG_EAGAIN) {
            f->st.failed++;
        }
        r->cb(r->ud, status);
    }
    qrec_free(r);
}

/* --- dead letters ------------------------------------------------------ */

/* Appends one line to the dead-letter file. One write per line:
 * concurrent writers (two gateways sharing a file by mistake) still
 * produce whole lines with O_APPEND. A short write (a disk filling up) is
 * cut away again when nothing was appended behind it, so the retry of the
 * record writes a whole line, not a second half. Returns IG_OK or IG_EIO
 * (*why: what failed). */
static int dl_write(struct forwarder *f, const struct ig_buf *b,
                    const char **why)
{
    ssize_t w = write(f->dl_fd, b->data, b->len);
    struct stat st;
    off_t end;

    if (w == (ssize_t)b->len) {
        return IG_OK;
    }
    if (w < 0) {
        *why = strerror(errno);
        return IG_EIO;
    }
    *why = "short write";
    end = lseek(f->dl_fd, 0, SEEK_CUR);
    if (w > 0 && end >= (off_t)w && fstat(f->dl_fd, &st) == 0 &&
        st.st_size == end && ftruncate(f->dl_fd, end - (off_t)w) < 0) {
        *why = "short write, torn line left in the file";
    }
    return IG_EIO;
}

/* Writes the dead-letter line of rejected record r. Returns IG_OK when
 * the record is settled (its line written, or no dead-letter file is
 * configured: then it is logged and dropped); IG_EIO when the line could
 * not be written: the caller keeps the record (hands it back or leaves it
 * in the spool) so it is rejected and written again later, never lost.
 * A failing file is logged once when it starts failing and once when it
 * works again, with the number of records kept meanwhile. */
static int dead_letter(struct forwarder *f, const struct qrec *r,
                       const char *reason)
{
    struct ig_buf b;
    struct ig_jsonw w;
    char ts[32];
    const char *why = NULL;
    uint64_t n;
    int rc;

    if (!f->dl_path || f->dl_fd < 0) {
        f->st.rejected++;
        ig_error(f->comp,
                 "record %s rejected (%s); no dead-letter file, "
                 "record dropped",
                 r->rec.id, reason ? reason : "rejected");
        return IG_OK;
    }
    ig_time_iso(time(NULL), 0, ts);
    ig_buf_init(&b, 0);
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "ts", ts);
    ig_jsonw_kstr(&w, "forwarder", f->name);
    ig_jsonw_kstr(&w, "kind", f->ops->kind);
    ig_jsonw_kstr(&w, "reason", reason ? reason : "rejected");
    ig_jsonw_kstr(&w, "id", r->rec.id);
    ig_jsonw_key(&w, "record");
    ig_jsonw_raw(&w, r->rec.json, r->rec.len);
    ig_jsonw_obj_close(&w);
    ig_buf_addc(&b, '\n');
    rc = dl_write(f, &b, &why);
    ig_buf_fini(&b);
    if (rc < 0) {
        if (run_failed(&f->dl)) {
            ig_error(f->comp,
                     "record %s rejected (%s); writing %s failed: %s; "
                     "rejected records are kept (handed back to their "
                     "sources or left in the spool) until it can be "
                     "written",
                     r->rec.id, reason ? reason : "rejected", f->dl_path, why);
        } else {
            ig_debug(f->comp, "record %s rejected (%s); kept: %s unwritable",
                     r->rec.id, reason ? reason : "rejected", f->dl_path);
        }
        return IG_EIO;
    }
    if (run_ended(&f->dl, &n)) {
        ig_info(f->comp,
                "dead-letter file %s written again (%llu rejected "
                "records were kept while it failed)",
                f->dl_path, (unsigned long long)n);
    }
    f->st.rejected++;
    ig_warn(f->comp, "record %s rejected (%s); written to %s", r->rec.id,
            reason ? reason : "rejected", f->dl_path);
    return IG_OK;
}

/* --- spool ------------------------------------------------------------- */

/* Spool payload: id, '\n', the JSON record. */
static int spool_put(struct forwarder *f, const struct qrec *r)
{
    struct ig_buf b;
    int rc;

    ig_buf_init(&b, 0);
    ig_buf_adds(&b, r->rec.id);
    ig_buf_addc(&b, '\n');
    ig_buf_add(&b, r->rec.json, r->rec.len);
    rc = spool_append(f->spool, b.data, b.len, NULL);
    ig_buf_fini(&b);
    if (rc == IG_OK) {
        f->st.spooled++;
    }
    return rc;
}

static void schedule_replay(struct forwarder *f, int64_t delay_ms)
{
    if (!f->spool || f->replay || !event_initialized(f->replay_ev)) {
        return;
    }
    if (!evtimer_pending(f->replay_ev, NULL)) {
        arm(f->replay_ev, delay_ms);
    }
}

/* Logs the end of a run of refused spool writes, with its count. */
static void spool_failing_ends(struct forwarder *f, const char *how)
{
    uint64_t n;

    if (run_ended(&f->spool_w, &n)) {
        ig_info(f->comp,
                "%s; %llu records were handed back to their sources "
                "while spool writes failed",
                how, (unsigned long long)n);
    }
}

/* Moves record r to the spool and completes it: IG_OK when written, else
 * IG_EAGAIN (the owner keeps the item and sends it again). A full or
 * failing spool refuses every record of a burst: the first refusal is
 * logged with its reason, the rest at debug level and counted
 * ("failed"), and the count is logged when writes work again. */
static void spool_or_fail(struct forwarder *f, struct qrec *r)
{
    int rc = spool_put(f, r);

    if (rc < 0) {
        if (run_failed(&f->spool_w)) {
            ig_error(f->comp,
                     "record %s: spool write failed (%s); it and the "
                     "records after it are handed back to their sources "
                     "until the spool takes them again",
                     r->rec.id, ig_strerror(rc));
        } else {
            ig_debug(f->comp, "record %s: spool write failed (%s); handed back",
                     r->rec.id, ig_strerror(rc));
        }
        complete(f, r, IG_EAGAIN);
        return;
    }
    spool_failing_ends(f, "spool writes work again");
    complete(f, r, IG_OK);
}

/* --- batches ----------------------------------------------------------- */

static void batch_free(struct fwd_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        qrec_free(b->q[i]);
    }
    ig_free(b->q);
    ig_free(b->reason);
    if (b->ev) {
        event_free(b->ev);
    }
    ig_free(b);
}

static void unlink_batch(struct forwarder *f, struct fwd_batch *b)
{
    struct fwd_batch **p;

    for (p = &f->inflight; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            f->ninflight--;
            return;
        }
    }
}

static void on_batch_event(evutil_socket_t fd, short what, void *ud);

/* The batch's key (webhook Idempotency-Key, log lines), made on first use:
 * only the webhook kind sends it, and hashing the ids of every batch cost
 * the other kinds ~140 instructions per record. */
static const char *batch_key(struct fwd_batch *b)
{
    uint64_t h = 0;
    size_t i;
    char hex[17];

    if (b->key[0]) {
        return b->key;
    }
    /* One record: its own id. A batch: a hash of its ids, so a retry of
     * the same batch repeats the key. */
    if (b->n == 1) {
        snprintf(b->key, sizeof(b->key), "%s", b->q[0]->rec.id);
        return b->key;
    }
    for (i = 0; i < b->n; i++) {
        h = simhash_hash64(b->q[i]->rec.id, strlen(b->q[i]->rec.id), h);
    }
    simhash_hex64(h, hex);
    snprintf(b->key, sizeof(b->key), "batch-%s-%zu", hex, b->n);
    return b->key;
}

static void attempt(struct forwarder *f, struct fwd_batch *b)
{
    b->finished = false;
    b->attempt++;
    f->st.attempts++;
    if (b->attempt > 1) {
        f->st.retries++;
    }
    f->ops->send(f, b);
}

static struct fwd_batch *batch_new(struct forwarder *f, size_t cap)
{
    struct fwd_batch *b = ig_calloc(1, sizeof(*b));

    b->f = f;
    b->q = ig_calloc(cap ? cap : 1, sizeof(*b->q));
    b->ev = evtimer_new(f->base, on_batch_event, b);
    return b;
}

static void flush(struct forwarder *f)
{
    while (f->head) {
        struct fwd_batch *b;
        size_t max = (size_t)f->g.batch_max;

        /* While the target is down or the spool holds older records,
         * new records queue up behind them, on disk. */
        if (f->spool && (f->down || spool_records(f->spool) > 0)) {
            while (f->head) {
                struct qrec *r = f->head;

                f->head = r->next;
                f->nqueue--;
                spool_or_fail(f, r);
            }
            f->tail = NULL;
            schedule_replay(f, 0);
            return;
        }
        if (f->ninflight >= (size_t)f->g.concurrency) {
            return;
        }
        b = batch_new(f, max);
        while (f->head && b->n < max) {
            struct qrec *r = f->head;

            /* A record of a rejected batch goes in a batch of its own. */
            if (r->alone && b->n > 0) {
                break;
            }
            f->head = r->next;
            f->nqueue--;
            r->next = NULL;
            b->q[b->n++] = r;
            if (r->alone) {
                break;
            }
        }
        if (!f->head) {
            f->tail = NULL;
        }
        b->next = f->inflight;
        f->inflight = b;
        f->ninflight++;
        attempt(f, b);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    flush(ud);
}

static void note_state(struct forwarder *f, bool ok, const char *reason)
{
    f->st.up = ok;
    if (ok && f->was_failing) {
        ig_info(f->comp, "target reachable again");
        f->was_failing = false;
    } else if (!ok && !f->was_failing) {
        ig_warn(f->comp, "delivery failing: %s", reason ? reason : "?");
        f->was_failing = true;
    }
}

/* Seeds rand() for the backoff jitter, once per process. Unseeded, every
 * gateway draws the same sequence and a fleet restarted together retries
 * in step, which is what the jitter is for. Time and pid differ between
 * gateways started in the same second. Loop thread (forwarder_new). */
static void seed_jitter(void)
{
    static bool seeded;

    if (!seeded) {
        srand((unsigned)time(NULL) ^ (unsigned)getpid() << 16);
        seeded = true;
    }
}

static int64_t backoff_for(const struct forwarder *f, int attempt_no)
{
    int64_t d = f->g.backoff_ms > 0 ? f->g.backoff_ms : 1;
    int i;

    for (i = 1; i < attempt_no && d < f->g.backoff_max_ms; i++) {
        d *= 2;
    }
    if (d > f->g.backoff_max_ms) {
        d = f->g.backoff_max_ms;
    }
    /* Up to 25 % jitter so a fleet of gateways does not retry in step. */
    return d + (d / 4 ? rand() % (d / 4 + 1) : 0);
}

/* Acknowledges the replayed records up to seq. A failed ack still takes
 * the records off the head (spool.h): only a restart before it is written
 * replays them. Logged on state change, not per batch. */
static void replay_ack(struct forwarder *f, uint64_t seq)
{
    int rc = spool_ack(f->spool, seq);

    if (rc < 0 && !f->ack_failing) {
        ig_error(f->comp,
                 "spool ack failed: %s; a restart may replay the "
                 "records delivered since",
                 strerror(errno));
    } else if (rc == IG_OK && f->ack_failing) {
        ig_info(f->comp, "spool ack written again");
    }
    f->ack_failing = rc < 0;
}

/* The replay waits: backoff doubling to backoff_max, at least the
 * target's Retry-After. */
static void replay_later(struct forwarder *f, int64_t retry_after_ms)
{
    int64_t delay;

    f->replay_backoff_ms = f->replay_backoff_ms
                               ? f->replay_backoff_ms * 2
                               : (f->g.backoff_ms > 0 ? f->g.backoff_ms : 1);
    if (f->replay_backoff_ms > f->g.backoff_max_ms) {
        f->replay_backoff_ms = f->g.backoff_max_ms;
    }
    delay = f->replay_backoff_ms > retry_after_ms ? f->replay_backoff_ms
                                                  : retry_after_ms;
    schedule_replay(f, delay);
}

/* The replay batch ended. */
static void replay_done(struct forwarder *f, struct fwd_batch *b)
{
    size_t i;

    f->replay = NULL;
    if (b->status == IG_EREJECTED && b->n > 1) {
        /* Rejected as a whole: replay these records one at a time (see
         * split_rejected()); nothing is acknowledged yet. */
        ig_info(f->comp,
                "replayed batch %s of %zu records rejected (%s); "
                "replaying its records one by one",
                batch_key(b), b->n, b->reason ? b->reason : "rejected");
        f->replay_single = b->n;
        batch_free(b);
        schedule_replay(f, 0);
        return;
    }
    if (b->status == IG_EREJECTED) {
        /* Dead-letter in order; the first record whose line cannot be
         * written stays at the head of the spool with everything behind
         * it (only the records before it are acknowledged), and the
         * replay tries again later. */
        for (i = 0; i < b->n; i++) {
            if (dead_letter(f, b->q[i], b->reason) < 0) {
                break;
            }
        }
        if (i < b->n) {
            if (i > 0) {
                replay_ack(f, b->q[i - 1]->seq);
            }
            batch_free(b);
            replay_later(f, 0);
            return;
        }
    }
    if (b->status == IG_OK || b->status == IG_EREJECTED) {
        if (b->status == IG_OK) {
            f->st.delivered += b->n;
            f->st.replayed += b->n;
            note_state(f, true, NULL);
        }
        replay_ack(f, b->last_seq);
        if (f->replay_single > 0) {
            f->replay_single--;
        }
        f->replay_backoff_ms = 0;
        batch_free(b);
        if (spool_records(f->spool) > 0) {
            schedule_replay(f, 0);
        } else {
            f->down = false;
            ig_info(f->comp, "spool drained");
            spool_failing_ends(f, "spool drained");
            flush(f);
        }
        return;
    }
    note_state(f, false, b->reason);
    replay_later(f, b->retry_after_ms);
    batch_free(b);
}

/* A target answers a batch with one status (one webhook POST): a batch
 * rejected as a whole may hold a single bad record among good ones. Its
 * records go back to the front of the queue, in order, each to be sent
 * in a batch of its own (its own id as Idempotency-Key), so only the
 * records rejected on their own are dead-lettered. They are no longer
 * fresh: the first attempt reached the target. */
static void split_rejected(struct forwarder *f, struct fwd_batch *b)
{
    size_t i;

    ig_info(f->comp,
            "batch %s of %zu records rejected (%s); sending its records "
            "one by one",
            batch_key(b), b->n, b->reason ? b->reason : "rejected");
    for (i = b->n; i-- > 0;) {
        struct qrec *r = b->q[i];

        r->alone = true;
        r->rec.fresh = false;
        r->next = f->head;
        f->head = r;
        if (!f->tail) {
            f->tail = r;
        }
        f->nqueue++;
        b->q[i] = NULL;
    }
}

static void batch_end(struct forwarder *f, struct fwd_batch *b)
{
    size_t i;

    if (b->from_spool) {
        replay_done(f, b);
        return;
    }
    switch (b->status) {
    case IG_OK:
        note_state(f, true, NULL);
        f->st.delivered += b->n;
        for (i = 0; i < b->n; i++) {
            complete(f, b->q[i], IG_OK);
            b->q[i] = NULL;
        }
        break;
    case IG_EREJECTED:
        if (b->n > 1) {
            split_rejected(f, b);
            break;
        }
        /* A record whose dead-letter line could not be written is not
         * settled: its source keeps it and sends it again. */
        for (i = 0; i < b->n; i++) {
            int st = dead_letter(f, b->q[i], b->reason) == IG_OK ? IG_EREJECTED
                                                                 : IG_EAGAIN;

            complete(f, b->q[i], st);
            b->q[i] = NULL;
        }
        break;
    default:
        note_state(f, false, b->reason);
        if (b->attempt <= f->g.retries) {
            int64_t d = backoff_for(f, b->attempt);

            if (b->retry_after_ms > d) {
                d = b->retry_after_ms;
            }
            ig_debug(f->comp,
                     "attempt %d of batch %s failed (%s); retry "
                     "in %lld ms",
                     b->attempt, batch_key(b), b->reason ? b->reason : "?",
                     (long long)d);
            arm(b->ev, d);
            return; /* stays in flight */
        }
        if (f->spool) {
            if (!f->down) {
                ig_warn(f->comp,
                        "target unreachable after %d attempts (%s):"
                        " spooling",
                        b->attempt, b->reason ? b->reason : "?");
            }
            f->down = true;
            for (i = 0; i < b->n; i++) {
                spool_or_fail(f, b->q[i]);
                b->q[i] = NULL;
            }
            schedule_replay(f, backoff_for(f, 1));
        } else {
            ig_error(f->comp,
                     "batch %s failed after %d attempts (%s); %zu "
                     "records handed back to their sources",
                     batch_key(b), b->attempt, b->reason ? b->reason : "?",
                     b->n);
            for (i = 0; i < b->n; i++) {
                complete(f, b->q[i], IG_EAGAIN);
                b->q[i] = NULL;
            }
        }
        break;
    }
    b->n = 0;
    unlink_batch(f, b);
    batch_free(b);
    flush(f);
}

/* The batch's event: either its completion (finished) or a retry timer. */
static void on_batch_event(evutil_socket_t fd, short what, void *ud)
{
    struct fwd_batch *b = ud;

    (void)fd;
    (void)what;
    if (b->finished) {
        b->finished = false;
        batch_end(b->f, b);
    } else {
        attempt(b->f, b);
    }
}

void forwarder_batch_done(struct fwd_batch *b, int status,
                          int64_t retry_after_ms, const char *reason)
{
    b->finished = true;
    b->status = status == IG_OK || status == IG_EREJECTED ? status : IG_EAGAIN;
    b->retry_after_ms = retry_after_ms;
    ig_free(b->reason);
    b->reason = reason ? ig_strdup(reason) : NULL;
    /* Deferred: the kind may be deep inside its own callbacks. */
    event_active(b->ev, EV_TIMEOUT, 0);
}

static void on_replay(evutil_socket_t fd, short what, void *ud)
{
    struct forwarder *f = ud;
    struct spool_rec recs[64];
    size_t max = (size_t)f->g.batch_max > 64 ? 64 : (size_t)f->g.batch_max;
    struct fwd_batch *b;
    int n, i;

    (void)fd;
    (void)what;
    if (f->replay || !f->spool) {
        return;
    }
    if (f->replay_single > 0) {
        max = 1;
    }
    n = spool_peek(f->spool, recs, max);
    if (n < 0) {
        ig_error(f->comp, "spool read failed: %s", strerror(errno));
        schedule_replay(f, f->g.backoff_max_ms);
        return;
    }
    if (n == 0) {
        f->down = false;
        flush(f);
        return;
    }
    b = batch_new(f, (size_t)n);
    b->from_spool = true;
    for (i = 0; i < n; i++) {
        const char *nl = memchr(recs[i].data, '\n', recs[i].len);
        struct qrec *r;

        if (nl) {
            size_t id_len = (size_t)(nl - recs[i].data);

            r = qrec_new(recs[i].data, id_len, nl + 1,
                         recs[i].len - id_len - 1);
        } else {
            r = qrec_new("?", 1, recs[i].data, recs[i].len);
        }
        r->seq = recs[i].seq;
        b->q[b->n++] = r;
        b->last_seq = recs[i].seq;
    }
    f->replay = b;
    attempt(f, b);
}

static void on_tick(evutil_socket_t fd, short what, void *ud)
{
    struct forwarder *f = ud;
    uint64_t n;

    (void)fd;
    (void)what;
    if (!f->spool) {
        return;
    }
    /* Logged when syncs start failing and when they work again, not on
     * every tick in between. */
    if (spool_tick(f->spool, ig_mono_ms()) < 0) {
        if (run_failed(&f->sync)) {
            ig_error(f->comp,
                     "spool fsync failed: %s; spooled records may not "
                     "survive a power cut until it works again",
                     strerror(errno));
        }
    } else if (run_ended(&f->sync, &n)) {
        ig_info(f->comp, "spool fsync works again (failed %llu times)",
                (unsigned long long)n);
    }
}

/* --- config ------------------------------------------------------------ */

/* Splits sec into the generic keys and the kind's keys. */
static void split(const struct ig_cfg_section *sec, struct ig_cfg_section *g,
                  struct ig_cfg_section *k)
{
    size_t i;

    *g = *sec;
    *k = *sec;
    g->e = ig_calloc(sec->n + 1, sizeof(*g->e));
    k->e = ig_calloc(sec->n + 1, sizeof(*k->e));
    g->n = k->n = 0;
    g->cap = k->cap = sec->n + 1;
    for (i = 0; i < sec->n; i++) {
        if (ig_cfg_known(forwarder_cfg_schema, sec->e[i].key)) {
            g->e[g->n++] = sec->e[i];
        } else {
            k->e[k->n++] = sec->e[i];
        }
    }
}

static int parse(const struct ig_cfg_section *sec, struct ig_diags *d,
                 struct fwd_cfg *g, const struct forwarder_ops **ops,
                 void **kcfg)
{
    struct ig_cfg_section gs, ks;
    int rc;

    split(sec, &gs, &ks);
    memset(g, 0, sizeof(*g));
    *kcfg = NULL;
    rc = ig_cfg_apply(&gs, forwarder_cfg_schema, g, d);
    *ops = forwarder_kind(g->kind);
    if (g->kind && !*ops) {
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                     "[forward %s]: unknown kind '%s' (stream, webhook, "
                     "file)",
                     sec->name ? sec->name : "", g->kind);
        rc = IG_EINVAL;
    }
    if (*ops) {
        *kcfg = ig_calloc(1, (*ops)->cfg_size ? (*ops)->cfg_size : 1);
        if ((*ops)->schema && ig_cfg_apply(&ks, (*ops)->schema, *kcfg, d) < 0) {
            rc = IG_EINVAL;
        } else if (!(*ops)->schema && ks.n > 0) {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, ks.e[0].line, ks.e[0].col,
                         "unknown key '%s'", ks.e[0].key);
            rc = IG_EINVAL;
        }
    }
    if (g->batch_max < 1 || g->max_queue < 1 || g->concurrency < 1 ||
        g->retries < 0 || g->backoff_ms < 0 ||
        g->backoff_max_ms < g->backoff_ms) {
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                     "[forward %s]: batch_max, max_queue and concurrency "
                     "must be >= 1, retries >= 0, backoff <= backoff_max",
                     sec->name ? sec->name : "");
        rc = IG_EINVAL;
    }
    ig_free(gs.e);
    ig_free(ks.e);
    return rc < 0 ? IG_EINVAL : IG_OK;
}

static void free_cfg(struct fwd_cfg *g, const struct forwarder_ops *ops,
                     void *kcfg)
{
    ig_cfg_free(forwarder_cfg_schema, g);
    if (ops && kcfg && ops->schema) {
        ig_cfg_free(ops->schema, kcfg);
    }
    ig_free(kcfg);
}

int forwarder_check(const struct ig_cfg_section *sec, struct ig_diags *d)
{
    struct fwd_cfg g;
    const struct forwarder_ops *ops;
    void *kcfg;
    int rc = parse(sec, d, &g, &ops, &kcfg);

    free_cfg(&g, ops, kcfg);
    return rc;
}

static char *resolve(const char *base, const char *p)
{
    if (!p || p[0] == '/' || !base || !*base || strcmp(p, "-") == 0) {
        return p ? ig_strdup(p) : NULL;
    }
    return ig_asprintf("%s/%s", base, p);
}

int forwarder_new(const struct forwarder_env *env,
                  const struct ig_cfg_section *sec, struct ig_diags *d,
                  struct forwarder **out)
{
    struct forwarder *f;
    int rc;

    if (!env || !env->base || !sec) {
        return IG_EINVAL;
    }
    seed_jitter();
    f = ig_calloc(1, sizeof(*f));
    ig_pool_init(&f->refs, sizeof(struct qrec), REF_FREE_MAX);
    f->dl_fd = -1;
    f->base = env->base;
    f->name = ig_strdup(sec->name && *sec->name ? sec->name : "default");
    rc = parse(sec, d, &f->g, &f->ops, &f->kcfg);
    if (rc < 0) {
        goto out;
    }
    f->comp = ig_asprintf("forward:%s:%s", f->ops->kind, f->name);
    f->env = *env;
    f->env_base_dir = env->base_dir ? ig_strdup(env->base_dir) : NULL;
    f->env_prefix = ig_strdup(env->prefix ? env->prefix : "intake");
    f->env_spool_dir = env->spool_dir ? ig_strdup(env->spool_dir) : NULL;
    f->env_dl_dir =
        env->dead_letter_dir ? ig_strdup(env->dead_letter_dir) : NULL;
    f->env.base_dir = f->env_base_dir;
    f->env.prefix = f->env_prefix;
    f->env.spool_dir = f->env_spool_dir;
    f->env.dead_letter_dir = f->env_dl_dir;
    f->env.spool = NULL;
    f->flush_ev = event_new(f->base, -1, 0, on_flush, f);
    f->replay_ev = evtimer_new(f->base, on_replay, f);
    f->tick_ev = event_new(f->base, -1, EV_PERSIST, on_tick, f);

    /* Dead letters: the configured file, else one per forwarder. */
    if (f->g.dead_letter && *f->g.dead_letter) {
        f->dl_path = resolve(f->env_base_dir, f->g.dead_letter);
    } else if (f->env_dl_dir && *f->env_dl_dir) {
        f->dl_path =
            ig_asprintf("%s/dead-letter-%s.jsonl", f->env_dl_dir, f->name);
    }
    if (f->dl_path) {
        f->dl_fd =
            open(f->dl_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (f->dl_fd < 0) {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                         "[forward %s]: cannot open dead-letter file %s: %s",
                         f->name, f->dl_path, strerror(errno));
            rc = IG_EIO;
            goto out;
        }
    }

    /* The spool: <spool_dir>/<name>. */
    if (f->g.spool && f->env_spool_dir && *f->env_spool_dir) {
        struct spool_recovery rec;
        char *dir = ig_asprintf("%s/%s", f->env_spool_dir, f->name);

        mkdir(f->env_spool_dir, 0700);
        rc = spool_open(dir, env->spool, &f->spool, &rec);
        if (rc < 0) {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                         "[forward %s]: cannot open spool %s: %s", f->name, dir,
                         strerror(errno));
            ig_free(dir);
            goto out;
        }
        if (rec.corrupt_bytes) {
            ig_error(f->comp,
                     "spool %s: %llu damaged bytes in %u segment(s) "
                     "set aside (first: %s); records in them were not "
                     "replayed",
                     dir, (unsigned long long)rec.corrupt_bytes,
                     rec.corrupt_segments, rec.first_corrupt);
        }
        if (rec.records) {
            ig_info(f->comp, "spool %s holds %llu records; replaying", dir,
                    (unsigned long long)rec.records);
            schedule_replay(f, 0);
        }
        ig_free(dir);
        arm(f->tick_ev, 1000);
    }

    if (f->ops->init) {
        rc = f->ops->init(f, d);
        if (rc < 0) {
            goto out;
        }
    }
    f->st.up = true;
    *out = f;
    return IG_OK;
out:
    forwarder_free(f);
    return rc < 0 ? rc : IG_EINVAL;
}

void forwarder_free(struct forwarder *f)
{
    struct qrec *r;

    if (!f) {
        return;
    }
    /* First stop the kind, so no attempt completes while we unwind. */
    if (f->ops && f->ops->fini) {
        f->ops->fini(f);
    }
    f->ctx = NULL;
    while (f->inflight) {
        struct fwd_batch *b = f->inflight;
        size_t i;

        f->inflight = b->next;
        for (i = 0; i < b->n; i++) {
            complete(f, b->q[i], IG_EAGAIN);
            b->q[i] = NULL;
        }
        b->n = 0;
        batch_free(b);
    }
    if (f->replay) {
        batch_free(f->replay); /* records stay in the spool */
    }
    while ((r = f->head) != NULL) {
        f->head = r->next;
        complete(f, r, IG_EAGAIN);
    }
    ig_pool_fini(&f->refs);
    if (f->flush_ev) {
        event_free(f->flush_ev);
    }
    if (f->replay_ev) {
        event_free(f->replay_ev);
    }
    if (f->tick_ev) {
        event_free(f->tick_ev);
    }
    spool_close(f->spool);
    if (f->dl_fd >= 0) {
        close(f->dl_fd);
    }
    free_cfg(&f->g, f->ops, f->kcfg);
    ig_free(f->dl_path);
    ig_free(f->env_base_dir);
    ig_free(f->env_prefix);
    ig_free(f->env_spool_dir);
    ig_free(f->env_dl_dir);
    ig_free(f->comp);
    ig_free(f->name);
    ig_free(f);
}

static int send_rec(struct forwarder *f, const struct fwd_rec *rec,
                    forwarder_cb cb, void *ud, bool borrow)
{
    struct qrec *r;

    if (!f || !rec || !rec->id || !rec->json || !cb) {
        return IG_EINVAL;
    }
    if (f->pending >= (size_t)f->g.max_queue) {
        return IG_E2BIG;
    }
    r = borrow ? qrec_ref(f, rec)
               : qrec_new(rec->id, strlen(rec->id), rec->json, rec->len);
    r->rec.fresh = rec->fresh;
    r->cb = cb;
    r->ud = ud;
    if (f->tail) {
        f->tail->next = r;
    } else {
        f->head = r;
    }
    f->tail = r;
    f->nqueue++;
    f->pending++;
    f->st.sent++;
    /* Batch: send on the next loop turn (or after batch_wait), so records
     * sent in one burst share one attempt. */
    if (!event_pending(f->flush_ev, EV_TIMEOUT, NULL)) {
        if (f->g.batch_wait_ms > 0) {
            arm(f->flush_ev, f->g.batch_wait_ms);
        } else {
            event_active(f->flush_ev, EV_TIMEOUT, 0);
        }
    }
    return IG_OK;
}

int forwarder_send(struct forwarder *f, const struct fwd_rec *rec,
                   forwarder_cb cb, void *ud)
{
    return send_rec(f, rec, cb, ud, false);
}

int forwarder_send_ref(struct forwarder *f, const struct fwd_rec *rec,
                       forwarder_cb cb, void *ud)
{
    return send_rec(f, rec, cb, ud, true);
}

size_t forwarder_pending(const struct forwarder *f)
{
    return f->pending;
}

int forwarder_only(const struct forwarder *f)
{
    for (int i = 0; f->g.only && only_levels[i]; i++) {
        if (strcmp(f->g.only, only_levels[i]) == 0) {
            return i;
        }
    }
    return 0;
}

const char *forwarder_name(const struct forwarder *f)
{
    return f->name;
}

void forwarder_get_stats(const struct forwarder *f, struct forwarder_stats *out)
{
    *out = f->st;
    out->spool_records = f->spool ? spool_records(f->spool) : 0;
    out->spool_bytes = f->spool ? spool_bytes(f->spool) : 0;
}

void *forwarder_cfg(const struct forwarder *f)
{
    return f->kcfg;
}

void forwarder_set_ctx(struct forwarder *f, void *ctx)
{
    f->ctx = ctx;
}

void *forwarder_ctx(const struct forwarder *f)
{
    return f->ctx;
}

struct event_base *forwarder_base(const struct forwarder *f)
{
    return f->base;
}

const struct forwarder_env *forwarder_env(const struct forwarder *f)
{
    return &f->env;
}

const char *forwarder_comp(const struct forwarder *f)
{
    return f->comp;
}

size_t forwarder_batch_len(const struct fwd_batch *b)
{
    return b->n;
}

const struct fwd_rec *forwarder_batch_rec(const struct fwd_batch *b, size_t i)
{
    return i < b->n ? &b->q[i]->rec : NULL;
}

bool forwarder_batch_fresh(const struct fwd_batch *b)
{
    size_t i;

    if (b->attempt != 1 || b->from_spool) {
        return false;
    }
    for (i = 0; i < b->n; i++) {
        if (!b->q[i]->rec.fresh) {
            return false;
        }
    }
    return true;
}

const char *forwarder_batch_key(struct fwd_batch *b)
{
    return batch_key(b);
}
