/* dedup.c — seen / exact / near-duplicate checks in Redis (see dedup.h).
 *
 * One Lua script makes every decision atomically, for a batch of up to
 * DEDUP_BATCH items per EVALSHA (decided one after the other, so a later
 * item sees what an earlier one created): it checks the seen key, then
 * the exact-text key, and either links the item to an original (seen key
 * + report count + channel list in one go) or creates the new candidate
 * with all of its keys. Near-duplicate lookups take more than one trip:
 *
 *   check   seen / exact as above; with near on and a non-empty bucket,
 *           the six buckets go back to C ('B');
 *   C       picks the possible originals from the buckets (SimHash
 *           distance, anchors: a few ns per member in C, tens of us per
 *           bucket in Lua, which was the script's largest cost);
 *   fetch   (only when some were picked) re-checks seen / exact and
 *           returns the originals' texts ('C'); C confirms by Jaccard;
 *   link    the duplicate, after re-checking the original still exists;
 *   create  the new candidate, unless a bucket gained a matching member
 *           since C filtered it (members newer than the snapshot are
 *           checked in Lua, usually none): then 'B' again.
 *
 * Items queue in C and go out on the next loop turn, DEDUP_BATCH per
 * script call, pipelined.
 *
 * Buckets. SimHash over character bigrams, 4 bands of 16 bits, is the
 * classic index and catches small edits (any 3 differing bits leave one
 * band intact). It does not catch a sentence added to a short post: that
 * moves the SimHash 8-12 bits, and 4 exact 16-bit bands then match rarely.
 * Two anchor buckets fill the gap: the hashes of the first and of the last
 * DEDUP_ANCHOR_CPS code points of the normalised text. Text added at the
 * end leaves the head anchor intact, text added in front leaves the tail
 * one intact, a middle insertion leaves both. Band members carry their
 * SimHash so members further than near_bits are skipped before their
 * texts are fetched. Anchor buckets are named by the first 16 bits of the
 * anchor hash (so their number is bounded, 65536 per kind) and their
 * members carry the full anchor, which must match; those members are
 * compared whatever their SimHash distance (it is exactly what is large
 * in the cases anchors exist for). Everything found is confirmed by
 * Jaccard; a candidate whose bigram set is at least DEDUP_CONTAIN of the
 * smaller set also counts (a short post repeated inside a longer one)
 * when the smaller has DEDUP_CONTAIN_MIN bigrams or more.
 *
 * Cost shaped the storage: Redis spends more on each redis.call()
 * (argument objects, ACL check, reply conversion; ~4 us here) than on the
 * command itself. All buckets are fields of one hash, P:buckets, read
 * with one HMGET and written with one HSET of the six fields; its TTL is
 * refreshed once per script call. A field is a plain string of
 * fixed-width members (the band_max most recent, newer appended at the
 * end). Six bucket keys would cost six SET ... EX per new candidate. The
 * hash is bounded (6 x 65536 fields of at most band_max members); members
 * older than the retention can linger in it, but their candidate hash has
 * expired, so they are skipped.
 *
 * Keys of one candidate share its TTL (set once, when created): a link
 * does not extend the original's life, so all of its keys expire together.
 * Key names are built inside the script from the prefix, which suits a
 * single Redis or Sentinel, not Redis Cluster.
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
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "gateway/candidate.h"
#include "gateway/rconn.h"
#include "gateway/simhash.h"

#define DEDUP_ANCHOR_CPS 24      /* code points per anchor */
#define DEDUP_NEAR_MIN_BIGRAMS 6 /* shorter texts: exact only */
#define DEDUP_CONTAIN 0.9
#define DEDUP_CONTAIN_MIN 12
#define DEDUP_NORM_MAX (1u << 20) /* normalised text hashed for exact */
#define DEDUP_EXACT_SEED 0x65786163ULL
#define DEDUP_ANCHOR_SEED 0x616e6368ULL
/* Items per script call. Each EVALSHA has a fixed cost in Redis (command
 * parsing, the KEYS/ARGV tables, reply conversion); 16 items per call
 * cut Redis CPU per item by about a quarter against one, while a call
 * stays near a millisecond of Redis time even with near-duplicate
 * lookups (other clients wait while a script runs); 64 gained nothing
 * measurable. */
