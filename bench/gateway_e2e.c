/* gateway_e2e.c — end-to-end throughput and memory of the gateway engine,
 * next to a minimal pipelined hiredis client doing the same Redis writes.
 *
 *   gateway_e2e gw -c gateway.conf -n ITEMS [-b BATCH] [-w WINDOW]
 *   gateway_e2e redis -s SOCKET -n ITEMS [-d DEPTH] [-p PREFIX]
 *   gateway_e2e replay -s SOCKET -f MONITOR_FILE -n ITEMS [-d DEPTH]
 *
 * gw: builds the engine in-process from gateway.conf (its sources file may
 * be empty) and feeds it synthetic items through gw_push(), the same path
 * as POST /v1/items minus the HTTP parsing: WINDOW batches of BATCH items
 * are kept in flight, so classify, the pipelined dedup script and the
 * forwarders all overlap, and the bounded pipeline (max_inflight) applies
 * backpressure to the feeder exactly as it does to sources. Prints items/s
 * and the resident set size sampled every 5 % of the run (flat = bounded).
 *
 * redis: the baseline without classifying: per item SET key NX EX and
 * XADD MAXLEN ~, DEPTH commands pairs per pipeline flush (1 = one round trip
 * at a time).
 *
 * replay: the second baseline, the same Redis commands as the gateway
 * itself sends: FILE is what `redis-cli MONITOR` printed during a gateway
 * run; its commands are read (before the clock starts) and sent again on
 * one connection, 2 x DEPTH per pipeline flush, to a fresh server. Left
 * out: what scripts ran inside Redis (the EVALSHA that ran them is sent)
 * and the MULTI/EXEC markers (MONITOR does not show which connection a
 * command came from, so a transaction's bounds cannot be told from the
 * other connections' commands around them; the commands run unwrapped, a
 * little cheaper than in the transaction). N is the gateway run's item
 * count, for items/s.
 *
 * Items are distinct synthetic reports assembled from a vocabulary of
 * hazard phrases, places and numbers: classifiable, and far enough apart
 * that near-duplicate detection (on in the config) does its band lookups
 * without merging them.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/conf.h"
#include "gateway/gateway.h"

static const char *const places[] = {
    "城中路",     "公园路",   "青安路",     "华腾路",     "崧泽大道", "天一路",
    "外青松公路", "盈港东路", "淀山湖大道", "沪青平公路", "漕盈路",   "华志路",
    "北青公路",   "徐泾北路", "朱枫公路",   "练西公路"};
static const char *const hazards[] = {"雨水井盖缺失，路面留下一个坑",
                                      "路灯晚上不亮，一片漆黑",
                                      "垃圾箱房旁边的垃圾好几天没人清运",
                                      "人行道上机动车乱停放",
                                      "道路破损严重，出现多处坑洼",
                                      "自来水管破裂，马路上都是水",
                                      "河道里漂着油污和死鱼",
                                      "工地渣土车沿路撒落渣土",
                                      "行道树倒伏压在人行道上",
                                      "交通信号灯不亮，路口很乱",
                                      "路面塌陷出现一个大洞",
                                      "消火栓被撞坏一直在漏水",
                                      "公共厕所堵塞污水外溢",
                                      "护栏被撞断倒在路边"};
static const char *const extras[] = {
    "已经好几天了",       "晚上经过很危险",       "附近居民意见很大",
    "请尽快派人处理",     "老人小孩经过容易摔倒", "早高峰时特别严重",
    "之前反映过还没解决", "下雨以后更严重了",     "旁边就是学校",
    "车辆经过时很颠簸"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process has used. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long kb = 0;
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

/* A small string builder: the feeder runs on the gateway's own loop
 * thread (it stands in for a client), so it builds its items without
 * printf, whose cost would otherwise be counted as the gateway's. */
struct sb {
    char *p;
    size_t n, cap;
};

static void sb_s(struct sb *b, const char *s)
{
    size_t k = strlen(s);

    if (b->n + k < b->cap) {
        memcpy(b->p + b->n, s, k);
        b->n += k;
    }
    b->p[b->n] = '\0';
}

static void sb_u(struct sb *b, unsigned long long v)
{
    char d[24];
    size_t k = sizeof(d) - 1;

    d[k] = '\0';
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_s(b, d + k);
}

