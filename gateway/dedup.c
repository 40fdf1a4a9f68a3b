/* dedup.c — seen / exact / near-duplicate checks in Redis (see dedup.h).
 *
 * Cost shaped the design. Redis spends more on each command than on what
 * the command does, and more again on a command issued from inside a Lua
 * script (~4-5 us here against ~2-3 us for a pipelined top-level one; see
 * docs/delivery.md). So the common path — a new candidate — is a handful
 * of top-level commands, pipelined, and one read serves many items:
 *
 *   lookup  one MGET per batch of up to DEDUP_BATCH items: each item's own
 *           record P:rec:<id> (the id is a hash of source and external id,
 *           so "this item was processed" is "its record exists"), its seen
 *           pointer P:seen:... (set when it was linked as a duplicate) and
 *           the candidate owning its exact text P:exact:<hash>;
 *   texts   (near on, only when needed) one MGET per batch of the records
 *           of possible originals whose text is not in the index's cache;
 *   decide  in C, strictly in the order the items were checked, so an item
 *           sees every candidate created by the items before it — even one
 *           whose writes have not reached Redis yet: the index
 *           (gateway/nindex.h) holds the fingerprints of every candidate
 *           the moment it is decided;
 *   create  one XADD per decided batch of the new fingerprints to P:index
 *           (field n: their records will be N), then, once it has
 *           answered, SET P:rec:<id> NX EX and SET P:exact:<hash> NX EX
 *           (a failed XADD's entries are kept and sent again, see
 *           write_index(); its records are made P). Links and counts
 *           reads decided after a create wait behind it (hold_target());
 *   done    an N record is pending while this process holds its id open
 *           (core/idset.h); dedup_done() closes it and appends the id to
 *           a done mark in P:index, one XADD per loop turn — no command
 *           per item. At start, candidates with an n entry and no done
 *           mark (killed before they were forwarded) have their N records
 *           set to P. A P record (near off, index write failed, a replay,
 *           an abandoned item: dedup_abandon()) is set to F by SETRANGE;
 *   link    a duplicate: one small script, atomic: the seen pointer
 *           (SET NX), the original's report count and channel list in
 *           P:cand:<original> (a hash created by the first duplicate,
 *           expiring with the original);
 *   info    a SEEN or replayed item: HMGET of the original's counts.
 *
 * Possible originals come from the in-memory index: the newest band_max
 * members of the item's four SimHash band buckets (16 bits each) within
 * near_bits, and of its head and tail anchor buckets (hashes of the first
 * and last DEDUP_ANCHOR_CPS code points: a sentence added at either end of
 * a short post moves the SimHash 8-12 bits, so the bands alone would miss
 * it). Each is confirmed by the Jaccard index of character bigrams (or by
 * containment: a short post repeated inside a longer one). The index is
 * rebuilt from P:index when the deduplicator starts; checks wait until it
 * is (dedup_up() is false until then).
 *
 * A NEW answer means both create writes were acknowledged. A record that
 * another writer created in between (SET NX refused) sends the item back to
 * lookup; a link whose original has expired is retried without it.
 *
 * Keys of one candidate share its TTL (set once, when created); a link
 * does not extend the original's life. Key names are built from the
 * prefix, which suits a single Redis or Sentinel, not Redis Cluster.
 */
#include "gateway/dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/idset.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pool.h"
#include "core/text.h"
#include "gateway/candidate.h"
#include "gateway/nindex.h"
#include "gateway/rconn.h"
#include "gateway/simhash.h"

#define DEDUP_ANCHOR_CPS 24      /* code points per anchor */
#define DEDUP_NEAR_MIN_BIGRAMS 6 /* shorter texts: exact only */
#define DEDUP_CONTAIN 0.9
#define DEDUP_CONTAIN_MIN 12
#define DEDUP_NORM_MAX (1u << 20) /* normalised text hashed for exact */
#define DEDUP_EXACT_SEED 0x65786163ULL
#define DEDUP_ANCHOR_SEED 0x616e6368ULL
/* Items per lookup MGET (3 keys each). A larger MGET costs Redis less per
 * key; 64 items keep one call well under a millisecond. */
#define DEDUP_BATCH 64
#define DEDUP_MAX_ROUNDS 8
#define DEDUP_MAX_CANDS 32 /* possible originals compared per item */
#define DEDUP_MAX_SKIP 8   /* originals found expired, per item */
#define DEDUP_INDEX_PAGE 1000
#define DEDUP_INDEX_TTL_EVERY_S 60
#define DEDUP_INDEX_ENTRY 80 /* hex digits of one P:index value */
/* Items whose record Redis refused, remembered so each is logged once
 * (the caller retries them) and again when it goes through. */
#define DEDUP_REFUSED_LOG 64

#define D(f) offsetof(struct dedup_cfg, f)
const struct ig_cfg_field dedup_cfg_schema[] = {
    {"near", IG_CFG_BOOL, "true", D(near),
     "detect near duplicates (reposts, re-wordings), not only exact ones", 0,
     NULL},
    {"near_jaccard", IG_CFG_DOUBLE, "0.5", D(near_jaccard),
     "bigram Jaccard similarity at or above which two texts are one report", 0,
     NULL},
    {"near_bits", IG_CFG_INT, "12", D(near_bits),
     "SimHash bands: skip members more than this many bits away", 0, NULL},
    {"text_max", IG_CFG_SIZE, "4k", D(text_max),
     "normalised text kept per candidate for the similarity check", 0, NULL},
    {"max_inflight", IG_CFG_INT, "4096", D(max_inflight),
     "checks waiting for Redis; above this, new checks are refused", 0, NULL},
    {"band_max", IG_CFG_INT, "16", D(band_max),
     "members looked at per bucket (most recent first)", 0, NULL},
    {"index_max", IG_CFG_INT, "131072", D(index_max),
     "recent candidates held in the in-memory near-duplicate index", 0, NULL},
    {"near_cache", IG_CFG_SIZE, "32m", D(near_cache),
     "memory for the bigrams of recent candidates (fewer Redis reads)", 0,
     NULL},
    {0},
};
#undef D

/* The link script, for a batch of duplicates decided one after the other.
 * KEYS, 3 per duplicate: its seen key, P:cand:<orig>, P:rec:<orig>. ARGV:
 * ttl (s), prefix, then orig id and channel per duplicate. Replies one
 * array per duplicate: {'L', reports, chans} (linked), {'S', orig,
 * reports, chans} (this item was linked before, to orig), {'X'} (the
 * original has expired) or {'E', why} (Redis refused one of its commands:
 * a key of another type, OOM). Each duplicate runs under pcall: Redis does
 * not roll back a failed script, so without it one refused duplicate would
 * fail the whole call after the links before it were made, and those,
 * checked again, would be answered "seen" instead of linked. Each
 * command issued from Lua costs Redis ~4-5 us, so a link makes as few as
 * it can: the counts hash answers "does the original exist" once it has a
 * duplicate (it expires with it); only the first link reads the record
 * (its channel, and its TTL, which the hash then gets too). A hash that
 * was not made by this script (by hand, by another tool) may lack chans
 * (none yet), hold a count that is not a positive whole number (one
 * report) or have no TTL (it gets the record's): a link repairs it
 * rather than failing every duplicate of that candidate. */
static const char link_lua[] =
    "local ttl,P=ARGV[1],ARGV[2]\n"
    "local function one(ks,kc,kr,o,ch)\n"
    "  local h=redis.call('HMGET',kc,'reports','chans')\n"
    "  local n,c,at=tonumber(h[1]),h[2],nil\n"
    "  if not h[1] and not c then\n"
    "    local r=redis.call('GET',kr)\n"
    "    if not r then return {'X'} end\n"
    "    c=string.match(r,'^%S+ %d+ ([^\\n]*)') or ''\n"
    "    at=redis.call('PTTL',kr)\n"
    "    if at<0 then at=tonumber(ttl)*1000 end\n"
    "    n=1\n"
    "  elseif not c or not n or n<1 or n~=math.floor(n) then\n"
    "    c=c or ''\n"
    "    if not n or n<1 or n~=math.floor(n) then n=1 end\n"
    "    if redis.call('PTTL',kc)<0 then\n"
    "      at=redis.call('PTTL',kr)\n"
    "      if at<0 then at=tonumber(ttl)*1000 end\n"
    "    end\n"
    "  end\n"
    "  local old=redis.call('SET',ks,o,'NX','GET','EX',ttl)\n"
    "  if old then\n"
    "    if old~=o then\n"
    "      h=redis.call('HMGET',P..':cand:'..old,'reports','chans')\n"
    "      return {'S',old,tostring(tonumber(h[1]) or 1),h[2] or ''}\n"
    "    end\n"
    "    return {'S',old,tostring(n),c}\n"
    "  end\n"
    "  n=n+1\n"
    "  if ch~='' and string.find(','..c..',',','..ch..',',1,true)==nil then\n"
    "    if c=='' then c=ch else c=c..','..ch end\n"
    "  end\n"
    "  redis.call('HSET',kc,'reports',n,'chans',c)\n"
    "  if at then redis.call('PEXPIRE',kc,at) end\n"
    "  return {'L',tostring(n),c}\n"
    "end\n"
    "local out={}\n"
    "for i=1,#KEYS/3 do\n"
    "  local ok,r=pcall(one,KEYS[3*i-2],KEYS[3*i-1],KEYS[3*i],ARGV[1+2*i],\n"
    "                   ARGV[2+2*i])\n"
    "  if not ok then r={'E',type(r)=='table' and r.err or tostring(r)} end\n"
    "  out[i]=r\n"
    "end\n"
    "return out\n";

static const char *const dedup_scripts[] = {link_lua, NULL};

struct lbatch;

/* The fingerprints of the candidates of one decide pass on their way to
 * P:index (one XADD), or kept entries sent again. It lives until the XADD
 * and every create whose entry it carries have answered: an entry is kept
 * for a resend when the XADD failed, unless its create was refused (no
 * record, no candidate: its entry is marked dead). */
struct ixbatch {
    struct dedup *d;
    int refs;          /* the XADD, and each create still unanswered */
    bool failed;       /* the XADD was not acknowledged */
    bool resend;       /* the kept entries (d->ixkept) */
    size_t n;          /* entries */
    struct ig_buf ent; /* n x DEDUP_INDEX_ENTRY; dead ones start with '-' */
    /* Creates whose records wait for this XADD (their state is N when it
     * is acknowledged, P when not), and the links and counts reads
     * decided after them, in order: see hold_target(). */
    bool creates;
    struct dreq *hhead, *htail;
};

/* One check in flight. */
struct dreq {
    struct dedup *d;
    struct dreq *next; /* in the lookup or link queue, a batch, or held
                          behind an index write */
    int rounds;        /* lookups so far */
    dedup_cb cb;
    void *ud;
    char id[DEDUP_ID_LEN + 1];
    struct nindex_key key;
    /* The key names, channel, text and bigrams live in q's own block
     * (dedup_prepare()): one allocation per check. */
    char *exact_key, *rec_key, *seen_key;
    size_t exact_len, rec_len, seen_len;
    char *channel;
    size_t channel_len;
    char *text; /* capped normalised */
    size_t text_len;
    uint64_t *bigrams; /* distinct */
    size_t nbigrams;
    struct simhash_set *bset; /* owned: bigrams as a set, for confirm() */
    bool has_text;
    bool near;
    /* Lookup answers. */
    char rec_state; /* own record's state ('N', 'P', 'F'), 0: none */
    char ptr[DEDUP_ID_LEN + 1];    /* seen pointer, "" none */
    char exact[DEDUP_ID_LEN + 1];  /* owner of the exact text, "" none */
    uint64_t skip[DEDUP_MAX_SKIP]; /* originals found expired */
    size_t nskip;
    uint64_t cand[DEDUP_MAX_CANDS]; /* possible originals found so far */
    size_t ncand;
    uint64_t cand_at; /* nindex_added() when they were looked up */
    /* The decision. */
    enum dedup_verdict verdict;
    bool replay;
    char orig[DEDUP_ID_LEN + 1];
    double similarity;
    int writes;   /* create replies still expected */
    int wstatus;  /* worst create status */
    bool got_rec; /* the record's SET answered */
    bool refused; /* create: the record existed (SET NX refused) */
    bool rec_eio; /* create: Redis refused the record's SET */
    bool exact_set;      /* create: the exact key's SET went through */
    struct ixbatch *ixb; /* the batch carrying its index entry, or NULL */
    size_t ixslot;       /* the entry's place in it */
    char hop; /* held behind an index write (hold_target()), to send: 'C'reate,
                 'L'ink, 'I'nfo */
};

