/* test_redis_up.c — the throwaway redis-server helper works: unix socket,
 * TCP, ACL user, and a restart that keeps an AOF-persisted key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "tests/lib/redis_up.h"

static redisReply *cmd(redisContext *c, const char *fmt, const char *a)
{
    redisReply *r = redisCommand(c, fmt, a);

    assert_non_null(r);
    return r;
}

static void test_acl_tcp_restart(void **state)
{
    struct redis_up_opts o = {
        .tcp = true, .aof = true, .user = "gw", .password = "s3cret"};
    struct redis_up *r = redis_up_start(&o);
    redisContext *c;
    redisReply *rep;

    (void)state;
    assert_non_null(r);
    assert_true(redis_up_port(r) > 0);

    /* The default user is off: an unauthenticated PING is refused. */
    c = redisConnect("127.0.0.1", redis_up_port(r));
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    rep = cmd(c, "PING", NULL);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    rep = redisCommand(c, "AUTH gw s3cret");
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = cmd(c, "SET k %s", "v");
    freeReplyObject(rep);
    redisFree(c);

    /* AOF everysec: a clean stop writes it, a restart replays it. */
    assert_int_equal(redis_up_halt(r, false), 0);
    assert_int_equal(redis_up_pid(r), 0);
    assert_int_equal(redis_up_restart(r), 0);
    c = redisConnectUnix(redis_up_socket(r));
    assert_non_null(c);
    rep = redisCommand(c, "AUTH gw s3cret");
    freeReplyObject(rep);
    rep = cmd(c, "GET %s", "k");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "v");
    freeReplyObject(rep);
    redisFree(c);
    redis_up_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acl_tcp_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
