/* test_dedup.c — deduplication against a real redis-server: one report
 * from two channels, reposts, short distinct posts, replays after a crash,
 * TTLs on every key, ACL user + db index + unix socket, Redis restarting.
 * The report texts are written for these tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/err.h"
#include "gateway/dedup.h"
#include "tests/lib/redis_up.h"

struct got {
    int calls;
    int status;
    bool has;
    struct dedup_result res;
    char chans[256];
};

static void on_result(void *ud, int status, const struct dedup_result *r)
{
    struct got *g = ud;
    size_t i;

    g->calls++;
    g->status = status;
    g->has = r != NULL;
    g->chans[0] = '\0';
    if (r) {
        g->res = *r;
        for (i = 0; i < r->nchannels; i++) {
            strcat(g->chans, i ? "," : "");
            strcat(g->chans, r->channels[i]);
        }
        memset(g->res.channels, 0, sizeof(g->res.channels));
    }
}

struct fx {
    struct redis_up *r;
    struct event_base *base;
    struct dedup *d;
};

static struct dedup *make_near(struct fx *f, const char *user, const char *pw,
                               int db, bool near)
{
    struct dedup_cfg c;
    struct dedup *d = NULL;

    dedup_cfg_defaults(&c);
    c.near = near;
    c.redis.socket = redis_up_socket(f->r);
    c.redis.user = user;
    c.redis.password = pw;
    c.redis.db = db;
    c.redis.retry_ms = 20;
    c.redis.timeout_ms = 2000;
    c.prefix = "t";
    c.ttl_ms = 3600 * 1000;
    assert_int_equal(dedup_new(f->base, &c, &d), IG_OK);
    return d;
}

static struct dedup *make(struct fx *f, const char *user, const char *pw,
                          int db)
{
    return make_near(f, user, pw, db, true);
}

/* A new deduplicator on the same Redis, as after a restart: its index is
 * rebuilt from P:index. */
