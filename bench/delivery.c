/* delivery.c — throughput of the delivery path (dedup + stream forward)
 * next to a minimal hiredis client doing the bare Redis writes.
 *
 *   bench_delivery baseline -s SOCKET -n ITEMS -d DEPTH
 *   bench_delivery path -s SOCKET -n ITEMS [-w WINDOW] [-N 0|1]
 *
 * baseline: per item SET <key> 1 NX EX 2592000 and XADD <stream> MAXLEN ~
 * 1000000 * id <id> candidate <json>, DEPTH items per pipeline flush
 * (DEPTH 1 = one round trip at a time). Synchronous hiredis, as small a
 * client as can be.
 *
 * path: the gateway's own code on a libevent loop: dedup_check() (the Lua
 * decision script, near-duplicate detection on unless -N 0), then for a
 * new candidate forwarder_send() to a `stream` forwarder (exactly-once
 * XADD script, batches of 100), then dedup_done(). WINDOW items are kept
 * in flight, as the engine's bounded pipeline does. No classification:
 * bench/gateway_e2e measures the whole engine; this isolates Redis work.
 *
 * Items are distinct synthetic reports (phrases, places, numbers), about
 * 60 characters, so every near-duplicate lookup runs and few merge.
 * Prints one line: mode, items, seconds, items/s, and verdict counts.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/dedup.h"
#include "gateway/forward.h"

static const char *const places[] = {
    "城中路",     "公园路",   "青安路",     "华腾路",     "崧泽大道", "天一路",
    "外青松公路", "盈港东路", "淀山湖大道", "沪青平公路", "漕盈路",   "华志路",
    "北青公路",   "徐泾北路", "朱枫公路",   "练西公路"};
static const char *const what[] = {
    "井盖松动", "路灯不亮",   "垃圾没有清运", "车辆乱停",
    "路面坑洼", "水管漏水",   "河面油污",     "渣土撒落",
    "树木倒伏", "信号灯坏了", "地面塌陷",     "消火栓漏水",
    "厕所堵塞", "护栏断裂",   "广告牌松动",   "电线垂落"};
static const char *const who[] = {"居民",       "路过的司机", "学校门卫",
                                  "小区保安",   "店主",       "环卫工人",
                                  "骑车的市民", "晨练的老人"};
static const char *const more[] = {
    "已经好几天了", "晚上很危险",   "意见很大",   "请尽快处理", "容易摔倒",
    "早高峰严重",   "反映过没解决", "下雨更严重", "旁边是学校", "车辆颠簸"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A distinct report: two numbered places, a hazard, a witness, remarks. */
static void make_text(struct ig_buf *b, uint64_t i)
{
    ig_buf_reset(b);
    ig_buf_addf(b, "%s%llu号附近%s，%s说%s，另外%s%llu弄%s，%s。",
                places[rnd() % N(places)],
                (unsigned long long)(rnd() % 997 + 1), what[rnd() % N(what)],
                who[rnd() % N(who)], more[rnd() % N(more)],
                places[rnd() % N(places)], (unsigned long long)(i % 8191),
                what[rnd() % N(what)], more[rnd() % N(more)]);
}

static int baseline(const char *sock, long n, int depth)
{
    redisContext *c = redisConnectUnix(sock);
    struct ig_buf text;
    double t0, dt;
    long i, sent = 0, got = 0;

    if (!c || c->err) {
        fprintf(stderr, "connect %s failed\n", sock);
        return 3;
    }
    ig_buf_init(&text, 0);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        char key[64], id[32], json[512];

        make_text(&text, (uint64_t)i);
        snprintf(key, sizeof(key), "base:seen:src:%ld", i);
        snprintf(id, sizeof(id), "%016lx", i);
        snprintf(json, sizeof(json), "{\"id\":\"%s\",\"text\":\"%s\"}", id,
                 text.data);
        redisAppendCommand(c, "SET %s 1 NX EX 2592000", key);
        redisAppendCommand(c,
                           "XADD base:candidates MAXLEN ~ 1000000 * "
                           "id %s candidate %s",
                           id, json);
        sent += 2;
        if ((i + 1) % depth == 0 || i + 1 == n) {
            while (got < sent) {
                void *r;

                if (redisGetReply(c, &r) != REDIS_OK) {
                    fprintf(stderr, "redis: %s\n", c->errstr);
                    return 3;
                }
                freeReplyObject(r);
                got++;
            }
        }
    }
    dt = now_s() - t0;
    printf("baseline depth=%d items=%ld seconds=%.2f items_per_s=%.0f\n", depth,
           n, dt, (double)n / dt);
    ig_buf_fini(&text);
    redisFree(c);
    return 0;
}

struct path {
    struct event_base *base;
    struct dedup *d;
    struct forwarder *f;
    long n, next, done, window, inflight;
    long fresh, dup, failed;
    struct ig_buf text;
};

struct job {
    struct path *p;
    char id[DEDUP_ID_LEN + 1];
};

static void feed(struct path *p);

static void finish(struct path *p)
{
    p->done++;
    p->inflight--;
    if (p->done == p->n) {
        event_base_loopbreak(p->base);
        return;
    }
    feed(p);
}

static void on_fwd(void *ud, int status)
{
    struct job *j = ud;
    struct path *p = j->p;

    if (status == IG_OK) {
        dedup_done(p->d, j->id, NULL, NULL);
    } else {
        p->failed++;
    }
    free(j);
    finish(p);
}