/* One lookup MGET and, with near on, its text MGET. Batches are decided
 * in the order they were sent. */
struct lbatch {
    struct dedup *d;
    struct lbatch *next;
    size_t n;
    bool looked;   /* lookup answered */
    bool fetching; /* text MGET in flight */
    bool failed;
    uint64_t *fetch; /* owned: ids whose records the text MGET reads */
    size_t nfetch;
    struct dreq *q[DEDUP_BATCH];
};

/* A dedup_done() in flight. */
struct done_req {
    struct dedup *d;
    struct done_req *next; /* in the queue of done marks to write */
    dedup_cb cb;
    void *ud;
    char id[DEDUP_ID_LEN + 1];
};

/* done_reqs kept for reuse: one is made and dropped per new candidate. */
#define DEDUP_DONES_SPARE 4096

struct dedup {
    struct rconn *rc;
    struct event *flush_ev;     /* sends the queue next loop turn */
    struct event *load_ev;      /* retries the index load */
    struct dreq *qhead, *qtail; /* waiting for the next lookup */
    struct dreq *lhead, *ltail; /* links decided, to send */
    struct lbatch *bhead, *btail;
    struct dedup_cfg cfg;
    char *prefix; /* owned */
    char *index_key;
    int64_t ttl_s;
    char ttl[24];
    size_t inflight;
    struct nindex *ix;
    bool loaded;         /* the index has been rebuilt from P:index */
    char *load_from;     /* owned: next XRANGE start */
    long load_wait_ms;   /* next retry of a failed page */
    time_t index_ttl_at; /* next EXPIRE of P:index */
    struct ixbatch *ixcur;   /* entries of the decisions being made */
    struct ixbatch *ixspare; /* a written batch, for the next pass */
    struct ig_buf ixkept;    /* entries whose XADD failed, to send again */
    size_t ixkept_n;
    size_t ixresend_n;   /* kept entries in flight again */
    bool ix_failing;     /* the last index write failed (logged once) */
    bool ix_resending;   /* the kept entries are in flight */
    long ix_wait_ms;     /* next retry of the kept entries */
    struct event *ix_ev; /* sends the kept entries again */
    struct ig_buf kbuf;  /* scratch: a key name being sent */
    struct ig_buf rbuf;  /* scratch: a record being sent */
    struct ig_pool dones; /* struct done_req, one per item marked done */
    /* Candidates created in state N by this process: ID_OPEN until done
     * (the done mark goes to P:index), ID_ABANDONED when their forwarding
     * failed (the record is being set back to P). */
    struct ig_idset open;
    struct ixbatch *ixlast; /* the newest index write that creates wait
                               for, unanswered */
    struct done_req *dmhead, *dmtail; /* done marks to write */
    struct event *dm_ev;              /* writes them next loop turn */
    /* Loading P:index: ids of tracked entries (field n) without a done
     * mark so far; then those left over, whose records are set back from
     * N to P before checks start (a crash cut them off). */
    struct ig_idset loadset;
    uint64_t *left;
    size_t nleft, left_wait;
    bool left_failed;
    uint64_t refused[DEDUP_REFUSED_LOG]; /* ids whose record was refused */
    size_t nrefused, refused_at;
    struct dedup_stats st;
};

static void fail(struct dreq *q, int status);
static void fail_all(struct dreq **head, struct dreq **tail, int status);
static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void load_cb(evutil_socket_t fd, short what, void *arg);
static void decide_ready(struct dedup *d);
static void ix_cb(evutil_socket_t fd, short what, void *arg);
static void ix_unref(struct ixbatch *b);
static void ix_drop_kept(struct dedup *d);
static void marks_cb(evutil_socket_t fd, short what, void *arg);
static void write_marks(struct dedup *d);
static bool set_state(struct dedup *d, const char *id, const char *state,
                      rconn_cb cb, void *ud);

static void dreq_free(struct dreq *q)
{
    if (q->ixb) {
        ix_unref(q->ixb);
    }
    simhash_set_free(q->bset);
    ig_free(q); /* keys, channel, text and bigrams are in the same block */
}

void dedup_cfg_defaults(struct dedup_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    ig_cfg_defaults(dedup_cfg_schema, cfg);
}

static uint64_t hex64(const char *s)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < 16; i++) {
        char c = s[i];

        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

#define ID_OPEN 1      /* in struct dedup's open set */
#define ID_ABANDONED 2 /* see dedup_abandon() */

/* Appends "<prefix>:<kind>:<id>" (a key name; printf-free, it is on the
 * loop thread's path for every item). */
static void add_key(struct ig_buf *b, const char *prefix, const char *kind,
                    const char *id)
{
    ig_buf_adds(b, prefix);
    ig_buf_addc(b, ':');
    ig_buf_adds(b, kind);
    ig_buf_addc(b, ':');
    ig_buf_adds(b, id);
}

/* The same as a new string. */
static char *key_of(const char *prefix, const char *kind, const char *id)
{
    struct ig_buf b;

    ig_buf_init(&b, 0);
    add_key(&b, prefix, kind, id);
    return ig_buf_take(&b);
}

static bool is_hex16(const char *s, size_t n)
{
    size_t i;

    if (n != 16) {
        return false;
    }
    for (i = 0; i < 16; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* Index entries: field <id>, value <sim><head><tail><exact> (64 hex). */
static void index_entry(struct ig_buf *b, const struct nindex_key *k)
{
    char h[17];

    simhash_hex64(k->id, h);
    ig_buf_add(b, h, 16);
    simhash_hex64(k->sim, h);
    ig_buf_add(b, h, 16);
    simhash_hex64(k->head, h);
    ig_buf_add(b, h, 16);
    simhash_hex64(k->tail, h);
    ig_buf_add(b, h, 16);
    simhash_hex64(k->exact, h);
    ig_buf_add(b, h, 16);
}

/* Logs Redis's answer when it refused a command (IG_EIO); a lost
 * connection (IG_EAGAIN) is rconn's to report. */
static void log_refusal(const char *what, int status, const redisReply *r)
{
    if (status == IG_EIO) {
        ig_error("dedup", "redis refused %s: %.200s", what,
                 r && r->str ? r->str : "?");
    }
}

static void load_page(struct dedup *d);
static void load_done(struct dedup *d);

/* A done mark read from P:index: its candidates are closed. */
static void unmark(struct dedup *d, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i + DEDUP_ID_LEN <= n; i += DEDUP_ID_LEN + 1) {
        if (is_hex16(s + i, DEDUP_ID_LEN)) {
            ig_idset_del(&d->loadset, hex64(s + i));
        }
    }
}

/* The load (a page, or the left-over records) failed: the checks waiting
 * for it fail as they would have failed in Redis (the caller retries
 * them later), and another try is scheduled, backing off to 30 s. */
static void load_retry(struct dedup *d, int status)
{
    struct timeval tv;

    fail_all(&d->qhead, &d->qtail, status == IG_EIO ? IG_EIO : IG_EAGAIN);
    d->load_wait_ms = d->load_wait_ms ? d->load_wait_ms * 2 : 250;
    if (d->load_wait_ms > 30000) {
        d->load_wait_ms = 30000;
    }
    tv.tv_sec = d->load_wait_ms / 1000;
    tv.tv_usec = (d->load_wait_ms % 1000) * 1000;
    event_add(d->load_ev, &tv);
}

/* Left-over records read by one MGET. */
struct lchunk {
    struct dedup *d;
    size_t from, n;
};

#define DEDUP_LEFT_CHUNK 256

static void left_settle(struct dedup *d)
{
    if (--d->left_wait > 0) {
        return;
    }
    if (d->left_failed) {
        load_retry(d, IG_EAGAIN);
        return;
    }
    ig_free(d->left);
    d->left = NULL;
    d->nleft = 0;
    load_done(d);
}

static void on_left_set(void *ud, int status, const void *reply)
{
    struct dedup *d = ud;

    if (!d->rc) {
        return;
    }
    log_refusal("setting a record cut off before it was forwarded back to "
                "pending",
                status, reply);
    /* Counted once set: a refused one is read again (still N) at the next
     * try, and counted then. */
    if (status == IG_OK) {
        d->st.cut_off++;
    } else {
        d->left_failed = true;
    }
    left_settle(d);
}

static void on_left_read(void *ud, int status, const void *reply)
{
    struct lchunk *c = ud;
    struct dedup *d = c->d;
    const redisReply *r = reply;
    size_t i;

    if (!d->rc) {
        ig_free(c);
        return;
    }
    log_refusal("reading records cut off before they were forwarded", status,
                r);
    if (status != IG_OK || r->type != REDIS_REPLY_ARRAY ||
        r->elements != c->n) {
        d->left_failed = true;
    } else {
        for (i = 0; i < c->n; i++) {
            const redisReply *v = r->element[i];
            char id[DEDUP_ID_LEN + 1];

            if (v->type != REDIS_REPLY_STRING || v->len < 1 ||
                v->str[0] != 'N') {
                continue; /* gone, or P or F already */
            }
            simhash_hex64(d->left[c->from + i], id);
            if (set_state(d, id, "P", on_left_set, d)) {
                d->left_wait++;
            } else {
                d->left_failed = true;
            }
        }
    }
    ig_free(c);
    left_settle(d);
}

/* One MGET of the records P:rec:<id> of the n candidates ids, answered
 * to cb. Returns rconn_cmd()'s status. */
static int mget_recs(struct dedup *d, const uint64_t *ids, size_t n,
                     rconn_cb cb, void *ud)
{
    struct ig_buf keys;
    size_t *offs = ig_malloc((n + 1) * sizeof(*offs)), i;
    const char **argv = ig_malloc((n + 1) * sizeof(*argv));
    size_t *len = ig_malloc((n + 1) * sizeof(*len));
    int rc;

    ig_buf_init(&keys, 0);
    for (i = 0; i < n; i++) {
        char id[DEDUP_ID_LEN + 1];

        simhash_hex64(ids[i], id);
        offs[i] = keys.len;
        add_key(&keys, d->prefix, "rec", id);
    }
    offs[n] = keys.len;
    argv[0] = "MGET";
    len[0] = 4;
    for (i = 0; i < n; i++) {
        argv[1 + i] = keys.data + offs[i];
        len[1 + i] = offs[i + 1] - offs[i];
    }
    rc = rconn_cmd(d->rc, cb, ud, (int)(1 + n), argv, len);
    ig_free(offs);
    ig_free(argv);
    ig_free(len);
    ig_buf_fini(&keys);
    return rc;
}

/* Sets the N records of candidates that P:index shows made but never
 * done (the gateway was killed, or their done marks were lost) back to P,
 * so each is replayed when it comes again. */
static void send_leftovers(struct dedup *d)
{
    size_t from;

    d->left_failed = false;
    d->left_wait = 1; /* this loop's own, settled below */
    for (from = 0; from < d->nleft; from += DEDUP_LEFT_CHUNK) {
        struct lchunk *c = ig_calloc(1, sizeof(*c));
        size_t n = d->nleft - from < DEDUP_LEFT_CHUNK ? d->nleft - from
                                                      : DEDUP_LEFT_CHUNK;

        c->d = d;
        c->from = from;
        c->n = n;
        if (mget_recs(d, d->left + from, n, on_left_read, c) == IG_OK) {
            d->left_wait++;
        } else {
            d->left_failed = true;
            ig_free(c);
        }
    }
    left_settle(d);
}

/* Every page of P:index is in: the candidates left open are dealt with
 * (send_leftovers()), then checks may start. */
static void load_done(struct dedup *d)
{
    if (d->loadset.n > 0) {
        d->left = ig_malloc(d->loadset.n * sizeof(*d->left));
        d->nleft = ig_idset_ids(&d->loadset, d->left);
        ig_idset_fini(&d->loadset);
    }
    if (d->left) {
        send_leftovers(d);
        return;
    }
    d->loaded = true;
    d->load_wait_ms = 0;
    ig_info("dedup", "near-duplicate index: %llu recent candidates loaded",
            (unsigned long long)nindex_added(d->ix));
    if (d->st.cut_off > 0) {
        ig_warn("dedup",
                "%llu candidates were made but not forwarded before the last "
                "stop (killed, or their done marks lost): set back to "
                "pending, each is forwarded again when it comes again",
                (unsigned long long)d->st.cut_off);
    }
    event_active(d->flush_ev, 0, 0);
}

static void on_loaded(void *ud, int status, const void *reply)
{
    struct dedup *d = ud;
    const redisReply *r = reply;
    size_t i, j;
    const char *last = NULL;
    size_t last_len = 0;
    bool tracked;

    if (!d->rc) {
        return; /* dedup_free() */
    }
    if (status != IG_OK || r->type != REDIS_REPLY_ARRAY) {
        /* A refusal (an ACL without XRANGE) is logged at every try, the
         * tries spaced out to 30 s. */
        log_refusal("reading the near-duplicate index", status, r);
        load_retry(d, status);
        return;
    }
    d->load_wait_ms = 0;
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *f;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        last = e->element[0]->str;
        last_len = e->element[0]->len;
        f = e->element[1];
        tracked = false;
        for (j = 0; j + 1 < f->elements; j += 2) {
            const redisReply *fk = f->element[j], *v = f->element[j + 1];
            struct nindex_key k;

            if (v->type != REDIS_REPLY_STRING ||
                fk->type != REDIS_REPLY_STRING) {
                continue;
            }
            if (fk->len == 1 && fk->str[0] == 'n') {
                tracked = true; /* N records: done marks follow */
                continue;
            }
            if (fk->len == 4 && memcmp(fk->str, "done", 4) == 0) {
                unmark(d, v->str, v->len);
                continue;
            }
            if (v->len != 80 || !is_hex16(v->str, 16)) {
                continue;
            }
            k.id = hex64(v->str);
            k.sim = hex64(v->str + 16);
            k.head = hex64(v->str + 32);
            k.tail = hex64(v->str + 48);
            k.exact = hex64(v->str + 64);
            nindex_add(d->ix, &k, NULL, 0, false);
            if (tracked) {
                ig_idset_put(&d->loadset, k.id, ID_OPEN);
            }
        }
    }
    if (r->elements == DEDUP_INDEX_PAGE && last) {
        ig_free(d->load_from);
        d->load_from = ig_asprintf("(%.*s", (int)last_len, last);
        load_page(d);
        return;
    }
    load_done(d);
}

/* Reads the next page of P:index, entries younger than the retention. */
static void load_page(struct dedup *d)
{
    char count[16];
    const char *argv[6];

    snprintf(count, sizeof(count), "%d", DEDUP_INDEX_PAGE);
    argv[0] = "XRANGE";
    argv[1] = d->index_key;
    argv[2] = d->load_from;
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = count;
    if (rconn_cmd(d->rc, on_loaded, d, 6, argv, NULL) < 0) {
        struct timeval tv = {0, 500000};

        event_add(d->load_ev, &tv);
    }
}

static void load_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dedup *d = arg;

    (void)fd;
    (void)what;
    if (d->left) {
        send_leftovers(d);
    } else {
        load_page(d);
    }
}