#define DEDUP_BATCH 16
#define DEDUP_ITEM_ARGS 13
#define DEDUP_MAX_ROUNDS 8
#define DEDUP_NBUCKETS 6 /* 4 SimHash bands, head and tail anchors */

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
     "members kept per bucket (most recent) and originals compared per item", 0,
     NULL},
    {0},
};
#undef D

/* The decision script, for a batch of items decided one after the other
 * (so a later item of the batch sees the keys an earlier one created).
 * KEYS: seen, exact of each item. ARGV: prefix, ttl, band_max, now,
 * near_bits, then 13 per item: id, channel, simhash hex, near (1/0),
 * text, source, ext id, has_text (1/0), mode (check | fetch | create |
 * link), ids (link target, or the concatenated ids to fetch), head anchor
 * hex, tail anchor hex, bucket snapshot (see struct dreq; '*' * 96: no
 * re-check). Replies one
 * array per item: {verdict, id, reports, channels} with verdict N(ew)
 * R(eplay) S(een) E(xact) D (near duplicate); {"B", six buckets}: pick
 * possible originals; {"C", id, text, id, text, ...}: confirm them. */
static const char dedup_lua[] =
    "local P,ttl,bmax,now=ARGV[1],ARGV[2],tonumber(ARGV[3]),ARGV[4]\n"
    "local maxd=tonumber(ARGV[5])\n"
    "local BK,dirty=P..':buckets',false\n"
    "local band,bxor,rsh=bit.band,bit.bxor,bit.rshift\n"
    "local function pc(x)\n"
    "  x=x-band(rsh(x,1),0x55555555)\n"
    "  x=band(x,0x33333333)+band(rsh(x,2),0x33333333)\n"
    "  x=band(x+rsh(x,4),0x0f0f0f0f)\n"
    "  return band(x,255)+band(rsh(x,8),255)+band(rsh(x,16),255)+rsh(x,24)\n"
    "end\n"
    "local function one(ks,ke,a)\n"
    "  local id,ch,sh,near=ARGV[a],ARGV[a+1],ARGV[a+2],ARGV[a+3]=='1'\n"
    "  local hastext,mode=ARGV[a+7]=='1',ARGV[a+8]\n"
    "  local anc={nil,nil,nil,nil,ARGV[a+10],ARGV[a+11]}\n"
    "  local r=redis.call('MGET',ks,ke)\n"
    "  local s=r[1]\n"
    "  if s then\n"
    "    local v='S'\n"
    "    if s==id and redis.call('HEXISTS',P..':cand:'..id,'p')==1 then\n"
    "      v='R'\n"
    "    end\n"
    "    local h=redis.call('HMGET',P..':cand:'..s,'reports','chans')\n"
    "    return {v,s,h[1] or '0',h[2] or ''}\n"
    "  end\n"
    "  local o\n"
    "  if mode=='link' then\n"
    "    o=ARGV[a+9]\n"
    "  elseif hastext then\n"
    "    o=r[2]\n"
    "    if o==id then o=nil end\n"
    "  end\n"
    "  if o then\n"
    "    local oc=P..':cand:'..o\n"
    "    if redis.call('EXISTS',oc)==1 then\n"
    "      redis.call('SET',ks,o,'EX',ttl)\n"
    "      local n=redis.call('HINCRBY',oc,'reports',1)\n"
    "      local c=redis.call('HGET',oc,'chans') or ''\n"
    "      local cc=','..c..','\n"
    "      if ch~='' and string.find(cc,','..ch..',',1,true)==nil then\n"
    "        if c=='' then c=ch else c=c..','..ch end\n"
    "        redis.call('HSET',oc,'chans',c)\n"
    "      end\n"
    "      return {mode=='link' and 'D' or 'E',o,tostring(n),c}\n"
    "    end\n"
    "  end\n"
    "  if mode=='fetch' then\n"
    "    local ids,out=ARGV[a+9],{'C'}\n"
    "    for j=1,#ids,16 do\n"
    "      local c=string.sub(ids,j,j+15)\n"
    "      local t=redis.call('HGET',P..':cand:'..c,'t')\n"
    "      if t then out[#out+1]=c out[#out+1]=t end\n"
    "    end\n"
    "    if #out>1 then return out end\n"
    "  end\n"
    "  local bf,bv\n"
    "  if near then\n"
    "    bf={'0:'..string.sub(sh,13,16),'1:'..string.sub(sh,9,12),\n"
    "        '2:'..string.sub(sh,5,8),'3:'..string.sub(sh,1,4),\n"
    "        'h:'..string.sub(anc[5],1,4),'t:'..string.sub(anc[6],1,4)}\n"
    "    bv=redis.call('HMGET',BK,unpack(bf))\n"
    "    local again=false\n"
    "    if mode=='check' then\n"
    "      for bi=1,6 do\n"
    "        if bv[bi] then again=true end\n"
    "      end\n"
    "    elseif string.sub(ARGV[a+12],1,1)~='*' then\n"
    "      local sh1=tonumber(string.sub(sh,1,8),16)\n"
    "      local sh2=tonumber(string.sub(sh,9,16),16)\n"
    "      local snap=ARGV[a+12]\n"
    "      for bi=1,6 do\n"
    "        local v,w=bv[bi] or '',bi<=4 and 32 or 48\n"
    "        local last=string.sub(snap,bi*16-15,bi*16)\n"
    "        for j=#v-w+1,1,-w do\n"
    "          local c=string.sub(v,j,j+15)\n"
    "          if c==last then break end\n"
    "          local ok\n"
    "          if bi<=4 then\n"
    "            ok=pc(bxor(sh1,tonumber(string.sub(v,j+16,j+23),16)))+\n"
    "               pc(bxor(sh2,tonumber(string.sub(v,j+24,j+31),16)))<=maxd\n"
    "          else\n"
    "            ok=string.sub(v,j+32,j+47)==anc[bi]\n"
    "          end\n"
    "          if ok and c~=id then again=true end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if again then\n"
    "      local out={'B'}\n"
    "      for bi=1,6 do out[bi+1]=bv[bi] or '' end\n"
    "      return out\n"
    "    end\n"
    "  end\n"
    "  local ck=P..':cand:'..id\n"
    "  redis.call('SET',ks,id,'EX',ttl)\n"
    "  if hastext then redis.call('SET',ke,id,'NX','EX',ttl) end\n"
    "  if near then\n"
    "    redis.call('HSET',ck,'reports',1,'chans',ch,'src',ARGV[a+5],\n"
    "               'ext',ARGV[a+6],'first',now,'p',1,'t',ARGV[a+4])\n"
    "    redis.call('EXPIRE',ck,ttl)\n"
    "    local hs={}\n"
    "    for bi=1,6 do\n"
    "      local m,w=id..sh,32\n"
    "      if bi>4 then m,w=m..anc[bi],48 end\n"
    "      local v=(bv[bi] or '')..m\n"
    "      if #v>bmax*w then v=string.sub(v,#v-bmax*w+1) end\n"
    "      hs[2*bi-1]=bf[bi]\n"
    "      hs[2*bi]=v\n"
    "    end\n"
    "    redis.call('HSET',BK,unpack(hs))\n"
    "    dirty=true\n"
    "  else\n"
    "    redis.call('HSET',ck,'reports',1,'chans',ch,'src',ARGV[a+5],\n"
    "               'ext',ARGV[a+6],'first',now,'p',1)\n"
    "    redis.call('EXPIRE',ck,ttl)\n"
    "  end\n"
    "  return {'N',id,'1',ch}\n"
    "end\n"
    "local out={}\n"
    "for i=1,#KEYS/2 do\n"
    "  out[i]=one(KEYS[2*i-1],KEYS[2*i],6+(i-1)*13)\n"
    "end\n"
    "if dirty then redis.call('EXPIRE',BK,ttl) end\n"
    "return out\n";