static void on_dedup(void *ud, int status, const struct dedup_result *r)
{
    struct job *j = ud;
    struct path *p = j->p;
    char json[768];
    struct fwd_rec rec;

    if (status != IG_OK) {
        p->failed++;
        free(j);
        finish(p);
        return;
    }
    if (r->verdict != DEDUP_NEW) {
        p->dup++;
        free(j);
        finish(p);
        return;
    }
    p->fresh++;
    snprintf(j->id, sizeof(j->id), "%s", r->id);
    snprintf(json, sizeof(json),
             "{\"schema\":1,\"id\":\"%s\",\"source\":\"bench\","
             "\"reports\":%lld,\"dedup\":\"new\"}",
             r->id, (long long)r->reports);
    rec.id = r->id;
    rec.json = json;
    rec.len = strlen(json);
    rec.fresh = !r->replay; /* as the gateway marks a new candidate */
    if (forwarder_send(p->f, &rec, on_fwd, j) != IG_OK) {
        p->failed++;
        free(j);
        finish(p);
    }
}

static void feed(struct path *p)
{
    while (p->inflight < p->window && p->next < p->n) {
        struct job *j = calloc(1, sizeof(*j));
        char ext[32];
        struct dedup_req q;

        j->p = p;
        snprintf(ext, sizeof(ext), "e%ld", p->next);
        make_text(&p->text, (uint64_t)p->next);
        memset(&q, 0, sizeof(q));
        q.source_id = "bench";
        q.channel = "web";
        q.ext_id = ext;
        q.text = p->text.data;
        p->next++;
        p->inflight++;
        if (dedup_check(p->d, &q, on_dedup, j) != IG_OK) {
            p->failed++;
            free(j);
            p->inflight--;
            p->done++;
        }
    }
}

static int path(const char *sock, long n, long window, bool near)
{
    struct path p;
    struct dedup_cfg dc;
    struct redis_cfg rc = {.socket = sock, .timeout_ms = 30000};
    struct ig_cfg_doc doc;
    struct ig_diags d;
    struct forwarder_env env;
    const char *conf = "[forward s]\nkind = stream\nbatch_max = 100\n"
                       "max_queue = 100000\nconcurrency = 8\n";
    struct dedup_stats ds;
    double t0, dt;

    memset(&p, 0, sizeof(p));
    p.base = event_base_new();
    p.n = n;
    p.window = window;
    ig_buf_init(&p.text, 0);
    dedup_cfg_defaults(&dc);
    dc.redis = rc;
    dc.prefix = "bench";
    dc.near = near;
    dc.max_inflight = window * 2;
    /* Knobs for exploring the near-duplicate settings. */
    if (getenv("BENCH_NEAR_BITS")) {
        dc.near_bits = atoi(getenv("BENCH_NEAR_BITS"));
    }
    if (getenv("BENCH_BAND_MAX")) {
        dc.band_max = atoi(getenv("BENCH_BAND_MAX"));
    }
    if (dedup_new(p.base, &dc, &p.d) != IG_OK) {
        return 3;
    }
    memset(&env, 0, sizeof(env));
    env.base = p.base;
    env.redis = &rc;
    env.prefix = "bench";
    ig_cfg_doc_init(&doc);
    ig_diags_init(&d);
    ig_cfg_parse_mem(&doc, "bench", conf, strlen(conf), &d);
    if (forwarder_new(&env, &doc.s[0], &d, &p.f) != IG_OK) {
        ig_diags_print(&d, stderr);
        return 3;
    }
    t0 = now_s();
    feed(&p);
    event_base_dispatch(p.base);
    dt = now_s() - t0;
    dedup_get_stats(p.d, &ds);
    printf("path near=%d window=%ld items=%ld seconds=%.2f items_per_s=%.0f "
           "new=%ld dup=%ld failed=%ld compared=%llu\n",
           near ? 1 : 0, window, n, dt, (double)n / dt, p.fresh, p.dup,
           p.failed, (unsigned long long)ds.near_candidates);
    forwarder_free(p.f);
    dedup_free(p.d);
    ig_diags_fini(&d);
    ig_cfg_doc_fini(&doc);
    ig_buf_fini(&p.text);
    event_base_free(p.base);
    return p.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    long n = 100000, window = 1024;
    int depth = 64, opt;
    bool near = true;

    if (argc < 2) {
        fprintf(stderr,
                "usage: %s baseline|path -s SOCKET [-n N] [-d DEPTH]"
                " [-w WINDOW] [-N 0|1]\n",
                argv[0]);
        return 2;
    }
    optind = 2;
    while ((opt = getopt(argc, argv, "s:n:d:w:N:")) != -1) {
        switch (opt) {
        case 's':
            sock = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'd':
            depth = atoi(optarg);
            break;
        case 'w':
            window = atol(optarg);
            break;
        case 'N':
            near = atoi(optarg) != 0;
            break;
        default:
            return 2;
        }
    }
    if (!sock || n < 1 || depth < 1 || window < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ig_log_set_level(IG_LOG_WARN);
    if (strcmp(argv[1], "baseline") == 0) {
        return baseline(sock, n, depth);
    }
    if (strcmp(argv[1], "path") == 0) {
        return path(sock, n, window, near);
    }
    return 2;
}