/* Frees what dedup_new() made besides the connection (and the checks,
 * which dedup_free() fails first); d may be half-made. */
static void release(struct dedup *d)
{
    if (d->flush_ev) {
        event_free(d->flush_ev);
    }
    if (d->load_ev) {
        event_free(d->load_ev);
    }
    if (d->ix_ev) {
        event_free(d->ix_ev);
    }
    if (d->dm_ev) {
        event_free(d->dm_ev);
    }
    ig_idset_fini(&d->open);
    ig_idset_fini(&d->loadset);
    ig_free(d->left);
    ix_drop_kept(d);
    if (d->ixspare) {
        ig_buf_fini(&d->ixspare->ent);
        ig_free(d->ixspare);
    }
    nindex_free(d->ix);
    ig_buf_fini(&d->ixkept);
    ig_buf_fini(&d->kbuf);
    ig_buf_fini(&d->rbuf);
    ig_pool_fini(&d->dones);
    ig_free(d->load_from);
    ig_free(d->index_key);
    ig_free(d->prefix);
    ig_free(d);
}

int dedup_new(struct event_base *base, const struct dedup_cfg *cfg,
              struct dedup **out)
{
    struct dedup *d;
    int64_t from;

    if (!base || !cfg || cfg->near_jaccard < 0 || cfg->near_jaccard > 1 ||
        cfg->ttl_ms < 0 || cfg->text_max < 0 || cfg->max_inflight < 0 ||
        cfg->band_max < 0 || cfg->near_bits < 0 || cfg->near_bits > 64 ||
        cfg->index_max < 0 || cfg->index_max > (1 << 26) ||
        cfg->near_cache < 0 ||
        (cfg->ttl_ms > 0 && cfg->ttl_ms < DEDUP_TTL_MIN_S * 1000)) {
        return IG_EINVAL;
    }
    d = ig_calloc(1, sizeof(*d));
    ig_pool_init(&d->dones, sizeof(struct done_req), DEDUP_DONES_SPARE);
    d->cfg = *cfg;
    d->prefix = ig_strdup(cfg->prefix && *cfg->prefix ? cfg->prefix : "intake");
    d->index_key = ig_asprintf("%s:index", d->prefix);
    d->ttl_s =
        cfg->ttl_ms > 0 ? (cfg->ttl_ms + 999) / 1000 : DEDUP_TTL_DEFAULT_S;
    snprintf(d->ttl, sizeof(d->ttl), "%lld", (long long)d->ttl_s);
    if (d->cfg.text_max == 0) {
        d->cfg.text_max = 4096;
    }
    if (d->cfg.max_inflight == 0) {
        d->cfg.max_inflight = 4096;
    }
    if (d->cfg.band_max == 0) {
        d->cfg.band_max = 16;
    }
    if (d->cfg.index_max == 0) {
        d->cfg.index_max = 131072;
    }
    /* The schema's default (0.5) when the caller left it at zero: a
     * Jaccard threshold of 0 would merge every pair. */
    if (d->cfg.near_jaccard == 0) {
        d->cfg.near_jaccard = 0.5;
    }
    /* The index also keeps in-flight creates visible to later items, so it
     * exists with near off too (without texts). */
    d->ix = nindex_new((size_t)d->cfg.index_max,
                       d->cfg.near ? (size_t)d->cfg.near_cache : 0);
    ig_buf_init(&d->ixkept, 0);
    ig_buf_init(&d->kbuf, 0);
    ig_buf_init(&d->rbuf, 0);
    from = (int64_t)time(NULL) * 1000 - d->ttl_s * 1000;
    d->load_from = ig_asprintf("%lld", (long long)(from > 0 ? from : 0));
    d->rc = rconn_new(base, &cfg->redis, "dedup", dedup_scripts);
    d->flush_ev = event_new(base, -1, 0, flush_cb, d);
    d->load_ev = event_new(base, -1, 0, load_cb, d);
    d->ix_ev = event_new(base, -1, 0, ix_cb, d);
    d->dm_ev = event_new(base, -1, 0, marks_cb, d);
    if (!d->rc || !d->flush_ev || !d->load_ev || !d->ix_ev || !d->dm_ev ||
        !d->ix) {
        rconn_free(d->rc);
        release(d);
        return IG_EINVAL;
    }
    d->cfg.prefix = d->prefix;
    memset(&d->cfg.redis, 0, sizeof(d->cfg.redis));
    if (d->cfg.near) {
        load_page(d);
    } else {
        d->loaded = true;
    }
    *out = d;
    return IG_OK;
}

void dedup_free(struct dedup *d)
{
    struct rconn *rc;

    if (!d) {
        return;
    }
    /* Commands in flight fail inside rconn_free() (their callbacks see
     * d->rc NULL where it matters); then the batches and the queue. */
    rc = d->rc;
    d->rc = NULL;
    rconn_free(rc);
    write_marks(d); /* not written: their callbacks fail now */
    while (d->bhead) {
        struct lbatch *b = d->bhead;

        d->bhead = b->next;
        for (size_t k = 0; k < b->n; k++) {
            fail(b->q[k], IG_EAGAIN);
        }
        ig_free(b);
    }
    fail_all(&d->qhead, &d->qtail, IG_EAGAIN);
    release(d);
}

bool dedup_up(const struct dedup *d)
{
    return d && d->loaded && rconn_up(d->rc);
}

void dedup_get_stats(const struct dedup *d, struct dedup_stats *out)
{
    uint64_t added = nindex_added(d->ix);

    *out = d->st;
    out->inflight = d->inflight;
    out->index_entries =
        added < nindex_cap(d->ix) ? added : (uint64_t)nindex_cap(d->ix);
    out->index_loaded = d->loaded;
    out->index_unwritten = d->ixkept_n + d->ixresend_n;
    /* d->rc is NULL while dedup_free() runs the callbacks. */
    out->reconnects =
        d->rc && rconn_connects(d->rc) > 0 ? rconn_connects(d->rc) - 1 : 0;
}

/* Finishes q with an error. */
static void fail(struct dreq *q, int status)
{
    struct dedup *d = q->d;

    d->inflight--;
    d->st.errors++;
    if (q->cb) {
        q->cb(q->ud, status, NULL);
    }
    dreq_free(q);
}

/* Finishes every check in the list head/tail with an error. */
static void fail_all(struct dreq **head, struct dreq **tail, int status)
{
    while (*head) {
        struct dreq *q = *head;

        *head = q->next;
        fail(q, status);
    }
    *tail = NULL;
}

/* Appends q to the list head/tail. */
static void append(struct dreq **head, struct dreq **tail, struct dreq *q)
{
    q->next = NULL;
    if (*tail) {
        (*tail)->next = q;
    } else {
        *head = q;
    }
    *tail = q;
}

/* Queues q for the next lookup. */
static void enqueue(struct dreq *q)
{
    struct dedup *d = q->d;

    append(&d->qhead, &d->qtail, q);
    event_active(d->flush_ev, 0, 0);
}

/* Back to lookup (the world changed under a decision), or failed after
 * DEDUP_MAX_ROUNDS. */