/* A street name from two random characters of a pool: thousands of
 * distinct names, so texts do not share long runs by construction. */
static void street(struct sb *b)
{
    static const char *const pool[] = {
        "东", "西", "南", "北", "中", "新", "华", "青", "松", "枫", "泾",
        "盈", "浦", "港", "湾", "安", "平", "和", "兴", "隆", "昌", "盛",
        "泰", "康", "乐", "福", "瑞", "祥", "云", "霞", "桂", "兰", "梅",
        "竹", "柳", "杨", "石", "桥", "塘", "湖", "河", "溪", "泉", "林"};
    static const char *const kind[] = {"路", "街", "弄", "大道", "公路"};
    sb_s(b, pool[rnd() % N(pool)]);
    sb_s(b, pool[rnd() % N(pool)]);
    sb_s(b, kind[rnd() % N(kind)]);
}

/* One synthetic item i as a JSON object appended to w: a place, two
 * hazard phrases and two remarks in random order, plus numbers. */
static void gen_item(struct ig_jsonw *w, uint64_t i)
{
    char id[32], title[128], text[768], st[64];
    struct sb bi = {id, 0, sizeof(id)}, bs = {st, 0, sizeof(st)};
    struct sb bt = {title, 0, sizeof(title)}, bx = {text, 0, sizeof(text)};
    char z[16];
    unsigned long long v = (unsigned long long)i;
    int k;

    /* "B-%09llu" */
    for (k = 8; k >= 0; k--) {
        z[k] = (char)('0' + v % 10);
        v /= 10;
    }
    z[9] = '\0';
    sb_s(&bi, "B-");
    sb_s(&bi, z);
    street(&bs);
    const char *h1 = hazards[rnd() % N(hazards)];
    const char *h2 = hazards[rnd() % N(hazards)];
    const char *pl = places[rnd() % N(places)];
    sb_s(&bt, st);
    sb_u(&bt, rnd() % 2000);
    sb_s(&bt, "号附近问题");
    if (rnd() % 2) {
        sb_s(&bx, st);
        sb_u(&bx, rnd() % 900 + 1);
        sb_s(&bx, "号门口");
        sb_s(&bx, h1);
        sb_s(&bx, "，");
        sb_s(&bx, extras[rnd() % N(extras)]);
        sb_s(&bx, "。另外靠近");
        sb_s(&bx, pl);
        sb_s(&bx, "的地方");
        sb_s(&bx, h2);
        sb_s(&bx, "，");
        sb_s(&bx, extras[rnd() % N(extras)]);
        sb_s(&bx, "，编号");
        sb_u(&bx, i * 2654435761u % 1000000007u);
        sb_s(&bx, "。");
    } else {
        sb_s(&bx, h1);
        sb_s(&bx, "，");
        sb_s(&bx, extras[rnd() % N(extras)]);
        sb_s(&bx, "。地址是");
        sb_s(&bx, st);
        sb_u(&bx, rnd() % 300 + 1);
        sb_s(&bx, "弄，离");
        sb_s(&bx, pl);
        sb_s(&bx, "不远，");
        sb_s(&bx, extras[rnd() % N(extras)]);
        sb_s(&bx, "，登记号");
        sb_u(&bx, i * 40503u % 999983u);
        sb_s(&bx, "。");
    }
    ig_jsonw_obj_open(w);
    ig_jsonw_kstr(w, "id", id);
    ig_jsonw_kstr(w, "title", title);
    ig_jsonw_kstr(w, "text", text);
    ig_jsonw_kstr(w, "source", "bench");
    ig_jsonw_obj_close(w);
}

/* ---- gw mode ---------------------------------------------------------- */

struct feeder {
    struct gw *g;
    uint64_t total, sent, done;
    size_t batch;
    double t0;
    long rss[21];
    int nrss;
    uint64_t next_sample;
    uint64_t not_ok;
    double cpu0;
    /* One request body, reused: gw_push() parses it before it returns.
     * (Grown afresh for every batch it cost the loop thread ~450
     * instructions per item of realloc copies, counted as the gateway's.) */
    struct ig_buf body;
};

static void feed(struct feeder *f);

