/* test_review_queue.c — the review queue (gateway/review.c) against a real
 * redis-server: a loop turn's adds land as one transaction in the sorted
 * set, in priority order, with the key's TTL; ZADD GT never lowers a
 * member; past REVIEW_MAX members the lowest-scored are trimmed and the
 * new ones kept; a key of the wrong type fails the adds with IG_EIO
 * (answered, not lost; logged once, not per flush) and the queue works
 * again once it is fixed; the documented least-privilege ACL user is
 * enough. The order and the admission rule themselves are unit-tested in
 * tests/unit/test_review.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/err.h"
#include "core/log.h"
#include "gateway/dedup.h"
#include "gateway/review.h"
#include "tests/lib/redis_up.h"

#define TTL_MS 600000
#define TRIM_LOG_MS 300 /* trims summed into a line per this (default 60 s) */

struct fx {
    struct redis_up *r;
    struct event_base *base;
    struct review *q;
    redisContext *side; /* a sync connection beside the queue's own */
    int done, ok, eio, other;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct redis_cfg c;

    f->r = redis_up_start(NULL);
    assert_non_null(f->r);
    f->base = event_base_new();
    memset(&c, 0, sizeof(c));
    c.socket = redis_up_socket(f->r);
    c.timeout_ms = 5000;
    c.retry_ms = 50;
    assert_int_equal(review_new(f->base, &c, "t", TTL_MS, TRIM_LOG_MS, &f->q),
                     IG_OK);
    f->side = redisConnectUnix(redis_up_socket(f->r));
    assert_non_null(f->side);
    assert_int_equal(f->side->err, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    review_free(f->q);
    event_base_free(f->base);
    redisFree(f->side);
    redis_up_stop(f->r);
    free(f);
    return 0;
}

static void on_done(void *ud, int status)
{
    struct fx *f = ud;

    f->done++;
    if (status == IG_OK) {
        f->ok++;
    } else if (status == IG_EIO) {
        f->eio++;
    } else {
        f->other++;
    }
}

/* Runs the loop until want adds have completed (or 10 s pass). */
static void wait_done(struct fx *f, int want)
{
    for (int i = 0; i < 10000 && f->done < want; i++) {
        struct timeval tv = {0, 1000};

        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_int_equal(f->done, want);
}

/* review_add() needs the connection up (IG_EAGAIN before): retry while the
 * loop connects. */
static void add(struct fx *f, const char *id, double score)
{
    int rc = IG_EAGAIN;

    for (int i = 0; i < 10000 && rc == IG_EAGAIN; i++) {
        rc = review_add(f->q, id, score, on_done, f);
        if (rc == IG_EAGAIN) {
            struct timeval tv = {0, 1000};

            event_base_loopexit(f->base, &tv);
            event_base_dispatch(f->base);
        }
    }
    assert_int_equal(rc, IG_OK);
}

static redisReply *side(struct fx *f, const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(f->side, fmt, arg);

    assert_non_null(r);
    return r;
}

static long long side_int(struct fx *f, const char *fmt, const char *arg)
{
    redisReply *r = side(f, fmt, arg);
    long long v;

    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static void adds_land_in_order_with_ttl(void **state)
{
    struct fx *f = *state;
    redisReply *r;

    add(f, "aaaa000000000001", review_score(0, 0.4, 1795000000));
    add(f, "aaaa000000000002", review_score(2, 0.9, 1795000000));
    add(f, "aaaa000000000003", review_score(0, 0.2, 1795000000));
    wait_done(f, 3);
    assert_int_equal(f->ok, 3);
    r = side(f, "ZREVRANGE %s 0 -1", "t:review");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    /* High first whatever the confidence, then the less confident. */
    assert_string_equal(r->element[0]->str, "aaaa000000000002");
    assert_string_equal(r->element[1]->str, "aaaa000000000003");
    assert_string_equal(r->element[2]->str, "aaaa000000000001");
    freeReplyObject(r);
    long long ttl = side_int(f, "PTTL %s", "t:review");
    assert_true(ttl > TTL_MS - 60000 && ttl <= TTL_MS);
}

static void gt_never_lowers(void **state)
{
    struct fx *f = *state;
    redisReply *r;

    add(f, "bbbb000000000001", review_score(1, 0.5, 1795000000));
    wait_done(f, 1);
    /* A calmer repeat does not move it down; a red-line one moves it up. */
    add(f, "bbbb000000000001", review_score(0, 0.9, 1795000000));
    wait_done(f, 2);
    r = side(f, "ZSCORE %s bbbb000000000001", "t:review");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_true(strtod(r->str, NULL) == review_score(1, 0.5, 1795000000));
    freeReplyObject(r);
    add(f, "bbbb000000000001", review_score(2, 0.9, 1795000000));
    wait_done(f, 3);
    r = side(f, "ZSCORE %s bbbb000000000001", "t:review");
    assert_true(strtod(r->str, NULL) == review_score(2, 0.9, 1795000000));
    freeReplyObject(r);
    assert_int_equal(f->ok, 3);
}

/* Runs the loop for ms milliseconds. */
static void run_ms(struct fx *f, long ms)
{
    struct timeval tv = {ms / 1000, ms % 1000 * 1000};

    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

/* How often needle occurs in what fd (a log file) holds. */
static int log_count(int fd, const char *needle)
{
    static char buf[16384];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    int k = 0;

    assert_true(n >= 0);
    buf[n] = '\0';
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++) {
        k++;
    }
    return k;
}

/* A full queue: REVIEW_MAX members of scores 1..REVIEW_MAX, then more
 * urgent adds, each its own flush. The lowest go, the new ones stay. A
 * full queue trims at every flush: the first trim is logged at once, the
 * next ones summed into one line per TRIM_LOG_MS; after a quiet interval
 * a trim is logged at once again, and review_free() logs what it still
 * holds: every trimmed member is in the log, in few lines. */
static void full_queue_trims_the_lowest(void **state)
{
    struct fx *f = *state;
    enum { CHUNK = 1000 };
    static char sc[CHUNK][24], id[CHUNK][24];
    const char *argv[2 + 2 * CHUNK];
    size_t len[2 + 2 * CHUNK];
    redisReply *r;
    char path[] = "/tmp/ig-review-trim.XXXXXX";
    int fd = mkstemp(path);
    enum ig_log_level was = ig_log_get_level();

    for (int base = 0; base < REVIEW_MAX; base += CHUNK) {
        int k = 0;

        argv[k] = "ZADD";
        len[k++] = 4;
        argv[k] = "t:review";
        len[k++] = 8;
        for (int i = 0; i < CHUNK; i++) {
            len[k] = (size_t)snprintf(sc[i], sizeof(sc[i]), "%d", base + i + 1);
            argv[k++] = sc[i];
            len[k] =
                (size_t)snprintf(id[i], sizeof(id[i]), "old%08d", base + i + 1);
            argv[k++] = id[i];
        }
        r = redisCommandArgv(f->side, k, argv, len);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    assert_int_equal(side_int(f, "ZCARD %s", "t:review"), REVIEW_MAX);
    assert_true(fd >= 0);
    unlink(path);
    ig_log_set_level(IG_LOG_INFO);
    ig_log_set_fd(fd);
    add(f, "cccc000000000001", review_score(0, 0.5, 1795000000));
    wait_done(f, 1);
    add(f, "cccc000000000002", review_score(1, 0.5, 1795000000));
    wait_done(f, 2);
    add(f, "cccc000000000003", review_score(2, 0.5, 1795000000));
    wait_done(f, 3);
    assert_int_equal(f->ok, 3);
    assert_int_equal(log_count(fd, "entries trimmed"), 1);
    assert_int_equal(log_count(fd, "1 lowest-priority entries trimmed"), 1);
    run_ms(f, TRIM_LOG_MS + 100);
    assert_int_equal(log_count(fd, "2 more lowest-priority entries"), 1);
    run_ms(f, TRIM_LOG_MS + 100); /* an interval without trims: quiet */
    assert_int_equal(log_count(fd, "entries trimmed"), 2);
    assert_int_equal(side_int(f, "ZCARD %s", "t:review"), REVIEW_MAX);
    for (int i = 1; i <= 3; i++) {
        char m[24];

        snprintf(m, sizeof(m), "old%08d", i);
        r = side(f, "ZSCORE t:review %s", m);
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        freeReplyObject(r);
    }
    r = side(f, "ZSCORE t:review %s", "old00000004");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    r = side(f, "ZREVRANGE %s 0 2", "t:review");
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "cccc000000000003");
    assert_string_equal(r->element[2]->str, "cccc000000000001");
    freeReplyObject(r);
    /* Trimming again: logged at once; the next trim is held, then logged
     * by review_free(). */
    add(f, "cccc000000000004", review_score(2, 0.5, 1795000000));
    wait_done(f, 4);
    assert_int_equal(log_count(fd, "1 lowest-priority entries trimmed"), 2);
    add(f, "cccc000000000005", review_score(2, 0.5, 1795000000));
    wait_done(f, 5);
    assert_int_equal(log_count(fd, "entries trimmed"), 3);
    review_free(f->q);
    f->q = NULL;
    assert_int_equal(log_count(fd, "1 more lowest-priority entries"), 1);
    ig_log_set_fd(2);
    ig_log_set_level(was);
    close(fd);
}

/* The key holds a string (someone's mistake): the adds are answered with
 * IG_EIO, not left hanging, and the queue works again once it is fixed. */
static void wrong_type_fails_the_adds_then_recovers(void **state)
{
    struct fx *f = *state;
    redisReply *r;
    char path[] = "/tmp/ig-review-log.XXXXXX";
    int fd = mkstemp(path);
    char buf[4096];
    ssize_t n;

    assert_true(fd >= 0);
    unlink(path);
    enum ig_log_level was = ig_log_get_level();

    ig_log_set_level(IG_LOG_INFO);
    ig_log_set_fd(fd);
    r = side(f, "SET %s oops", "t:review");
    freeReplyObject(r);
    /* Two flushes (two loop turns), both refused. */
    add(f, "dddd000000000001", 1);
    wait_done(f, 1);
    add(f, "dddd000000000002", 2);
    wait_done(f, 2);
    assert_int_equal(f->eio, 2);
    assert_int_equal(f->ok, 0);
    r = side(f, "DEL %s", "t:review");
    freeReplyObject(r);
    add(f, "dddd000000000003", 3);
    wait_done(f, 3);
    assert_int_equal(f->ok, 1);
    assert_int_equal(side_int(f, "ZCARD %s", "t:review"), 1);
    ig_log_set_fd(2);
    ig_log_set_level(was);
    /* The refusal is logged once, with Redis's reason, then the recovery. */
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    const char *first = strstr(buf, "refused the review queue's adds");
    assert_non_null(first);
    assert_null(strstr(first + 1, "refused the review queue's adds"));
    assert_non_null(strstr(buf, "WRONGTYPE"));
    assert_non_null(strstr(buf, "accepts the review queue's adds again"));
}

/* Under an ACL user with only the review queue's part of the rights
 * docs/delivery.md lists (no ZCARD, no scripts): the adds go through. */
static void least_privilege_acl_user(void **state)
{
    struct fx *f = *state;
    struct redis_up_opts o = {
        .user = "intake",
        .password = "pw-r-1",
        .acl = "~t:* +@connection +select +multi +exec +zadd "
               "+zremrangebyrank +pexpire",
        .extra = "user admin on >admin-pw ~* &* +@all"};
    struct redis_cfg c;
    redisReply *r;

    review_free(f->q);
    redisFree(f->side);
    redis_up_stop(f->r);
    f->r = redis_up_start(&o);
    assert_non_null(f->r);
    memset(&c, 0, sizeof(c));
    c.socket = redis_up_socket(f->r);
    c.user = "intake";
    c.password = "pw-r-1";
    c.timeout_ms = 5000;
    c.retry_ms = 50;
    assert_int_equal(review_new(f->base, &c, "t", TTL_MS, TRIM_LOG_MS, &f->q),
                     IG_OK);
    f->side = redisConnectUnix(redis_up_socket(f->r));
    assert_non_null(f->side);
    r = redisCommand(f->side, "AUTH admin admin-pw");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    add(f, "eeee000000000001", 5);
    add(f, "eeee000000000002", 6);
    wait_done(f, 2);
    assert_int_equal(f->ok, 2);
    assert_int_equal(side_int(f, "ZCARD %s", "t:review"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(adds_land_in_order_with_ttl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(gt_never_lowers, setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_trims_the_lowest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wrong_type_fails_the_adds_then_recovers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(least_privilege_acl_user, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
