/* gateway.c — the engine: owns the loop and wires the stages (see
 * gateway.h).
 *
 * The pipeline is a queue of batches and a bounded set of jobs. The
 * scheduler hands over one batch per poll; POST /v1/items makes a batch of
 * its own, queued ahead of polled ones because an operator is waiting.
 * pump() starts jobs from the head batch while fewer than max_inflight are
 * running; each job is one item:
 *
 *     classify (sync, on the loop, with its own ruleset reference)
 *       -> dedup_check (async)      SEEN/EXACT/NEAR: done, linked
 *       -> candidate_json -> forwarder_send to every forwarder (async)
 *       -> review_add (the review queue, when a person should look)
 *       -> dedup_done (marks the candidate forwarded)
 *
 * Classifying includes routing: the router reads the text, and an item's
 * own address field (ig_item.place) then narrows or replaces the place
 * (route_note_location). An exact or near duplicate is not a candidate,
 * but it grows its original's report count, which may raise the priority
 * (route_note_reports); the platform received the original long ago, so
 * the job forwards an update record instead (candidate_update_json(),
 * idempotency id "<original>-r<reports>") and raises the original in the
 * review queue. A forwarder with `only = high|elevated` gets only records
 * of at least that priority: a dedicated, immediate webhook for red-line
 * items.
 *
 * A batch is settled (sched_done) when its last job ends: IG_OK only when
 * every item was forwarded, spooled, dead-lettered or found a duplicate;
 * otherwise the cursor stays and the next poll re-fetches (dedup answers
 * the already-forwarded items SEEN and replays the pending ones with the
 * same candidate id). Backpressure is structural: a source is not polled
 * again before its batch is settled, and batches wait in the queue while
 * the job set is full, so memory is bounded by sources x batch size plus
 * max_inflight items.
 *
 * Redis unreachable: a job waits in the retry list and is re-checked every
 * [redis] retry; the job slot stays taken, so the sources stop. Forwarders
 * spool by themselves; a record they can neither deliver nor spool fails
 * its job (and so its batch). Pushed items never wait for Redis: the
 * client gets 503 for them and retries.
 *
 * Reload (SIGHUP, POST /v1/reload) is coalesced by a short timer, then
 * builds the new rule set and source set before swapping either; a set
 * that fails to build is reported and the old one stays. Jobs hold their
 * own ruleset reference, so items in flight finish on the rules they
 * started with.
 */
#include "gateway/gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifiers/classifier.h"
#include "classifiers/route.h"
#include "connectors/push.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "core/ptrmap.h"
#include "core/text.h"
#include "gateway/candidate.h"
#include "gateway/conf.h"
#include "gateway/dedup.h"
#include "gateway/forward.h"
#include "gateway/gateway_int.h"
#include "gateway/loop.h"
#include "gateway/metrics.h"
#include "gateway/review.h"
#include "gateway/scheduler.h"
#include "gateway/simhash.h"
#include "gateway/sources.h"
#include "gateway/spool.h"
#include "gateway/state.h"
#include "gateway/workpool.h"

#define GW_COMP "gateway"
/* Forwarders per gateway: one bit each in a job's masks. */
#define GW_MAX_FWD 32
/* A candidate record is a few KiB; 1 MiB leaves room for the longest
 * capped text with evidence and still refuses a runaway record. */
#define GW_RECORD_MAX (1024 * 1024)
/* A candidate record is its item's title and text plus this much, give or
 * take (keys, classification, evidence, routing): the first allocation. */
#define GW_RECORD_SLACK 3072
/* How soon a job refused for lack of room in a forwarder queue retries. */
#define GW_FWD_RETRY_MS 50
/* A pushed item waits this long for Redis (a connection still being made,
 * a short blip) before the client is told 503; polled items wait for as
 * long as it takes. */
#define GW_PUSH_WAIT_MS 2000
#define GW_PUSH_RETRY_MS 100
/* How often --once looks whether the spools have been replayed. */
#define GW_RECHECK_MS 100
/* Distinct pushed sources that get series of their own, besides the
 * configured ones: a push names its source freely (64 characters), and a
 * client naming a new one per item must not grow /metrics and memory
 * without bound. The few systems that push get their own; past this,
 * their items count under source="other". */
#define GW_PUSH_SOURCE_LABELS 64
/* Room reserved per item for a push batch's answers (most are under a
 * KiB; more simply grows the buffer). */
#define GW_ANSWER_SLACK 1280

struct gw_batch;

/* Where one item's answer lies in push_ctx.res; len 0: none yet. */
struct push_span {
    size_t off, len;
};

struct push_ctx {
    gw_push_cb cb; /* NULL once cancelled */
    void *ud;
    size_t n; /* items in the request, skipped included */
    /* The answers' JSON objects back to back, in the order the items
     * finished, and per request index where each lies: written once,
     * copied once into the response (no string per item). */
    struct ig_buf res;
    struct push_span *span; /* owned: n entries */
    bool all_ok;
};

struct gw_batch {
    struct gw *g;
    struct gw_batch *next; /* queue link */
    bool queued;           /* still has items to start */
    bool push;
    uint64_t token;
    char *source_id;        /* owned */
    struct ig_item **items; /* sched: the batch's array (borrowed until
                             * sched_done); push: owned array */
    size_t *index;          /* push: request index of items[i] */
    size_t nitems;
    size_t next_i;
    size_t pending; /* jobs running */
    bool failed;    /* an item is not safe: no commit */
    int poll_rc;    /* the poll's own outcome */
    /* Malformed items the connector skipped (the scheduler logs each
     * when it commits). */
    size_t nskipped;
    size_t new_items;
    struct push_ctx *pc; /* push only */
};

enum job_stage {
    JOB_DEDUP = 0,
    JOB_FORWARD = 1,
};

struct job {
    struct work work; /* classifying on a worker (g->pool) */
    struct gw *g;
    struct gw_batch *b;
    size_t idx;         /* push: request index */
    struct ig_item *it; /* owned */
    struct ruleset *rs; /* own reference */
    struct cls_result cls;
    enum job_stage stage;
    enum dedup_verdict verdict;
    bool replay;
    char id[DEDUP_ID_LEN + 1];
    char orig[DEDUP_ID_LEN + 1];
    int64_t reports;
    double similarity;
    const char *chans[DEDUP_MAX_CHANNELS]; /* item arena */
    size_t nchans;
    bool update; /* a duplicate: json is an update record */
    bool created; /* a new candidate, not yet marked forwarded */
    char fwd_id[CANDIDATE_UPDATE_ID_MAX]; /* the record's idempotency id */
    char *json; /* owned: the candidate or update record */
    size_t json_len;
    size_t cls_span[2];   /* the classification keys inside a candidate
                           * record ({0, 0}: none), reused by push_result() */
    uint32_t sent_mask;   /* forwarders that accepted the record */
    unsigned fwd_pending; /* accepted, not completed */
    bool fwd_failed;
    const char *error; /* static: why the job failed */
    struct job *next_retry;
    bool in_retry;      /* in the retry list */
    int64_t t_start_ms; /* monotonic, when the job started */
    /* Classification outcome, from classify_work() for classify_done(). */
    size_t text_cap;
    int cls_rc;
    double cls_seconds;
    bool truncated;
    struct dedup_prep *prep; /* owned: fingerprints for dedup, made with
                                the classification */
    char *pre_json; /* owned: the record as a new candidate, built on the
                       classify thread (build_record() takes it when the
                       verdict is exactly that) */
    size_t pre_len;
    size_t pre_span[2];
    char pre_id[DEDUP_ID_LEN + 1]; /* the id it was built with */
    /* In g->owners while this job is the one processing its item (see
     * job_dedup): key is the candidate id as a number. */
    bool owner;
    uint64_t key;
    struct job *owner_next;
};

/* The hits counters of codes and rules (series labelled code="..." and
 * rule="..."), found by the address of the label's value: a string of the
 * current rule set (alive while it is current: g holds a reference), or a
 * literal. Made again for each generation, with room for every code and
 * rule of its rule set: a rule set has a few hundred of them, more than a
 * small direct-mapped cache holds (a fifth of the lookups missed, each a
 * label built and hashed). */
struct label_cache {
    uint64_t gen;
    struct ig_ptrmap of[2];       /* code, rule value -> index in hits */
    struct metrics_series **hits; /* room for both maps full */
    size_t n;
};

struct waiter {
    struct waiter *next;
    gw_reload_cb cb; /* NULL once cancelled */
    void *ud;
};

struct gw {
    struct gw_conf *conf; /* owned */
    struct gw_opts opts;
    struct loop *loop;    /* owned */
    char *rules_dir;      /* owned */
    char *sources_path;   /* owned */
    char *state_dir;      /* owned */
    char *spool_dir;      /* owned */
    char *redis_password; /* owned secret */
    char *push_token;     /* owned secret */
    char *admin_token;    /* owned secret */

    struct ruleset *rs; /* current rule set (own reference) */
    uint64_t generation;
    struct cls_scratch *scratch;
    struct workpool *pool; /* classify threads; NULL: on the loop */
    struct sched *sched;
    struct dedup *dedup;   /* NULL without [redis] */
    struct review *review; /* NULL without [redis] or with review off */
    struct forwarder *fwd[GW_MAX_FWD];
    size_t nfwd;
    struct api *api;
    struct metrics *m;
    /* Scratch reused per item (loop thread only): metric labels, and the
     * record or push answer being built (uncapped; build_record() checks
     * GW_RECORD_MAX), so the item path does not grow buffers from empty
     * each time. */
    struct ig_buf lbuf;
    struct ig_buf rec;
    /* The source/channel labels of the last item counted, and the source
     * and channel they were made of ("source\0channel\0"): the items of
     * a batch mostly share them. */
    struct ig_buf sc_lab;
    struct ig_buf sc_key;
    /* The values the source label may take: the configured sources, and
     * the first GW_PUSH_SOURCE_LABELS other ones pushed. */
    struct metrics_values *src_labels;
    /* Per-item counters of that source/channel (made on first use, NULL
     * until then), and of the whole gateway: handles, so counting an item
     * hashes no label string. */
    struct metrics_series *sc_in, *sc_out, *sc_upd;
    struct metrics_series *cls_seconds;
    struct metrics_series *review_added[ROUTE_LEVEL_HIGH + 1];
    struct label_cache labels;

    struct gw_batch *q_head, *q_tail;
    size_t inflight;
    size_t max_inflight;
    size_t marking; /* "forwarded" marks sent, not answered (drain waits) */
    /* The jobs past classification by candidate id (chained buckets, a
     * power of two at least max_inflight): one job per item at a time. */
    struct job **owners;
    size_t owners_mask;
    bool pumping, pump_again;
    struct job *retry_head;
    /* Finished jobs kept for the next items, at most max_inflight: no
     * allocation per item. */
    struct ig_pool jobs;
    struct loop_timer *retry_timer;
    struct loop_timer *pump_timer;

    struct loop_timer *reload_timer;
    struct waiter *waiters;
    char *last_reload_error; /* owned */

    struct loop_timer *drain_timer;
    struct loop_timer *stop_timer;
    struct loop_timer *recheck_timer;
    bool stopping;
    bool tearing_down;
    bool idle; /* once mode: the scheduler is done */
    int run_rc;
    uint64_t batches_failed;
};