static void on_done(void *ud, int http, const struct ig_buf *body)
{
    struct feeder *f = ud;
    (void)body;
    if (http != 200) {
        f->not_ok++;
    }
    f->done += f->batch;
    if (f->done >= f->next_sample && f->nrss < 21) {
        f->rss[f->nrss++] = rss_kib();
        f->next_sample += f->total / 20;
    }
    if (f->sent < f->total) {
        feed(f);
    } else if (f->done >= f->total) {
        gw_stop(f->g);
    }
}

static void feed(struct feeder *f)
{
    struct ig_buf *b = &f->body;
    ig_buf_reset(b);
    struct ig_jsonw w;
    ig_jsonw_init(&w, b);
    ig_jsonw_arr_open(&w);
    for (size_t k = 0; k < f->batch; k++) {
        gen_item(&w, f->sent++);
    }
    ig_jsonw_arr_close(&w);
    void *h;
    const char *why;
    if (gw_push(f->g, b->data, b->len, on_done, f, &h, &why) < 0) {
        fprintf(stderr, "gw_push: %s\n", why);
        exit(1);
    }
}

static int run_gw(const char *conf_path, uint64_t n, size_t batch, int window)
{
    ig_log_set_level(IG_LOG_WARN);
    struct ig_diags d;
    ig_diags_init(&d);
    struct gw_conf *conf = NULL;
    if (gw_conf_load(conf_path, &conf, &d) < 0) {
        ig_diags_print(&d, stderr);
        return 2;
    }
    struct gw_opts o = {
        .no_api = true, .no_signals = true, .default_rules_dir = "rules"};
    struct gw *g = NULL;
    if (gw_new(conf, &o, &g, &d) < 0) {
        ig_diags_print(&d, stderr);
        return 2;
    }
    ig_diags_fini(&d);
    struct feeder f = {.g = g, .total = n, .batch = batch};
    ig_buf_init(&f.body, 0);
    f.next_sample = n / 20;
    f.rss[f.nrss++] = rss_kib();
    f.t0 = now_s();
    f.cpu0 = cpu_s();
    for (int i = 0; i < window && f.sent < n; i++) {
        feed(&f);
    }
    gw_run(g);
    double dt = now_s() - f.t0;
    double cpu = cpu_s() - f.cpu0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("gateway: %llu items in %.2f s = %.0f items/s (batch %zu, "
           "window %d)%s\n",
           (unsigned long long)f.done, dt, (double)f.done / dt, batch, window,
           f.not_ok ? " SOME BATCHES NOT OK" : "");
    /* On a shared machine the wall clock also measures the neighbours;
     * CPU time per item is what the gateway itself costs. */
    printf("gateway: %.2f CPU s = %.1f us/item (%.0f items per CPU "
           "second)\n",
           cpu, cpu * 1e6 / (double)f.done, (double)f.done / cpu);
    printf("gateway: RSS KiB at 0,5,..100%%:");
    long lo = 0, hi = 0;
    for (int i = 0; i < f.nrss; i++) {
        printf(" %ld", f.rss[i]);
        if (i >= 2) {
            lo = (lo == 0 || f.rss[i] < lo) ? f.rss[i] : lo;
            hi = f.rss[i] > hi ? f.rss[i] : hi;
        }
    }
    printf("\ngateway: peak RSS %ld KiB; after warm-up (10%%..100%%) "
           "min %ld max %ld KiB\n",
           ru.ru_maxrss, lo, hi);
    gw_free(g);
    ig_buf_fini(&f.body);
    return f.not_ok ? 1 : 0;
}

/* ---- redis mode --------------------------------------------------------- */

/* "-s" names a unix socket, or HOST:PORT for TCP (IG_BENCH_TCP in the
 * script): the same transport for the clients as for the gateway. */
static redisContext *bench_connect(const char *where)
{
    const char *colon = strrchr(where, ':');

    if (where[0] != '/' && colon) {
        char host[64];
        size_t n = (size_t)(colon - where);

        if (n >= sizeof(host)) {
            return NULL;
        }
        memcpy(host, where, n);
        host[n] = '\0';
        return redisConnect(host, atoi(colon + 1));
    }
    return redisConnectUnix(where);
}

