/* test_rconn.c — the gateway's pipelined Redis connection against a real
 * redis-server: replies matched to their commands in order through deep
 * pipelines, a command larger than the socket buffer (partial writes), a
 * flushed script cache (NOSCRIPT, reload, then EVALSHA again), the
 * watchdog failing commands a paused server does not answer, a server
 * that goes away (everything in flight fails once, nothing is answered
 * twice, the connection comes back), and a handshake whose PING is
 * refused (tried again until the server accepts it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/err.h"
#include "gateway/dedup.h"
#include "gateway/rconn.h"
#include "tests/lib/redis_up.h"

#define N 20000

struct got {
    int calls;
    int status;
    long long integer;
    char str[64];
};

static void on_got(void *ud, int status, const void *reply)
{
    struct got *g = ud;
    const redisReply *r = reply;

    g->calls++;
    g->status = status;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        g->integer = r->integer;
    }
    if (r && r->str) {
        snprintf(g->str, sizeof(g->str), "%s", r->str);
    }
}

static const char *const scripts[] = {"return tonumber(ARGV[1]) + 1", NULL};

struct fx {
    struct redis_up *r;
    struct event_base *base;
    struct rconn *rc;
};

static struct rconn *open_rc(struct fx *f, int64_t timeout_ms)
{
    struct redis_cfg c = {.socket = redis_up_socket(f->r),
                          .timeout_ms = timeout_ms,
                          .retry_ms = 50};

    return rconn_new(f->base, &c, "test", scripts);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->r = redis_up_start(NULL);
    assert_non_null(f->r);
    f->base = event_base_new();
    f->rc = open_rc(f, 2000);
    assert_non_null(f->rc);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rconn_free(f->rc);
    event_base_free(f->base);
    redis_up_stop(f->r);
    free(f);
    return 0;
}

/* Runs the loop until *n reaches want (or 10 s pass). */
static void wait_for(struct fx *f, const int *n, int want)
{
    for (int i = 0; i < 10000 && *n < want; i++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_true(*n >= want);
}

static void wait_up(struct fx *f)
{
    for (int i = 0; i < 10000 && !rconn_up(f->rc); i++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_true(rconn_up(f->rc));
}

/* A sync connection beside the one under test. */
static redisReply *side(struct fx *f, const char *cmd)
{
    redisContext *c = redisConnectUnix(redis_up_socket(f->r));
    redisReply *r;

    assert_non_null(c);
    assert_int_equal(c->err, 0);
    r = redisCommand(c, cmd);
    redisFree(c);
    return r;
}

/* INCR answers with the count so far: N pipelined INCRs, issued in one
 * loop turn, must come back 1..N to their own callbacks. */
static void replies_in_order(void **state)
{
    struct fx *f = *state;
    static struct got g[N];
    static int done;
    const char *argv[] = {"INCR", "t:ctr"};
    size_t len[] = {4, 5};

    memset(g, 0, sizeof(g));
    for (int i = 0; i < N; i++) {
        assert_int_equal(rconn_cmd(f->rc, on_got, &g[i], 2, argv, len), IG_OK);
    }
    /* Behind the handshake: SCRIPT LOAD and PING. */
    assert_int_equal((int)rconn_pending(f->rc), N + 2);
    done = 0;
    for (int spins = 0; spins < 10000 && g[N - 1].calls == 0; spins++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].status, IG_OK);
        assert_int_equal(g[i].integer, i + 1);
        done++;
    }
    assert_int_equal(done, N);
    assert_int_equal((int)rconn_pending(f->rc), 0);
}

/* argvlen NULL: every argument is measured as a C string. */
static void null_lengths_are_c_strings(void **state)
{
    struct fx *f = *state;
    struct got set = {0}, get = {0};
    const char *sv[] = {"SET", "t:cstr", "héllo wörld"};
    const char *gv[] = {"GET", "t:cstr"};

    wait_up(f);
    assert_int_equal(rconn_cmd(f->rc, on_got, &set, 3, sv, NULL), IG_OK);
    assert_int_equal(rconn_cmd(f->rc, on_got, &get, 2, gv, NULL), IG_OK);
    wait_for(f, &get.calls, 1);
    assert_int_equal(set.status, IG_OK);
    assert_int_equal(get.status, IG_OK);
    assert_string_equal(get.str, "héllo wörld");
}

/* 8 MiB in one SET: far more than a socket buffer takes at once. */
static void command_larger_than_the_socket_buffer(void **state)
{
    struct fx *f = *state;
    size_t n = 8u << 20;
    char *v = malloc(n);
    struct got s = {0}, l = {0};

    for (size_t i = 0; i < n; i++) {
        v[i] = (char)('a' + i % 26);
    }
    const char *sa[] = {"SET", "t:big", v};
    size_t sl[] = {3, 5, n};
    const char *la[] = {"STRLEN", "t:big"};
    size_t ll[] = {6, 5};

    assert_int_equal(rconn_cmd(f->rc, on_got, &s, 3, sa, sl), IG_OK);
    assert_int_equal(rconn_cmd(f->rc, on_got, &l, 2, la, ll), IG_OK);
    wait_for(f, &l.calls, 1);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, IG_OK);
    assert_string_equal(s.str, "OK");
    assert_int_equal(l.status, IG_OK);
    assert_int_equal(l.integer, (long long)n);
    free(v);
}