static void pump(struct gw *g);
static void job_finish(struct job *j, bool ok, bool fresh);
static void job_dedup(struct job *j);
static void job_forward(struct job *j);
static void job_review(struct job *j);
static void check_drained(struct gw *g);

/* ---------------------------------------------------------------------
 * Building: paths, secrets, configs of the stages
 * ------------------------------------------------------------------- */

static char *resolve_rules(const struct gw_conf *conf, const struct gw_opts *o)
{
    if (o->rules_dir && *o->rules_dir) {
        return ig_strdup(o->rules_dir);
    }
    if (conf->gw.rules && *conf->gw.rules) {
        return gw_conf_path(conf, conf->gw.rules);
    }
    return ig_strdup(o->default_rules_dir ? o->default_rules_dir : "rules");
}

/* Fills the spool section (defaults when absent) and resolves its dir. */
static int spool_setup(const struct gw_conf *conf, const char *state_dir,
                       struct spool_cfg *sc, struct spool_opts *so, char **dir,
                       struct ig_diags *d)
{
    memset(sc, 0, sizeof(*sc));
    int rc = IG_OK;
    if (conf->spool) {
        rc = ig_cfg_apply(conf->spool, spool_cfg_schema, sc, d);
    } else {
        ig_cfg_defaults(spool_cfg_schema, sc);
    }
    if (rc == IG_OK && spool_cfg_opts(sc, so) < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "[spool]: invalid values");
        rc = IG_EINVAL;
    }
    /* Relative spool dirs live under the state dir; "" means no spool. */
    if (dir) {
        if (!sc->dir || !*sc->dir) {
            *dir = NULL;
        } else if (sc->dir[0] == '/') {
            *dir = ig_strdup(sc->dir);
        } else {
            *dir = ig_asprintf("%s/%s", state_dir, sc->dir);
        }
    }
    return rc;
}

static int dedup_setup(const struct gw_conf *conf, struct dedup_cfg *dc,
                       struct ig_diags *d)
{
    dedup_cfg_defaults(dc);
    if (conf->dedup) {
        return ig_cfg_apply(conf->dedup, dedup_cfg_schema, dc, d);
    }
    return IG_OK;
}

static void redis_setup(const struct gw_conf *conf, const char *password,
                        struct redis_cfg *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->host = conf->redis.host;
    rc->port = conf->redis.port;
    rc->socket =
        conf->redis.socket && *conf->redis.socket ? conf->redis.socket : NULL;
    rc->user = conf->redis.user && *conf->redis.user ? conf->redis.user : NULL;
    rc->password = password;
    rc->db = conf->redis.db;
    rc->timeout_ms = conf->redis.timeout_ms;
    rc->retry_ms = conf->redis.retry_ms;
}

static void check_secret(const struct gw_conf *conf, const char *what,
                         const char *ref, struct ig_diags *d)
{
    char *s = NULL;
    int rc = gw_secret_read(ref, conf->base_dir, &s);
    ig_free(s);
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "%s: %s is unset, unreadable or empty", what, ref);
    }
}

int gw_check(const struct gw_conf *conf, const struct gw_opts *o,
             struct ig_diags *d)
{
    size_t before = d->nerrors;

    /* Rules and sources, as gw_new() would load them. */
    char *rules = resolve_rules(conf, o);
    struct ruleset *rs = NULL;
    if (ruleset_load(rules, &rs, d) == IG_OK) {
        ruleset_unref(rs);
    }
    ig_free(rules);
    char *sources = gw_conf_path(conf, conf->gw.sources);
    struct source_set *set = NULL;
    if (source_set_load(sources, &set, d) == IG_OK) {
        source_set_free(set);
    }
    ig_free(sources);

    /* The sections owned by the delivery modules. */
    struct dedup_cfg dc;
    dedup_setup(conf, &dc, d);
    ig_cfg_free(dedup_cfg_schema, &dc);
    struct spool_cfg sc;
    struct spool_opts so;
    spool_setup(conf, "", &sc, &so, NULL, d);
    ig_cfg_free(spool_cfg_schema, &sc);
    if (conf->nfwd > GW_MAX_FWD) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "at most %d [forward] sections", GW_MAX_FWD);
    }
    for (size_t i = 0; i < conf->nfwd; i++) {
        forwarder_check(conf->fwd[i].sec, d);
    }
    if (conf->nfwd == 0) {
        ig_diags_add(d, IG_DIAG_WARNING, conf->path, 0, 0,
                     "no [forward NAME] section: candidates are classified "
                     "and deduplicated but go nowhere");
    }
    if (!conf->has_redis) {
        ig_diags_add(d, IG_DIAG_WARNING, conf->path, 0, 0,
                     "no [redis] section: deduplication is off");
        for (size_t i = 0; i < conf->nfwd; i++) {
            if (strcmp(conf->fwd[i].kind, "stream") == 0) {
                ig_diags_add(d, IG_DIAG_ERROR, conf->fwd[i].sec->file,
                             conf->fwd[i].sec->line, 0,
                             "[forward %s]: kind stream needs a [redis] "
                             "section",
                             conf->fwd[i].name);
            }
        }
    }

    /* Secrets must resolve now, not at 3 a.m. on the first reconnect. */
    check_secret(conf, "[redis] password_ref", conf->redis.password_ref, d);
    check_secret(conf, "[api] push_token_ref", conf->api.push_token_ref, d);
    check_secret(conf, "[api] admin_token_ref", conf->api.admin_token_ref, d);
    return d->nerrors > before ? IG_EINVAL : IG_OK;
}

/* ---------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------- */

static const double latency_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005,
                                        0.001,   0.0025, 0.005,   0.01,
                                        0.025,   0.05,   0.1,     0.25};

static void metrics_setup(struct metrics *m)
{
    static const struct {
        const char *name;
        enum metrics_type type;
        const char *help;
    } fams[] = {
        {"intake_items_in_total", METRICS_COUNTER,
         "items taken into the pipeline, per source and channel"},
        {"intake_items_out_total", METRICS_COUNTER,
         "new candidates forwarded (or spooled), per source and channel"},
        {"intake_updates_out_total", METRICS_COUNTER,
         "update records forwarded (a duplicate raised an original's "
         "report count), per source and channel"},
        {"intake_review_added_total", METRICS_COUNTER,
         "candidates added to (or raised in) the review queue, by priority"},
        {"intake_review_errors_total", METRICS_COUNTER,
         "review queue adds that failed (Redis down or error)"},
        {"intake_items_duplicate_total", METRICS_COUNTER,
         "items found already seen (seen), same text (exact) or a "
         "re-wording (near)"},
        {"intake_items_failed_total", METRICS_COUNTER,
         "items that could not be made safe this time (re-fetched later)"},
        {"intake_items_dropped_total", METRICS_COUNTER,
         "items dropped for good (each is also logged with its id)"},
        {"intake_items_truncated_total", METRICS_COUNTER,
         "items whose text was cut at max_text_bytes before classifying"},
        {"intake_classify_seconds", METRICS_HISTOGRAM,
         "time to classify one item"},
        {"intake_code_hits_total", METRICS_COUNTER,
         "items classified into each code (unclassified: code=\"\")"},
        {"intake_rule_hits_total", METRICS_COUNTER,
         "evidence contributed by each rule"},
        {"intake_ruleset_generation", METRICS_GAUGE,
         "rule-set generation: 1 at start, +1 per successful reload"},
        {"intake_reloads_total", METRICS_COUNTER,
         "reloads by part (rules, sources) and result (ok, rejected)"},
        {"intake_inflight_items", METRICS_GAUGE,
         "items between intake and forward"},
        {"intake_queued_batches", METRICS_GAUGE,
         "poll batches waiting for room in the pipeline"},
        {"intake_batches_failed_total", METRICS_COUNTER,
         "polls settled without committing their cursor"},
        {"intake_redis_up", METRICS_GAUGE,
         "1 when the dedup connection to Redis is up"},
        {"intake_redis_errors_total", METRICS_COUNTER,
         "dedup checks that failed (Redis down, timeout, error reply)"},
        {"intake_redis_reconnects_total", METRICS_COUNTER,
         "reconnections of the dedup connection"},
        {"intake_dedup_index_entries", METRICS_GAUGE,
         "recent candidates in the in-memory near-duplicate index"},
        {"intake_dedup_index_loaded", METRICS_GAUGE,
         "1 once the index has been rebuilt from Redis (checks wait until "
         "then)"},
        {"intake_dedup_comparisons_total", METRICS_COUNTER,
         "possible originals confirmed or refused by bigram Jaccard"},
        {"intake_dedup_index_unwritten", METRICS_GAUGE,
         "new candidates' index entries whose P:index write failed, held "
         "to be sent again"},
        {"intake_dedup_index_dropped_total", METRICS_COUNTER,
         "index entries given up (over the cap or at shutdown; each "
         "logged with its candidate id)"},
        {"intake_dedup_cut_off_total", METRICS_COUNTER,
         "candidates found made but not forwarded at start (the gateway "
         "was killed): set back to pending, replayed when they come again"},
        {"intake_forward_delivered_total", METRICS_COUNTER,
         "records acknowledged by each forwarder's target"},
        {"intake_forward_errors_total", METRICS_COUNTER,
         "failed delivery attempts per forwarder (retried: timeouts, 5xx, "
         "408, 429, Redis errors)"},
        {"intake_forward_rejected_total", METRICS_COUNTER,
         "records refused for good and dead-lettered, per forwarder"},
        {"intake_forward_spooled_total", METRICS_COUNTER,
         "records written to the on-disk spool, per forwarder"},
        {"intake_forward_up", METRICS_GAUGE,
         "1 when the forwarder's last attempt succeeded"},
        {"intake_spool_depth", METRICS_GAUGE,
         "records waiting in each forwarder's spool"},
        {"intake_spool_bytes", METRICS_GAUGE,
         "bytes in each forwarder's spool"},
        {"intake_source_consecutive_failures", METRICS_GAUGE,
         "failed polls in a row, per source"},
        {"intake_source_last_success_seconds", METRICS_GAUGE,
         "Unix time of the last successful poll, per source"},
        {"intake_source_items_last_poll", METRICS_GAUGE,
         "items in the last poll, per source"},
        {"intake_api_connections_closed_total", METRICS_COUNTER,
         "API connections the gateway closed: over max_connections "
         "(unread) or a request not complete within request_timeout"},
        {"intake_http_requests_total", METRICS_COUNTER,
         "API requests by endpoint and HTTP status"},
    };
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        bool hist = fams[i].type == METRICS_HISTOGRAM;
        metrics_declare(
            m, fams[i].name, fams[i].type, fams[i].help,
            hist ? latency_bounds : NULL,
            hist ? sizeof(latency_bounds) / sizeof(latency_bounds[0]) : 0);
    }
}

/* Labels source="...",channel="..." into out (reset first). */
static const char *labels_sc(struct ig_buf *out, const char *source,
                             const char *channel)
{
    ig_buf_reset(out);
    metrics_label(out, "source", source);
    metrics_label(out, "channel", channel ? channel : "");
    return out->data;
}

static const char *labels_1(struct ig_buf *out, const char *k, const char *v)
{
    ig_buf_reset(out);
    metrics_label(out, k, v);
    return out->data;
}

/* The source label value of an item's (or batch's) source: itself when
 * configured or among the first pushed ones, else "other" (said once). */