static int run_redis(const char *sock, uint64_t n, int depth,
                     const char *prefix)
{
    redisContext *c = bench_connect(sock);
    if (!c || c->err) {
        fprintf(stderr, "redis: cannot connect to %s\n", sock);
        return 3;
    }
    char key[128], id[32], stream[128];
    snprintf(stream, sizeof(stream), "%s:stream", prefix);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    double t0 = now_s(), c0 = cpu_s();
    uint64_t i = 0;
    while (i < n) {
        int k = 0;
        for (; k < depth && i < n; k++, i++) {
            /* The same record the gateway forwards is ~1-2 KiB; send a
             * comparable payload so the comparison is about round trips
             * and command cost, not bytes. */
            ig_buf_reset(&b);
            struct ig_jsonw w;
            ig_jsonw_init(&w, &b);
            gen_item(&w, i);
            snprintf(id, sizeof(id), "%016llx",
                     (unsigned long long)(i * 0x9E3779B97F4A7C15ull));
            snprintf(key, sizeof(key), "%s:seen:bench:%s", prefix, id);
            redisAppendCommand(c, "SET %s %s NX EX %d", key, id, 2592000);
            redisAppendCommand(c, "XADD %s MAXLEN ~ %d * id %s json %b", stream,
                               1000000, id, b.data, b.len);
        }
        for (int j = 0; j < 2 * k; j++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "redis: %s\n", c->errstr);
                return 3;
            }
            freeReplyObject(r);
        }
    }
    double dt = now_s() - t0, cpu = cpu_s() - c0;
    printf("redis client: %llu items (SET NX EX + XADD) in %.2f s = %.0f "
           "items/s (pipeline depth %d)\n",
           (unsigned long long)n, dt, (double)n / dt, depth);
    printf("redis client: %.2f CPU s = %.1f us/item\n", cpu,
           cpu * 1e6 / (double)n);
    ig_buf_fini(&b);
    redisFree(c);
    return 0;
}

/* ---- replay mode -------------------------------------------------------- */

/* One MONITOR line's arguments, unquoted, appended to out as a RESP
 * command. Returns 1 (a command), 0 (a line to skip: a script's own
 * command, MULTI/EXEC, the "OK" MONITOR answers first), -1 (malformed). */
static int monitor_line(const char *line, size_t n, struct ig_buf *out)
{
    const char *p = memchr(line, '[', n), *e = line + n;
    const char *q;
    struct ig_buf args;
    size_t argc = 0;
    char num[32];

    if (!p) {
        return n == 2 && memcmp(line, "OK", 2) == 0 ? 0 : -1;
    }
    q = memchr(p, ']', (size_t)(e - p));
    if (!q) {
        return -1;
    }
    if (q - p >= 4 && memcmp(q - 4, " lua", 4) == 0) {
        return 0; /* run by the EVALSHA/EVAL before it */
    }
    ig_buf_init(&args, 0);
    for (p = q + 1; p < e;) {
        struct ig_buf a;

        while (p < e && *p == ' ') {
            p++;
        }
        if (p == e) {
            break;
        }
        if (*p++ != '"') {
            ig_buf_fini(&args);
            return -1;
        }
        ig_buf_init(&a, 0);
        while (p < e && *p != '"') {
            char c = *p++;

            if (c == '\\' && p < e) {
                c = *p++;
                switch (c) {
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                case 'a':
                    c = '\a';
                    break;
                case 'b':
                    c = '\b';
                    break;
                case 'x':
                    if (e - p >= 2) {
                        char h[3] = {p[0], p[1], 0};

                        c = (char)strtol(h, NULL, 16);
                        p += 2;
                    }
                    break;
                default:
                    break; /* \\ and \" */
                }
            }
            ig_buf_addc(&a, c);
        }
        if (p == e) {
            ig_buf_fini(&a);
            ig_buf_fini(&args);
            return -1;
        }
        p++; /* the closing quote */
        snprintf(num, sizeof(num), "$%zu\r\n", a.len);
        ig_buf_adds(&args, num);
        ig_buf_add(&args, a.data ? a.data : "", a.len);
        ig_buf_adds(&args, "\r\n");
        argc++;
        if (argc == 1 && a.len &&
            (strcasecmp(a.data, "MULTI") == 0 ||
             strcasecmp(a.data, "EXEC") == 0)) {
            ig_buf_fini(&a);
            ig_buf_fini(&args);
            return 0;
        }
        ig_buf_fini(&a);
    }
    if (argc == 0) {
        ig_buf_fini(&args);
        return -1;
    }
    snprintf(num, sizeof(num), "*%zu\r\n", argc);
    ig_buf_adds(out, num);
    ig_buf_add(out, args.data, args.len);
    ig_buf_fini(&args);
    return 1;
}