static void again(struct dreq *q)
{
    q->ncand = 0;
    q->cand_at = 0;
    if (++q->rounds > DEDUP_MAX_ROUNDS) {
        ig_error("dedup", "item %s: no stable decision after %d rounds", q->id,
                 DEDUP_MAX_ROUNDS);
        fail(q, IG_EAGAIN);
        return;
    }
    enqueue(q);
}

/* Finishes q with its decision; chans NULL: q's own channel. */
static void finish(struct dreq *q, int64_t reports, const char *chans,
                   size_t chans_len)
{
    struct dedup *d = q->d;
    struct dedup_result res;
    char buf[512];
    char *save = NULL, *tok;

    memset(&res, 0, sizeof(res));
    res.verdict = q->verdict;
    res.replay = q->replay;
    memcpy(res.id, q->id, sizeof(res.id));
    memcpy(res.orig_id, q->orig, sizeof(res.orig_id));
    res.reports = reports;
    res.similarity = q->verdict == DEDUP_NEAR    ? q->similarity
                     : q->verdict == DEDUP_EXACT ? 1.0
                                                 : 0.0;
    if (!chans) {
        chans = q->channel;
        chans_len = q->channel_len;
    }
    if (chans_len >= sizeof(buf)) {
        chans_len = sizeof(buf) - 1; /* the first channels are enough */
    }
    memcpy(buf, chans, chans_len);
    buf[chans_len] = '\0';
    for (tok = strtok_r(buf, ",", &save);
         tok && res.nchannels < DEDUP_MAX_CHANNELS;
         tok = strtok_r(NULL, ",", &save)) {
        res.channels[res.nchannels++] = tok;
    }
    d->st.fresh += res.verdict == DEDUP_NEW && !res.replay;
    d->st.replays += res.replay;
    d->st.seen += res.verdict == DEDUP_SEEN;
    d->st.exact += res.verdict == DEDUP_EXACT;
    d->st.near += res.verdict == DEDUP_NEAR;
    d->inflight--;
    q->cb(q->ud, IG_OK, &res);
    dreq_free(q);
}

/* ---- lookup ---------------------------------------------------------- */

static void on_lookup(void *ud, int status, const void *reply);

static void send_lookup(struct dedup *d)
{
    struct lbatch *b = ig_calloc(1, sizeof(*b));
    const char *argv[1 + 3 * DEDUP_BATCH];
    size_t len[1 + 3 * DEDUP_BATCH], k;
    int i = 0;

    while (d->qhead && b->n < DEDUP_BATCH) {
        struct dreq *q = d->qhead;

        d->qhead = q->next;
        q->next = NULL;
        b->q[b->n++] = q;
    }
    if (!d->qhead) {
        d->qtail = NULL;
    }
    b->d = d;
    argv[i] = "MGET";
    len[i++] = 4;
    for (k = 0; k < b->n; k++) {
        struct dreq *q = b->q[k];

        argv[i] = q->rec_key;
        len[i++] = q->rec_len;
        argv[i] = q->seen_key;
        len[i++] = q->seen_len;
        argv[i] = q->exact_key;
        len[i++] = q->exact_len;
    }
    if (d->btail) {
        d->btail->next = b;
    } else {
        d->bhead = b;
    }
    d->btail = b;
    if (rconn_cmd(d->rc, on_lookup, b, i, argv, len) < 0) {
        b->looked = true;
        b->failed = true;
        decide_ready(d);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dedup *d = arg;

    (void)fd;
    (void)what;
    if (!d->loaded) {
        return; /* on_loaded() flushes */
    }
    while (d->qhead) {
        send_lookup(d);
    }
}

static void copy_id(char out[DEDUP_ID_LEN + 1], const redisReply *r)
{
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING && is_hex16(r->str, r->len)) {
        memcpy(out, r->str, DEDUP_ID_LEN);
        out[DEDUP_ID_LEN] = '\0';
    }
}

/* The text of a record "<state> <first> <channel>\n<text>". */
static const char *record_text(const char *r, size_t n, size_t *len)
{
    const char *nl = memchr(r, '\n', n);

    if (!nl) {
        *len = 0;
        return r + n;
    }
    *len = n - (size_t)(nl + 1 - r);
    return nl + 1;
}

static bool undecided(const struct dreq *q)
{
    return !q->rec_state && !q->ptr[0];
}

static void on_texts(void *ud, int status, const void *reply);

/* The possible originals of q from the index, in q->cand: the first
 * call looks at the whole index, later ones only at what was added since
 * (and merge it in). */
static void candidates(struct dreq *q)
{
    const struct dedup *d = q->d;
    uint64_t more[DEDUP_MAX_CANDS];
    size_t n, i, j;

    if (q->cand_at == 0) {
        q->ncand = nindex_query(d->ix, &q->key, (int)d->cfg.near_bits,
                                (size_t)d->cfg.band_max, q->skip, q->nskip,
                                q->cand, DEDUP_MAX_CANDS);
        q->cand_at = nindex_added(d->ix) + 1;
        return;
    }
    if (q->cand_at == nindex_added(d->ix) + 1) {
        return;
    }
    n = nindex_query_since(d->ix, &q->key, (int)d->cfg.near_bits,
                           (size_t)d->cfg.band_max, q->skip, q->nskip,
                           q->cand_at - 1, more, DEDUP_MAX_CANDS);
    q->cand_at = nindex_added(d->ix) + 1;
    /* Newer ones first: they are the likelier originals. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < q->ncand && q->cand[j] != more[i]; j++) {
        }
        if (j < q->ncand) {
            continue;
        }
        if (q->ncand == DEDUP_MAX_CANDS) {
            q->ncand--;
        }
        memmove(q->cand + 1, q->cand, q->ncand * sizeof(q->cand[0]));
        q->cand[0] = more[i];
        q->ncand++;
    }
}

/* After the lookup: one MGET of the records of possible originals whose
 * text is not cached, for every near-eligible item the lookup left open. */
static void prefetch(struct lbatch *b)
{
    struct dedup *d = b->d;
    size_t max = DEDUP_BATCH * DEDUP_MAX_CANDS, k, i;

    b->fetch = ig_malloc(max * sizeof(*b->fetch));
    b->nfetch = 0;
    for (k = 0; k < b->n; k++) {
        struct dreq *q = b->q[k];
        size_t tl;

        if (!q->near || !undecided(q) || q->exact[0]) {
            continue;
        }
        candidates(q);
        for (i = 0; i < q->ncand; i++) {
            struct nindex_feat f;
            size_t j;

            if (nindex_feats(d->ix, q->cand[i], &f)) {
                /* Cached: the overlap test reads them when the batch is
                 * decided, right after this loop; start loading them now
                 * (a line per 16 units), so those reads hit the cache. */
                tl = f.wide ? 2 * f.n : f.n;
                for (j = 0; j < tl; j += 16) {
                    __builtin_prefetch(f.units + j);
                }
                continue;
            }
            for (j = 0; j < b->nfetch && b->fetch[j] != q->cand[i]; j++) {
            }
            if (j == b->nfetch) {
                b->fetch[b->nfetch++] = q->cand[i];
            }
        }
    }
    if (b->nfetch == 0) {
        return;
    }
    b->fetching = true;
    if (mget_recs(d, b->fetch, b->nfetch, on_texts, b) < 0) {
        b->fetching = false;
        b->failed = true;
    }
}

static void on_lookup(void *ud, int status, const void *reply)
{
    struct lbatch *b = ud;
    struct dedup *d = b->d;
    const redisReply *r = reply;
    size_t k;

    b->looked = true;
    if (!d->rc) {
        return; /* dedup_free() fails the batch */
    }
    log_refusal("the lookup", status, r);
    if (status == IG_OK &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 3 * b->n)) {
        ig_error("dedup", "unexpected reply to the lookup");
        status = IG_EIO;
    }
    if (status != IG_OK) {
        b->failed = true;
    } else {
        for (k = 0; k < b->n; k++) {
            struct dreq *q = b->q[k];
            const redisReply *rec = r->element[3 * k];

            q->rec_state = 0;
            if (rec->type == REDIS_REPLY_STRING && rec->len > 0) {
                q->rec_state = rec->str[0];
            }
            copy_id(q->ptr, r->element[3 * k + 1]);
            copy_id(q->exact, r->element[3 * k + 2]);
            if (strcmp(q->exact, q->id) == 0) {
                q->exact[0] = '\0';
            }
        }
        prefetch(b);
    }
    decide_ready(d);
}

static void on_texts(void *ud, int status, const void *reply)
{
    struct lbatch *b = ud;
    struct dedup *d = b->d;
    const redisReply *r = reply;
    size_t i;

    b->fetching = false;
    if (!d->rc) {
        return;
    }
    if (status != IG_OK || r->type != REDIS_REPLY_ARRAY ||
        r->elements != b->nfetch) {
        b->failed = true;
    } else {
        for (i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            const char *t;
            size_t tl, nk;
            uint64_t *k;

            if (e->type != REDIS_REPLY_STRING) {
                /* Expired, or never written (a create Redis lost): not
                 * an original any more. */
                nindex_forget(d->ix, b->fetch[i]);
                continue;
            }
            t = record_text(e->str, e->len, &tl);
            k = NULL;
            nk = simhash_bigrams(t, tl, &k);
            if (nk > 0) {
                nindex_put_feats(d->ix, b->fetch[i], k, nk);
            } else {
                nindex_forget(d->ix, b->fetch[i]); /* nothing to compare */
            }
            ig_free(k);
        }
    }
    decide_ready(d);
}

/* ---- decide ---------------------------------------------------------- */

static void on_created(void *ud, int status, const void *reply);
static void on_info(void *ud, int status, const void *reply);

/* Reads the original's counts for a SEEN or replayed item. */
static void flush_links(struct dedup *d);
static void send_links(struct dedup *d);
static struct ixbatch *hold_target(struct dedup *d);
static void hold(struct ixbatch *b, struct dreq *q, char op);

static void send_info_now(struct dreq *q)
{
    struct dedup *d = q->d;
    char *key;

    if (!d->rc) {
        fail(q, IG_EAGAIN);
        return;
    }
    key = key_of(d->prefix, "cand", q->orig);
    const char *argv[4] = {"HMGET", key, "reports", "chans"};
    size_t len[4] = {5, strlen(key), 7, 5};

    if (rconn_cmd(d->rc, on_info, q, 4, argv, len) < 0) {
        fail(q, IG_EAGAIN);
    }
    ig_free(key);
}

static void send_info(struct dreq *q)
{
    struct dedup *d = q->d;
    struct ixbatch *t;

    /* Links decided before this item go first, so the counts it reads
     * include them (decisions reach Redis in their order). */
    flush_links(d);
    t = hold_target(d);
    if (t) {
        hold(t, q, 'I');
    } else {
        send_info_now(q);
    }
}

/* A report count as stored; one that is not a positive number (a counts
 * hash written by hand) reads as one report, as the link script reads
 * it. */
static int64_t reports_of(const char *s)
{
    char *end;
    long long n = strtoll(s, &end, 10);

    return end == s || *end || n < 1 ? 1 : (int64_t)n;
}

static void on_info(void *ud, int status, const void *reply)
{
    struct dreq *q = ud;
    const redisReply *r = reply;
    const redisReply *n, *c;

    if (!q->d->rc) {
        fail(q, IG_EAGAIN);
        return;
    }
    if (status != IG_OK || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        fail(q, status == IG_EIO ? IG_EIO : IG_EAGAIN);
        return;
    }
    n = r->element[0];
    c = r->element[1];
    if (n->type != REDIS_REPLY_STRING) {
        /* No duplicate yet: one report, from this item's channel. A
         * pointer whose original has expired counts nothing. */
        finish(q, strcmp(q->orig, q->id) == 0 ? 1 : 0,
               strcmp(q->orig, q->id) == 0 ? NULL : "", 0);
        return;
    }
    finish(q, reports_of(n->str), c->type == REDIS_REPLY_STRING ? c->str : "",
           c->type == REDIS_REPLY_STRING ? c->len : 0);
}