static const char *src_label(struct gw *g, const char *source)
{
    bool first = false;
    const char *v =
        metrics_values_get(g->src_labels, source ? source : "", &first);
    if (first) {
        ig_warn(GW_COMP,
                "more than %d pushed sources (the latest: %s): from now "
                "on the items of new ones are counted as source=\"other\" "
                "in /metrics",
                GW_PUSH_SOURCE_LABELS, source);
    }
    return v;
}

/* Every source of set keeps series of its own (at start and reload). */
static void src_labels_keep(struct gw *g, const struct source_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        metrics_values_keep(g->src_labels, set->v[i]->conn.id);
    }
    /* item_labels() may hold labels made before a source was kept. */
    ig_buf_reset(&g->sc_key);
}

static void health_metrics(void *ud, const struct source_health *h)
{
    struct gw *g = ud;
    struct ig_buf l;
    ig_buf_init(&l, 0);
    labels_1(&l, "source", h->id);
    metrics_set(g->m, "intake_source_consecutive_failures", l.data,
                (double)h->consecutive_failures);
    metrics_set(g->m, "intake_source_last_success_seconds", l.data,
                (double)h->last_success_ts);
    metrics_set(g->m, "intake_source_items_last_poll", l.data,
                (double)h->items_last_poll);
    ig_buf_fini(&l);
}

void gw_note_request(struct gw *g, const char *path, int code)
{
    struct ig_buf l;
    char c[16];
    ig_buf_init(&l, 0);
    snprintf(c, sizeof(c), "%d", code);
    metrics_label(&l, "path", path);
    metrics_label(&l, "code", c);
    metrics_inc(g->m, "intake_http_requests_total", l.data);
    ig_buf_fini(&l);
}

void gw_note_closed(struct gw *g, const char *reason)
{
    struct ig_buf l;
    ig_buf_init(&l, 0);
    metrics_label(&l, "reason", reason);
    metrics_inc(g->m, "intake_api_connections_closed_total", l.data);
    ig_buf_fini(&l);
}

void gw_metrics_text(struct gw *g, struct ig_buf *out)
{
    struct ig_buf l;
    ig_buf_init(&l, 0);
    size_t nq = 0;
    for (struct gw_batch *b = g->q_head; b; b = b->next) {
        nq++;
    }
    metrics_set(g->m, "intake_inflight_items", NULL, (double)g->inflight);
    metrics_set(g->m, "intake_queued_batches", NULL, (double)nq);
    metrics_set(g->m, "intake_ruleset_generation", NULL, (double)g->generation);
    if (g->dedup) {
        struct dedup_stats ds;
        dedup_get_stats(g->dedup, &ds);
        metrics_set(g->m, "intake_redis_up", NULL, dedup_up(g->dedup));
        metrics_set(g->m, "intake_redis_errors_total", NULL, (double)ds.errors);
        metrics_set(g->m, "intake_redis_reconnects_total", NULL,
                    (double)ds.reconnects);
        metrics_set(g->m, "intake_dedup_index_entries", NULL,
                    (double)ds.index_entries);
        metrics_set(g->m, "intake_dedup_index_loaded", NULL,
                    ds.index_loaded ? 1 : 0);
        metrics_set(g->m, "intake_dedup_comparisons_total", NULL,
                    (double)ds.near_candidates);
        metrics_set(g->m, "intake_dedup_index_unwritten", NULL,
                    (double)ds.index_unwritten);
        metrics_set(g->m, "intake_dedup_index_dropped_total", NULL,
                    (double)ds.index_dropped);
        metrics_set(g->m, "intake_dedup_cut_off_total", NULL,
                    (double)ds.cut_off);
    }
    for (size_t i = 0; i < g->nfwd; i++) {
        struct forwarder_stats fs;
        forwarder_get_stats(g->fwd[i], &fs);
        labels_1(&l, "forwarder", forwarder_name(g->fwd[i]));
        metrics_set(g->m, "intake_forward_delivered_total", l.data,
                    (double)fs.delivered);
        metrics_set(g->m, "intake_forward_errors_total", l.data,
                    (double)fs.retries);
        metrics_set(g->m, "intake_forward_rejected_total", l.data,
                    (double)fs.rejected);
        metrics_set(g->m, "intake_forward_spooled_total", l.data,
                    (double)fs.spooled);
        metrics_set(g->m, "intake_forward_up", l.data, fs.up ? 1 : 0);
        metrics_set(g->m, "intake_spool_depth", l.data,
                    (double)fs.spool_records);
        metrics_set(g->m, "intake_spool_bytes", l.data, (double)fs.spool_bytes);
    }
    if (g->sched) {
        sched_health_each(g->sched, health_metrics, g);
    }
    ig_buf_fini(&l);
    metrics_render(g->m, out);
}

bool gw_health_json(struct gw *g, struct ig_jsonw *w)
{
    bool redis = !g->dedup || dedup_up(g->dedup);
    bool ok = !g->stopping;
    ig_jsonw_obj_open(w);
    ig_jsonw_kstr(w, "status", ok ? (redis ? "ok" : "degraded") : "stopping");
    ig_jsonw_kint(w, "generation", (int64_t)g->generation);
    ig_jsonw_kstr(w, "rules_version", g->rs ? ruleset_version(g->rs) : NULL);
    ig_jsonw_key(w, "redis");
    if (g->dedup) {
        ig_jsonw_str(w, redis ? "up" : "down");
    } else {
        ig_jsonw_str(w, "off");
    }
    ig_jsonw_kint(w, "inflight", (int64_t)g->inflight);
    ig_jsonw_key(w, "forwarders");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; i < g->nfwd; i++) {
        struct forwarder_stats fs;
        forwarder_get_stats(g->fwd[i], &fs);
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "name", forwarder_name(g->fwd[i]));
        ig_jsonw_kbool(w, "up", fs.up);
        ig_jsonw_kint(w, "spooled", (int64_t)fs.spool_records);
        ig_jsonw_kint(w, "pending", (int64_t)forwarder_pending(g->fwd[i]));
        ig_jsonw_obj_close(w);
    }
    ig_jsonw_arr_close(w);
    ig_jsonw_kstr(w, "last_reload_error", g->last_reload_error);
    ig_jsonw_obj_close(w);
    return ok;
}

void gw_sources_json(struct gw *g, struct ig_jsonw *w)
{
    if (g->sched) {
        sched_health_json(g->sched, w);
    } else {
        ig_jsonw_arr_open(w);
        ig_jsonw_arr_close(w);
    }
}

/* ---------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------- */

static void push_answer(struct gw *g, struct gw_batch *b)
{
    struct push_ctx *pc = b->pc;
    if (pc->cb) {
        struct ig_buf out;
        ig_buf_init(&out, 0);
        /* Up to 256 answers of a few KiB: sized once, not doubled (and
         * copied) a dozen times. */
        ig_buf_reserve(&out, 64 + pc->res.len + 5 * pc->n);
        ig_buf_adds(&out, "{\"generation\":");
        ig_buf_addf(&out, "%llu", (unsigned long long)g->generation);
        ig_buf_adds(&out, ",\"items\":[");
        for (size_t i = 0; i < pc->n; i++) {
            if (i) {
                ig_buf_addc(&out, ',');
            }
            const struct push_span *sp = &pc->span[i];
            if (sp->len) {
                ig_buf_add(&out, pc->res.data + sp->off, sp->len);
            } else {
                ig_buf_adds(&out, "null");
            }
        }
        ig_buf_adds(&out, "]}\n");
        pc->cb(pc->ud, pc->all_ok ? 200 : 503, &out);
        ig_buf_fini(&out);
    }
}

static void batch_free(struct gw_batch *b)
{
    if (b->push) {
        for (size_t i = b->next_i; i < b->nitems; i++) {
            ig_item_free(b->items[i]);
        }
        ig_free(b->items);
        ig_free(b->index);
        if (b->pc) {
            ig_buf_fini(&b->pc->res);
            ig_free(b->pc->span);
            ig_free(b->pc);
        }
    }
    ig_free(b->source_id);
    ig_free(b);
}

/* Settles b once nothing of it is queued or running. */
static void batch_maybe_done(struct gw_batch *b)
{
    struct gw *g = b->g;
    if (b->queued || b->pending) {
        return;
    }
    if (b->push) {
        push_answer(g, b);
    } else {
        int status = b->failed ? IG_EAGAIN : b->poll_rc;
        if (b->failed) {
            g->batches_failed++;
            metrics_inc(g->m, "intake_batches_failed_total", NULL);
            ig_warn(GW_COMP,
                    "source %s: poll not committed (some items could not "
                    "be forwarded or spooled; they will be fetched again)",
                    b->source_id);
        }
        if (status == IG_OK && b->nskipped) {
            /* Committing moves the cursor past them: dropped for good. */
            struct ig_buf l;
            ig_buf_init(&l, 0);
            labels_1(&l, "source", src_label(g, b->source_id));
            metrics_label(&l, "reason", "malformed");
            struct metrics_series *ms =
                metrics_series(g->m, "intake_items_dropped_total", l.data);
            metrics_series_add(ms, (double)b->nskipped);
            ig_buf_fini(&l);
        }
        if (g->sched) {
            sched_done(g->sched, b->token, status, b->new_items);
        }
    }
    batch_free(b);
}

static void enqueue(struct gw *g, struct gw_batch *b, bool front)
{
    b->queued = true;
    if (front) {
        /* Pushed batches go first — behind a head batch that has started
         * (its items keep their order) and behind earlier pushes. */
        struct gw_batch *prev = NULL;
        struct gw_batch *cur = g->q_head;
        if (cur && cur->next_i > 0) {
            prev = cur;
            cur = cur->next;
        }
        while (cur && cur->push) {
            prev = cur;
            cur = cur->next;
        }
        b->next = cur;
        if (prev) {
            prev->next = b;
        } else {
            g->q_head = b;
        }
        if (!cur) {
            g->q_tail = b;
        }
    } else {
        b->next = NULL;
        if (g->q_tail) {
            g->q_tail->next = b;
        } else {
            g->q_head = b;
        }
        g->q_tail = b;
    }
}

static struct gw_batch *dequeue_head(struct gw *g)
{
    struct gw_batch *b = g->q_head;
    g->q_head = b->next;
    if (!g->q_head) {
        g->q_tail = NULL;
    }
    b->next = NULL;
    b->queued = false;
    return b;
}

static void on_batch(void *ud, struct sched_batch *sb)
{
    struct gw *g = ud;
    struct gw_batch *b = ig_calloc(1, sizeof(*b));
    b->g = g;
    b->token = sb->token;
    b->source_id = ig_strdup(sb->source_id);
    b->items = sb->items;
    b->nitems = sb->nitems;
    b->poll_rc = sb->rc;
    b->nskipped = sb->nskipped;
    if (sb->rc != IG_OK) {
        ig_debug(GW_COMP, "source %s: poll ended with %s%s%s", sb->source_id,
                 ig_strerror(sb->rc), sb->error ? ": " : "",
                 sb->error ? sb->error : "");
    }
    enqueue(g, b, false);
    pump(g);
}

static void on_idle(void *ud)
{
    struct gw *g = ud;
    g->idle = true;
    ig_info(GW_COMP, "every source polled once; draining");
    /* Not from here: on_idle may run deep inside a fetch or scheduler
     * callback, and stopping cancels what that callback is iterating. */
    loop_timer_arm(g->stop_timer, 0);
}