static int run_replay(const char *sock, const char *file, uint64_t n, int depth)
{
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0, ncmd = 0, ncap = 0, bad = 0;
    ssize_t len;
    struct ig_buf cmds;
    size_t *off = NULL;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", file);
        return 3;
    }
    ig_buf_init(&cmds, 0);
    while ((len = getline(&line, &cap, f)) > 0) {
        size_t at = cmds.len;
        int r;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        r = monitor_line(line, (size_t)len, &cmds);
        if (r < 0) {
            bad++;
        } else if (r > 0) {
            if (ncmd + 1 >= ncap) {
                ncap = ncap ? 2 * ncap : 4096;
                off = ig_realloc(off, ncap * sizeof(*off));
            }
            off[ncmd++] = at;
        }
    }
    free(line);
    fclose(f);
    if (!off) {
        fprintf(stderr, "replay: no commands in %s\n", file);
        return 3;
    }
    off[ncmd] = cmds.len;
    redisContext *c = bench_connect(sock);
    if (!c || c->err) {
        fprintf(stderr, "replay: cannot connect to %s\n", sock);
        return 3;
    }
    size_t errors = 0, per = 2 * (size_t)depth;
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < ncmd;) {
        size_t k = i + per < ncmd ? i + per : ncmd;

        /* One write of the round's commands, as formatted. */
        if (redisAppendFormattedCommand(c, cmds.data + off[i],
                                        off[k] - off[i]) != REDIS_OK) {
            fprintf(stderr, "replay: %s\n", c->errstr);
            return 3;
        }
        for (size_t j = i; j < k; j++) {
            redisReply *r = NULL;

            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "replay: %s\n", c->errstr);
                return 3;
            }
            errors += r->type == REDIS_REPLY_ERROR;
            freeReplyObject(r);
        }
        i = k;
    }
    double dt = now_s() - t0, cpu = cpu_s() - c0;
    printf("replay client: %zu gateway commands for %llu items in %.2f s = "
           "%.0f items/s (%zu per pipeline flush; %zu error replies, %zu "
           "unreadable lines)\n",
           ncmd, (unsigned long long)n, dt, (double)n / dt, per, errors, bad);
    printf("replay client: %.2f CPU s = %.1f us/item\n", cpu,
           cpu * 1e6 / (double)n);
    ig_buf_fini(&cmds);
    ig_free(off);
    redisFree(c);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gateway_e2e gw|redis|replay [options]\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *conf = NULL, *sock = NULL, *prefix = "bench", *file = NULL;
    uint64_t n = 100000;
    size_t batch = 256;
    int window = 16, depth = 64, ch;
    optind = 2;
    while ((ch = getopt(argc, argv, "c:s:n:b:w:d:p:f:")) != -1) {
        switch (ch) {
        case 'c':
            conf = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            batch = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            window = atoi(optarg);
            break;
        case 'd':
            depth = atoi(optarg);
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        default:
            return 2;
        }
    }
    if (strcmp(mode, "gw") == 0 && conf) {
        return run_gw(conf, n, batch ? batch : 256, window > 0 ? window : 1);
    }
    if (strcmp(mode, "redis") == 0 && sock) {
        return run_redis(sock, n, depth > 0 ? depth : 1, prefix);
    }
    if (strcmp(mode, "replay") == 0 && sock && file) {
        return run_replay(sock, file, n, depth > 0 ? depth : 1);
    }
    fprintf(stderr, "usage: gateway_e2e gw -c CONF | redis -s SOCKET | "
                    "replay -s SOCKET -f MONITOR_FILE\n"
                    "  (SOCKET: a unix socket path, or HOST:PORT for TCP)\n");
    return 2;
}