/* Queues q's link for this decide pass (flush_links() sends them). */
static void send_link(struct dreq *q)
{
    append(&q->d->lhead, &q->d->ltail, q);
}

/* The links of one script call. */
struct lcall {
    size_t n;
    struct dreq *q[DEDUP_BATCH];
};

static void on_links(void *ud, int status, const void *reply);

/* Sends the queued links now, up to DEDUP_BATCH per script call. */
static void send_links(struct dedup *d)
{
    if (!d->rc) {
        fail_all(&d->lhead, &d->ltail, IG_EAGAIN);
        return;
    }
    while (d->lhead) {
        struct lcall *c = ig_calloc(1, sizeof(*c));
        const char *argv[2 + 5 * DEDUP_BATCH];
        size_t len[2 + 5 * DEDUP_BATCH];
        struct ig_buf keys;
        size_t offs[2 * DEDUP_BATCH + 1], k;
        int a = 0;

        while (d->lhead && c->n < DEDUP_BATCH) {
            c->q[c->n++] = d->lhead;
            d->lhead = d->lhead->next;
        }
        if (!d->lhead) {
            d->ltail = NULL;
        }
        ig_buf_init(&keys, 0);
        for (k = 0; k < c->n; k++) {
            offs[2 * k] = keys.len;
            add_key(&keys, d->prefix, "cand", c->q[k]->orig);
            offs[2 * k + 1] = keys.len;
            add_key(&keys, d->prefix, "rec", c->q[k]->orig);
        }
        offs[2 * c->n] = keys.len;
        for (k = 0; k < c->n; k++) {
            struct dreq *q = c->q[k];

            argv[a] = q->seen_key;
            len[a++] = q->seen_len;
            argv[a] = keys.data + offs[2 * k];
            len[a++] = offs[2 * k + 1] - offs[2 * k];
            argv[a] = keys.data + offs[2 * k + 1];
            len[a++] = offs[2 * k + 2] - offs[2 * k + 1];
        }
        argv[a] = d->ttl;
        len[a++] = strlen(d->ttl);
        argv[a] = d->prefix;
        len[a++] = strlen(d->prefix);
        for (k = 0; k < c->n; k++) {
            argv[a] = c->q[k]->orig;
            len[a++] = DEDUP_ID_LEN;
            argv[a] = c->q[k]->channel;
            len[a++] = c->q[k]->channel_len;
        }
        if (rconn_script(d->rc, 0, on_links, c, (int)(3 * c->n), a, argv, len) <
            0) {
            for (k = 0; k < c->n; k++) {
                fail(c->q[k], IG_EAGAIN);
            }
            ig_free(c);
        }
        ig_buf_fini(&keys);
    }
}

/* Sends the queued links, or holds them behind the creates they may
 * name (hold_target()). */
static void flush_links(struct dedup *d)
{
    struct ixbatch *t = hold_target(d);

    if (!t) {
        send_links(d);
        return;
    }
    while (d->lhead) {
        struct dreq *q = d->lhead;

        d->lhead = q->next;
        hold(t, q, 'L');
    }
    d->ltail = NULL;
}

static void on_linked(struct dreq *q, const redisReply *r);

static void on_links(void *ud, int status, const void *reply)
{
    struct lcall *c = ud;
    const redisReply *r = reply;
    size_t k;

    log_refusal("the link script", status, r);
    if (status == IG_OK &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != c->n)) {
        ig_error("dedup", "unexpected reply to the link script");
        status = IG_EIO;
    }
    for (k = 0; k < c->n; k++) {
        if (status != IG_OK || !c->q[k]->d->rc) {
            fail(c->q[k], status == IG_EIO ? IG_EIO : IG_EAGAIN);
        } else {
            on_linked(c->q[k], r->element[k]);
        }
    }
    ig_free(c);
}

/* One duplicate's part of the link script's reply. */
static void on_linked(struct dreq *q, const redisReply *r)
{
    const redisReply *e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        fail(q, IG_EIO);
        return;
    }
    e = r->element[0];
    if (e->str[0] == 'E') {
        ig_error("dedup", "redis refused the link of item %s: %.200s", q->id,
                 r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING
                     ? r->element[1]->str
                     : "?");
        fail(q, IG_EIO);
        return;
    }
    if (e->str[0] == 'X') {
        /* The original expired between the lookup and now. */
        if (q->nskip < DEDUP_MAX_SKIP) {
            q->skip[q->nskip++] = hex64(q->orig);
        }
        again(q);
        return;
    }
    if (e->str[0] == 'S' && r->elements == 4) {
        q->verdict = DEDUP_SEEN;
        copy_id(q->orig, r->element[1]);
        finish(q, strtoll(r->element[2]->str, NULL, 10), r->element[3]->str,
               r->element[3]->len);
        return;
    }
    if (e->str[0] != 'L' || r->elements != 3) {
        fail(q, IG_EIO);
        return;
    }
    finish(q, strtoll(r->element[1]->str, NULL, 10), r->element[2]->str,
           r->element[2]->len);
}

/* The create of q has answered (dead: its record was not made): q lets go
 * of the batch carrying its index entry. */
static void ix_settle(struct dreq *q, bool dead)
{
    struct ixbatch *b = q->ixb;

    if (!b) {
        return;
    }
    if (dead) {
        b->ent.data[q->ixslot * DEDUP_INDEX_ENTRY] = '-';
    }
    q->ixb = NULL;
    ix_unref(b);
}

/* Redis refused q's record (a key of another type, OOM): logged once per
 * item while it keeps being refused. */
static void record_refused(struct dreq *q, const char *why)
{
    struct dedup *d = q->d;
    size_t i;

    for (i = 0; i < d->nrefused; i++) {
        if (d->refused[i] == q->key.id) {
            return;
        }
    }
    ig_error("dedup",
             "redis refused the record of item %s (%.*s): %.200s; the item "
             "fails until that is repaired",
             q->id, (int)q->rec_len, q->rec_key, why ? why : "?");
    d->refused[d->refused_at] = q->key.id;
    d->refused_at = (d->refused_at + 1) % DEDUP_REFUSED_LOG;
    if (d->nrefused < DEDUP_REFUSED_LOG) {
        d->nrefused++;
    }
}

/* q's record went through: if it had been refused, say so once. */
static void record_made(struct dreq *q)
{
    struct dedup *d = q->d;
    size_t i;

    for (i = 0; i < d->nrefused; i++) {
        if (d->refused[i] == q->key.id) {
            d->refused[i] = 0;
            ig_info("dedup", "item %s: its record was made this time", q->id);
            return;
        }
    }
}

static void on_undone(void *ud, int status, const void *reply)
{
    (void)ud;
    log_refusal("removing the exact key of a refused record", status, reply);
}

/* q's record was refused: q is no candidate. The index forgets it (a
 * repost would be linked to it, and fail), and an exact key that names
 * it is removed (an exact copy would be linked to it, and fail). A rare
 * path: the extra command is only sent here. */
static void undo_create(struct dreq *q)
{
    struct dedup *d = q->d;

    nindex_forget(d->ix, q->key.id);
    if (q->exact_set) {
        const char *argv[2] = {"DEL", q->exact_key};
        size_t len[2] = {3, q->exact_len};

        rconn_cmd(d->rc, on_undone, NULL, 2, argv, len);
    }
}

/* q's create could not be sent at all (Redis down, or being freed): no
 * candidate, nothing open; the caller retries the item. */
static void create_unsent(struct dreq *q)
{
    ig_idset_del(&q->d->open, q->key.id);
    nindex_settle(q->d->ix, q->key.id);
    ix_settle(q, true);
    fail(q, IG_EAGAIN);
}

/* Sends the create writes of q (its index entry is added already): the
 * record with SET NX, then the exact key with SET NX (an exact key another
 * writer took first is left to it). state: the record's first byte, N
 * (pending while this process has it open, see dedup_done()) or P. */
static void send_create(struct dreq *q, char state)
{
    struct dedup *d = q->d;
    struct ig_buf *rec = &d->rbuf; /* rconn_cmd() copies the command */
    const char *argv[6];
    size_t len[6];

    if (!d->rc) {
        create_unsent(q);
        return;
    }
    if (state == 'N' && !ig_idset_put(&d->open, q->key.id, ID_OPEN)) {
        state = 'P';
    }
    ig_buf_reset(rec);
    ig_buf_addc(rec, state);
    ig_buf_addc(rec, ' ');
    ig_buf_add_u64(rec, (uint64_t)time(NULL));
    ig_buf_addc(rec, ' ');
    ig_buf_add(rec, q->channel, q->channel_len);
    ig_buf_addc(rec, '\n');
    if (q->near) {
        ig_buf_add(rec, q->text, q->text_len);
    }
    q->writes = 0;
    q->wstatus = IG_OK;
    q->got_rec = false;
    q->refused = false;
    q->rec_eio = false;
    q->exact_set = false;
    argv[0] = "SET";
    len[0] = 3;
    argv[1] = q->rec_key;
    len[1] = q->rec_len;
    argv[2] = rec->data;
    len[2] = rec->len;
    argv[3] = "NX";
    len[3] = 2;
    argv[4] = "EX";
    len[4] = 2;
    argv[5] = d->ttl;
    len[5] = strlen(d->ttl);
    if (rconn_cmd(d->rc, on_created, q, 6, argv, len) == IG_OK) {
        q->writes++;
        if (q->has_text) {
            argv[1] = q->exact_key;
            argv[2] = q->id;
            len[1] = q->exact_len;
            len[2] = DEDUP_ID_LEN;
            if (rconn_cmd(d->rc, on_created, q, 6, argv, len) == IG_OK) {
                q->writes++;
            } else {
                q->wstatus = IG_EAGAIN;
            }
        }
    }
    if (q->writes == 0) {
        create_unsent(q);
    }
}

static void check_type(struct dreq *q);

static void on_created(void *ud, int status, const void *reply)
{
    struct dreq *q = ud;
    struct dedup *d = q->d;
    const redisReply *r = reply;
    bool first = !q->got_rec;

    q->got_rec = true;
    if (status != IG_OK) {
        if (first && status == IG_EIO) {
            q->rec_eio = true;
            record_refused(q, r && r->str ? r->str : NULL);
        } else {
            log_refusal("a create", status, r);
        }
        if (q->wstatus != IG_EIO) {
            q->wstatus = status;
        }
    } else if (first && r->type == REDIS_REPLY_NIL) {
        q->refused = true; /* the key exists: see check_type() */
    } else if (!first && r->type == REDIS_REPLY_STATUS) {
        q->exact_set = true;
    }
    if (--q->writes > 0) {
        return;
    }
    if (q->refused || q->rec_eio) {
        /* No record of ours: nothing open. (One whose SET was cut off
         * may exist: it stays open, and the item, checked again, is a
         * replay.) */
        ig_idset_del(&d->open, q->key.id);
    }
    if (q->refused && q->wstatus == IG_OK && d->rc) {
        check_type(q);
        return;
    }
    /* A refused record is no candidate: its index entry is not worth
     * keeping if the index write fails (a lost connection leaves the
     * outcome unknown: kept). */
    ix_settle(q, q->rec_eio);
    if (!d->rc) {
        fail(q, IG_EAGAIN);
        return;
    }
    nindex_settle(d->ix, q->key.id);
    if (q->rec_eio) {
        undo_create(q);
    }
    if (q->wstatus != IG_OK) {
        fail(q, q->wstatus);
    } else if (q->refused) {
        again(q);
    } else {
        if (d->nrefused > 0) {
            record_made(q);
        }
        finish(q, 1, NULL, 0);
    }
}