/* ---------------------------------------------------------------------
 * Jobs
 * ------------------------------------------------------------------- */

/* labels_sc() of an item, remade only when its source or channel differs
 * from the last item's. */
static const char *item_labels(struct gw *g, const struct ig_item *it)
{
    const char *s = it->source_id ? it->source_id : "";
    const char *c = it->channel ? it->channel : "";
    size_t sl = strlen(s);
    size_t cl = strlen(c);
    struct ig_buf *k = &g->sc_key;
    if (k->len == sl + cl + 2 && memcmp(k->data, s, sl + 1) == 0 &&
        memcmp(k->data + sl + 1, c, cl + 1) == 0) {
        return g->sc_lab.data;
    }
    ig_buf_reset(k);
    ig_buf_add(k, s, sl + 1);
    ig_buf_add(k, c, cl + 1);
    g->sc_in = g->sc_out = g->sc_upd = NULL;
    return labels_sc(&g->sc_lab, src_label(g, s), c);
}

/* Counts item it in counter `name` under its source and channel, through
 * the handle in *slot (made on first use for the current source/channel:
 * item_labels() clears the slots when they change). */
static void count_item(struct gw *g, const struct ig_item *it,
                       struct metrics_series **slot, const char *name)
{
    const char *l = item_labels(g, it); /* may reset the slots */
    if (!*slot) {
        *slot = metrics_series(g->m, name, l);
    }
    metrics_series_add(*slot, 1);
}

/* The sent_mask of a job every forwarder has taken (or been skipped for). */
static uint32_t fwd_all(const struct gw *g)
{
    return g->nfwd == 32 ? 0xffffffffu : ((1u << g->nfwd) - 1);
}

static void retry_later(struct job *j)
{
    struct gw *g = j->g;
    j->in_retry = true;
    j->next_retry = g->retry_head;
    g->retry_head = j;
    int64_t ms = j->stage != JOB_DEDUP ? GW_FWD_RETRY_MS
                 : j->b->push          ? GW_PUSH_RETRY_MS
                                       : g->conf->redis.retry_ms;
    if (!loop_timer_armed(g->retry_timer) || ms < GW_PUSH_RETRY_MS + 1) {
        loop_timer_arm(g->retry_timer, ms);
    }
}

static void on_retry(void *ud)
{
    struct gw *g = ud;
    struct job *list = g->retry_head;
    g->retry_head = NULL;
    /* Oldest first, so a source's items keep their order. */
    struct job *rev = NULL;
    while (list) {
        struct job *n = list->next_retry;
        list->next_retry = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        struct job *j = rev;
        rev = j->next_retry;
        j->next_retry = NULL;
        j->in_retry = false;
        if (g->stopping && j->fwd_pending > 0) {
            /* Waiting for room at one forwarder while another still has
             * the record: give up the rest, and let that forwarder's
             * callback settle (and end) the job. */
            j->error = "shutting down";
            j->sent_mask = fwd_all(g);
            j->fwd_failed = true;
        } else if (g->stopping) {
            j->error = "shutting down";
            job_finish(j, false, false);
        } else if (j->stage == JOB_DEDUP) {
            job_dedup(j);
        } else {
            job_forward(j);
        }
    }
}

static struct dedup_prep *prepare(const struct gw *g, const struct ig_item *it)
{
    struct dedup_req r = {
        .source_id = it->source_id,
        .channel = it->channel,
        .ext_id = it->ext_id,
        .title = it->title,
        .text = it->text,
    };
    return dedup_prepare(g->dedup, &r);
}

/* True when the job goes on to deduplication and forwarding: classified,
 * flagged by the router (many red-line events have no B/S code and must
 * never be missed), or the operator wants every item. */
static bool goes_on(const struct job *j)
{
    bool flagged = j->cls.route && j->cls.route->level >= ROUTE_LEVEL_ELEVATED;
    return j->cls.top || flagged || j->g->conf->gw.forward_unclassified;
}

/* Classifies j's item: on a worker thread (struct work), or inline. Reads
 * only the job's own item and rule set (shared read-only) and writes the
 * job and the item's arena; the loop thread leaves both alone meanwhile.
 * Metrics and logs wait for classify_done(), on the loop. */