static const char *const dedup_scripts[] = {dedup_lua, NULL};

struct dreq;

struct dedup {
    struct rconn *rc;
    struct event *flush_ev;     /* sends the queue next loop turn */
    struct dreq *qhead, *qtail; /* waiting for the next batch */
    struct dedup_cfg cfg;
    char *prefix; /* owned */
    int64_t ttl_s;
    size_t inflight;
    struct dedup_stats st;
};

/* One check in flight. */
struct dreq {
    struct dedup *d;
    struct dreq *next; /* in d's queue */
    const char *mode;  /* static: check, fetch, create, link */
    char *ids;         /* owned: link target or ids to fetch */
    size_t ids_len;
    /* Newest member id of each bucket when C last filtered them ('-' *
     * 16 for an empty one): create re-checks only newer members. */
    char snap[DEDUP_NBUCKETS * DEDUP_ID_LEN + 1];
    int rounds; /* bucket answers ('B') so far */
    dedup_cb cb;
    void *ud;
    char id[DEDUP_ID_LEN + 1];
    char sh[17];
    char head[17], tail[17];
    char *seen_key;               /* owned */
    char *exact_key;              /* owned */
    char *channel, *source, *ext; /* owned */
    char *text;                   /* owned: capped normalised text */
    size_t text_len;
    uint64_t *bigrams; /* owned, sorted */
    size_t nbigrams;
    bool has_text;
    bool near;
    double similarity;
};