static void on_type(void *ud, int status, const void *reply)
{
    struct dreq *q = ud;
    struct dedup *d = q->d;
    const redisReply *r = reply;
    bool wrong = status == IG_OK && r->type == REDIS_REPLY_STATUS &&
                 strcmp(r->str, "string") != 0 && strcmp(r->str, "none") != 0;

    ix_settle(q, wrong);
    if (!d->rc) {
        fail(q, IG_EAGAIN);
        return;
    }
    nindex_settle(d->ix, q->key.id);
    if (wrong) {
        char why[96];

        snprintf(why, sizeof(why), "the key holds a %.40s, not a string",
                 r->str);
        record_refused(q, why);
        undo_create(q);
        fail(q, IG_EIO);
        return;
    }
    again(q);
}

/* SET NX found q's record key taken although the lookup read no record:
 * another writer made it meanwhile (look up again: it is there now), or
 * the key holds another type, which MGET reads as missing and SET NX as
 * taken, so the item would come back every round. TYPE tells the two
 * apart; it is sent on this rare path only, never on a create that
 * went through. */
static void check_type(struct dreq *q)
{
    const char *argv[2] = {"TYPE", q->rec_key};
    size_t len[2] = {4, q->rec_len};

    if (rconn_cmd(q->d->rc, on_type, q, 2, argv, len) < 0) {
        ix_settle(q, false);
        nindex_settle(q->d->ix, q->key.id);
        again(q);
    }
}

/* Confirms the possible originals of q by Jaccard (or containment) and
 * sets q->orig and q->similarity for the best. Returns 1 (found), 0 (none)
 * or -1 (a text is missing: look up again). */
static int confirm(struct dreq *q)
{
    struct dedup *d = q->d;
    size_t i;
    double best = 0;
    int found = 0;

    candidates(q);
    for (i = 0; i < q->ncand; i++) {
        size_t nk, small, inter, need;
        struct nindex_feat f;
        double j;
        bool same;

        if (!nindex_feats(d->ix, q->cand[i], &f)) {
            return -1;
        }
        nk = f.n;
        if (!q->bset) {
            q->bset = simhash_set_new(q->bigrams, q->nbigrams);
        }
        d->st.near_candidates++;
        /* The overlap either test needs: J = I / (|A| + |B| - I) >= t
         * means I >= t (|A| + |B|) / (1 + t); containment means
         * I >= DEDUP_CONTAIN |smaller| (for a smaller set of at least
         * DEDUP_CONTAIN_MIN). Counting stops once neither can be met. */
        small = nk < q->nbigrams ? nk : q->nbigrams;
        need = (size_t)(d->cfg.near_jaccard * (double)(q->nbigrams + nk) /
                        (1.0 + d->cfg.near_jaccard));
        if (small >= DEDUP_CONTAIN_MIN &&
            (size_t)(DEDUP_CONTAIN * (double)small) < need) {
            need = (size_t)(DEDUP_CONTAIN * (double)small);
        }
        inter = simhash_set_overlap(q->bset, f.units, nk, f.wide, need);
        j = (double)inter / (double)(q->nbigrams + nk - inter);
        same = j >= d->cfg.near_jaccard ||
               (small >= DEDUP_CONTAIN_MIN &&
                (double)inter >= DEDUP_CONTAIN * (double)small);
        if (same && (!found || j > best)) {
            best = j;
            found = 1;
            simhash_hex64(q->cand[i], q->orig);
        }
    }
    q->similarity = best;
    return found;
}

/* True when id is among the originals q found gone. */
static bool skipped(const struct dreq *q, uint64_t id)
{
    for (size_t i = 0; i < q->nskip; i++) {
        if (q->skip[i] == id) {
            return true;
        }
    }
    return false;
}

/* The batch collecting this decide pass's index entries (write_index()
 * sends it when the pass ends). */
static struct ixbatch *ix_current(struct dedup *d)
{
    struct ixbatch *b = d->ixcur;

    if (!b) {
        b = d->ixspare ? d->ixspare : ig_calloc(1, sizeof(*b));
        d->ixspare = NULL;
        b->d = d;
        b->refs = 1; /* the XADD's */
        d->ixcur = b;
    }
    return b;
}

/* Where a write decided now must wait: behind the creates of the decide
 * pass being made, or of the newest index write still unanswered that
 * carries creates. Those records are written only when that XADD has
 * answered — state N when P:index has their entries (a restart then
 * finds the ones cut off before they were forwarded, see on_loaded()),
 * P when it has not — so a link or a counts read sent before them would
 * find the original missing. NULL: send now. */
static struct ixbatch *hold_target(struct dedup *d)
{
    if (d->ixcur && d->ixcur->creates) {
        return d->ixcur;
    }
    return d->ixlast;
}

static void hold(struct ixbatch *b, struct dreq *q, char op)
{
    q->hop = op;
    append(&b->hhead, &b->htail, q);
}

/* b's XADD has answered (indexed: acknowledged): what waited for it is
 * sent, in the order it was decided. */
static void release_held(struct ixbatch *b, bool indexed)
{
    struct dedup *d = b->d;
    struct dreq *q = b->hhead, *next;

    if (d->ixlast == b) {
        d->ixlast = NULL;
    }
    b->hhead = b->htail = NULL;
    b->creates = false;
    for (; q; q = next) {
        next = q->next;
        if (q->hop == 'C') {
            send_create(q, indexed ? 'N' : 'P');
        } else if (q->hop == 'L') {
            append(&d->lhead, &d->ltail, q);
        } else {
            send_links(d);
            send_info_now(q);
        }
    }
    send_links(d);
}

/* Decides one looked-up item, in order. */
static void decide(struct dreq *q)
{
    struct dedup *d = q->d;
    uint64_t ex;

    q->replay = false;
    memcpy(q->orig, q->id, sizeof(q->orig));
    if (q->rec_state) {
        /* This very item was made a candidate before: forwarded (F, or N
         * and no longer open here), or cut off before it was (P, or N and
         * open or abandoned here: see dedup_done()): forward it again,
         * same id. */
        q->replay = q->rec_state == 'P' ||
                    (q->rec_state == 'N' && ig_idset_get(&d->open, q->key.id));
        q->verdict = q->replay ? DEDUP_NEW : DEDUP_SEEN;
        if (q->replay && d->cfg.near && !nindex_has(d->ix, q->key.id)) {
            /* Cut off before its index entry reached P:index (kill -9
             * between the create and the XADD: the index rebuilt at
             * start lacks it): the replay puts it back, or reposts of
             * this candidate would be forwarded as new. */
            nindex_add(d->ix, &q->key, q->near ? q->bigrams : NULL,
                       q->near ? q->nbigrams : 0, false);
            struct ixbatch *b = ix_current(d);
            b->n++;
            index_entry(&b->ent, &q->key);
        }
        send_info(q);
        return;
    }
    if (q->ptr[0]) {
        q->verdict = DEDUP_SEEN;
        memcpy(q->orig, q->ptr, sizeof(q->orig));
        send_info(q);
        return;
    }
    if (nindex_creating(d->ix, q->key.id)) {
        /* The same item twice in flight: the first one is being created. */
        q->verdict = DEDUP_SEEN;
        send_info(q);
        return;
    }
    if (q->has_text) {
        /* An owner found gone by an earlier link (its record lost while
         * its exact key lives on) is passed over like the index's: sent
         * to it again, the item would come back every round. */
        if (q->exact[0] && !skipped(q, hex64(q->exact))) {
            q->verdict = DEDUP_EXACT;
            memcpy(q->orig, q->exact, sizeof(q->orig));
            send_link(q);
            return;
        }
        if (nindex_exact(d->ix, q->key.exact, q->key.id, q->skip, q->nskip,
                         &ex)) {
            q->verdict = DEDUP_EXACT;
            simhash_hex64(ex, q->orig);
            send_link(q);
            return;
        }
    }
    if (q->near) {
        int c = confirm(q);

        if (c < 0) {
            again(q);
            return;
        }
        if (c > 0) {
            q->verdict = DEDUP_NEAR;
            send_link(q);
            return;
        }
        memcpy(q->orig, q->id, sizeof(q->orig));
    }
    q->verdict = DEDUP_NEW;
    nindex_add(d->ix, &q->key, q->near ? q->bigrams : NULL,
               q->near ? q->nbigrams : 0, true);
    if (d->cfg.near) {
        struct ixbatch *b = ix_current(d);

        q->ixb = b;
        q->ixslot = b->n++;
        b->refs++;
        index_entry(&b->ent, &q->key);
        /* The record waits for the index write (see hold_target()). */
        b->creates = true;
        hold(b, q, 'C');
        return;
    }
    send_create(q, 'P');
}

/* Logs the candidates whose index entries are dropped (n entries of
 * DEDUP_INDEX_ENTRY at e, dead ones skipped), a line per 8. */
static void log_dropped(const char *e, size_t n, const char *why)
{
    struct ig_buf ids;
    size_t i, k = 0;

    ig_buf_init(&ids, 0);
    for (i = 0; i < n; i++) {
        const char *x = e + i * DEDUP_INDEX_ENTRY;

        if (x[0] == '-') {
            continue;
        }
        ig_buf_addc(&ids, ' ');
        ig_buf_add(&ids, x, DEDUP_ID_LEN);
        if (++k % 8 == 0 || i + 1 == n) {
            ig_error("dedup",
                     "near-duplicate index entries dropped (%s); after a "
                     "restart, near duplicates of these candidates are not "
                     "found:%s",
                     why, ids.data);
            ig_buf_reset(&ids);
        }
    }
    if (ids.len > 0) {
        ig_error("dedup",
                 "near-duplicate index entries dropped (%s); after a "
                 "restart, near duplicates of these candidates are not "
                 "found:%s",
                 why, ids.data);
    }
    ig_buf_fini(&ids);
}

/* Logs and forgets the kept entries (dedup_free(): there is no later). */
static void ix_drop_kept(struct dedup *d)
{
    if (d->ixkept_n > 0) {
        log_dropped(d->ixkept.data, d->ixkept_n,
                    "the gateway stopped before Redis acknowledged them");
        d->st.index_dropped += d->ixkept_n;
    }
    d->ixkept_n = 0;
    ig_buf_reset(&d->ixkept);
}

/* Schedules the next try of the kept entries, spaced out to 30 s. */
static void ix_retry_later(struct dedup *d)
{
    struct timeval tv;

    if (!d->rc || d->ixkept_n == 0 || d->ix_resending ||
        evtimer_pending(d->ix_ev, NULL)) {
        return;
    }
    d->ix_wait_ms = d->ix_wait_ms ? d->ix_wait_ms * 2 : 250;
    if (d->ix_wait_ms > 30000) {
        d->ix_wait_ms = 30000;
    }
    tv.tv_sec = d->ix_wait_ms / 1000;
    tv.tv_usec = (d->ix_wait_ms % 1000) * 1000;
    evtimer_add(d->ix_ev, &tv);
}

/* The last reference to b is gone: the entries of a failed write that
 * stand for candidates are kept, up to DEDUP_INDEX_UNWRITTEN_MAX (the rest
 * are dropped, logged with their ids); b is kept for the next pass. */