static void classify_work(struct work *w, void *scratch)
{
    struct job *j = (struct job *)w;
    struct ig_item *it = j->it;
    const char *title = it->title ? it->title : "";
    const char *text = it->text ? it->text : "";
    size_t tlen = strlen(title);
    size_t len = strlen(text);
    if (len > j->text_cap) {
        len = ig_utf8_trim_len(text, len, j->text_cap);
        j->truncated = true;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ruleset_classify(j->rs, scratch, title, tlen, text, len, false,
                              it->arena, &j->cls);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    j->cls_seconds = (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    j->cls_rc = rc;
    if (rc < 0) {
        memset(&j->cls, 0, sizeof(j->cls));
    }
    /* A source's own address field (a hotline ticket's 事发地址) locates
     * the hazard better than a place mentioned in passing in the text. */
    const struct router *rt = ruleset_router(j->rs);
    if (rc >= 0 && rt && j->cls.route && it->place && *it->place) {
        route_note_location(rt, j->cls.route, it->place, strlen(it->place),
                            it->arena);
    }
    /* The deduplicator's fingerprints too, while on this thread, and the
     * record as it will be if the item is a new candidate (most are). */
    if (j->g->dedup && goes_on(j)) {
        j->prep = prepare(j->g, it);
    }
    if (j->prep) {
        struct candidate c = {
            .id = dedup_prep_id(j->prep),
            .item = it,
            .rs = j->rs,
            .cls = &j->cls,
            .reports = 1,
            .dedup = "new",
            .received = it->fetched,
            .cls_span = j->pre_span,
        };
        struct ig_buf out;
        ig_buf_init(&out, 0);
        /* Room for the fields, classification and routing at once (a
         * record of the item's text plus a few KiB): no growth by
         * doubling from 64 bytes on every item. */
        ig_buf_reserve(&out, tlen + len + GW_RECORD_SLACK);
        if (candidate_json(&c, &out) == IG_OK && out.len <= GW_RECORD_MAX) {
            j->pre_len = out.len;
            j->pre_json = ig_buf_take(&out);
            /* A bounded copy (what snprintf "%s" did, without printf). */
            size_t n = strnlen(c.id, sizeof(j->pre_id) - 1);
            memcpy(j->pre_id, c.id, n);
            j->pre_id[n] = '\0';
        }
        ig_buf_fini(&out);
    }
}

static void job_classified(struct job *j);

/* A classify thread's own scratch (workpool contexts). */
static void *scratch_new(void)
{
    return cls_scratch_new();
}

static void scratch_free(void *s)
{
    cls_scratch_free(s);
}

/* The hits counter of code or rule v (kind 0 or 1) of a classification of
 * job j, its handle remembered for the current rule set. */
/* Room for max values of each kind. */
static void labels_init(struct label_cache *c, size_t max)
{
    ig_ptrmap_init(&c->of[0], max, NULL);
    ig_ptrmap_init(&c->of[1], max, NULL);
    c->hits = ig_malloc(2 * max * sizeof(*c->hits));
    c->n = 0;
}

static void labels_fini(struct label_cache *c)
{
    if (c->hits) {
        ig_ptrmap_fini(&c->of[0]);
        ig_ptrmap_fini(&c->of[1]);
        ig_free(c->hits);
        c->hits = NULL;
    }
}

static struct metrics_series *cls_hits(struct gw *g, const struct job *j,
                                       int kind, const char *v)
{
    static const char *const keys[] = {"code", "rule"};
    static const char *const names[] = {"intake_code_hits_total",
                                        "intake_rule_hits_total"};
    if (j->rs != g->rs) {
        return metrics_series(g->m, names[kind],
                              labels_1(&g->lbuf, keys[kind], v));
    }
    struct label_cache *c = &g->labels;
    if (c->gen != g->generation) {
        labels_fini(c);
        labels_init(c, ruleset_nrules(g->rs) + ruleset_ntaxa(g->rs) + 1);
        c->gen = g->generation;
    }
    uint32_t i;
    if (ig_ptrmap_get(&c->of[kind], v, &i)) {
        return c->hits[i];
    }
    struct metrics_series *hits =
        metrics_series(g->m, names[kind], labels_1(&g->lbuf, keys[kind], v));
    /* A map full (more values than the rule set has codes and rules):
     * counted all the same, only not cached. */
    if (ig_ptrmap_add(&c->of[kind], v, (uint32_t)c->n)) {
        c->hits[c->n++] = hits;
    }
    return hits;
}

/* Back on the loop: count, then the rest of the job. */
static void classify_done(struct work *w)
{
    struct job *j = (struct job *)w;
    struct gw *g = j->g;
    struct ig_item *it = j->it;
    if (j->truncated) {
        metrics_inc(g->m, "intake_items_truncated_total", NULL);
    }
    metrics_series_observe(g->cls_seconds, j->cls_seconds);
    if (j->cls_rc < 0) {
        ig_warn(GW_COMP, "source %s item %s: classifier failed: %s",
                it->source_id, it->ext_id ? it->ext_id : "-",
                ig_strerror(j->cls_rc));
    }
    metrics_series_add(cls_hits(g, j, 0, j->cls.top ? j->cls.top->code : ""),
                       1);
    for (size_t i = 0; i < j->cls.nev; i++) {
        if (j->cls.ev[i].rule) {
            metrics_series_add(cls_hits(g, j, 1, j->cls.ev[i].rule), 1);
        }
    }
    if (g->tearing_down) {
        j->error = "shutting down";
        job_finish(j, false, false);
        return;
    }
    job_classified(j);
}

static void job_start(struct gw *g, struct gw_batch *b, struct ig_item *it,
                      size_t idx)
{
    struct job *j = ig_pool_get(&g->jobs);
    j->g = g;
    j->b = b;
    j->idx = idx;
    j->it = it;
    j->rs = ruleset_ref(g->rs);
    j->t_start_ms = loop_now_ms(g->loop);
    j->text_cap = (size_t)g->conf->gw.max_text_bytes;
    g->inflight++;
    b->pending++;
    if (!it->source_id) {
        it->source_id = ig_item_strdup(it, b->source_id);
    }
    count_item(g, it, &g->sc_in, "intake_items_in_total");
    j->work.fn = classify_work;
    j->work.done = classify_done;
    if (g->pool) {
        workpool_submit(g->pool, &j->work);
        return;
    }
    classify_work(&j->work, g->scratch);
    classify_done(&j->work);
}

static void job_classified(struct job *j)
{
    struct gw *g = j->g;
    struct ig_item *it = j->it;
    /* Not a hazard by any rule: done (the push answer still shows the
     * empty classification). */
    if (!goes_on(j)) {
        job_finish(j, true, false);
        return;
    }
    if (g->dedup) {
        job_dedup(j);
        return;
    }
    /* Without Redis every item is new; its id is still deterministic. */
    char th[17];
    const char *text = it->text ? it->text : "";
    simhash_hex64(simhash_hash64(text, strlen(text), 0), th);
    candidate_id(it->source_id, it->ext_id, th, j->id);
    memcpy(j->orig, j->id, sizeof(j->id));
    j->verdict = DEDUP_NEW;
    j->reports = 1;
    job_forward(j);
}

/* True when a job may wait for Redis to come back: a pushed item for a
 * moment (a client is waiting), an item of a --once run for the drain
 * timeout (cron must not hang on a dead Redis; the poll is simply not
 * committed), a daemon's item for as long as it takes. */
static bool may_wait(const struct job *j)
{
    int64_t waited = loop_now_ms(j->g->loop) - j->t_start_ms;
    if (j->b->push) {
        return waited < GW_PUSH_WAIT_MS;
    }
    if (j->g->opts.once) {
        return waited < j->g->conf->gw.drain_timeout_ms;
    }
    return true;
}

static void on_dedup(void *ud, int status, const struct dedup_result *res)
{
    struct job *j = ud;
    struct gw *g = j->g;
    if (status != IG_OK) {
        if (g->stopping || !may_wait(j)) {
            j->error = "deduplication unavailable (Redis)";
            job_finish(j, false, false);
        } else {
            retry_later(j);
        }
        return;
    }
    j->verdict = res->verdict;
    j->replay = res->replay;
    memcpy(j->id, res->id, sizeof(j->id));
    memcpy(j->orig, res->orig_id, sizeof(j->orig));
    j->reports = res->reports;
    j->similarity = res->similarity;
    j->nchans = 0;
    for (size_t i = 0; i < res->nchannels && i < DEDUP_MAX_CHANNELS; i++) {
        j->chans[j->nchans++] = ig_item_strdup(j->it, res->channels[i]);
    }
    /* Several citizens reporting the same hazard is itself a priority
     * signal: the router may raise the level (shown in the push answer
     * and in a forwarded record). */
    const struct router *rt = ruleset_router(j->rs);
    if (rt && j->cls.route && j->reports > 1) {
        route_note_reports(rt, j->cls.route, (unsigned)j->reports,
                           (unsigned)j->nchans, j->it->arena);
    }
    if (res->verdict != DEDUP_NEW) {
        static const char *kinds[] = {"new", "seen", "exact", "near"};
        labels_sc(&g->lbuf, src_label(g, j->it->source_id), j->it->channel);
        metrics_label(&g->lbuf, "kind", kinds[res->verdict]);
        metrics_inc(g->m, "intake_items_duplicate_total", g->lbuf.data);
        if (res->verdict != DEDUP_SEEN) {
            ig_info(GW_COMP,
                    "source %s item %s: %s duplicate of candidate %s "
                    "(%lld reports)",
                    j->it->source_id, j->it->ext_id ? j->it->ext_id : "-",
                    kinds[res->verdict], j->orig, (long long)j->reports);
        }
        /* The original's report count grew: tell the platform. Only the
         * link itself is atomic in Redis; an update cut off by kill -9
         * is not repeated (the duplicate is "seen" after restart), the
         * next report's update carries the full count again. */
        if (res->verdict != DEDUP_SEEN && !g->tearing_down) {
            j->update = true;
            job_forward(j);
            return;
        }
        job_finish(j, true, false);
        return;
    }
    j->created = true;
    if (g->tearing_down) {
        j->error = "shutting down";
        job_finish(j, false, false);
        return;
    }
    job_forward(j);
}

/* The job processing the item with candidate id key, or NULL. */
static struct job *owner_of(const struct gw *g, uint64_t key)
{
    struct job *o = g->owners[key & g->owners_mask];
    while (o && o->key != key) {
        o = o->owner_next;
    }
    return o;
}

static void owner_drop(struct job *j)
{
    struct gw *g = j->g;
    struct job **pp = &g->owners[j->key & g->owners_mask];
    while (*pp != j) {
        pp = &(*pp)->owner_next;
    }
    *pp = j->owner_next;
    j->owner = false;
}

/* One job per item at a time. The same item can arrive twice while the
 * first is still on its way: a hotline client that timed out pushes it
 * again, or the item is polled and pushed. Deduplicating the second at
 * once answers "seen" before the first is safe (it may still fail), or
 * replays the first's pending record, which forwards it twice. So the
 * second waits — in the retry list, like an item waiting for Redis —
 * until the first has ended, and is then deduplicated against what the
 * first left: "seen" once it was forwarded, its pending record replayed
 * if it failed. Returns true when j waits (or has ended). */
static bool twin_waits(struct job *j)
{
    struct gw *g = j->g;
    if (j->owner || !j->prep) {
        return false;
    }
    j->key = dedup_prep_key(j->prep);
    if (!owner_of(g, j->key)) {
        j->owner = true;
        j->owner_next = g->owners[j->key & g->owners_mask];
        g->owners[j->key & g->owners_mask] = j;
        return false;
    }
    if (g->stopping || !may_wait(j)) {
        j->error = "the same item is still being processed";
        job_finish(j, false, false);
    } else {
        retry_later(j);
    }
    return true;
}

static void job_dedup(struct job *j)
{
    struct gw *g = j->g;
    j->stage = JOB_DEDUP;
    if (!j->prep) {
        j->prep = prepare(g, j->it);
    }
    if (twin_waits(j)) {
        return;
    }
    int rc = j->prep ? dedup_check_prepared(g->dedup, &j->prep, on_dedup, j)
                     : IG_EINVAL;
    if (rc == IG_OK) {
        return;
    }
    if (rc == IG_EINVAL) {
        j->error = "item has no source id";
        job_finish(j, false, false);
        return;
    }
    /* Redis down (IG_EAGAIN) or its queue full (IG_E2BIG). */
    if (g->stopping || !may_wait(j)) {
        j->error = "deduplication unavailable (Redis)";
        job_finish(j, false, false);
        return;
    }
    retry_later(j);
}

static int build_update(struct job *j)
{
    struct candidate_update u = {
        .id = j->orig,
        .reports = j->reports,
        .channels = j->chans,
        .nchannels = j->nchans,
        .route = j->cls.route,
        .item = j->it,
        .dup_id = j->id,
        .dedup = j->verdict == DEDUP_NEAR ? "near" : "exact",
        .similarity = j->similarity,
        .received = j->it->fetched,
    };
    struct ig_buf *out = &j->g->rec;
    ig_buf_reset(out);
    int rc = candidate_update_json(&u, out);
    if (rc < 0) {
        return rc;
    }
    if (out->len > GW_RECORD_MAX) {
        return IG_E2BIG;
    }
    candidate_update_id(j->orig, j->reports, j->fwd_id);
    j->json_len = out->len;
    j->json = ig_strndup(out->data, out->len);
    return IG_OK;
}

static int build_record(struct job *j)
{
    static const char *dd[] = {"new", "seen", "exact", "near"};
    if (j->update) {
        return build_update(j);
    }
    /* A new candidate with one report from its own channel: exactly what
     * the classify thread built. */
    const char *ch = j->it->channel;
    if (j->pre_json && j->verdict == DEDUP_NEW && j->reports == 1 &&
        strcmp(j->id, j->pre_id) == 0 &&
        ((j->nchans == 0 && !ch) ||
         (j->nchans == 1 && ch && strcmp(j->chans[0], ch) == 0))) {
#ifndef NDEBUG
        /* Debug builds (the sanitizer passes of the test suite) check the
         * shortcut against the loop's own rendering. */
        struct candidate c2 = {
            .id = j->id,
            .item = j->it,
            .rs = j->rs,
            .cls = &j->cls,
            .reports = j->reports,
            .channels = j->nchans ? j->chans : NULL,
            .nchannels = j->nchans,
            .dedup = "new",
            .received = j->it->fetched,
        };
        struct ig_buf o2;
        ig_buf_init(&o2, 0);
        candidate_json(&c2, &o2);
        if (o2.len != j->pre_len || memcmp(o2.data, j->pre_json, o2.len)) {
            ig_error(GW_COMP, "record built ahead differs: %.*s / %.*s",
                     (int)o2.len, o2.data, (int)j->pre_len, j->pre_json);
            abort();
        }
        ig_buf_fini(&o2);
#endif
        memcpy(j->fwd_id, j->id, sizeof(j->id));
        j->json = j->pre_json;
        j->json_len = j->pre_len;
        j->cls_span[0] = j->pre_span[0];
        j->cls_span[1] = j->pre_span[1];
        j->pre_json = NULL;
        return IG_OK;
    }
    struct candidate c = {
        .id = j->id,
        .item = j->it,
        .rs = j->rs,
        .cls = &j->cls,
        .route = NULL,
        .reports = j->reports > 0 ? j->reports : 1,
        .channels = j->nchans ? j->chans : NULL,
        .nchannels = j->nchans,
        .dedup = dd[j->verdict],
        .received = j->it->fetched,
        .cls_span = j->cls_span,
    };
    struct ig_buf *out = &j->g->rec;
    ig_buf_reset(out);
    int rc = candidate_json(&c, out);
    if (rc < 0) {
        return rc;
    }
    if (out->len > GW_RECORD_MAX) {
        return IG_E2BIG;
    }
    memcpy(j->fwd_id, j->id, sizeof(j->id));
    j->json_len = out->len;
    j->json = ig_strndup(out->data, out->len);
    return IG_OK;
}

static void on_marked(void *ud, int status, const struct dedup_result *res)
{
    struct gw *g = ud;
    (void)status;
    (void)res;
    g->marking--;
    check_drained(g);
}

static void fwd_settle(struct job *j)
{
    struct gw *g = j->g;
    if (j->fwd_pending || j->sent_mask != fwd_all(g) || j->in_retry) {
        return;
    }
    if (j->fwd_failed && j->update) {
        /* The duplicate is linked in Redis already: fetching it again
         * would only answer "seen". The update is lost, loudly; the next
         * report's update carries the full count again. */
        ig_error(GW_COMP,
                 "candidate %s: update %s (%lld reports) DROPPED: not "
                 "delivered and not spooled",
                 j->orig, j->fwd_id, (long long)j->reports);
        struct ig_buf l;
        ig_buf_init(&l, 0);
        labels_1(&l, "source", src_label(g, j->it->source_id));
        metrics_label(&l, "reason", "update not delivered");
        metrics_inc(g->m, "intake_items_dropped_total", l.data);
        ig_buf_fini(&l);
        job_finish(j, true, false);
        return;
    }
    if (j->fwd_failed) {
        j->error = "not delivered and not spooled";
        job_finish(j, false, false);
        return;
    }
    if (j->update) {
        count_item(g, j->it, &g->sc_upd, "intake_updates_out_total");
    } else {
        count_item(g, j->it, &g->sc_out, "intake_items_out_total");
    }
    job_review(j);
}

/* The last step: a new candidate is marked forwarded; a duplicate that
 * sent an update is simply done (it was marked seen when linked). */
static void job_mark(struct job *j)
{
    struct gw *g = j->g;
    if (j->update) {
        job_finish(j, true, false);
        return;
    }
    /* Mark the candidate forwarded. The item is safe once forwarded, so
     * the job ends now (its batch's answer or cursor does not wait a
     * Redis round trip more, nor does its memory); only the drain waits
     * for the marks in flight: a "done" lost at shutdown would make the
     * next start replay the candidate. A failed mark is harmless (the
     * replay keeps its id and the forwarders absorb it). */
    if (g->dedup && !g->tearing_down &&
        dedup_done(g->dedup, j->id, on_marked, g) == IG_OK) {
        g->marking++;
    }
    j->created = false;
    job_finish(j, true, true);
}

static void on_reviewed(void *ud, int status)
{
    struct job *j = ud;
    if (status != IG_OK) {
        metrics_inc(j->g->m, "intake_review_errors_total", NULL);
    }
    job_mark(j);
}

/* The review queue, before the candidate is marked forwarded: a kill -9
 * in between replays the candidate, and the replay adds it again (ZADD
 * of the same member is idempotent). A queue that cannot be written is
 * counted and logged by level, never a reason to hold the item: the
 * candidate itself is delivered. */
static void job_review(struct job *j)
{
    struct gw *g = j->g;
    const struct route_result *r = j->cls.route;
    int level = r ? (int)r->level : 0;
    bool classified = j->cls.top != NULL;
    double conf = classified ? j->cls.confidence : 0;
    /* An update re-ranks its original only when the priority rose: the
     * original's own confidence was judged when it was forwarded. */
    bool want = j->update ? level >= ROUTE_LEVEL_ELEVATED
                          : review_wanted(classified, conf,
                                          g->conf->gw.review_below, level);
    if (!g->review || g->tearing_down || !want) {
        job_mark(j);
        return;
    }
    double score = review_score(level, conf, j->it->fetched_ts);
    int rc = review_add(g->review, j->orig[0] ? j->orig : j->id, score,
                        on_reviewed, j);
    if (rc != IG_OK) {
        metrics_inc(g->m, "intake_review_errors_total", NULL);
        ig_warn(GW_COMP, "candidate %s: review queue unavailable (%s)",
                j->orig[0] ? j->orig : j->id, ig_strerror(rc));
        job_mark(j);
        return;
    }
    if (!g->review_added[level]) {
        g->review_added[level] =
            metrics_series(g->m, "intake_review_added_total",
                           labels_1(&g->lbuf, "priority",
                                    route_level_name((enum route_level)level)));
    }
    metrics_series_add(g->review_added[level], 1);
}

static void on_fwd(void *ud, int status)
{
    struct job *j = ud;
    j->fwd_pending--;
    if (status == IG_EAGAIN) {
        j->fwd_failed = true;
    }
    /* IG_EREJECTED: dead-lettered by the forwarder; nothing more to do. */
    if (j->fwd_pending == 0 && !j->in_retry) {
        fwd_settle(j);
    }
}

static void job_forward(struct job *j)
{
    struct gw *g = j->g;
    j->stage = JOB_FORWARD;
    if (!j->json) {
        int rc = build_record(j);
        if (rc < 0) {
            /* The same item would fail the same way on every re-fetch and
             * hold its source's cursor for ever: drop it, loudly. */
            ig_error(GW_COMP,
                     "source %s item %s: DROPPED: its candidate record "
                     "cannot be built (%s)",
                     j->it->source_id, j->it->ext_id ? j->it->ext_id : "-",
                     ig_strerror(rc));
            struct ig_buf l;
            ig_buf_init(&l, 0);
            labels_1(&l, "source", src_label(g, j->it->source_id));
            metrics_label(&l, "reason", "record too large");
            metrics_inc(g->m, "intake_items_dropped_total", l.data);
            ig_buf_fini(&l);
            j->error = "candidate record too large";
            job_finish(j, true, false);
            return;
        }
    }
    /* Fresh: this record cannot have been delivered before (a new
     * candidate's first forwarding, or an update, whose id is made once by
     * the atomic link), so a kind may skip its duplicate guard. */
    struct fwd_rec rec = {
        .id = j->fwd_id,
        .json = j->json,
        .len = j->json_len,
        .fresh = g->dedup && (j->update || !j->replay),
    };
    int level = j->cls.route ? (int)j->cls.route->level : 0;
    bool wait = false;
    for (size_t i = 0; i < g->nfwd; i++) {
        if (j->sent_mask & (1u << i)) {
            continue;
        }
        /* `only = high|elevated`: not this target's business. */
        if (forwarder_only(g->fwd[i]) > level) {
            j->sent_mask |= 1u << i;
            continue;
        }
        /* One forwarder borrows the job's record (it lives until the job
         * finishes, after the forwarder's callback); with several, each
         * takes a copy (the saving is for the usual single target). */
        int rc = g->nfwd == 1 ? forwarder_send_ref(g->fwd[i], &rec, on_fwd, j)
                              : forwarder_send(g->fwd[i], &rec, on_fwd, j);
        if (rc == IG_OK) {
            j->sent_mask |= 1u << i;
            j->fwd_pending++;
        } else if (rc == IG_E2BIG && !g->stopping) {
            wait = true;
        } else {
            j->sent_mask |= 1u << i;
            j->fwd_failed = true;
        }
    }
    if (wait) {
        retry_later(j);
        return;
    }
    fwd_settle(j);
}

/* The push answer for one job: what the operator's screen shows. Appended
 * to the batch's answers (pc->res), its place noted at the job's index. */
static void push_result(struct job *j, bool ok, struct push_ctx *pc)
{
    static const char *dd[] = {"new", "seen", "exact", "near"};
    struct ig_buf *out = &pc->res;
    size_t off = out->len;
    struct ig_jsonw w;
    ig_jsonw_init(&w, out);
    ig_jsonw_obj_open(&w);
    /* The fixed keys as literal pieces (the scratch has no cap); the
     * writer puts the comma before the classification keys. */
    ig_jsonw_raw(&w, "\"index\":", 8);
    ig_json_int(out, (int64_t)j->idx);
    IG_JSON_LIT(out, ",\"external_id\":");
    ig_json_str(out, j->it->ext_id);
    IG_JSON_LIT(out, ",\"source\":");
    ig_json_str(out, j->it->source_id);
    IG_JSON_LIT(out, ",\"channel\":");
    ig_json_str(out, j->it->channel);
    if (ok) {
        IG_JSON_LIT(out, ",\"accepted\":true");
    } else {
        IG_JSON_LIT(out, ",\"accepted\":false,\"error\":");
        ig_json_str(out, j->error ? j->error : "failed");
    }
    if (j->id[0]) {
        IG_JSON_LIT(out, ",\"id\":");
        ig_json_str(out, j->id);
        IG_JSON_LIT(out, ",\"dedup\":{\"verdict\":");
        ig_json_str(out, dd[j->verdict]);
        IG_JSON_LIT(out, ",\"original\":");
        ig_json_str(out, j->orig);
        IG_JSON_LIT(out, ",\"reports\":");
        ig_json_int(out, j->reports > 0 ? j->reports : 1);
        if (j->verdict == DEDUP_NEAR || j->verdict == DEDUP_EXACT) {
            IG_JSON_LIT(out, ",\"similarity\":");
            ig_json_num(out, j->similarity);
        }
        IG_JSON_LIT(out, ",\"channels\":[");
        for (size_t i = 0; i < j->nchans; i++) {
            if (i) {
                IG_JSON_LIT(out, ",");
            }
            ig_json_str(out, j->chans[i]);
        }
        IG_JSON_LIT(out, "]}");
    }
    if (j->rs && j->json && j->cls_span[1]) {
        /* The same keys the candidate record carries (nothing changes the
         * classification after it is built): copied, not written again. */
        ig_jsonw_raw(&w, j->json + j->cls_span[0], j->cls_span[1]);
    } else if (j->rs) {
        cls_result_json(j->rs, &j->cls, &w);
    }
    ig_jsonw_obj_close(&w);
    pc->span[j->idx].off = off;
    pc->span[j->idx].len = out->len - off;
}

static void job_finish(struct job *j, bool ok, bool fresh)
{
    struct gw *g = j->g;
    struct gw_batch *b = j->b;
    /* A new candidate that was neither forwarded nor spooled stays
     * pending, so the item is replayed when it comes again. The
     * deduplicator holds it open until then; this hands it to Redis (its
     * record back to P), so items that never come back do not pile up in
     * memory. Shutting down, the next start finds it open instead. */
    if (j->created && g->dedup && !g->tearing_down) {
        dedup_abandon(g->dedup, j->id);
    }
    if (j->owner) {
        owner_drop(j);
    }
    if (!ok) {
        b->failed = true;
        struct ig_buf l;
        ig_buf_init(&l, 0);
        labels_1(&l, "source", src_label(g, j->it->source_id));
        metrics_label(&l, "reason", j->error ? j->error : "failed");
        metrics_inc(g->m, "intake_items_failed_total", l.data);
        ig_buf_fini(&l);
    }
    if (fresh) {
        b->new_items++;
    }
    if (b->push && b->pc) {
        push_result(j, ok, b->pc);
        if (!ok) {
            b->pc->all_ok = false;
        }
    }
    ruleset_unref(j->rs);
    dedup_prep_free(j->prep);
    ig_free(j->pre_json);
    ig_item_free(j->it);
    ig_free(j->json);
    if (g->tearing_down) {
        ig_free(j);
    } else {
        ig_pool_put(&g->jobs, j);
    }
    b->pending--;
    g->inflight--;
    batch_maybe_done(b);
    pump(g);
    check_drained(g);
}

static void pump(struct gw *g)
{
    if (g->pumping) {
        g->pump_again = true;
        return;
    }
    g->pumping = true;
    do {
        g->pump_again = false;
        while (g->q_head && !g->tearing_down) {
            struct gw_batch *b = g->q_head;
            if (b->next_i >= b->nitems) {
                dequeue_head(g);
                batch_maybe_done(b);
                continue;
            }
            if (g->stopping && !b->push) {
                /* Draining: what has not started is left for the next
                 * run; the cursor stays, so it is fetched again. */
                for (size_t i = b->next_i; i < b->nitems; i++) {
                    ig_item_free(b->items[i]);
                    b->items[i] = NULL;
                }
                if (b->next_i < b->nitems) {
                    b->failed = true;
                }
                b->next_i = b->nitems;
                continue;
            }
            if (g->inflight >= g->max_inflight) {
                break;
            }
            size_t i = b->next_i++;
            struct ig_item *it = b->items[i];
            b->items[i] = NULL;
            if (it) {
                job_start(g, b, it, b->push ? b->index[i] : i);
            }
        }
    } while (g->pump_again);
    g->pumping = false;
}

/* ---------------------------------------------------------------------
 * Push (POST /v1/items)
 * ------------------------------------------------------------------- */

struct push_parse {
    struct gw_batch *b;
    struct connector_sink *sink;
    size_t cap; /* room in b->items and b->index */
};

static int push_emit(void *ud, struct ig_item *it)
{
    struct push_parse *pp = ud;
    struct gw_batch *b = pp->b;
    if (b->nitems == pp->cap) {
        pp->cap = pp->cap ? pp->cap * 2 : 16;
        b->items = ig_realloc(b->items, pp->cap * sizeof(*b->items));
        b->index = ig_realloc(b->index, pp->cap * sizeof(*b->index));
    }
    b->items[b->nitems] = it;
    /* Items come in request order; skipped ones were counted before. */
    b->index[b->nitems] = pp->sink->nitems - 1 + pp->sink->nskipped;
    b->nitems++;
    return IG_OK;
}

int gw_push(struct gw *g, const char *body, size_t len, gw_push_cb cb, void *ud,
            void **handle, const char **why)
{
    *handle = NULL;
    *why = NULL;
    if (g->stopping) {
        *why = "shutting down";
        return IG_EAGAIN;
    }
    struct gw_batch *b = ig_calloc(1, sizeof(*b));
    b->g = g;
    b->push = true;
    b->source_id = ig_strdup("push");
    struct ig_diags d;
    ig_diags_init(&d);
    struct connector_sink sink = {.diags = &d};
    struct push_parse pp = {.b = b, .sink = &sink};
    sink.emit = push_emit;
    sink.ud = &pp;
    int rc = connector_push_parse(body, len, "push", "hotline",
                                  (size_t)g->conf->api.max_push_items, &sink);
    if (rc < 0) {
        *why = rc == IG_E2BIG ? "too many items in one request"
                              : "body is not a JSON object or array";
        ig_diags_fini(&d);
        batch_free(b);
        return rc;
    }
    struct push_ctx *pc = ig_calloc(1, sizeof(*pc));
    b->pc = pc;
    pc->cb = cb;
    pc->ud = ud;
    pc->n = sink.nitems + sink.nskipped;
    pc->span = ig_calloc(pc->n ? pc->n : 1, sizeof(*pc->span));
    /* Room for every answer at once (about a KiB each): no doubling. */
    ig_buf_init(&pc->res, 0);
    ig_buf_reserve(&pc->res, pc->n * GW_ANSWER_SLACK);
    pc->all_ok = true;
    /* Skipped items answer with their reason at their index. */
    for (size_t i = 0; i < d.n; i++) {
        size_t idx = (size_t)(d.v[i].line - 1);
        if (d.v[i].line <= 0 || idx >= pc->n || pc->span[idx].len) {
            continue;
        }
        size_t off = pc->res.len;
        struct ig_jsonw w;
        ig_jsonw_init(&w, &pc->res);
        ig_jsonw_obj_open(&w);
        ig_jsonw_kint(&w, "index", (int64_t)idx);
        ig_jsonw_kbool(&w, "accepted", false);
        ig_jsonw_kstr(&w, "error", d.v[i].msg);
        ig_jsonw_obj_close(&w);
        pc->span[idx].off = off;
        pc->span[idx].len = pc->res.len - off;
    }
    ig_diags_fini(&d);
    enqueue(g, b, true);
    *handle = b;
    /* The answer must not come from inside this call (the caller has not
     * stored the handle yet), so the batch starts on the next loop turn. */
    loop_timer_arm(g->pump_timer, 0);
    return IG_OK;
}

void gw_push_cancel(struct gw *g, void *handle)
{
    (void)g;
    struct gw_batch *b = handle;
    if (b && b->pc) {
        b->pc->cb = NULL;
    }
}

/* ---------------------------------------------------------------------
 * Reload
 * ------------------------------------------------------------------- */

static void diags_json(struct ig_jsonw *w, const struct ig_diags *d)
{
    ig_jsonw_arr_open(w);
    for (size_t i = 0; i < d->n; i++) {
        const struct ig_diag *x = &d->v[i];
        if (x->sev != IG_DIAG_ERROR) {
            continue;
        }
        char *s = x->line > 0
                      ? ig_asprintf("%s:%d: %s", x->file, x->line, x->msg)
                      : ig_asprintf("%s: %s", x->file, x->msg);
        ig_jsonw_str(w, s);
        ig_free(s);
    }
    ig_jsonw_arr_close(w);
}

static void log_diags(const char *what, const struct ig_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct ig_diag *x = &d->v[i];
        if (x->sev == IG_DIAG_ERROR) {
            ig_error(GW_COMP, "reload %s: %s:%d: %s", what, x->file, x->line,
                     x->msg);
        }
    }
}

static void do_reload(void *ud)
{
    struct gw *g = ud;
    if (g->stopping) {
        return;
    }
    struct ig_diags dr, ds;
    ig_diags_init(&dr);
    ig_diags_init(&ds);

    /* Build both sets first; swap each only if it built cleanly. */
    struct ruleset *rs = NULL;
    int rrc = ruleset_load(g->rules_dir, &rs, &dr);
    struct source_set *set = NULL;
    int src = source_set_load(g->sources_path, &set, &ds);
    struct ig_buf l;
    ig_buf_init(&l, 0);
    if (rrc == IG_OK) {
        ruleset_unref(g->rs);
        g->rs = rs;
        g->generation++;
        ig_info(GW_COMP, "rules reloaded: generation %llu, version %s",
                (unsigned long long)g->generation, ruleset_version(rs));
    } else {
        log_diags("rules", &dr);
        ig_error(GW_COMP,
                 "rules reload rejected (%zu errors); generation "
                 "%llu stays",
                 dr.nerrors, (unsigned long long)g->generation);
    }
    ig_buf_reset(&l);
    metrics_label(&l, "part", "rules");
    metrics_label(&l, "result", rrc == IG_OK ? "ok" : "rejected");
    metrics_inc(g->m, "intake_reloads_total", l.data);
    if (src == IG_OK) {
        src_labels_keep(g, set);
        sched_reload(g->sched, set);
        ig_info(GW_COMP, "sources reloaded from %s", g->sources_path);
    } else {
        log_diags("sources", &ds);
        ig_error(GW_COMP,
                 "sources reload rejected (%zu errors); the old "
                 "sources stay",
                 ds.nerrors);
    }
    ig_buf_reset(&l);
    metrics_label(&l, "part", "sources");
    metrics_label(&l, "result", src == IG_OK ? "ok" : "rejected");
    metrics_inc(g->m, "intake_reloads_total", l.data);

    /* The answer for every request coalesced into this reload. */
    ig_buf_reset(&l);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &l);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kbool(&w, "ok", rrc == IG_OK && src == IG_OK);
    ig_jsonw_kint(&w, "generation", (int64_t)g->generation);
    ig_jsonw_kstr(&w, "rules_version", ruleset_version(g->rs));
    ig_jsonw_key(&w, "rules");
    ig_jsonw_obj_open(&w);
    ig_jsonw_kbool(&w, "ok", rrc == IG_OK);
    ig_jsonw_key(&w, "errors");
    diags_json(&w, &dr);
    ig_jsonw_obj_close(&w);
    ig_jsonw_key(&w, "sources");
    ig_jsonw_obj_open(&w);
    ig_jsonw_kbool(&w, "ok", src == IG_OK);
    ig_jsonw_key(&w, "errors");
    diags_json(&w, &ds);
    ig_jsonw_obj_close(&w);
    ig_jsonw_obj_close(&w);
    ig_buf_addc(&l, '\n');
    ig_free(g->last_reload_error);
    g->last_reload_error = NULL;
    if (rrc != IG_OK || src != IG_OK) {
        g->last_reload_error =
            ig_strdup(rrc != IG_OK ? "rules rejected" : "sources rejected");
    }
    struct waiter *ws = g->waiters;
    g->waiters = NULL;
    while (ws) {
        struct waiter *n = ws->next;
        if (ws->cb) {
            ws->cb(ws->ud, rrc == IG_OK && src == IG_OK, &l);
        }
        ig_free(ws);
        ws = n;
    }
    ig_buf_fini(&l);
    ig_diags_fini(&dr);
    ig_diags_fini(&ds);
}