static void restart(struct fx *f)
{
    dedup_free(f->d);
    f->d = make(f, NULL, NULL, 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->r = redis_up_start(NULL);
    assert_non_null(f->r);
    f->base = event_base_new();
    f->d = make(f, NULL, NULL, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    dedup_free(f->d);
    event_base_free(f->base);
    redis_up_stop(f->r);
    free(f);
    return 0;
}

static void wait_for(struct event_base *b, const int *n, int want)
{
    while (*n < want) {
        event_base_loop(b, EVLOOP_ONCE);
    }
}

/* Runs one check to completion. */
static struct got check(struct fx *f, const char *src, const char *chan,
                        const char *ext, const char *title, const char *text)
{
    struct dedup_req q = {.source_id = src,
                          .channel = chan,
                          .ext_id = ext,
                          .title = title,
                          .text = text};
    struct got g;

    memset(&g, 0, sizeof(g));
    assert_int_equal(dedup_check(f->d, &q, on_result, &g), IG_OK);
    assert_int_equal(g.calls, 0); /* never called from inside the call */
    wait_for(f->base, &g.calls, 1);
    assert_int_equal(g.calls, 1);
    return g;
}

static const char *const k_manhole =
    "盈港东路菜场北门外人行道上的雨水井盖缺了一块，晚上看不清，"
    "今天早上有位老人差点把脚踩进去，请尽快派人来修。";
static const char *const k_manhole_typed =
    "盈港东路菜场北门外 人行道上的雨水井盖缺了一块 晚上看不清 "
    "今天早上有位老人差点把脚踩进去 请尽快派人来修!";

static void two_channels_one_candidate(void **state)
{
    struct fx *f = *state;
    struct got a, b, c;

    (void)state;
    a = check(f, "hotline-main", "hotline", "WO-2001", NULL, k_manhole);
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_false(a.res.replay);
    assert_string_equal(a.res.id, a.res.orig_id);
    assert_int_equal(a.res.reports, 1);

    /* The same words typed into a letter, other spacing/punctuation. */
    b = check(f, "letters", "letters", "L-77", "关于井盖的来信",
              k_manhole_typed);
    assert_int_equal(b.res.verdict, DEDUP_EXACT);
    assert_string_equal(b.res.orig_id, a.res.id);
    assert_string_not_equal(b.res.id, a.res.id);
    assert_int_equal(b.res.reports, 2);
    assert_string_equal(b.chans, "hotline,letters");

    /* A third report from the hotline: count grows, channel list not. */
    c = check(f, "hotline-main", "hotline", "WO-2002", NULL, k_manhole);
    assert_int_equal(c.res.verdict, DEDUP_EXACT);
    assert_int_equal(c.res.reports, 3);
    assert_string_equal(c.chans, "hotline,letters");

    /* The letter polled again: seen, and it does not count again. */
    c = check(f, "letters", "letters", "L-77", "关于井盖的来信",
              k_manhole_typed);
    assert_int_equal(c.res.verdict, DEDUP_SEEN);
    assert_string_equal(c.res.orig_id, a.res.id);
    assert_int_equal(c.res.reports, 3);
}

static void reposts_are_linked(void **state)
{
    struct fx *f = *state;
    const char *news =
        "记者从青浦区了解到，华新镇一处老旧小区的外墙瓷砖近日接连脱落，"
        "最大的一块约有半平方米，砸在楼下停放的电瓶车上，所幸当时无人经过。"
        "居民表示，这栋楼建于上世纪九十年代，外墙多处空鼓开裂，"
        "雨天之后脱落更加频繁，希望物业和相关部门尽快排查加固。";
    char *repost = malloc(4096);
    const char *post = "赵巷镇嘉松中路公交站旁的路灯杆歪斜得厉害，底座锈穿了";
    char *post2 = malloc(1024);
    struct got a, b, c, d;

    /* News copied to another site: new headline, a sentence added. */
    snprintf(repost, 4096, "%s%s", news,
             "目前，物业已在楼下拉起警戒线，提醒居民绕行。");
    a = check(f, "news-a", "media", "https://a.example/1", "小区外墙瓷砖脱落",
              news);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    b = check(f, "news-b", "media", "https://b.example/9",
              "高空坠物险伤人！居民盼排查", repost);
    assert_int_equal(b.res.verdict, DEDUP_NEAR);
    assert_string_equal(b.res.orig_id, a.res.id);
    assert_int_equal(b.res.reports, 2);
    assert_true(b.res.similarity >= 0.5);

    /* A short complaint posted twice, the second time with a sentence
     * added in front. */
    snprintf(post2, 1024, "再说一遍！%s，风一吹就晃。", post);
    c = check(f, "web-forum", "web", "t-100", NULL, post);
    assert_int_equal(c.res.verdict, DEDUP_NEW);
    d = check(f, "web-forum", "web", "t-131", NULL, post2);
    assert_int_equal(d.res.verdict, DEDUP_NEAR);
    assert_string_equal(d.res.orig_id, c.res.id);
    free(repost);
    free(post2);
}

static void short_distinct_posts_stay_apart(void **state)
{
    struct fx *f = *state;
    static const char *const posts[] = {
        "华腾路与华志路路口积水严重，车辆无法通行",
        "华腾路与华志路路口红绿灯坏了，车辆乱行",
        "华腾路与华志路路口有人占道摆摊，车辆难行",
        "华腾路与华志路路口窨井冒出污水，气味难闻",
        "华腾路华志路口的行道树倒了，压住了人行道",
        NULL,
    };
    char ext[16];
    int i;

    for (i = 0; posts[i]; i++) {
        struct got g;

        snprintf(ext, sizeof(ext), "p%d", i);
        g = check(f, "web-forum", "web", ext, NULL, posts[i]);
        assert_int_equal(g.status, IG_OK);
        if (g.res.verdict != DEDUP_NEW) {
            print_error("post %d merged with %s\n", i, g.res.orig_id);
        }
        assert_int_equal(g.res.verdict, DEDUP_NEW);
    }
}

static void done_cb(void *ud, int status, const struct dedup_result *r)
{
    int *n = ud;

    assert_int_equal(status, IG_OK);
    assert_null(r);
    (*n)++;
}

/* A done mark that could not be written: its callback says so. */
static void down_cb(void *ud, int status, const struct dedup_result *r)
{
    int *n = ud;

    assert_int_equal(status, IG_EAGAIN);
    assert_null(r);
    (*n)++;
}

/* A report and its repost checked while both are in flight (a feed polled
 * on two sites at once): still one candidate with two reports, whether
 * they share a script call or, with other items in between, not. */
static void reposts_in_flight_are_linked(void **state)
{
    struct fx *f = *state;
    const char *post = "重固镇福泉山路的窨井盖不见了，晚上骑车经过的人差点掉进"
                       "去，路边也没有任何警示标志";
    char repost[512], ext[16], other[128];
    struct dedup_req q = {.source_id = "wb", .channel = "web"};
    struct got g[40];
    int i, k, fresh, near;

    memset(g, 0, sizeof(g));
    snprintf(repost, sizeof(repost), "%s，请有关部门赶快来补上。", post);
    for (k = 0; k < 2; k++) {
        int base = k * 20, n = 0;

        snprintf(ext, sizeof(ext), "a%d", k);
        q.ext_id = ext;
        q.text = post;
        assert_int_equal(dedup_check(f->d, &q, on_result, &g[base]), IG_OK);
        /* The second round puts 18 unrelated items in between. */
        for (i = 1; k == 1 && i < 19; i++) {
            snprintf(ext, sizeof(ext), "f%d", i);
            snprintf(other, sizeof(other),
                     "第%d条无关的反映：某小区%d号楼电梯故障已经%d天", i, i,
                     i + 2);
            q.ext_id = ext;
            q.text = other;
            assert_int_equal(dedup_check(f->d, &q, on_result, &g[base + i]),
                             IG_OK);
        }
        snprintf(ext, sizeof(ext), "b%d", k);
        q.ext_id = ext;
        q.text = repost;
        assert_int_equal(dedup_check(f->d, &q, on_result, &g[base + 19]),
                         IG_OK);
        for (i = 0; i < 20; i++) {
            if (i == 0 || i == 19 || k == 1) {
                wait_for(f->base, &g[base + i].calls, 1);
                assert_int_equal(g[base + i].status, IG_OK);
                n++;
            }
        }
        fresh = (g[base].res.verdict == DEDUP_NEW) +
                (g[base + 19].res.verdict == DEDUP_NEW);
        near = (g[base].res.verdict == DEDUP_NEAR) +
               (g[base + 19].res.verdict == DEDUP_NEAR) +
               (g[base].res.verdict == DEDUP_EXACT) +
               (g[base + 19].res.verdict == DEDUP_EXACT);
        assert_true(n >= 2);
        if (k == 0) {
            /* First round: one new, one linked to it. */
            assert_int_equal(fresh, 1);
            assert_int_equal(near, 1);
            assert_int_equal(g[19].res.reports, 2);
        } else {
            /* Second round: both link to the first round's candidate. */
            assert_int_equal(fresh, 0);
            assert_int_equal(near, 2);
            assert_string_equal(g[base].res.orig_id, g[0].res.id);
            assert_string_equal(g[base + 19].res.orig_id, g[0].res.id);
        }
    }
}

static void replay_until_done(void **state)
{
    struct fx *f = *state;
    struct got a, b, c;
    int n = 0;

    a = check(f, "hotline-main", "hotline", "WO-3001", NULL,
              "青安路桥下的护栏被车撞断了，断口很尖，孩子上学都走这里");
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    /* Crashed before forwarding: the same item comes back -> forward it
     * again, with the same id. */
    b = check(f, "hotline-main", "hotline", "WO-3001", NULL,
              "青安路桥下的护栏被车撞断了，断口很尖，孩子上学都走这里");
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    assert_string_equal(b.res.id, a.res.id);
    assert_int_equal(b.res.reports, 1);
    /* Not a candidate id. */
    assert_int_equal(dedup_done(f->d, "", done_cb, &n), IG_EINVAL);
    assert_int_equal(dedup_done(f->d, "0123456789abcdef0", done_cb, &n),
                     IG_EINVAL);
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    c = check(f, "hotline-main", "hotline", "WO-3001", NULL,
              "青安路桥下的护栏被车撞断了，断口很尖，孩子上学都走这里");
    assert_int_equal(c.res.verdict, DEDUP_SEEN);
    /* No ext id: the text stands in for it. */
    a = check(f, "file-drop", "letters", NULL, NULL, "无编号的来信内容一二三");
    b = check(f, "file-drop", "letters", "", NULL, "无编号的来信内容一二三");
    assert_string_equal(a.res.id, b.res.id);
    assert_true(b.res.replay);
}

static redisContext *inspect(struct fx *f, const char *user, const char *pw,
                             int db)
{
    redisContext *c = redisConnectUnix(redis_up_socket(f->r));
    redisReply *r;

    assert_non_null(c);
    assert_int_equal(c->err, 0);
    if (pw) {
        r = redisCommand(c, "AUTH %s %s", user, pw);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    r = redisCommand(c, "SELECT %d", db);
    freeReplyObject(r);
    return c;
}

/* Every key under the prefix has a TTL in (0, retention]. */
static size_t check_ttls(redisContext *c, const char *prefix, long max_ttl)
{
    char cursor[32] = "0";
    size_t nkeys = 0, i;

    do {
        redisReply *r =
            redisCommand(c, "SCAN %s MATCH %s:* COUNT 1000", cursor, prefix);

        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (i = 0; i < r->element[1]->elements; i++) {
            redisReply *t =
                redisCommand(c, "TTL %b", r->element[1]->element[i]->str,
                             r->element[1]->element[i]->len);

            if (t->integer <= 0 || t->integer > max_ttl) {
                print_error("key %s has TTL %lld\n",
                            r->element[1]->element[i]->str, t->integer);
            }
            assert_true(t->integer > 0 && t->integer <= max_ttl);
            freeReplyObject(t);
            nkeys++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return nkeys;
}

static void every_key_has_a_ttl(void **state)
{
    struct fx *f = *state;
    redisContext *c;
    int n = 0;
    struct got a;

    two_channels_one_candidate(state);
    reposts_are_linked(state);
    a = check(f, "x", "web", "1", NULL, "这是一条需要标记完成的测试帖子内容");
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    c = inspect(f, NULL, NULL, 0);
    assert_true(check_ttls(c, "t", 3600) > 10);
    redisFree(c);
}

/* The record lost between the NEW answer and the mark (Redis restarted
 * without persistence, or evicted it), with near off (records made P):
 * SETRANGE makes a new "F" record, which keeps the item "seen" — and gets
 * the retention's TTL, like every key, instead of living forever. */
static void mark_of_a_lost_record_expires(void **state)
{
    struct fx *f = *state;
    const char *text = "华新镇华腾路上的交通信号灯坏了三天，路口车辆乱成一团";
    char key[64];
    redisContext *c;
    redisReply *r;
    struct got a, b;
    int n = 0;

    dedup_free(f->d);
    f->d = make_near(f, NULL, NULL, 0, false);
    a = check(f, "hl", "hotline", "m-1", NULL, text);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    c = inspect(f, NULL, NULL, 0);
    snprintf(key, sizeof(key), "t:rec:%s", a.res.id);
    r = redisCommand(c, "DEL %s", key);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    b = check(f, "hl", "hotline", "m-1", NULL, text);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
    assert_true(check_ttls(c, "t", 3600) >= 1);
    redisFree(c);
}

static void acl_user_db_index_unix_socket(void **state)
{
    struct fx *f = *state;
    /* Exactly the rights docs/delivery.md lists for the gateway. */
    struct redis_up_opts o = {
        .user = "intake",
        .password = "pw-Ω-1",
        .acl = "~t:* +@connection +select +eval +evalsha +script|load "
               "+mget +get +set +setrange +expire +pexpire +pttl +hset "
               "+hmget +xadd +xrange",
        .extra = "user admin on >admin-pw ~* &* +@all"};
    struct redis_up *old = f->r;
    redisContext *c;
    redisReply *r;
    struct got a, b;
    struct dedup_req q = {.source_id = "s", .ext_id = "1", .text = "x"};
    int n = 0;

    dedup_free(f->d);
    f->r = redis_up_start(&o);
    /* Stop the old server first: a failed assertion below skips the rest
     * of the test, and teardown only knows the new one. */
    redis_up_stop(old);
    assert_non_null(f->r);
    f->d = make(f, "intake", "pw-Ω-1", 5);
    a = check(f, "hotline-main", "hotline", "A1", NULL,
              "崧泽大道上的广告牌松动了，一刮风就哗哗响");
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_true(dedup_up(f->d));
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    b = check(f, "hotline-main", "hotline", "A2", NULL,
              "崧泽大道上的广告牌松动了，一刮风就哗哗响");
    assert_int_equal(b.res.verdict, DEDUP_EXACT);
    b = check(f, "hotline-main", "hotline", "A3", NULL,
              "崧泽大道上的广告牌松动了，一刮风就哗哗地响，路人都绕着走");
    assert_int_equal(b.status, IG_OK);
    c = inspect(f, "admin", "admin-pw", 5);
    r = redisCommand(c, "DBSIZE");
    assert_true(r->integer > 0);
    freeReplyObject(r);
    check_ttls(c, "t", 3600);
    redisFree(c);
    c = inspect(f, "admin", "admin-pw", 0);
    r = redisCommand(c, "DBSIZE");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);

    /* A wrong password: checks come back IG_EAGAIN, never IG_OK. */
    dedup_free(f->d);
    f->d = make(f, "intake", "wrong", 5);
    memset(&b, 0, sizeof(b));
    assert_int_equal(dedup_check(f->d, &q, on_result, &b), IG_OK);
    wait_for(f->base, &b.calls, 1);
    assert_int_equal(b.status, IG_EAGAIN);
    assert_false(b.has);
    assert_false(dedup_up(f->d));
}

static void tcp_loopback(void **state)
{
    struct fx *f = *state;
    struct redis_up_opts o = {.tcp = true};
    struct redis_up *old = f->r;
    struct dedup_cfg c;
    struct got a;

    dedup_free(f->d);
    f->r = redis_up_start(&o);
    /* Stop the old server first: a failed assertion below skips the rest
     * of the test, and teardown only knows the new one. */
    redis_up_stop(old);
    assert_non_null(f->r);
    dedup_cfg_defaults(&c);
    c.redis.host = "127.0.0.1";
    c.redis.port = redis_up_port(f->r);
    c.prefix = "t";
    assert_int_equal(dedup_new(f->base, &c, &f->d), IG_OK);
    a = check(f, "web-forum", "web", "tcp-1", NULL,
              "通过TCP连接检查去重是否正常工作的一段文字");
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
}

static void redis_restart_mid_run(void **state)
{
    struct fx *f = *state;
    struct dedup_req q = {.source_id = "s",
                          .channel = "web",
                          .text = "泖港镇的一座小桥栏杆松了，走在上面直晃"};
    struct got g[8];
    int i, ok = 0, again = 0, rc;
    struct dedup_stats st;

    assert_int_equal(
        check(f, "warm", "web", "0", NULL, "预热一下连接的文字内容").status,
        IG_OK);
    memset(g, 0, sizeof(g));
    /* Checks in flight when the server dies: IG_EAGAIN, each once. */
    for (i = 0; i < 4; i++) {
        char ext[8];

        snprintf(ext, sizeof(ext), "r%d", i);
        q.ext_id = ext;
        assert_int_equal(dedup_check(f->d, &q, on_result, &g[i]), IG_OK);
    }
    assert_int_equal(redis_up_halt(f->r, true), 0);
    for (i = 0; i < 4; i++) {
        wait_for(f->base, &g[i].calls, 1);
        ok += g[i].status == IG_OK;
        again += g[i].status == IG_EAGAIN;
    }
    assert_int_equal(ok + again, 4);
    /* While it is down: refused at once or failed later, never lost. */
    q.ext_id = "down";
    rc = dedup_check(f->d, &q, on_result, &g[5]);
    if (rc == IG_OK) {
        wait_for(f->base, &g[5].calls, 1);
        assert_int_equal(g[5].status, IG_EAGAIN);
    } else {
        assert_int_equal(rc, IG_EAGAIN);
    }
    assert_int_equal(redis_up_restart(f->r), 0);
    while (!dedup_up(f->d)) {
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    /* Back: the check goes through (the restarted Redis has no AOF, so
     * the item is new again). */
    q.ext_id = "down";
    memset(&g[6], 0, sizeof(g[6]));
    assert_int_equal(dedup_check(f->d, &q, on_result, &g[6]), IG_OK);
    wait_for(f->base, &g[6].calls, 1);
    assert_int_equal(g[6].status, IG_OK);
    dedup_get_stats(f->d, &st);
    assert_true(st.reconnects >= 1);
    assert_int_equal(st.inflight, 0);
}

/* A candidate forwarded while Redis is down (a webhook target, say): its
 * done mark cannot be written, but the candidate is closed all the same,
 * so this process answers a repeat "seen" once Redis is back, not a
 * replay. (Its record is still N with no done mark: the next start would
 * set it to P, and a repeat would then be replayed, harmlessly.) */
static void done_while_redis_is_down(void **state)
{
    struct fx *f = *state;
    struct redis_up_opts o = {.aof = true};
    const char *t = "白鹤镇外青松公路边的消防栓漏水，地上结了一大片冰";
    struct redis_up *old = f->r;
    struct got a, b;
    int n = 0;

    dedup_free(f->d);
    f->r = redis_up_start(&o);
    redis_up_stop(old);
    assert_non_null(f->r);
    f->d = make(f, NULL, NULL, 0);
    a = check(f, "hl", "hotline", "dn-1", NULL, t);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_int_equal(redis_up_halt(f->r, false), 0); /* SIGTERM: AOF kept */
    while (dedup_up(f->d)) {
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    assert_int_equal(dedup_done(f->d, a.res.id, down_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    assert_int_equal(redis_up_restart(f->r), 0);
    while (!dedup_up(f->d)) {
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    b = check(f, "hl", "hotline", "dn-1", NULL, t);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
}

/* The near-duplicate index lives in gateway memory: a new deduplicator
 * (the gateway restarted) rebuilds it from Redis and still links a repost
 * of a candidate created before, as well as an exact copy. A second copy
 * of a linked duplicate counts nothing. */
static void index_rebuilt_after_restart(void **state)
{
    struct fx *f = *state;
    const char *post = "香花桥街道郏一村村口的那棵大树被台风刮歪了，树干斜压在"
                       "电线上，下面就是学生放学走的路";
    char repost[512];
    struct got a, b, c;

    a = check(f, "web-forum", "web", "old-1", NULL, post);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    restart(f);
    snprintf(repost, sizeof(repost), "%s，希望尽快处理。", post);
    b = check(f, "news-c", "media", "https://c.example/2", "村口大树压电线",
              repost);
    assert_int_equal(b.res.verdict, DEDUP_NEAR);
    assert_string_equal(b.res.orig_id, a.res.id);
    assert_int_equal(b.res.reports, 2);
    assert_string_equal(b.chans, "web,media");
    c = check(f, "news-c", "media", "https://c.example/2", "村口大树压电线",
              repost);
    assert_int_equal(c.res.verdict, DEDUP_SEEN);
    assert_string_equal(c.res.orig_id, a.res.id);
    assert_int_equal(c.res.reports, 2);
    restart(f);
    c = check(f, "hotline-main", "hotline", "WO-9", NULL, post);
    assert_int_equal(c.res.verdict, DEDUP_EXACT);
    assert_string_equal(c.res.orig_id, a.res.id);
    assert_int_equal(c.res.reports, 3);
}

/* A candidate whose record is gone from Redis (expired; or a create that
 * Redis lost) is no original: its repost becomes a new candidate and the
 * check does not go round in circles. */
static void expired_original_is_forgotten(void **state)
{
    struct fx *f = *state;
    static const char *const posts[] = {
        "白鹤镇塘湾村的河道边护栏缺了一大段，晚上骑车很容易冲到河里去，"
        "已经有人差点出事",
        "金泽镇莲湖村老桥的桥面裂开一条大缝，拖拉机还天天从上面过，"
        "村民担心哪天桥会塌",
    };
    char repost[512], key[64], ext[16];
    redisContext *c;
    redisReply *r;
    struct got a[2], b;
    int i;

    c = inspect(f, NULL, NULL, 0);
    for (i = 0; i < 2; i++) {
        snprintf(ext, sizeof(ext), "gone-%d", i);
        a[i] = check(f, "web-forum", "web", ext, NULL, posts[i]);
        assert_int_equal(a[i].res.verdict, DEDUP_NEW);
        snprintf(key, sizeof(key), "t:rec:%s", a[i].res.id);
        r = redisCommand(c, "DEL %s", key);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisFree(c);
    /* Same process: the link finds the original gone, the item is new. */
    snprintf(repost, sizeof(repost), "%s，请尽快修好。", posts[0]);
    b = check(f, "news-d", "media", "https://d.example/3", NULL, repost);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    /* After a restart the index knows the second original by its
     * fingerprints only; reading its record finds nothing. */
    restart(f);
    snprintf(repost, sizeof(repost), "%s，请尽快修好。", posts[1]);
    b = check(f, "news-d", "media", "https://d.example/4", NULL, repost);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
}

/* Counts follow the order items were checked in: a repeat of a linked
 * duplicate, checked right after another duplicate of the same original
 * (both in flight together), reports the count that includes it. */
static void counts_follow_check_order(void **state)
{
    struct fx *f = *state;
    const char *text = "沈巷镇沈砖公路边上的一根电线杆被车撞歪了，电线垂得很低";
    struct dedup_req q = {
        .source_id = "hl", .channel = "hotline", .text = text};
    struct got a, b, g[2];

    a = check(f, "hl", "hotline", "c-1", NULL, text);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    b = check(f, "lt", "letters", "c-2", NULL, text);
    assert_int_equal(b.res.verdict, DEDUP_EXACT);
    assert_int_equal(b.res.reports, 2);
    memset(g, 0, sizeof(g));
    q.ext_id = "c-3"; /* a third report: linked, count 3 */
    assert_int_equal(dedup_check(f->d, &q, on_result, &g[0]), IG_OK);
    q.source_id = "lt"; /* the second one again: seen, count 3 */
    q.channel = "letters";
    q.ext_id = "c-2";
    assert_int_equal(dedup_check(f->d, &q, on_result, &g[1]), IG_OK);
    wait_for(f->base, &g[0].calls, 1);
    wait_for(f->base, &g[1].calls, 1);
    assert_int_equal(g[0].res.verdict, DEDUP_EXACT);
    assert_int_equal(g[0].res.reports, 3);
    assert_int_equal(g[1].res.verdict, DEDUP_SEEN);
    assert_int_equal(g[1].res.reports, 3);
}

/* One duplicate whose seen key holds another type (WRONGTYPE inside the
 * link script) fails alone: the duplicates sharing its script call are
 * linked and answered as such, not failed after the script has linked
 * them (a retry would then answer "seen", and their update records, with
 * the grown report count, would never be forwarded). */
static void bad_key_fails_only_its_link(void **state)
{
    struct fx *f = *state;
    const char *text = "徐泾镇诸光路上的一棵大树被风吹断，横在非机动车道上";
    struct dedup_req q = {.channel = "letters", .text = text};
    const char *src[3] = {"lt", "wx", "ap"};
    struct got a, g[3], again;
    redisContext *c;
    redisReply *r;
    int i;

    a = check(f, "hl", "hotline", "w-1", NULL, text);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    c = inspect(f, NULL, NULL, 0);
    r = redisCommand(c, "HSET t:seen:wx:e:w-2 x 1");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    /* Three exact duplicates in flight together: one script call. */
    memset(g, 0, sizeof(g));
    q.ext_id = "w-2";
    for (i = 0; i < 3; i++) {
        q.source_id = src[i];
        assert_int_equal(dedup_check(f->d, &q, on_result, &g[i]), IG_OK);
    }
    for (i = 0; i < 3; i++) {
        wait_for(f->base, &g[i].calls, 1);
    }
    assert_int_equal(g[0].status, IG_OK);
    assert_int_equal(g[0].res.verdict, DEDUP_EXACT);
    assert_int_equal(g[0].res.reports, 2);
    assert_int_equal(g[1].status, IG_EIO);
    assert_int_equal(g[2].status, IG_OK);
    assert_int_equal(g[2].res.verdict, DEDUP_EXACT);
    assert_int_equal(g[2].res.reports, 3);
    /* The bad key fixed, the failed one links like any other. */
    r = redisCommand(c, "DEL t:seen:wx:e:w-2");
    freeReplyObject(r);
    redisFree(c);
    again = check(f, "wx", "letters", "w-2", NULL, text);
    assert_int_equal(again.status, IG_OK);
    assert_int_equal(again.res.verdict, DEDUP_EXACT);
    assert_int_equal(again.res.reports, 4);
}

/* The exact key outlives its candidate's record (evicted under maxmemory,
 * or the record's create refused while the exact key's went through): the
 * link finds the original gone, and the item is decided without it — not
 * sent round to the same dead original until it gives up, every time. */
static void exact_key_of_a_lost_record(void **state)
{
    struct fx *f = *state;
    const char *text =
        "香花桥街道郏一村的健身器材断了一根横杆，小孩玩的时候划伤";
    char key[64];
    redisContext *c;
    redisReply *r;
    struct got a, b, d;

    a = check(f, "hl", "hotline", "x-1", NULL, text);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    c = inspect(f, NULL, NULL, 0);
    snprintf(key, sizeof(key), "t:rec:%s", a.res.id);
    r = redisCommand(c, "DEL %s", key);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
    b = check(f, "lt", "letters", "x-2", NULL, text);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    /* The next copy is linked to the one that took the original's place. */
    d = check(f, "wx", "web", "x-3", NULL, text);
    assert_int_equal(d.status, IG_OK);
    assert_int_equal(d.res.verdict, DEDUP_EXACT);
    assert_string_equal(d.res.orig_id, b.res.id);
    assert_int_equal(d.res.reports, 2);
}

/* A counts hash written by hand (or by an older tool): reports without
 * chans, reports that is not a number, no TTL. A link treats a missing
 * chans as none and a bad count as one report, and keeps what is there,
 * instead of failing every duplicate of that candidate. */
static void hand_made_counts_hash(void **state)
{
    struct fx *f = *state;
    const char *t1 = "朱家角镇放生桥下的游船码头栏杆松脱，游客靠上去很危险";
    const char *t2 = "练塘镇泖甸路上的一段路面塌陷，坑里积满了水看不出深浅";
    char key[64];
    redisContext *c;
    redisReply *r;
    struct got a, b, e, g;

    a = check(f, "hl", "hotline", "h-1", NULL, t1);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    b = check(f, "lt", "letters", "h-2", NULL, t1);
    assert_int_equal(b.res.verdict, DEDUP_EXACT);
    assert_int_equal(b.res.reports, 2);
    c = inspect(f, NULL, NULL, 0);
    snprintf(key, sizeof(key), "t:cand:%s", a.res.id);
    r = redisCommand(c, "HDEL %s chans", key);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    g = check(f, "wb", "web", "h-3", NULL, t1);
    assert_int_equal(g.status, IG_OK);
    assert_int_equal(g.res.verdict, DEDUP_EXACT);
    assert_int_equal(g.res.reports, 3);
    assert_string_equal(g.chans, "web");
    r = redisCommand(c, "HSET %s reports many", key);
    freeReplyObject(r);
    g = check(f, "md", "media", "h-4", NULL, t1);
    assert_int_equal(g.status, IG_OK);
    assert_int_equal(g.res.verdict, DEDUP_EXACT);
    assert_int_equal(g.res.reports, 2);
    assert_string_equal(g.chans, "web,media");

    /* Made by hand before any duplicate: no TTL, a bad count. */
    e = check(f, "hl", "hotline", "h-5", NULL, t2);
    assert_int_equal(e.res.verdict, DEDUP_NEW);
    snprintf(key, sizeof(key), "t:cand:%s", e.res.id);
    r = redisCommand(c, "HSET %s reports x chans hotline,app", key);
    freeReplyObject(r);
    g = check(f, "hl", "hotline", "h-5", NULL, t2); /* a replay reads it */
    assert_true(g.res.replay);
    assert_int_equal(g.res.reports, 1);
    g = check(f, "lt", "letters", "h-6", NULL, t2);
    assert_int_equal(g.status, IG_OK);
    assert_int_equal(g.res.verdict, DEDUP_EXACT);
    assert_int_equal(g.res.reports, 2);
    assert_string_equal(g.chans, "hotline,app,letters");
    /* The seen item reads the same counts. */
    g = check(f, "lt", "letters", "h-6", NULL, t2);
    assert_int_equal(g.res.verdict, DEDUP_SEEN);
    assert_int_equal(g.res.reports, 2);
    check_ttls(c, "t", 3600);
    redisFree(c);
}

/* Runs the loop for about ms milliseconds. */
static void run_for(struct fx *f, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

/* True when P:index holds an entry for candidate id. */
static bool index_has(redisContext *c, const char *id)
{
    redisReply *r = redisCommand(c, "XRANGE t:index - +");
    bool found = false;
    size_t i, j;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *fl = r->element[i]->element[1];

        for (j = 0; j < fl->elements; j += 2) {
            found |= strcmp(fl->element[j]->str, id) == 0;
        }
    }
    freeReplyObject(r);
    return found;
}

/* Runs the loop until P:index holds id (5 s at most); asserts it does. */
static void wait_indexed(struct fx *f, redisContext *c, const char *id)
{
    for (int i = 0; i < 100 && !index_has(c, id); i++) {
        run_for(f, 50);
    }
    assert_true(index_has(c, id));
}

/* Warms the connection up, then makes P:index a string, so Redis refuses
 * the index writes (OOM would do the same); returns a connection for
 * looking at Redis. */
static redisContext *refuse_index_writes(struct fx *f)
{
    redisContext *c;
    redisReply *r;

    assert_int_equal(
        check(f, "warm", "web", "0", NULL, "预热一下连接的文字内容").status,
        IG_OK);
    c = inspect(f, NULL, NULL, 0);
    r = redisCommand(c, "SET t:index not-a-stream");
    freeReplyObject(r);
    return c;
}

/* Redis refuses the index write (P:index holds another type; OOM is the
 * same) after the candidate's creates went through: the entry is kept and
 * sent again once Redis takes it, so a gateway started afterwards still
 * finds the candidate's near duplicates. */
static void index_write_refused_is_sent_again(void **state)
{
    struct fx *f = *state;
    const char *post = "徐泾镇明珠路上的一个消防栓被车撞坏了，水一直往外冒，"
                       "路面已经结了一层薄冰，骑车的人都在打滑";
    char repost[512];
    redisContext *c;
    redisReply *r;
    struct got a, b;

    c = refuse_index_writes(f);
    a = check(f, "web-forum", "web", "ix-1", NULL, post);
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    run_for(f, 50); /* the XADD is refused */
    r = redisCommand(c, "DEL t:index");
    freeReplyObject(r);
    wait_indexed(f, c, a.res.id);
    redisFree(c);
    restart(f);
    snprintf(repost, sizeof(repost), "%s，希望有关部门赶紧来修。", post);
    b = check(f, "news-e", "media", "https://e.example/5", NULL, repost);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEAR);
    assert_string_equal(b.res.orig_id, a.res.id);
}

/* The first byte of candidate id's record, 0 when there is none. */
static char rec_state(redisContext *c, const char *id)
{
    redisReply *r = redisCommand(c, "GETRANGE t:rec:%s 0 0", id);
    char st = r->type == REDIS_REPLY_STRING && r->len == 1 ? r->str[0] : 0;

    freeReplyObject(r);
    return st;
}

/* The index write refused (the record is then made P), and the gateway
 * killed before the kept entry was written: the index rebuilt at the next
 * start lacks it. When the item comes back (its record still pending:
 * never marked forwarded), the replay puts its entry back, in memory and
 * in P:index, so a repost of it is linked instead of forwarded as new,
 * now and after one more restart. */
static void replay_restores_a_lost_index_entry(void **state)
{
    struct fx *f = *state;
    const char *post = "重固镇福泉山路桥下的护栏断了一截，晚上看不清，"
                       "已经有电动车差点冲进河里";
    char repost[512];
    redisContext *c;
    redisReply *r;
    struct got a, b;

    c = refuse_index_writes(f);
    a = check(f, "web-forum", "web", "lost-1", NULL, post);
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_int_equal(rec_state(c, a.res.id), 'P');
    /* The entry never reaches Redis, and the gateway restarts. */
    r = redisCommand(c, "DEL t:index");
    freeReplyObject(r);
    restart(f);
    b = check(f, "web-forum", "web", "lost-1", NULL, post);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    snprintf(repost, sizeof(repost), "%s，请尽快修好。", post);
    b = check(f, "news-q", "media", "https://q.example/1", NULL, repost);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEAR);
    assert_string_equal(b.res.orig_id, a.res.id);
    wait_indexed(f, c, a.res.id);
    redisFree(c);
    restart(f);
    snprintf(repost, sizeof(repost), "转发：%s。", post);
    b = check(f, "news-r", "media", "https://r.example/2", NULL, repost);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEAR);
    assert_string_equal(b.res.orig_id, a.res.id);
}

/* True when P:index holds field name with a value containing id (done
 * marks) or equal to "1" for the entry carrying id (n). */
static bool index_field_has(redisContext *c, const char *name, const char *id)
{
    redisReply *r = redisCommand(c, "XRANGE t:index - +");
    bool found = false;
    size_t i, j;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *fl = r->element[i]->element[1];
        bool named = false, has_id = false;

        for (j = 0; j + 1 < fl->elements; j += 2) {
            const char *k = fl->element[j]->str, *v = fl->element[j + 1]->str;

            if (strcmp(k, name) == 0) {
                named = true;
                has_id |= strcmp(name, "done") == 0 && strstr(v, id);
            }
            has_id |= strcmp(name, "n") == 0 && strcmp(k, id) == 0;
        }
        found |= named && has_id;
    }
    freeReplyObject(r);
    return found;
}

/* With near on, a new candidate's record is made N after its P:index
 * entry (field n) is written; it is pending while this process holds it
 * open, and dedup_done() writes a done mark instead of a SETRANGE. A
 * restart finds the candidates left open (killed before they were
 * forwarded) and sets their records to P: each is replayed when it comes
 * again, the done ones stay seen. */
static void open_candidates_and_done_marks(void **state)
{
    struct fx *f = *state;
    const char *t1 = "练塘镇朱枫公路边的路灯杆被货车撞歪了，随时可能倒下来";
    const char *t2 = "金泽镇西岑社区的公共厕所三天没人打扫，味道很大";
    struct dedup_stats st;
    redisContext *c;
    struct got a, b, x;
    int n = 0;

    c = inspect(f, NULL, NULL, 0);
    a = check(f, "hl", "hotline", "o-1", NULL, t1);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_false(a.res.replay);
    assert_int_equal(rec_state(c, a.res.id), 'N');
    assert_true(index_field_has(c, "n", a.res.id));
    /* Open: the same item again is a replay. */
    b = check(f, "hl", "hotline", "o-1", NULL, t1);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    assert_true(index_field_has(c, "done", a.res.id));
    assert_int_equal(rec_state(c, a.res.id), 'N'); /* no SETRANGE */
    b = check(f, "hl", "hotline", "o-1", NULL, t1);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
    /* Killed before the second one was forwarded. */
    x = check(f, "hl", "hotline", "o-2", NULL, t2);
    assert_int_equal(x.res.verdict, DEDUP_NEW);
    assert_int_equal(rec_state(c, x.res.id), 'N');
    restart(f);
    b = check(f, "hl", "hotline", "o-1", NULL, t1);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.cut_off, 1);
    assert_int_equal(rec_state(c, x.res.id), 'P');
    b = check(f, "hl", "hotline", "o-2", NULL, t2);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    assert_string_equal(b.res.id, x.res.id);
    assert_int_equal(dedup_done(f->d, x.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 2);
    assert_int_equal(rec_state(c, x.res.id), 'F');
    /* Found open again at the next start (no done mark), but forwarded. */
    restart(f);
    b = check(f, "hl", "hotline", "o-2", NULL, t2);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.cut_off, 0);
    redisFree(c);
}

/* At the start, Redis refuses to set a record left open back to P (here
 * an ACL without SETRANGE): the start fails the waiting checks back and is
 * tried again until Redis takes it; the candidate is counted cut off once,
 * when its record is set, however many tries it took. */
static void leftover_refused_is_tried_again(void **state)
{
    struct fx *f = *state;
    const char *t = "赵巷镇嘉松中路的人行道砖松动了好几块，踩上去会溅出泥水";
    struct dedup_stats st;
    redisContext *c;
    redisReply *r;
    struct got x, b;
    int i;

    c = inspect(f, NULL, NULL, 0);
    x = check(f, "hl", "hotline", "o-1", NULL, t);
    assert_int_equal(x.res.verdict, DEDUP_NEW);
    assert_int_equal(rec_state(c, x.res.id), 'N');
    r = redisCommand(c, "ACL SETUSER default -setrange");
    freeReplyObject(r);
    restart(f);
    b = check(f, "hl", "hotline", "o-1", NULL, t);
    assert_int_not_equal(b.status, IG_OK);
    run_for(f, 600); /* another try at 250 ms, refused too */
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.cut_off, 0);
    assert_int_equal(rec_state(c, x.res.id), 'N');
    r = redisCommand(c, "ACL SETUSER default +setrange");
    freeReplyObject(r);
    for (i = 0; i < 100; i++) {
        b = check(f, "hl", "hotline", "o-1", NULL, t);
        if (b.status == IG_OK) {
            break;
        }
        run_for(f, 50);
    }
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    assert_string_equal(b.res.id, x.res.id);
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.cut_off, 1);
    assert_int_equal(rec_state(c, x.res.id), 'P');
    redisFree(c);
}

/* An item neither forwarded nor spooled (dedup_abandon()): its record goes
 * back to P, and the item is a replay when it comes again — at once, too,
 * before Redis has answered. */
static void abandoned_candidate_is_replayed(void **state)
{
    struct fx *f = *state;
    const char *t = "盈浦街道城中北路上有人占道摆摊卖水果，行人只能走机动车道";
    redisContext *c;
    struct got a, b;
    int n = 0, i;

    c = inspect(f, NULL, NULL, 0);
    a = check(f, "hl", "hotline", "ab-1", NULL, t);
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    assert_int_equal(dedup_abandon(f->d, "xyz"), IG_EINVAL);
    assert_int_equal(dedup_abandon(f->d, "0123456789abcdef"), IG_OK);
    assert_int_equal(dedup_abandon(f->d, a.res.id), IG_OK);
    b = check(f, "hl", "hotline", "ab-1", NULL, t);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    assert_true(b.res.replay);
    for (i = 0; i < 100 && rec_state(c, a.res.id) != 'P'; i++) {
        run_for(f, 20);
    }
    assert_int_equal(rec_state(c, a.res.id), 'P');
    /* After a restart too: the record says so itself. */
    restart(f);
    b = check(f, "hl", "hotline", "ab-1", NULL, t);
    assert_true(b.res.replay);
    assert_int_equal(dedup_done(f->d, a.res.id, done_cb, &n), IG_OK);
    wait_for(f->base, &n, 1);
    assert_int_equal(rec_state(c, a.res.id), 'F');
    b = check(f, "hl", "hotline", "ab-1", NULL, t);
    assert_int_equal(b.res.verdict, DEDUP_SEEN);
    redisFree(c);
}

/* A refusal that lasts: at most DEDUP_INDEX_UNWRITTEN_MAX entries wait,
 * the rest are dropped (and logged); the ones kept arrive, all of them,
 * once Redis takes writes again (right after the next write that goes
 * through). */
static void index_entries_kept_up_to_the_cap(void **state)
{
    struct fx *f = *state;
    const int extra = 100, total = DEDUP_INDEX_UNWRITTEN_MAX + extra;
    struct dedup_req q = {.source_id = "cap", .channel = "web"};
    struct dedup_stats st;
    struct got *g = calloc((size_t)total, sizeof(*g));
    struct got a;
    char ext[16];
    redisContext *c;
    redisReply *r;
    int i, k;

    c = refuse_index_writes(f);
    for (k = 0; k < total; k += 1000) {
        for (i = k; i < total && i < k + 1000; i++) {
            snprintf(ext, sizeof(ext), "c%d", i);
            q.ext_id = ext; /* no text: a candidate each, never merged */
            assert_int_equal(dedup_check(f->d, &q, on_result, &g[i]), IG_OK);
        }
        for (i = k; i < total && i < k + 1000; i++) {
            wait_for(f->base, &g[i].calls, 1);
            assert_int_equal(g[i].status, IG_OK);
            assert_int_equal(g[i].res.verdict, DEDUP_NEW);
        }
    }
    run_for(f, 50);
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.index_unwritten, DEDUP_INDEX_UNWRITTEN_MAX);
    assert_int_equal(st.index_dropped, extra);
    r = redisCommand(c, "DEL t:index");
    freeReplyObject(r);
    a = check(f, "after", "web", "1", NULL, "修好之后的第一条新内容");
    assert_int_equal(a.res.verdict, DEDUP_NEW);
    for (i = 0; i < 100 && st.index_unwritten > 0; i++) {
        run_for(f, 20);
        dedup_get_stats(f->d, &st);
    }
    assert_int_equal(st.index_unwritten, 0);
    redisFree(c);
    /* A gateway started now knows every candidate whose entry was kept
     * (the SET above replaced the warm-up's), the one after and its own. */
    restart(f);
    a = check(f, "after", "web", "2", NULL, "重启之后再来一条新内容");
    dedup_get_stats(f->d, &st);
    assert_int_equal(st.index_entries, DEDUP_INDEX_UNWRITTEN_MAX + 2);
    free(g);
}

/* dedup_prep_key() is the number the id's hex digits spell (what
 * strtoull made of it before), for ids of every shape. */
static void prep_key_is_the_id_value(void **state)
{
    struct fx *f = *state;

    for (int i = 0; i < 500; i++) {
        char ext[32];
        struct dedup_req q = {.source_id = i % 2 ? "hl" : "lt",
                              .channel = "hotline",
                              .ext_id = ext,
                              .text = "人行道砖翘起来好几块"};
        struct dedup_prep *p;

        snprintf(ext, sizeof(ext), "k-%d", i);
        p = dedup_prepare(f->d, &q);
        assert_non_null(p);
        assert_int_equal(strlen(dedup_prep_id(p)), DEDUP_ID_LEN);
        assert_true(dedup_prep_key(p) == strtoull(dedup_prep_id(p), NULL, 16));
        dedup_prep_free(p);
    }
}

/* An item's own record key holds another type: the create is refused at
 * once with Redis's reason (IG_EIO), not sent round DEDUP_MAX_ROUNDS
 * times and answered IG_EAGAIN (to be retried, and refused, for ever);
 * the item is no candidate, so a copy of it is not linked to it. */
static void record_key_of_another_type(void **state)
{
    struct fx *f = *state;
    const char *text = "赵巷镇业辉路的人行道砖翘起来好几块，老人走路容易绊倒";
    struct dedup_req q = {.source_id = "hl",
                          .channel = "hotline",
                          .ext_id = "bad-1",
                          .text = text};
    struct dedup_prep *p = dedup_prepare(f->d, &q);
    char key[64];
    redisContext *c;
    redisReply *r;
    struct got a, b;

    snprintf(key, sizeof(key), "t:rec:%s", dedup_prep_id(p));
    dedup_prep_free(p);
    c = inspect(f, NULL, NULL, 0);
    r = redisCommand(c, "HSET %s x 1", key);
    freeReplyObject(r);
    a = check(f, "hl", "hotline", "bad-1", NULL, text);
    assert_int_equal(a.status, IG_EIO);
    assert_false(a.has);
    /* A copy from another channel: a candidate of its own. */
    b = check(f, "lt", "letters", "bad-2", NULL, text);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(b.res.verdict, DEDUP_NEW);
    /* The key repaired, the item goes through (a copy of the other). */
    r = redisCommand(c, "DEL %s", key);
    freeReplyObject(r);
    redisFree(c);
    a = check(f, "hl", "hotline", "bad-1", NULL, text);
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.res.verdict, DEDUP_EXACT);
    assert_string_equal(a.res.orig_id, b.res.id);
}

static void free_fails_inflight(void **state)
{
    struct fx *f = *state;
    struct dedup_req q = {.source_id = "s", .ext_id = "z", .text = "abc"};
    struct got g;

    memset(&g, 0, sizeof(g));
    assert_int_equal(dedup_check(f->d, &q, on_result, &g), IG_OK);
    dedup_free(f->d);
    f->d = NULL;
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, IG_EAGAIN);
}