static void ix_unref(struct ixbatch *b)
{
    struct dedup *d = b->d;
    size_t i, live = 0;

    if (--b->refs > 0) {
        return;
    }
    if (b->resend) {
        d->ixresend_n = 0;
    }
    for (i = 0; b->failed && i < b->n; i++) {
        const char *e = b->ent.data + i * DEDUP_INDEX_ENTRY;

        if (e[0] == '-') {
            continue;
        }
        if (d->ixkept_n + d->ixresend_n >= DEDUP_INDEX_UNWRITTEN_MAX) {
            log_dropped(e, b->n - i, "too many waiting to be written");
            for (; i < b->n; i++) {
                d->st.index_dropped +=
                    b->ent.data[i * DEDUP_INDEX_ENTRY] != '-';
            }
            break;
        }
        ig_buf_add(&d->ixkept, e, DEDUP_INDEX_ENTRY);
        d->ixkept_n++;
        live++;
    }
    if (live > 0) {
        ix_retry_later(d);
    }
    b->n = 0;
    b->failed = false;
    b->resend = false;
    ig_buf_reset(&b->ent);
    if (!d->ixspare) {
        d->ixspare = b;
    } else {
        ig_buf_fini(&b->ent);
        ig_free(b);
    }
}

static void ix_send(struct dedup *d, struct ixbatch *b);

/* Sends the kept entries again (the timer, or a write that went through
 * after failures). */
static void ix_resend(struct dedup *d)
{
    struct ixbatch *b;

    if (!d->rc || d->ixkept_n == 0 || d->ix_resending) {
        return;
    }
    if (!rconn_accepting(d->rc)) {
        ix_retry_later(d);
        return;
    }
    b = ig_calloc(1, sizeof(*b));
    b->d = d;
    b->refs = 1;
    b->resend = true;
    b->n = d->ixkept_n;
    b->ent = d->ixkept;
    ig_buf_init(&d->ixkept, 0);
    d->ixresend_n = d->ixkept_n;
    d->ixkept_n = 0;
    d->ix_resending = true;
    ix_send(d, b);
}

static void ix_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ix_resend(arg);
}

/* An index write failed: logged when writes start failing, not each
 * time; its entries are kept when the last reference to b goes. */
static void ix_failed(struct ixbatch *b, int status, const redisReply *r)
{
    struct dedup *d = b->d;

    b->failed = true;
    if (b->resend) {
        d->ix_resending = false;
    }
    if (d->ix_failing || !d->rc) {
        return;
    }
    d->ix_failing = true;
    if (status == IG_EIO) {
        ig_error("dedup",
                 "redis refused a near-duplicate index write: %.200s; the "
                 "entries are kept and sent again",
                 r && r->str ? r->str : "?");
    } else {
        ig_warn("dedup", "a near-duplicate index write was cut off (redis "
                         "unreachable); the entries are kept and sent again");
    }
}

static void on_indexed(void *ud, int status, const void *reply)
{
    struct ixbatch *b = ud;
    struct dedup *d = b->d;

    if (status != IG_OK) {
        ix_failed(b, status, reply);
        release_held(b, false);
        ix_unref(b);
        return;
    }
    release_held(b, true);
    if (b->resend) {
        d->ix_resending = false;
    }
    if (d->ix_failing && d->rc) {
        ig_info("dedup", "near-duplicate index writes accepted again");
    }
    d->ix_failing = false;
    d->ix_wait_ms = 0;
    ix_unref(b);
    /* Redis takes writes again: the kept entries need not wait. */
    ix_resend(d);
}

static void on_index_ttl(void *ud, int status, const void *reply)
{
    (void)ud;
    log_refusal("the TTL of the near-duplicate index", status, reply);
}

/* The first arguments of every XADD to P:index: the stream trimmed to
 * the retention (entries older than that, counted back from now, go);
 * minid is the caller's buffer for that bound. Returns how many (6). */
static int index_xadd_head(const struct dedup *d, const char **argv,
                           size_t *len, char minid[32])
{
    int k = 0, i;

    snprintf(minid, 32, "%lld",
             (long long)((int64_t)time(NULL) - d->ttl_s) * 1000);
    argv[k++] = "XADD";
    argv[k++] = d->index_key;
    argv[k++] = "MINID";
    argv[k++] = "~";
    argv[k++] = minid;
    argv[k++] = "*";
    for (i = 0; i < k; i++) {
        len[i] = strlen(argv[i]);
    }
    return k;
}

/* Appends the live entries of b to P:index as one stream entry. Takes
 * b's own reference. */
static void ix_send(struct dedup *d, struct ixbatch *b)
{
    const char **argv;
    size_t *len, i;
    int k, head;
    char minid[32];

    argv = ig_malloc((2 * b->n + 8) * sizeof(*argv));
    len = ig_malloc((2 * b->n + 8) * sizeof(*len));
    k = index_xadd_head(d, argv, len, minid);
    if (b->creates) {
        /* Field n: the records of this entry's candidates are made in
         * state N once it is written, and done marks follow. */
        argv[k] = "n";
        len[k++] = 1;
        argv[k] = "1";
        len[k++] = 1;
    }
    head = k;
    for (i = 0; i < b->n; i++) {
        const char *e = b->ent.data + i * DEDUP_INDEX_ENTRY;

        if (e[0] == '-') {
            continue; /* a create that failed already */
        }
        argv[k] = e;
        len[k++] = 16;
        argv[k] = e;
        len[k++] = DEDUP_INDEX_ENTRY;
    }
    if (k == head) { /* no live entry */
        release_held(b, false);
        ix_unref(b);
    } else if (rconn_cmd(d->rc, on_indexed, b, k, argv, len) < 0) {
        ix_failed(b, IG_EAGAIN, NULL);
        release_held(b, false);
        ix_unref(b);
    } else {
        if (b->creates) {
            d->ixlast = b; /* sent, unanswered: later writes wait behind it */
        }
        if (!b->resend && time(NULL) >= d->index_ttl_at) {
            /* The stream's own TTL (the retention, so it goes when writes
             * stop) needs refreshing once in a while, not with every
             * entry. */
            const char *ea[3] = {"EXPIRE", d->index_key, d->ttl};
            size_t el[3] = {6, strlen(d->index_key), strlen(d->ttl)};

            if (rconn_cmd(d->rc, on_index_ttl, NULL, 3, ea, el) == IG_OK) {
                d->index_ttl_at =
                    time(NULL) + (d->ttl_s / 4 < DEDUP_INDEX_TTL_EVERY_S
                                      ? d->ttl_s / 4
                                      : DEDUP_INDEX_TTL_EVERY_S);
            }
        }
    }
    ig_free(argv);
    ig_free(len);
}

/* Appends the fingerprints of the candidates just decided to P:index. A
 * write that fails (the connection lost, Redis refusing: OOM, a key of
 * another type) does not lose them: they are kept and sent again, on a
 * timer and as soon as a later write goes through. */
static void write_index(struct dedup *d)
{
    struct ixbatch *b = d->ixcur;

    if (!b) {
        return;
    }
    d->ixcur = NULL;
    ix_send(d, b);
}

/* Decides every batch at the head whose answers are all in. */
static void decide_ready(struct dedup *d)
{
    while (d->bhead && d->bhead->looked && !d->bhead->fetching) {
        struct lbatch *b = d->bhead;
        size_t k;

        d->bhead = b->next;
        if (!d->bhead) {
            d->btail = NULL;
        }
        for (k = 0; k < b->n; k++) {
            if (b->failed) {
                fail(b->q[k], IG_EAGAIN);
            } else {
                decide(b->q[k]);
            }
        }
        ig_free(b->fetch);
        ig_free(b);
    }
    flush_links(d);
    write_index(d);
}

/* ---- checks ---------------------------------------------------------- */

/* Appends "<prefix>:<kind>:" at p; returns the end. */
static char *put_key(char *p, const char *prefix, size_t plen, const char *kind,
                     size_t klen)
{
    memcpy(p, prefix, plen);
    p += plen;
    *p++ = ':';
    memcpy(p, kind, klen);
    p += klen;
    *p++ = ':';
    return p;
}

/* Fills the fingerprints of q from the item's normalised text, already in
 * q->text (q->text_len bytes, before the cap of cap bytes), and its
 * bigram keys (of the capped text), already in q->bigrams. */
static void fingerprint(struct dreq *q, const struct dedup_req *req,
                        size_t plen, size_t slen, size_t elen, size_t cap)
{
    const struct dedup *d = q->d;
    char hash[17], *p;
    size_t cut;

    q->has_text = q->text_len > 0;
    q->key.exact = simhash_hash64(q->text, q->text_len, DEDUP_EXACT_SEED);
    simhash_hex64(q->key.exact, hash);
    candidate_id(req->source_id, req->ext_id, hash, q->id);
    q->key.id = hex64(q->id);
    /* The three key names (room was made for them by dedup_prepare()). */
    p = put_key(q->exact_key, d->prefix, plen, "exact", 5);
    memcpy(p, hash, 16);
    p += 16;
    *p++ = '\0';
    q->exact_len = (size_t)(p - 1 - q->exact_key);
    q->rec_key = p;
    p = put_key(p, d->prefix, plen, "rec", 3);
    memcpy(p, q->id, DEDUP_ID_LEN);
    p += DEDUP_ID_LEN;
    *p++ = '\0';
    q->rec_len = (size_t)(p - 1 - q->rec_key);
    q->seen_key = p;
    p = put_key(p, d->prefix, plen, "seen", 4);
    memcpy(p, req->source_id, slen);
    p += slen;
    if (elen) {
        memcpy(p, ":e:", 3);
        memcpy(p + 3, req->ext_id, elen);
        p += 3 + elen;
    } else {
        memcpy(p, ":t:", 3);
        memcpy(p + 3, hash, 16);
        p += 3 + 16;
    }
    *p = '\0';
    q->seen_len = (size_t)(p - q->seen_key);
    /* The capped text for the similarity check. */
    q->text[cap] = '\0';
    q->text_len = cap;
    q->key.sim = simhash_of(q->bigrams, q->nbigrams);
    q->near = d->cfg.near && q->nbigrams >= DEDUP_NEAR_MIN_BIGRAMS;
    /* Anchors: hashes of the first and last DEDUP_ANCHOR_CPS code points
     * (the whole text when it is shorter; it is valid UTF-8: the
     * normaliser re-encodes what it keeps). */
    cut = ig_utf8_head_len(q->text, q->text_len, DEDUP_ANCHOR_CPS);
    q->key.head = simhash_hash64(q->text, cut, DEDUP_ANCHOR_SEED);
    cut = ig_utf8_tail_start(q->text, q->text_len, DEDUP_ANCHOR_CPS);
    q->key.tail =
        simhash_hash64(q->text + cut, q->text_len - cut, DEDUP_ANCHOR_SEED + 1);
}