void gw_reload(struct gw *g)
{
    if (g->stopping) {
        return;
    }
    /* Requests inside the window join the reload already scheduled. */
    if (!loop_timer_armed(g->reload_timer)) {
        ig_info(GW_COMP, "reload requested");
        loop_timer_arm(g->reload_timer, g->conf->gw.reload_delay_ms);
    }
}

void gw_reload_request(struct gw *g, gw_reload_cb cb, void *ud, void **handle)
{
    struct waiter *w = ig_calloc(1, sizeof(*w));
    w->cb = cb;
    w->ud = ud;
    w->next = g->waiters;
    g->waiters = w;
    *handle = w;
    gw_reload(g);
    if (g->stopping) {
        /* No reload will run: answer on the next turn. */
        loop_timer_arm(g->reload_timer, 0);
    }
}

void gw_reload_cancel(struct gw *g, void *handle)
{
    for (struct waiter *w = g->waiters; w; w = w->next) {
        if (w == handle) {
            w->cb = NULL;
        }
    }
}

/* ---------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------- */

static void on_term(void *ud)
{
    struct gw *g = ud;
    ig_info(GW_COMP, "signal: draining and stopping");
    gw_stop(g);
}

static void on_hup(void *ud)
{
    gw_reload(ud);
}

static void stop_timer_cb(void *ud)
{
    gw_stop(ud);
}