/* What a caller may do from a callback that dedup_free() runs: every
 * entry point answers (IG_EAGAIN, or stats) instead of touching the
 * connection being freed. */
struct in_free {
    struct dedup *d;
    int calls, check_rc, done_rc;
    struct dedup_stats st;
};

static void call_back_in(void *ud, int status, const struct dedup_result *r)
{
    struct in_free *x = ud;
    struct dedup_req q = {.source_id = "s", .ext_id = "again", .text = "abc"};
    struct got g;
    struct dedup_prep *p = dedup_prepare(x->d, &q);

    (void)r;
    assert_int_equal(status, IG_EAGAIN);
    x->calls++;
    memset(&g, 0, sizeof(g));
    x->check_rc = dedup_check(x->d, &q, on_result, &g);
    assert_int_equal(dedup_check_prepared(x->d, &p, on_result, &g), IG_EAGAIN);
    dedup_prep_free(p);
    x->done_rc = dedup_done(x->d, "0123456789abcdef", NULL, NULL);
    assert_false(dedup_up(x->d));
    dedup_get_stats(x->d, &x->st);
}

static void entry_points_during_free(void **state)
{
    struct fx *f = *state;
    struct dedup_req q = {.source_id = "s", .ext_id = "y", .text = "abc"};
    struct in_free x;

    memset(&x, 0, sizeof(x));
    x.d = f->d;
    assert_int_equal(dedup_check(f->d, &q, call_back_in, &x), IG_OK);
    dedup_free(f->d);
    f->d = NULL;
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.check_rc, IG_EAGAIN);
    assert_int_equal(x.done_rc, IG_EAGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(two_channels_one_candidate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reposts_are_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(reposts_in_flight_are_linked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(short_distinct_posts_stay_apart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(replay_until_done, setup, teardown),
        cmocka_unit_test_setup_teardown(every_key_has_a_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(mark_of_a_lost_record_expires, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(acl_user_db_index_unix_socket, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tcp_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(redis_restart_mid_run, setup, teardown),
        cmocka_unit_test_setup_teardown(done_while_redis_is_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(index_rebuilt_after_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expired_original_is_forgotten, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(counts_follow_check_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_key_fails_only_its_link, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(exact_key_of_a_lost_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hand_made_counts_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(index_write_refused_is_sent_again,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(index_entries_kept_up_to_the_cap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(prep_key_is_the_id_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(record_key_of_another_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(open_candidates_and_done_marks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(leftover_refused_is_tried_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(abandoned_candidate_is_replayed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(replay_restores_a_lost_index_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(free_fails_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(entry_points_during_free, setup,
                                        teardown),
    };

    /* As in the daemon: a write to a server that died must fail with
     * EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