static void dreq_free(struct dreq *q)
{
    ig_free(q->seen_key);
    ig_free(q->exact_key);
    ig_free(q->channel);
    ig_free(q->source);
    ig_free(q->ext);
    ig_free(q->text);
    ig_free(q->bigrams);
    ig_free(q->ids);
    ig_free(q);
}

static void fail(struct dreq *q, int status);
static void flush_cb(evutil_socket_t fd, short what, void *arg);

void dedup_cfg_defaults(struct dedup_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    ig_cfg_defaults(dedup_cfg_schema, cfg);
}

int dedup_new(struct event_base *base, const struct dedup_cfg *cfg,
              struct dedup **out)
{
    struct dedup *d;

    if (!base || !cfg || cfg->near_jaccard < 0 || cfg->near_jaccard > 1 ||
        cfg->ttl_ms < 0 || cfg->text_max < 0 || cfg->max_inflight < 0 ||
        cfg->band_max < 0 || cfg->near_bits < 0 || cfg->near_bits > 64) {
        return IG_EINVAL;
    }
    d = ig_calloc(1, sizeof(*d));
    d->cfg = *cfg;
    d->prefix = ig_strdup(cfg->prefix && *cfg->prefix ? cfg->prefix : "intake");
    d->ttl_s =
        cfg->ttl_ms > 0 ? (cfg->ttl_ms + 999) / 1000 : DEDUP_TTL_DEFAULT_S;
    if (d->cfg.text_max == 0) {
        d->cfg.text_max = 4096;
    }
    if (d->cfg.max_inflight == 0) {
        d->cfg.max_inflight = 4096;
    }
    if (d->cfg.band_max == 0) {
        d->cfg.band_max = 16;
    }
    /* The schema's default (0.5) when the caller left it at zero: a
     * Jaccard threshold of 0 would merge every pair. */
    if (d->cfg.near_jaccard == 0) {
        d->cfg.near_jaccard = 0.5;
    }
    d->rc = rconn_new(base, &cfg->redis, "dedup", dedup_scripts);
    d->flush_ev = event_new(base, -1, 0, flush_cb, d);
    if (!d->rc || !d->flush_ev) {
        rconn_free(d->rc);
        if (d->flush_ev) {
            event_free(d->flush_ev);
        }
        ig_free(d->prefix);
        ig_free(d);
        return IG_EINVAL;
    }
    d->cfg.prefix = d->prefix;
    memset(&d->cfg.redis, 0, sizeof(d->cfg.redis));
    *out = d;
    return IG_OK;
}

void dedup_free(struct dedup *d)
{
    if (!d) {
        return;
    }
    /* Batches in flight fail inside rconn_free(); then the queue. */
    rconn_free(d->rc);
    d->rc = NULL;
    while (d->qhead) {
        struct dreq *q = d->qhead;

        d->qhead = q->next;
        fail(q, IG_EAGAIN);
    }
    event_free(d->flush_ev);
    ig_free(d->prefix);
    ig_free(d);
}