static void pump_timer_cb(void *ud)
{
    struct gw *g = ud;
    pump(g);
    check_drained(g);
}

static void on_drain_timeout(void *ud)
{
    struct gw *g = ud;
    if (g->inflight == 0 && !g->q_head && !g->retry_head) {
        /* Only spool replay was left: the records are safe on disk and
         * the next run replays the rest. */
        ig_info(GW_COMP, "drain timeout: spool replay continues next run");
        loop_break(g->loop);
        return;
    }
    ig_error(GW_COMP,
             "drain timeout: %zu items still in flight; their polls are "
             "not committed and will be fetched again",
             g->inflight);
    g->run_rc = IG_EAGAIN;
    loop_break(g->loop);
}

/* True while a forwarder that works is still replaying its spool: a cron
 * run of --once then finishes what an earlier run had to spool instead of
 * leaving it for the run after. A forwarder whose target is down is not
 * waited for (its records are safe on disk). */
static bool spool_replaying(struct gw *g)
{
    for (size_t i = 0; i < g->nfwd; i++) {
        struct forwarder_stats fs;
        forwarder_get_stats(g->fwd[i], &fs);
        if (fs.up && (fs.spool_records > 0 || forwarder_pending(g->fwd[i]))) {
            return true;
        }
    }
    return false;
}

static void check_drained(struct gw *g)
{
    if (!g->stopping || g->tearing_down) {
        return;
    }
    if (g->inflight || g->marking || g->q_head || g->retry_head) {
        return;
    }
    if (g->idle && spool_replaying(g)) {
        /* Replays complete inside the forwarders: look again shortly
         * (bounded by the drain timer). */
        if (!loop_timer_armed(g->recheck_timer)) {
            loop_timer_arm(g->recheck_timer, GW_RECHECK_MS);
        }
        return;
    }
    loop_break(g->loop);
}

static void recheck_timer_cb(void *ud)
{
    check_drained(ud);
}

static void reload_timer_cb(void *ud)
{
    struct gw *g = ud;
    if (g->stopping) {
        /* Answer waiters that can no longer get a reload. */
        struct waiter *ws = g->waiters;
        g->waiters = NULL;
        struct ig_buf body;
        ig_buf_init(&body, 0);
        ig_buf_adds(&body, "{\"ok\":false,\"error\":\"shutting down\"}\n");
        while (ws) {
            struct waiter *n = ws->next;
            if (ws->cb) {
                ws->cb(ws->ud, false, &body);
            }
            ig_free(ws);
            ws = n;
        }
        ig_buf_fini(&body);
        return;
    }
    do_reload(g);
}

static void retry_timer_cb(void *ud)
{
    struct gw *g = ud;
    on_retry(g);
    pump(g);
    check_drained(g);
}