struct dedup_prep *dedup_prepare(const struct dedup *d,
                                 const struct dedup_req *req)
{
    struct dreq *q;
    const char *text, *chan;
    size_t tl, ttl, room, nkeys, plen, slen, elen, clen, o_keys, o_chan,
        o_text, o_big, total, cap = 0;

    if (!d || !req || !req->source_id || !*req->source_id) {
        return NULL;
    }
    /* One block: the request, its three key names, its channel, its
     * normalised text (never longer than the input; past DEDUP_NORM_MAX
     * the input's prefix stands for the text) and its bigram keys (at most
     * one per byte of the capped text, plus one). */
    text = req->text ? req->text : "";
    chan = req->channel ? req->channel : "";
    tl = strlen(text);
    tl = tl < DEDUP_NORM_MAX ? tl : DEDUP_NORM_MAX;
    ttl = 0;
    plen = strlen(d->prefix);
    slen = strlen(req->source_id);
    elen = req->ext_id ? strlen(req->ext_id) : 0;
    clen = strlen(chan);
    nkeys = 3 * (plen + 8) + 16 + DEDUP_ID_LEN + slen + 3 +
            (elen ? elen : 16) + 3;
    o_keys = sizeof(*q);
    o_chan = o_keys + nkeys;
    o_text = o_chan + clen + 1;
    q = NULL;
    for (int pass = 0; pass < 2; pass++) {
        /* The title stands in when the text normalises to nothing; the
         * block is made again for it (rare). */
        size_t src = pass == 0 ? tl : ttl;

        room = src + 1;
        o_big = (o_text + room + 7) & ~(size_t)7;
        total = o_big +
                ((src < (size_t)d->cfg.text_max ? src
                                                : (size_t)d->cfg.text_max) +
                 1) * sizeof(uint64_t);
        ig_free(q);
        q = ig_malloc(total);
        memset(q, 0, sizeof(*q));
        q->text = (char *)q + o_text;
        q->bigrams = (uint64_t *)(void *)((char *)q + o_big);
        q->text_len = simhash_normalise_keys(
            pass == 0 ? text : req->title, src, q->text,
            (size_t)d->cfg.text_max, &cap, q->bigrams, &q->nbigrams);
        if (q->text_len > 0 || pass == 1 || !req->title) {
            break;
        }
        ttl = strlen(req->title);
        ttl = ttl < DEDUP_NORM_MAX ? ttl : DEDUP_NORM_MAX;
    }
    q->d = (struct dedup *)(uintptr_t)d; /* written to on the loop only */
    q->exact_key = (char *)q + o_keys;
    /* The channel list is stored comma-separated, the record's header
     * space-separated, one line. */
    q->channel = (char *)q + o_chan;
    q->channel_len = clen;
    for (size_t i = 0; i < clen; i++) {
        char c = chan[i];

        q->channel[i] =
            c == ',' || c == ' ' || c == '\n' || c == '\r' ? '_' : c;
    }
    q->channel[clen] = '\0';
    fingerprint(q, req, plen, slen, elen, cap);
    return (struct dedup_prep *)q;
}

const char *dedup_prep_id(const struct dedup_prep *p)
{
    return ((const struct dreq *)p)->id;
}

uint64_t dedup_prep_key(const struct dedup_prep *p)
{
    /* hex64() of the id, made by fingerprint() (the loop thread asks for
     * it again on every retry of the item). */
    return ((const struct dreq *)p)->key.id;
}

void dedup_prep_free(struct dedup_prep *p)
{
    if (p) {
        dreq_free((struct dreq *)p);
    }
}

int dedup_check_prepared(struct dedup *d, struct dedup_prep **p, dedup_cb cb,
                         void *ud)
{
    struct dreq *q;

    if (!d || !p || !*p || !cb || ((struct dreq *)*p)->d != d) {
        return IG_EINVAL;
    }
    if (d->inflight >= (size_t)d->cfg.max_inflight) {
        return IG_E2BIG;
    }
    if (!rconn_accepting(d->rc)) {
        return IG_EAGAIN;
    }
    q = (struct dreq *)*p;
    *p = NULL;
    q->cb = cb;
    q->ud = ud;
    enqueue(q);
    d->inflight++;
    d->st.checks++;
    return IG_OK;
}

int dedup_check(struct dedup *d, const struct dedup_req *req, dedup_cb cb,
                void *ud)
{
    struct dedup_prep *p;
    int rc;

    if (!d || !req || !req->source_id || !*req->source_id || !cb) {
        return IG_EINVAL;
    }
    if (d->inflight >= (size_t)d->cfg.max_inflight) {
        return IG_E2BIG;
    }
    if (!rconn_accepting(d->rc)) {
        return IG_EAGAIN;
    }
    p = dedup_prepare(d, req);
    rc = dedup_check_prepared(d, &p, cb, ud);
    dedup_prep_free(p);
    return rc;
}

static void on_rec_expire(void *ud, int status, const void *reply)
{
    (void)ud;
    log_refusal("the TTL of a re-made record", status, reply);
}

/* The reply to a SETRANGE of a record's state byte (a done mark of a P
 * record, or an abandoned N record set back to P). It answers the
 * string's new length: 1 means there was no record (Redis lost it, or
 * evicted it, after the check) and the write made a bare one — worth
 * keeping, the item stays seen (F) or is replayed (P), but with the
 * retention's TTL like every key, not forever. */
static void expire_bare(struct dedup *d, const char *id, int status,
                        const redisReply *r)
{
    if (status == IG_OK && d->rc && r->type == REDIS_REPLY_INTEGER &&
        r->integer == 1) {
        struct ig_buf *key = &d->kbuf;
        const char *argv[3] = {"EXPIRE", NULL, d->ttl};
        size_t len[3] = {6, 0, strlen(d->ttl)};

        ig_buf_reset(key);
        add_key(key, d->prefix, "rec", id);
        argv[1] = key->data;
        len[1] = key->len;
        rconn_cmd(d->rc, on_rec_expire, NULL, 3, argv, len);
    }
}

static void done_end(struct done_req *q, int status)
{
    q->d->inflight--;
    if (status < 0) {
        q->d->st.errors++;
    }
    if (q->cb) {
        q->cb(q->ud, status, NULL);
    }
    ig_pool_put(&q->d->dones, q);
}

static void on_done(void *ud, int status, const void *reply)
{
    struct done_req *q = ud;

    expire_bare(q->d, q->id, status, reply);
    done_end(q, status);
}

/* Sends SETRANGE <record> 0 <state>; false when it could not be sent. */
static bool set_state(struct dedup *d, const char *id, const char *state,
                      rconn_cb cb, void *ud)
{
    const char *argv[4] = {"SETRANGE", NULL, "0", state};
    size_t len[4] = {8, 0, 1, 1};

    ig_buf_reset(&d->kbuf);
    add_key(&d->kbuf, d->prefix, "rec", id);
    argv[1] = d->kbuf.data; /* rconn_cmd() copies the command */
    len[1] = d->kbuf.len;
    return rconn_cmd(d->rc, cb, ud, 4, argv, len) == IG_OK;
}

/* Done marks written by one XADD. */
struct dmark {
    struct dedup *d;
    struct done_req *head;
};

static void on_marked(void *ud, int status, const void *reply)
{
    struct dmark *m = ud;
    struct done_req *q, *next;

    log_refusal("the done marks", status, reply);
    for (q = m->head; q; q = next) {
        next = q->next;
        done_end(q, status);
    }
    ig_free(m);
}

#define DEDUP_MARKS_MAX 1024 /* done marks per XADD */

/* Writes the queued done marks to P:index: one entry per up to
 * DEDUP_MARKS_MAX, field "done", the ids comma-separated. A mark that is
 * lost (Redis down, the gateway killed before it went) costs nothing but
 * a replay: the next start finds its candidate open and sets its record
 * back to P (on_loaded()). */
static void write_marks(struct dedup *d)
{
    while (d->dmhead) {
        struct dmark *m = ig_calloc(1, sizeof(*m));
        struct done_req **tail = &m->head;
        struct ig_buf ids;
        char minid[32];
        size_t n = 0;

        ig_buf_init(&ids, 0);
        while (d->dmhead && n < DEDUP_MARKS_MAX) {
            struct done_req *q = d->dmhead;

            d->dmhead = q->next;
            q->next = NULL;
            *tail = q;
            tail = &q->next;
            if (n++) {
                ig_buf_addc(&ids, ',');
            }
            ig_buf_add(&ids, q->id, DEDUP_ID_LEN);
        }
        if (!d->dmhead) {
            d->dmtail = NULL;
        }
        const char *argv[8];
        size_t len[8];
        int k = index_xadd_head(d, argv, len, minid);

        argv[k] = "done";
        len[k++] = 4;
        argv[k] = ids.data;
        len[k++] = ids.len;
        if (!d->rc || rconn_cmd(d->rc, on_marked, m, k, argv, len) < 0) {
            on_marked(m, IG_EAGAIN, NULL);
        }
        ig_buf_fini(&ids);
    }
}

static void marks_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_marks(arg);
}

int dedup_done(struct dedup *d, const char *id, dedup_cb cb, void *ud)
{
    struct done_req *q;
    uint64_t key;
    uint8_t st;

    if (!d || !id || strlen(id) != DEDUP_ID_LEN) {
        return IG_EINVAL;
    }
    /* Being freed (d->rc NULL: called from a callback that dedup_free()
     * runs): refused. */
    if (!d->rc) {
        return IG_EAGAIN;
    }
    key = is_hex16(id, DEDUP_ID_LEN) ? hex64(id) : 0;
    st = ig_idset_get(&d->open, key);
    /* Redis down: a P record's mark is refused for now, like a check. An
     * open N record is closed all the same — it was forwarded, so this
     * process answers it seen from now on; its done mark is lost if Redis
     * does not take it, and then the next start sets the record to P and
     * a repeat of the item is replayed, harmlessly. */
    if (st != ID_OPEN && !rconn_accepting(d->rc)) {
        return IG_EAGAIN;
    }
    q = ig_pool_get(&d->dones);
    memcpy(q->id, id, sizeof(q->id));
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    if (st == ID_OPEN) {
        /* An N record this process made: it is forwarded now, so no
         * longer open; a done mark in P:index tells a later start so
         * (batched: one XADD per loop turn). */
        ig_idset_del(&d->open, key);
        if (d->dmtail) {
            d->dmtail->next = q;
        } else {
            d->dmhead = q;
            event_active(d->dm_ev, 0, 0);
        }
        d->dmtail = q;
        d->inflight++;
        return IG_OK;
    }
    /* A P record (made with near off, or when the index write failed; a
     * replay; an abandoned N): its state byte P -> F. SETRANGE keeps the
     * TTL; a record that is gone (expiry is ruled out by the retention's
     * floor, DEDUP_TTL_MIN_S, but not a Redis that lost its data) comes
     * back as "F" without one, which on_done() sees and gives one. */
    if (st == ID_ABANDONED) {
        ig_idset_del(&d->open, key);
    }
    if (!set_state(d, id, "F", on_done, q)) {
        ig_pool_put(&d->dones, q);
        return IG_EAGAIN;
    }
    d->inflight++;
    return IG_OK;
}

/* An abandoned record's way back to P has answered; until it has, the
 * id stays in the open set, so the item checked again meanwhile is a
 * replay all the same. */
static void on_abandoned(void *ud, int status, const void *reply)
{
    struct done_req *q = ud;
    struct dedup *d = q->d;
    uint64_t key = hex64(q->id);

    log_refusal("setting a record back to pending", status, reply);
    expire_bare(d, q->id, status, reply);
    if (status == IG_OK && ig_idset_get(&d->open, key) == ID_ABANDONED) {
        ig_idset_del(&d->open, key);
    }
    ig_pool_put(&d->dones, q);
}

int dedup_abandon(struct dedup *d, const char *id)
{
    struct done_req *q;
    uint64_t key;

    if (!d || !id || !is_hex16(id, strlen(id))) {
        return IG_EINVAL;
    }
    key = hex64(id);
    if (ig_idset_get(&d->open, key) != ID_OPEN) {
        return IG_OK; /* a P record already, or not made here */
    }
    ig_idset_put(&d->open, key, ID_ABANDONED);
    if (!rconn_accepting(d->rc)) {
        return IG_EAGAIN; /* stays abandoned: replayed if checked again */
    }
    q = ig_pool_get(&d->dones);
    memcpy(q->id, id, sizeof(q->id));
    q->d = d;
    if (!set_state(d, id, "P", on_abandoned, q)) {
        ig_pool_put(&d->dones, q);
        return IG_EAGAIN;
    }
    return IG_OK;
}