bool dedup_up(const struct dedup *d)
{
    return d && rconn_up(d->rc);
}

void dedup_get_stats(const struct dedup *d, struct dedup_stats *out)
{
    *out = d->st;
    out->inflight = d->inflight;
    out->reconnects = rconn_connects(d->rc) > 0 ? rconn_connects(d->rc) - 1 : 0;
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

/* Queues q for the next batch (mode and target set by the caller). */
static void enqueue(struct dreq *q)
{
    struct dedup *d = q->d;

    q->next = NULL;
    if (d->qtail) {
        d->qtail->next = q;
    } else {
        d->qhead = q;
    }
    d->qtail = q;
    event_active(d->flush_ev, 0, 0);
}

/* One script call in flight: the items it decides, in ARGV order. */
struct batch {
    struct dedup *d;
    size_t n;
    struct dreq *q[DEDUP_BATCH];
};

static void on_batch(void *ud, int status, const void *reply);

static void add_arg(const char **argv, size_t *len, int *i, const char *s,
                    size_t n)
{
    argv[*i] = s;
    len[*i] = n;
    (*i)++;
}

/* Sends the next (up to) DEDUP_BATCH queued items as one script call. */
static void send_batch(struct dedup *d)
{
    struct batch *b = ig_calloc(1, sizeof(*b));
    char ttl[24], bmax[24], now[24], bits[8];
    const char **argv;
    size_t *len, k;
    int i = 0, nkeys, rc;

    while (d->qhead && b->n < DEDUP_BATCH) {
        b->q[b->n++] = d->qhead;
        d->qhead = d->qhead->next;
    }
    if (!d->qhead) {
        d->qtail = NULL;
    }
    b->d = d;
    nkeys = (int)(2 * b->n);
    argv = ig_malloc(((2 + DEDUP_ITEM_ARGS) * b->n + 5) * sizeof(*argv));
    len = ig_malloc(((2 + DEDUP_ITEM_ARGS) * b->n + 5) * sizeof(*len));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)d->ttl_s);
    snprintf(bmax, sizeof(bmax), "%lld", (long long)d->cfg.band_max);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(bits, sizeof(bits), "%d", (int)d->cfg.near_bits);
    for (k = 0; k < b->n; k++) {
        struct dreq *q = b->q[k];

        add_arg(argv, len, &i, q->seen_key, strlen(q->seen_key));
        add_arg(argv, len, &i, q->exact_key, strlen(q->exact_key));
    }
    add_arg(argv, len, &i, d->prefix, strlen(d->prefix));
    add_arg(argv, len, &i, ttl, strlen(ttl));
    add_arg(argv, len, &i, bmax, strlen(bmax));
    add_arg(argv, len, &i, now, strlen(now));
    add_arg(argv, len, &i, bits, strlen(bits));
    for (k = 0; k < b->n; k++) {
        struct dreq *q = b->q[k];

        add_arg(argv, len, &i, q->id, strlen(q->id));
        add_arg(argv, len, &i, q->channel, strlen(q->channel));
        add_arg(argv, len, &i, q->sh, strlen(q->sh));
        add_arg(argv, len, &i, q->near ? "1" : "0", 1);
        /* The text is stored (and sent) only for near-duplicate checks. */
        add_arg(argv, len, &i, q->near ? q->text : "",
                q->near ? q->text_len : 0);
        add_arg(argv, len, &i, q->source, strlen(q->source));
        add_arg(argv, len, &i, q->ext, strlen(q->ext));
        add_arg(argv, len, &i, q->has_text ? "1" : "0", 1);
        add_arg(argv, len, &i, q->mode, strlen(q->mode));
        add_arg(argv, len, &i, q->ids ? q->ids : "", q->ids_len);
        add_arg(argv, len, &i, q->head, strlen(q->head));
        add_arg(argv, len, &i, q->tail, strlen(q->tail));
        add_arg(argv, len, &i, q->snap, strlen(q->snap));
    }
    rc = rconn_script(d->rc, 0, on_batch, b, nkeys, i, argv, len);
    ig_free(argv);
    ig_free(len);
    if (rc < 0) {
        for (k = 0; k < b->n; k++) {
            fail(b->q[k], IG_EAGAIN);
        }
        ig_free(b);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dedup *d = arg;

    (void)fd;
    (void)what;
    while (d->qhead) {
        send_batch(d);
    }
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

/* Picks the possible originals from a 'B' reply (the six buckets, as the
 * script used to): band members within near_bits of q's SimHash, anchor
 * members with q's anchor, newest first, band_max at most, q itself
 * excluded. Sets q->ids (concatenated ids) and q->snap. */
static void filter(struct dreq *q, const redisReply *r)
{
    struct dedup *d = q->d;
    uint64_t sh = hex64(q->sh);
    size_t bi, n = 0, max = (size_t)d->cfg.band_max;
    char *ids = ig_malloc(max * DEDUP_ID_LEN + 1);

    memset(q->snap, '-', sizeof(q->snap) - 1);
    for (bi = 0; bi < DEDUP_NBUCKETS && bi + 1 < r->elements; bi++) {
        const redisReply *v = r->element[bi + 1];
        size_t w = bi < 4 ? 32 : 48, j, k;

        if (v->type != REDIS_REPLY_STRING || v->len < w) {
            continue;
        }
        memcpy(q->snap + bi * DEDUP_ID_LEN, v->str + (v->len / w - 1) * w,
               DEDUP_ID_LEN);
        for (j = v->len / w; j-- > 0;) {
            const char *m = v->str + j * w;
            bool ok, dup = false;

            if (bi < 4) {
                ok = __builtin_popcountll(sh ^ hex64(m + 16)) <=
                     (int)d->cfg.near_bits;
            } else {
                ok = memcmp(m + 32, bi == 4 ? q->head : q->tail, 16) == 0;
            }
            if (!ok || n >= max || memcmp(m, q->id, DEDUP_ID_LEN) == 0) {
                continue;
            }
            for (k = 0; k < n && !dup; k++) {
                dup = memcmp(ids + k * DEDUP_ID_LEN, m, DEDUP_ID_LEN) == 0;
            }
            if (!dup) {
                memcpy(ids + n++ * DEDUP_ID_LEN, m, DEDUP_ID_LEN);
            }
        }
    }
    ids[n * DEDUP_ID_LEN] = '\0';
    ig_free(q->ids);
    q->ids = ids;
    q->ids_len = n * DEDUP_ID_LEN;
}

/* Confirms the possible originals of a "C" reply; returns the index of
 * the best confirmed one in the reply (element 1, 3, ...) or 0. */
static size_t confirm(struct dreq *q, const redisReply *r)
{
    double best = 0;
    size_t i, pick = 0;

    for (i = 1; i + 1 < r->elements; i += 2) {
        const redisReply *t = r->element[i + 1];
        uint64_t *k = NULL;
        size_t nk, small, inter;
        double j;
        bool same;

        if (t->type != REDIS_REPLY_STRING) {
            continue;
        }
        nk = simhash_bigrams(t->str, t->len, &k);
        j = simhash_jaccard(q->bigrams, q->nbigrams, k, nk);
        ig_free(k);
        q->d->st.near_candidates++;
        /* |A n B| from J = I / (|A| + |B| - I). */
        inter = (size_t)(j * (double)(q->nbigrams + nk) / (1.0 + j) + 0.5);
        small = nk < q->nbigrams ? nk : q->nbigrams;
        same = j >= q->d->cfg.near_jaccard ||
               (small >= DEDUP_CONTAIN_MIN &&
                (double)inter >= DEDUP_CONTAIN * (double)small);
        if (same && (pick == 0 || j > best)) {
            best = j;
            pick = i;
        }
    }
    q->similarity = best;
    return pick;
}

static enum dedup_verdict verdict_of(char c, bool *replay)
{
    *replay = false;
    switch (c) {
    case 'R':
        *replay = true;
        return DEDUP_NEW;
    case 'S':
        return DEDUP_SEEN;
    case 'E':
        return DEDUP_EXACT;
    case 'D':
        return DEDUP_NEAR;
    default:
        return DEDUP_NEW;
    }
}

/* Finishes (or requeues) one item of a batch with its part of the
 * reply. */
static void on_item(struct dreq *q, const redisReply *r)
{
    struct dedup *d = q->d;
    struct dedup_result res;
    char chans[512];
    char *save = NULL, *tok;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        ig_error("dedup", "unexpected reply to the dedup script");
        fail(q, IG_EIO);
        return;
    }
    if (r->element[0]->str[0] == 'B') {
        /* Bucket contents: pick the possible originals here. */
        filter(q, r);
        q->mode = q->ids_len ? "fetch" : "create";
        /* Buckets that keep gaining matching members (a burst of
         * near-identical posts) could bounce an item between C and the
         * script; past DEDUP_MAX_ROUNDS it is created without the
         * re-check, at worst one more candidate for the burst. */
        if (++q->rounds > DEDUP_MAX_ROUNDS) {
            memset(q->snap, '*', sizeof(q->snap) - 1);
        }
        enqueue(q);
        return;
    }
    if (r->element[0]->str[0] == 'C') {
        /* Possible originals: confirm here, decide in the script. */
        size_t pick = confirm(q, r);

        if (pick) {
            ig_free(q->ids);
            q->ids = ig_strndup(r->element[pick]->str, r->element[pick]->len);
            q->ids_len = r->element[pick]->len;
            q->mode = "link";
        } else {
            q->mode = "create";
        }
        enqueue(q);
        return;
    }
    if (r->elements < 4) {
        fail(q, IG_EIO);
        return;
    }
    memset(&res, 0, sizeof(res));
    res.verdict = verdict_of(r->element[0]->str[0], &res.replay);
    snprintf(res.id, sizeof(res.id), "%s", q->id);
    snprintf(res.orig_id, sizeof(res.orig_id), "%.*s", (int)r->element[1]->len,
             r->element[1]->str ? r->element[1]->str : "");
    res.reports =
        r->element[2]->str ? strtoll(r->element[2]->str, NULL, 10) : 0;
    res.similarity = res.verdict == DEDUP_NEAR    ? q->similarity
                     : res.verdict == DEDUP_EXACT ? 1.0
                                                  : 0.0;
    snprintf(chans, sizeof(chans), "%.*s", (int)r->element[3]->len,
             r->element[3]->str ? r->element[3]->str : "");
    for (tok = strtok_r(chans, ",", &save);
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

static void on_batch(void *ud, int status, const void *reply)
{
    struct batch *b = ud;
    const redisReply *r = reply;
    size_t k;

    if (status == IG_EIO) {
        ig_error("dedup", "redis refused the dedup script: %.200s",
                 r && r->str ? r->str : "?");
    } else if (status == IG_OK &&
               (r->type != REDIS_REPLY_ARRAY || r->elements != b->n)) {
        ig_error("dedup", "unexpected reply to the dedup script");
        status = IG_EIO;
    }
    for (k = 0; k < b->n; k++) {
        if (status < 0) {
            fail(b->q[k], status);
        } else {
            on_item(b->q[k], r->element[k]);
        }
    }
    ig_free(b);
}

/* Fills the fingerprints of q from the item's text (title when the text
 * normalises to nothing). */
static void fingerprint(struct dreq *q, const struct dedup_req *req)
{
    struct dedup *d = q->d;
    struct ig_buf n;
    char hash[17];
    size_t cap, i, ncp, cut;

    ig_buf_init(&n, DEDUP_NORM_MAX);
    /* Past DEDUP_NORM_MAX the prefix stands for the text (E2BIG). */
    simhash_normalise(req->text ? req->text : "",
                      req->text ? strlen(req->text) : 0, &n);
    if (n.len == 0) {
        simhash_normalise(req->title ? req->title : "",
                          req->title ? strlen(req->title) : 0, &n);
    }
    q->has_text = n.len > 0;
    simhash_hex64(simhash_hash64(n.data ? n.data : "", n.len, DEDUP_EXACT_SEED),
                  hash);
    q->exact_key = ig_asprintf("%s:exact:%s", d->prefix, hash);
    candidate_id(req->source_id, req->ext_id, hash, q->id);
    if (req->ext_id && *req->ext_id) {
        q->seen_key = ig_asprintf("%s:seen:%s:e:%s", d->prefix, req->source_id,
                                  req->ext_id);
    } else {
        q->seen_key =
            ig_asprintf("%s:seen:%s:t:%s", d->prefix, req->source_id, hash);
    }
    /* The capped text for the similarity check. */
    cap =
        ig_utf8_trim_len(n.data ? n.data : "", n.len, (size_t)d->cfg.text_max);
    q->text = ig_strndup(n.data ? n.data : "", cap);
    q->text_len = cap;
    q->nbigrams = simhash_bigrams(q->text, q->text_len, &q->bigrams);
    simhash_hex64(simhash_of(q->bigrams, q->nbigrams), q->sh);
    q->near = d->cfg.near && q->nbigrams >= DEDUP_NEAR_MIN_BIGRAMS;
    /* Anchors: hashes of the first and last DEDUP_ANCHOR_CPS code points. */
    ncp = ig_utf8_count(q->text, q->text_len);
    cut = 0;
    for (i = 0; i < DEDUP_ANCHOR_CPS && cut < q->text_len; i++) {
        uint32_t cp;

        cut += ig_utf8_decode(q->text + cut, q->text_len - cut, &cp);
    }
    simhash_hex64(simhash_hash64(q->text, cut, DEDUP_ANCHOR_SEED), q->head);
    cut = 0;
    for (i = 0; ncp > DEDUP_ANCHOR_CPS && i < ncp - DEDUP_ANCHOR_CPS; i++) {
        uint32_t cp;

        cut += ig_utf8_decode(q->text + cut, q->text_len - cut, &cp);
    }
    simhash_hex64(
        simhash_hash64(q->text + cut, q->text_len - cut, DEDUP_ANCHOR_SEED + 1),
        q->tail);
    ig_buf_fini(&n);
}

int dedup_check(struct dedup *d, const struct dedup_req *req, dedup_cb cb,
                void *ud)
{
    struct dreq *q;

    if (!d || !req || !req->source_id || !*req->source_id || !cb) {
        return IG_EINVAL;
    }
    if (d->inflight >= (size_t)d->cfg.max_inflight) {
        return IG_E2BIG;
    }
    if (!rconn_accepting(d->rc)) {
        return IG_EAGAIN;
    }
    q = ig_calloc(1, sizeof(*q));
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    q->channel = ig_strdup(req->channel ? req->channel : "");
    /* The channel list is stored comma-separated. */
    for (char *c = q->channel; *c; c++) {
        if (*c == ',') {
            *c = '_';
        }
    }
    q->source = ig_strdup(req->source_id);
    q->ext = ig_strdup(req->ext_id ? req->ext_id : "");
    fingerprint(q, req);
    q->mode = "check";
    memset(q->snap, '-', sizeof(q->snap) - 1);
    enqueue(q);
    d->inflight++;
    d->st.checks++;
    return IG_OK;
}

struct done_req {
    struct dedup *d;
    dedup_cb cb;
    void *ud;
};

static void on_done(void *ud, int status, const void *reply)
{
    struct done_req *q = ud;

    (void)reply;
    q->d->inflight--;
    if (status < 0) {
        q->d->st.errors++;
    }
    if (q->cb) {
        q->cb(q->ud, status, NULL);
    }
    ig_free(q);
}

int dedup_done(struct dedup *d, const char *id, dedup_cb cb, void *ud)
{
    struct done_req *q;
    char *key;
    const char *argv[3];
    size_t len[3];
    int rc;

    if (!d || !id || !*id) {
        return IG_EINVAL;
    }
    /* HDEL never creates a key, so a late done cannot leave a key without
     * a TTL behind. */
    key = ig_asprintf("%s:cand:%s", d->prefix, id);
    argv[0] = "HDEL";
    len[0] = 4;
    argv[1] = key;
    len[1] = strlen(key);
    argv[2] = "p";
    len[2] = 1;
    q = ig_calloc(1, sizeof(*q));
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    rc = rconn_cmd(d->rc, on_done, q, 3, argv, len);
    ig_free(key);
    if (rc < 0) {
        ig_free(q);
        return IG_EAGAIN;
    }
    d->inflight++;
    return IG_OK;
}