static int open_forwarders(struct gw *g, struct ig_diags *d)
{
    struct spool_cfg sc;
    struct spool_opts so;
    int rc = spool_setup(g->conf, g->state_dir, &sc, &so, &g->spool_dir, d);
    if (rc < 0) {
        ig_cfg_free(spool_cfg_schema, &sc);
        return rc;
    }
    struct redis_cfg rcfg;
    redis_setup(g->conf, g->redis_password, &rcfg);
    struct forwarder_env env = {
        .base = loop_base(g->loop),
        .base_dir = g->conf->base_dir,
        .redis = g->conf->has_redis ? &rcfg : NULL,
        .prefix = g->conf->redis.prefix,
        .ttl_ms = g->conf->redis.retention_ms,
        .spool_dir = g->spool_dir,
        .spool = &so,
        .dead_letter_dir = g->state_dir,
    };
    for (size_t i = 0; i < g->conf->nfwd && i < GW_MAX_FWD; i++) {
        struct forwarder *f = NULL;
        rc = forwarder_new(&env, g->conf->fwd[i].sec, d, &f);
        if (rc < 0) {
            break;
        }
        g->fwd[g->nfwd++] = f;
    }
    ig_cfg_free(spool_cfg_schema, &sc);
    return rc;
}

int gw_new(struct gw_conf *conf, const struct gw_opts *o, struct gw **out,
           struct ig_diags *d)
{
    *out = NULL;
    struct gw *g = ig_calloc(1, sizeof(*g));
    g->conf = conf;
    g->opts = *o;
    g->loop = loop_new();
    g->m = metrics_new();
    metrics_setup(g->m);
    g->cls_seconds = metrics_series(g->m, "intake_classify_seconds", NULL);
    ig_buf_init(&g->lbuf, 0);
    ig_buf_init(&g->rec, 0);
    ig_buf_init(&g->sc_lab, 0);
    ig_buf_init(&g->sc_key, 0);
    g->src_labels = metrics_values_new(GW_PUSH_SOURCE_LABELS, "other");
    /* What a push names when its items name no source. */
    metrics_values_keep(g->src_labels, "push");
    g->max_inflight = (size_t)conf->gw.max_inflight;
    ig_pool_init(&g->jobs, sizeof(struct job), g->max_inflight);
    for (g->owners_mask = 63; g->owners_mask < g->max_inflight;
         g->owners_mask = 2 * g->owners_mask + 1) {
    }
    g->owners = ig_calloc(g->owners_mask + 1, sizeof(*g->owners));
    g->retry_timer = loop_timer_new(g->loop, retry_timer_cb, g);
    g->reload_timer = loop_timer_new(g->loop, reload_timer_cb, g);
    g->drain_timer = loop_timer_new(g->loop, on_drain_timeout, g);
    g->pump_timer = loop_timer_new(g->loop, pump_timer_cb, g);
    g->stop_timer = loop_timer_new(g->loop, stop_timer_cb, g);
    g->recheck_timer = loop_timer_new(g->loop, recheck_timer_cb, g);
    g->rules_dir = resolve_rules(conf, o);
    g->sources_path = gw_conf_path(conf, conf->gw.sources);
    g->state_dir = gw_conf_path(conf, conf->gw.state_dir);
    g->scratch = cls_scratch_new();
    if (conf->gw.classify_threads > 0) {
        g->pool =
            workpool_new(loop_base(g->loop), (size_t)conf->gw.classify_threads,
                         scratch_new, scratch_free);
        if (!g->pool) {
            ig_warn(GW_COMP, "classify threads unavailable: classifying on "
                             "the event loop");
        }
    }
    int rc;

    /* Secrets first: a missing one is a configuration error. */
    rc = gw_secret_read(conf->redis.password_ref, conf->base_dir,
                        &g->redis_password);
    if (rc == IG_OK) {
        rc = gw_secret_read(conf->api.push_token_ref, conf->base_dir,
                            &g->push_token);
    }
    if (rc == IG_OK) {
        rc = gw_secret_read(conf->api.admin_token_ref, conf->base_dir,
                            &g->admin_token);
    }
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "a secret reference could not be read");
        rc = IG_EINVAL;
        goto out;
    }

    /* The state dir holds cursors, spools and dead letters: create it
     * before anything opens a file in it. */
    rc = state_dir_prepare(g->state_dir);
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "state directory %s cannot be created", g->state_dir);
        rc = IG_EIO;
        goto out;
    }

    /* Rules. */
    rc = ruleset_load(g->rules_dir, &g->rs, d);
    if (rc < 0) {
        rc = IG_EINVAL;
        goto out;
    }
    g->generation = 1;

    /* Redis dedup. */
    if (conf->has_redis) {
        struct dedup_cfg dc;
        rc = dedup_setup(conf, &dc, d);
        if (rc == IG_OK) {
            redis_setup(conf, g->redis_password, &dc.redis);
            dc.prefix = conf->redis.prefix;
            dc.ttl_ms = conf->redis.retention_ms;
            rc = dedup_new(loop_base(g->loop), &dc, &g->dedup);
        }
        ig_cfg_free(dedup_cfg_schema, &dc);
        if (rc < 0) {
            rc = IG_EINVAL;
            goto out;
        }
        if (conf->gw.review) {
            struct redis_cfg rcfg;
            redis_setup(conf, g->redis_password, &rcfg);
            rc = review_new(loop_base(g->loop), &rcfg, conf->redis.prefix,
                            conf->redis.retention_ms, 0, &g->review);
            if (rc < 0) {
                rc = IG_EINVAL;
                goto out;
            }
        }
    }

    /* Forwarders and their spools. */
    rc = open_forwarders(g, d);
    if (rc < 0) {
        goto out;
    }

    /* Sources and the scheduler. */
    struct source_set *set = NULL;
    rc = source_set_load(g->sources_path, &set, d);
    if (rc < 0) {
        rc = IG_EINVAL;
        goto out;
    }
    src_labels_keep(g, set);
    struct sched_opts so = {
        .state_dir = g->state_dir,
        .once = o->once,
        .on_batch = on_batch,
        .on_idle = on_idle,
        .ud = g,
    };
    rc = sched_new(loop_base(g->loop), set, &so, &g->sched);
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                     "state directory %s is not usable", g->state_dir);
        goto out;
    }

    /* HTTP API. */
    const char *listen = o->listen ? o->listen : conf->api.listen;
    if (!o->no_api && listen && *listen) {
        struct api_opts ao = {
            .listen = listen,
            .push_token = g->push_token,
            .admin_token = g->admin_token,
            .max_body = (size_t)conf->api.max_body_bytes,
            .request_timeout_ms = conf->api.request_timeout_ms,
            .max_connections = (int)conf->api.max_connections,
        };
        rc = api_new(loop_base(g->loop), g, &ao, &g->api);
        if (rc < 0) {
            ig_diags_add(d, IG_DIAG_ERROR, conf->path, 0, 0,
                         "[api] cannot listen on %s", listen);
            goto out;
        }
    }

    if (!o->no_signals) {
        loop_signal_add(g->loop, SIGTERM, on_term, g);
        loop_signal_add(g->loop, SIGINT, on_term, g);
        loop_signal_add(g->loop, SIGHUP, on_hup, g);
    }
out:
    if (rc < 0) {
        gw_free(g);
        return rc;
    }
    *out = g;
    return IG_OK;
}

int gw_run(struct gw *g)
{
    ig_info(GW_COMP,
            "running: rules %s (version %s), sources %s, %zu forwarder%s, "
            "redis %s%s",
            g->rules_dir, ruleset_version(g->rs), g->sources_path, g->nfwd,
            g->nfwd == 1 ? "" : "s", g->dedup ? "on" : "off",
            g->api ? "" : ", no API");
    int rc = sched_start(g->sched);
    if (rc < 0) {
        return rc;
    }
    rc = loop_run(g->loop);
    if (rc < 0) {
        return rc;
    }
    if (g->run_rc == IG_OK && g->batches_failed && g->opts.once) {
        g->run_rc = IG_EAGAIN;
    }
    ig_info(GW_COMP, "stopped%s", g->run_rc ? " with items left over" : "");
    return g->run_rc;
}

void gw_stop(struct gw *g)
{
    if (g->stopping) {
        return;
    }
    g->stopping = true;
    if (g->sched) {
        sched_stop(g->sched);
    }
    loop_timer_arm(g->drain_timer, g->conf->gw.drain_timeout_ms);
    /* Jobs waiting for Redis give up now; their polls are re-fetched. */
    if (g->retry_head) {
        loop_timer_arm(g->retry_timer, 0);
    }
    pump(g);
    check_drained(g);
}

uint64_t gw_generation(const struct gw *g)
{
    return g->generation;
}

int gw_api_port(const struct gw *g)
{
    return g->api ? api_port(g->api) : 0;
}

void gw_free(struct gw *g)
{
    if (!g) {
        return;
    }
    g->stopping = true;
    g->tearing_down = true;
    /* No poll may start while the batches below are settled. */
    if (g->sched) {
        sched_stop(g->sched);
    }
    api_free(g->api);
    g->api = NULL;
    /* Jobs still running end now, with failure: their batches settle
     * without committing. */
    while (g->retry_head) {
        struct job *j = g->retry_head;
        g->retry_head = j->next_retry;
        j->next_retry = NULL;
        j->in_retry = false;
        j->error = "shutting down";
        job_finish(j, false, false);
    }
    /* Items being classified come back (and end, tearing_down) first. */
    workpool_free(g->pool);
    g->pool = NULL;
    dedup_free(g->dedup);
    g->dedup = NULL;
    review_free(g->review);
    g->review = NULL;
    for (size_t i = 0; i < g->nfwd; i++) {
        forwarder_free(g->fwd[i]);
    }
    g->nfwd = 0;
    /* Batches never started settle uncommitted. */
    while (g->q_head) {
        struct gw_batch *b = dequeue_head(g);
        for (size_t i = b->next_i; i < b->nitems; i++) {
            if (!b->push) {
                ig_item_free(b->items[i]);
                b->items[i] = NULL;
            }
        }
        if (b->next_i < b->nitems) {
            b->failed = true;
        }
        if (b->push) {
            b->pc->all_ok = false;
        }
        batch_maybe_done(b);
    }
    sched_free(g->sched);
    struct waiter *ws = g->waiters;
    while (ws) {
        struct waiter *n = ws->next;
        ig_free(ws);
        ws = n;
    }
    ig_pool_fini(&g->jobs);
    ig_free(g->owners);
    ruleset_unref(g->rs);
    cls_scratch_free(g->scratch);
    loop_timer_free(g->retry_timer);
    loop_timer_free(g->reload_timer);
    loop_timer_free(g->drain_timer);
    loop_timer_free(g->pump_timer);
    loop_timer_free(g->stop_timer);
    loop_timer_free(g->recheck_timer);
    metrics_free(g->m);
    ig_buf_fini(&g->lbuf);
    labels_fini(&g->labels);
    ig_buf_fini(&g->rec);
    ig_buf_fini(&g->sc_lab);
    ig_buf_fini(&g->sc_key);
    metrics_values_free(g->src_labels);
    loop_free(g->loop);
    gw_conf_free(g->conf);
    ig_free(g->rules_dir);
    ig_free(g->sources_path);
    ig_free(g->state_dir);
    ig_free(g->spool_dir);
    ig_free(g->redis_password);
    ig_free(g->push_token);
    ig_free(g->admin_token);
    ig_free(g->last_reload_error);
    ig_free(g);
}