/* SCRIPT FLUSH behind our back: the next EVALSHA answers NOSCRIPT, the
 * caller gets IG_EAGAIN once, and the script works again after. */
static void flushed_script_is_reloaded(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"41"};
    size_t len[] = {2};
    struct got a = {0}, b = {0}, c = {0};
    redisReply *r;

    wait_up(f);
    assert_int_equal(rconn_script(f->rc, 0, on_got, &a, 0, 1, argv, len),
                     IG_OK);
    wait_for(f, &a.calls, 1);
    assert_int_equal(a.status, IG_OK);
    assert_int_equal(a.integer, 42);
    r = side(f, "SCRIPT FLUSH");
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(rconn_script(f->rc, 0, on_got, &b, 0, 1, argv, len),
                     IG_OK);
    wait_for(f, &b.calls, 1);
    assert_int_equal(b.status, IG_EAGAIN);
    assert_int_equal(rconn_script(f->rc, 0, on_got, &c, 0, 1, argv, len),
                     IG_OK);
    wait_for(f, &c.calls, 1);
    assert_int_equal(c.status, IG_OK);
    assert_int_equal(c.integer, 42);
    assert_int_equal(a.calls + b.calls + c.calls, 3);
}

/* A paused server answers nothing: the watchdog drops the connection and
 * fails the command once; the connection comes back by itself. */
static void watchdog_fails_what_is_not_answered(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"PING"};
    size_t len[] = {4};
    struct got a = {0}, b = {0};
    redisReply *r;

    rconn_free(f->rc);
    f->rc = open_rc(f, 300);
    wait_up(f);
    uint64_t connects = rconn_connects(f->rc);
    r = side(f, "CLIENT PAUSE 1500 ALL");
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(rconn_cmd(f->rc, on_got, &a, 1, argv, len), IG_OK);
    wait_for(f, &a.calls, 1);
    assert_int_equal(a.status, IG_EAGAIN);
    /* Back after the pause (the reconnect's handshake waits for it). */
    for (int i = 0; i < 5000 && rconn_connects(f->rc) == connects; i++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_true(rconn_connects(f->rc) > connects);
    assert_int_equal(rconn_cmd(f->rc, on_got, &b, 1, argv, len), IG_OK);
    wait_for(f, &b.calls, 1);
    assert_int_equal(b.status, IG_OK);
    assert_int_equal(a.calls, 1);
}

/* The server dies with commands in flight: each fails exactly once, new
 * commands are refused while it is away, and work resumes after. */
static void server_goes_away_and_comes_back(void **state)
{
    struct fx *f = *state;
    static struct got g[1000];
    const char *argv[] = {"INCR", "t:away"};
    size_t len[] = {4, 6};
    struct got after = {0};
    int sum = 0;

    wait_up(f);
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rconn_cmd(f->rc, on_got, &g[i], 2, argv, len), IG_OK);
    }
    assert_int_equal(redis_up_halt(f->r, true), 0);
    for (int spins = 0; spins < 10000; spins++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
        sum = 0;
        for (int i = 0; i < 1000; i++) {
            sum += g[i].calls;
        }
        if (sum == 1000) {
            break;
        }
    }
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_true(g[i].status == IG_OK || g[i].status == IG_EAGAIN);
    }
    assert_false(rconn_up(f->rc));
    assert_int_equal(rconn_cmd(f->rc, on_got, &after, 2, argv, len),
                     IG_EAGAIN);
    assert_int_equal(redis_up_restart(f->r), 0);
    wait_up(f);
    assert_int_equal(rconn_cmd(f->rc, on_got, &after, 2, argv, len), IG_OK);
    wait_for(f, &after.calls, 1);
    assert_int_equal(after.status, IG_OK);
}

/* A handshake whose PING is refused (NOAUTH: the server wants a password
 * this connection does not send; LOADING: a restarted server still reading
 * its AOF) leaves the connection unusable: it is dropped and tried again
 * with backoff, so it comes up once the server accepts it. */
static void refused_ping_is_retried(void **state)
{
    struct fx *f = *state;
    redisContext *admin = redisConnectUnix(redis_up_socket(f->r));
    const char *argv[] = {"PING"};
    size_t len[] = {4};
    struct got a = {0};
    redisReply *r;

    assert_non_null(admin);
    assert_int_equal(admin->err, 0);
    wait_up(f);
    /* The admin connection stays authenticated after the password is set;
     * the connection under test is cut and must reconnect without one. */
    r = redisCommand(admin, "CONFIG SET requirepass sesame");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(admin, "CLIENT KILL TYPE normal SKIPME yes");
    assert_non_null(r);
    freeReplyObject(r);
    for (int i = 0; i < 300; i++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_false(rconn_up(f->rc));
    r = redisCommand(admin, "CONFIG SET requirepass %s", "");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(admin);
    wait_up(f);
    assert_int_equal(rconn_cmd(f->rc, on_got, &a, 1, argv, len), IG_OK);
    wait_for(f, &a.calls, 1);
    assert_int_equal(a.status, IG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(replies_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(null_lengths_are_c_strings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(command_larger_than_the_socket_buffer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(flushed_script_is_reloaded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(watchdog_fails_what_is_not_answered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(server_goes_away_and_comes_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refused_ping_is_retried, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
