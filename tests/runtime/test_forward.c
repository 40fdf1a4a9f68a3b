/* test_forward.c — forwarders against real targets: a JSON Lines file, a
 * webhook served by a small evhttp server on the same loop (500 then 200,
 * 4xx to the dead-letter file), a Redis Stream on a throwaway
 * redis-server (exactly once, Redis down -> spool -> replay), and the
 * capture kind for retries and the spool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>

#include "core/cfg.h"
#include "core/clock.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/dedup.h"
#include "gateway/forward.h"
#include "gateway/forward_int.h"
#include "gateway/spool.h"
#include "tests/lib/fwd_fixture.h"
#include "tests/lib/redis_up.h"

static int setup(void **state)
{
    (void)state;
    return fwd_fx_setup("test-forward");
}

static int teardown(void **state)
{
    (void)state;
    return fwd_fx_teardown();
}

static void file_kind_writes_json_lines(void **state)
{
    struct forwarder *f = fwd_make("[forward out]\nkind = file\n"
                                   "path = out.jsonl\nbatch_max = 7\n",
                                   NULL, false);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    char *txt;

    (void)state;
    fwd_send_n(f, 0, 20, &s);
    assert_int_equal(s.calls, 0); /* never from inside forwarder_send */
    fwd_run_until(&s.calls, 20);
    assert_int_equal(s.ok, 20);
    txt = fwd_slurp("out.jsonl");
    assert_int_equal(fwd_count_lines(txt), 20);
    assert_non_null(strstr(txt, "{\"id\":\"c0000\",\"n\":0}\n"
                                "{\"id\":\"c0001\",\"n\":1}\n"));
    forwarder_get_stats(f, &st);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.attempts, 3); /* 7 + 7 + 6 */
    assert_int_equal(forwarder_pending(f), 0);
    forwarder_free(f);
}

/* A write the disk cuts short (ENOSPC in the field; RLIMIT_FSIZE here, a
 * real short write followed by EFBIG) must not leave part of a batch in
 * the file: the retry writes the whole batch again, so the records that
 * made it would be there twice and the cut one torn. */
static void file_short_write_leaves_no_partial_batch(void **state)
{
    struct forwarder *f = fwd_make("[forward out]\nkind = file\n"
                                   "path = out.jsonl\nbatch_max = 10\n"
                                   "retries = 5\nbackoff = 1ms\n"
                                   "backoff_max = 2ms\n",
                                   NULL, false);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    struct rlimit old, cut;
    struct stat fst;
    char path[400];
    const char *p;
    int i;

    (void)state;
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    snprintf(path, sizeof(path), "%s/out.jsonl", fwd_dir);
    assert_int_equal(stat(path, &fst), 0);
    /* Room for two and a half of the next five lines (21 bytes each). */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    cut = old;
    cut.rlim_cur = (rlim_t)fst.st_size + 50;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cut), 0);
    fwd_send_n(f, 2, 7, &s);
    do {
        event_base_loop(fwd_base, EVLOOP_ONCE);
        forwarder_get_stats(f, &st);
    } while (st.up && s.calls < 7);
    assert_false(st.up); /* the write was cut short */
    /* The disk has room again before the retry. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    fwd_run_until(&s.calls, 7);
    assert_int_equal(s.ok, 7);
    p = fwd_slurp("out.jsonl");
    for (i = 0; i < 7; i++) {
        char want[64];
        int n =
            snprintf(want, sizeof(want), "{\"id\":\"c%04d\",\"n\":%d}\n", i, i);

        assert_memory_equal(p, want, (size_t)n);
        p += n;
    }
    assert_string_equal(p, "");
    forwarder_free(f);
}

static void config_errors_are_collected(void **state)
{
    const char *text = "[forward x]\nkind = webhook\nurll = http://a/\n"
                       "batch_max = 0\n";
    struct ig_cfg_doc doc;
    struct ig_diags d;

    (void)state;
    ig_cfg_doc_init(&doc);
    ig_diags_init(&d);
    ig_cfg_parse_mem(&doc, "t.conf", text, strlen(text), &d);
    assert_int_equal(forwarder_check(&doc.s[0], &d), IG_EINVAL);
    /* unknown key (with its suggestion), missing url, batch_max */
    assert_true(d.nerrors >= 3);
    ig_diags_fini(&d);
    ig_cfg_doc_fini(&doc);
    assert_int_equal(forwarder_retry_after_ms("7"), 7000);
    assert_int_equal(forwarder_retry_after_ms(" 0"), 0);
    assert_int_equal(forwarder_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"),
                     0);
    assert_int_equal(forwarder_retry_after_ms("soon"), 0);
}

static void capture_retries_then_delivers_once(void **state)
{
    struct forwarder *f =
        fwd_make("[forward cap]\nkind = capture\n"
                 "fail_first = 2\nretries = 3\nbackoff = 1ms\n",
                 NULL, false);
    struct fwd_sink s = {0};
    struct forwarder_stats st;

    (void)state;
    fwd_send_n(f, 0, 5, &s);
    fwd_run_until(&s.calls, 5);
    assert_int_equal(s.ok, 5);
    assert_int_equal(forwarder_capture_count(f), 5);
    assert_string_equal(forwarder_capture_id(f, 4), "c0004");
    forwarder_get_stats(f, &st);
    assert_int_equal(st.retries, 2);
    forwarder_free(f);
}

static void exhausted_without_spool_hands_back(void **state)
{
    struct forwarder *f = fwd_make("[forward cap]\nkind = capture\n"
                                   "fail_first = 100\nretries = 2\n"
                                   "backoff = 1ms\n",
                                   NULL, false);
    struct fwd_sink s = {0};

    (void)state;
    fwd_send_n(f, 0, 3, &s);
    fwd_run_until(&s.calls, 3);
    assert_int_equal(s.again, 3);
    assert_int_equal(forwarder_capture_count(f), 0);
    forwarder_free(f);
}

static void rejected_goes_to_dead_letter(void **state)
{
    struct forwarder *f =
        fwd_make("[forward cap]\nkind = capture\nreject = yes\n", NULL, false);
    struct fwd_sink s = {0};
    char *dl;

    (void)state;
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.rejected, 2);
    dl = fwd_slurp("dead-letter-cap.jsonl");
    assert_int_equal(fwd_count_lines(dl), 2);
    assert_non_null(strstr(dl, "\"reason\":\"capture: rejected\""));
    assert_non_null(
        strstr(dl, "\"id\":\"c0001\",\"record\":{\"id\":\"c0001\""));
    forwarder_free(f);
}

/* The dead-letter file cannot be written (a full disk; /dev/full here): a
 * rejected record must not be settled as if its line had been kept. A
 * live record goes back to its source (IG_EAGAIN), a spooled one stays in
 * the spool, and both reach the dead-letter file once it can be
 * written. */
static void dead_letter_unwritable_keeps_records(void **state)
{
    const char *full = "[forward cap]\nkind = capture\nreject = yes\n"
                       "dead_letter = /dev/full\nretries = 0\n"
                       "backoff = 1ms\nbackoff_max = 5ms\n";
    const char *good = "[forward cap]\nkind = capture\nreject = yes\n"
                       "dead_letter = dl.jsonl\nretries = 0\n"
                       "backoff = 1ms\nbackoff_max = 5ms\n";
    struct forwarder *f = fwd_make(full, NULL, false);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    int64_t until;
    char *dl;

    (void)state;
    alarm(20);
    /* Live records: handed back, not counted as rejected. */
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.rejected, 0);
    assert_int_equal(s.again, 2);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.rejected, 0);
    forwarder_free(f);

    /* Spooled records: the replay is rejected, the line cannot be
     * written, so the spool keeps them (not acknowledged). */
    f = fwd_make(full, NULL, true);
    forwarder_capture_fail(f, 1, IG_EAGAIN);
    fwd_send_n(f, 2, 5, &s);
    fwd_run_until(&s.calls, 5);
    assert_int_equal(s.ok, 3); /* durably spooled */
    forwarder_capture_fail(f, -1, IG_EREJECTED);
    until = ig_mono_ms() + 200;
    while (ig_mono_ms() < until) {
        event_base_loop(fwd_base, EVLOOP_NONBLOCK);
    }
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spool_records, 3);
    assert_int_equal(st.rejected, 0);
    forwarder_free(f);

    /* Room again (a writable file): the next start dead-letters them, in
     * order, once each, and the spool drains. */
    f = fwd_make(good, NULL, true);
    for (;;) {
        forwarder_get_stats(f, &st);
        if (st.spool_records == 0) {
            break;
        }
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    assert_int_equal(st.rejected, 3);
    forwarder_free(f);
    dl = fwd_slurp("dl.jsonl");
    assert_int_equal(fwd_count_lines(dl), 3);
    assert_non_null(strstr(dl, "\"id\":\"c0002\""));
    assert_true(strstr(dl, "\"id\":\"c0002\"") <
                strstr(dl, "\"id\":\"c0004\""));
    alarm(0);
}

/* Counts the lines of s that contain needle. */
static int count_matching(const char *s, const char *needle)
{
    int n = 0;

    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

/* A full spool refuses every record of a burst: one error when it starts
 * refusing, one line with the count when it takes records again, not one
 * error per record (and the records still go back to their sources). */
static void full_spool_logs_once(void **state)
{
    const char *conf = "[forward cap]\nkind = capture\nretries = 0\n"
                       "backoff = 1ms\nbackoff_max = 5ms\nbatch_max = 20\n"
                       "concurrency = 1\n";
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    char logpath[400];
    char *txt;
    int fd;

    (void)state;
    alarm(20);
    snprintf(logpath, sizeof(logpath), "%s/log.txt", fwd_dir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    ig_log_set_fd(fd);
    fwd_spool_max = 3 * (20 + 6 + 20); /* three records: header, id, JSON */
    f = fwd_make(conf, NULL, true);
    fwd_spool_max = 0;
    forwarder_capture_fail(f, -1, IG_EAGAIN);
    fwd_send_n(f, 0, 10, &s);
    fwd_run_until(&s.calls, 10);
    assert_int_equal(s.ok, 3);
    assert_int_equal(s.again, 7);
    /* The sources send the refused ones again: still full. */
    fwd_send_n(f, 3, 10, &s);
    fwd_run_until(&s.calls, 17);
    assert_int_equal(s.again, 14);
    /* The target returns, the spool drains. */
    forwarder_capture_fail(f, 0, IG_EAGAIN);
    for (;;) {
        forwarder_get_stats(f, &st);
        if (st.spool_records == 0 && forwarder_capture_count(f) == 3) {
            break;
        }
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    forwarder_free(f);
    ig_log_set_fd(2);
    close(fd);
    txt = fwd_slurp("log.txt");
    assert_int_equal(count_matching(txt, "spool write failed"), 1);
    assert_non_null(strstr(txt, "record c0003: spool write failed"));
    assert_non_null(strstr(txt, "14 records were handed back"));
    alarm(0);
}

static void spool_keeps_order_across_restart(void **state)
{
    const char *conf = "[forward cap]\nkind = capture\nretries = 1\n"
                       "backoff = 1ms\nbackoff_max = 5ms\nbatch_max = 4\n";
    struct forwarder *f = fwd_make(conf, NULL, true);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    size_t i;

    (void)state;
    forwarder_capture_fail(f, 1000000, IG_EAGAIN);
    fwd_send_n(f, 0, 10, &s);
    fwd_run_until(&s.calls, 10);
    /* Unreachable target: the records are on disk, completed IG_OK. */
    assert_int_equal(s.ok, 10);
    fwd_send_n(f, 10, 15, &s);
    fwd_run_until(&s.calls, 15);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spool_records, 15);
    assert_int_equal(forwarder_capture_count(f), 0);
    /* The gateway stops; a new one starts and replays, in order. */
    forwarder_free(f);
    f = fwd_make(conf, NULL, true);
    for (;;) {
        forwarder_get_stats(f, &st);
        if (st.spool_records == 0 && forwarder_capture_count(f) == 15) {
            break;
        }
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    for (i = 0; i < 15; i++) {
        char want[16];

        snprintf(want, sizeof(want), "c%04zu", i);
        assert_string_equal(forwarder_capture_id(f, i), want);
    }
    /* Live again: new records go straight through. */
    fwd_send_n(f, 15, 17, &s);
    fwd_run_until(&s.calls, 17);
    assert_int_equal(forwarder_capture_count(f), 17);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.replayed, 15);
    forwarder_free(f);
}

static void down_then_back_replays_in_order(void **state)
{
    struct forwarder *f =
        fwd_make("[forward cap]\nkind = capture\nretries = 0\n"
                 "backoff = 1ms\nbackoff_max = 2ms\n"
                 "concurrency = 1\n",
                 NULL, true);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    size_t i;

    (void)state;
    fwd_send_n(f, 0, 3, &s);
    fwd_run_until(&s.calls, 3);
    forwarder_capture_fail(f, 3, IG_EAGAIN); /* three failed attempts */
    fwd_send_n(f, 3, 8, &s);
    fwd_run_until(&s.calls, 8);
    fwd_send_n(f, 8, 12, &s);
    fwd_run_until(&s.calls, 12);
    while (forwarder_capture_count(f) < 12) {
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    for (i = 0; i < 12; i++) {
        char want[16];

        snprintf(want, sizeof(want), "c%04zu", i);
        assert_string_equal(forwarder_capture_id(f, i), want);
    }
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spool_records, 0);
    assert_int_equal(s.ok, 12);
    forwarder_free(f);
}

/* The target is back but the spool cannot write its "ack" file (a full
 * state directory; here a directory sits where ack.tmp goes): records it
 * replayed and the target accepted must not be replayed again and again
 * while the process runs. */
static void spool_ack_failure_replays_nothing_twice(void **state)
{
    const char *conf = "[forward cap]\nkind = capture\nretries = 0\n"
                       "backoff = 1ms\nbackoff_max = 5ms\nbatch_max = 4\n"
                       "concurrency = 1\n";
    struct forwarder *f = fwd_make(conf, NULL, true);
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    char ack_tmp[400];
    int64_t until;
    size_t i;

    (void)state;
    /* A replay loop that never yields would hang the test: die instead. */
    alarm(20);
    snprintf(ack_tmp, sizeof(ack_tmp), "%s/spool/cap/ack.tmp", fwd_dir);
    assert_int_equal(mkdir(ack_tmp, 0700), 0);
    forwarder_capture_fail(f, 1, IG_EAGAIN);
    fwd_send_n(f, 0, 10, &s);
    fwd_run_until(&s.calls, 10);
    assert_int_equal(s.ok, 10);
    /* Replays run; give a replay loop time to repeat itself. */
    until = ig_mono_ms() + 300;
    while (ig_mono_ms() < until) {
        event_base_loop(fwd_base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(forwarder_capture_count(f), 10);
    for (i = 0; i < 10; i++) {
        char want[16];

        snprintf(want, sizeof(want), "c%04zu", i);
        assert_string_equal(forwarder_capture_id(f, i), want);
    }
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spool_records, 0);
    assert_int_equal(st.replayed, 10);
    /* Room again: the acknowledgement reaches the disk by the close, so
     * a restart replays nothing either. */
    assert_int_equal(rmdir(ack_tmp), 0);
    forwarder_free(f);
    assert_string_equal(fwd_slurp("spool/cap/ack"), "10\n");
    f = fwd_make(conf, NULL, true);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spool_records, 0);
    forwarder_free(f);
    alarm(0);
}

/* --- webhook: an evhttp receiver on the same loop ----------------------- */

struct hook {
    struct evhttp *http;
    int port;
    int status[8]; /* answers, in order; then 200 */
    int nstatus;
    int hits;
    char keys[8][64];
    char auth[128];
    int accepted; /* requests answered 2xx */
    char last_ok[4096];
};

static void on_hook(struct evhttp_request *req, void *ud)
{
    struct hook *h = ud;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    const char *key = evhttp_find_header(in, "Idempotency-Key");
    const char *auth = evhttp_find_header(in, "Authorization");
    int st = h->hits < h->nstatus ? h->status[h->hits] : 200;
    size_t n = evbuffer_get_length(body);

    if (h->hits < 8) {
        snprintf(h->keys[h->hits], sizeof(h->keys[0]), "%s", key ? key : "");
    }
    snprintf(h->auth, sizeof(h->auth), "%s", auth ? auth : "");
    h->hits++;
    if (st >= 200 && st < 300) {
        h->accepted++;
        if (n >= sizeof(h->last_ok)) {
            n = sizeof(h->last_ok) - 1;
        }
        evbuffer_copyout(body, h->last_ok, n);
        h->last_ok[n] = '\0';
    }
    if (st == 429) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
                          "0");
    }
    evhttp_send_reply(req, st, st == 400 ? "Bad Request" : "Status", NULL);
}

static void hook_start(struct hook *h)
{
    h->http = fwd_receiver(on_hook, h, &h->port);
}

/* With a bearer token and an extra header, which the receiver checks. */
static struct forwarder *make_hook(const struct hook *h, const char *extra)
{
    char conf[512];

    snprintf(conf, sizeof(conf),
             "token_ref = env:TEST_HOOK_TOKEN\n"
             "header.X-Source = intake-test\n%s",
             extra ? extra : "");
    return fwd_make_hook(h->port, conf, false);
}

static void webhook_500_then_200_delivers_once(void **state)
{
    struct hook h = {.status = {500, 429}, .nstatus = 2};
    struct forwarder *f;
    struct fwd_sink s = {0};

    (void)state;
    setenv("TEST_HOOK_TOKEN", "tok-123", 1);
    hook_start(&h);
    f = make_hook(&h, "batch_max = 10\n");
    fwd_send_n(f, 0, 3, &s);
    fwd_run_until(&s.calls, 3);
    assert_int_equal(s.ok, 3);
    assert_int_equal(h.hits, 3); /* 500, 429, 200 */
    assert_int_equal(h.accepted, 1);
    /* One key for the batch, the same on every retry. */
    assert_true(strncmp(h.keys[0], "batch-", 6) == 0);
    assert_string_equal(h.keys[0], h.keys[1]);
    assert_string_equal(h.keys[1], h.keys[2]);
    assert_string_equal(h.auth, "Bearer tok-123");
    assert_non_null(strstr(h.last_ok, "\"count\":3,\"candidates\":["
                                      "{\"id\":\"c0000\""));
    /* A single record: its own id is the key. */
    fwd_send_n(f, 3, 4, &s);
    fwd_run_until(&s.calls, 4);
    assert_string_equal(h.keys[3], "c0003");
    forwarder_free(f);
    evhttp_free(h.http);
}

static void webhook_4xx_dead_letters(void **state)
{
    struct hook h = {.status = {400, 400, 400}, .nstatus = 3};
    struct forwarder *f;
    struct fwd_sink s = {0};
    int64_t until;
    char *dl;

    (void)state;
    hook_start(&h);
    f = make_hook(&h, "dead_letter = rejected.jsonl\n");
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.rejected, 2);
    /* The batch, then each record alone (a rejected batch is split);
     * a record rejected on its own is never retried. */
    until = ig_mono_ms() + 50;
    while (ig_mono_ms() < until) {
        event_base_loop(fwd_base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(h.hits, 3);
    assert_string_equal(h.keys[1], "c0000");
    assert_string_equal(h.keys[2], "c0001");
    dl = fwd_slurp("rejected.jsonl");
    assert_int_equal(fwd_count_lines(dl), 2);
    assert_non_null(strstr(dl, "\"reason\":\"HTTP 400"));
    forwarder_free(f);
    evhttp_free(h.http);
}

static void webhook_unreachable_spools(void **state)
{
    struct hook h = {0};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    char conf[512];

    (void)state;
    hook_start(&h);
    evhttp_free(h.http); /* nobody listens on h.port any more */
    snprintf(conf, sizeof(conf),
             "[forward hook]\nkind = webhook\nurl = http://127.0.0.1:%d/\n"
             "retries = 1\nbackoff = 1ms\nbackoff_max = 1s\n",
             h.port);
    f = fwd_make(conf, NULL, true);
    fwd_send_n(f, 0, 4, &s);
    fwd_run_until(&s.calls, 4);
    assert_int_equal(s.ok, 4);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spooled, 4);
    assert_false(st.up);
    forwarder_free(f);
}

/* --- stream ----------------------------------------------------------- */

static long long xlen(struct redis_up *r, const char *key)
{
    redisContext *c = redisConnectUnix(redis_up_socket(r));
    redisReply *rep = redisCommand(c, "XLEN %s", key);
    long long n = rep->integer;

    freeReplyObject(rep);
    redisFree(c);
    return n;
}

/* The stream forwarder of the tests: one retry, then the spool. */
#define STREAM_CONF                                                            \
    "[forward xs]\nkind = stream\nmaxlen = 1000\nretries = 1\n"                \
    "backoff = 1ms\nbackoff_max = 20ms\n"

/* Runs the loop until f's spool is empty (its records replayed). */
static void drain_spool(struct forwarder *f)
{
    struct forwarder_stats st;

    for (int i = 0; i < 100000; i++) {
        forwarder_get_stats(f, &st);
        if (st.spool_records == 0) {
            return;
        }
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    fail_msg("the spool still holds %llu records",
             (unsigned long long)st.spool_records);
}

/* id is in today's marker set, which lives the retention (1 h here) plus
 * a day. */
static void sent_marked(redisContext *c, const char *id)
{
    long long day = (long long)time(NULL) / 86400;
    redisReply *rep;

    rep = redisCommand(c, "SISMEMBER t:sent:t:candidates:%lld %s", day, id);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    rep = redisCommand(c, "TTL t:sent:t:candidates:%lld", day);
    assert_true(rep->integer > 3600 && rep->integer <= 3600 + 86400);
    freeReplyObject(rep);
}

static void stream_exactly_once_and_replay(void **state)
{
    struct redis_up *r = redis_up_start(NULL);
    struct redis_cfg rc = {.retry_ms = 10, .timeout_ms = 2000};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    redisContext *c;
    redisReply *rep;

    (void)state;
    assert_non_null(r);
    rc.socket = redis_up_socket(r);
    f = fwd_make(STREAM_CONF, &rc, true);
    fwd_send_n(f, 0, 5, &s);
    fwd_run_until(&s.calls, 5);
    assert_int_equal(s.ok, 5);
    assert_int_equal(xlen(r, "t:candidates"), 5);
    /* A replay of the same candidates (crash before the cursor moved). */
    fwd_send_n(f, 0, 5, &s);
    fwd_run_until(&s.calls, 10);
    assert_int_equal(xlen(r, "t:candidates"), 5);
    c = redisConnectUnix(redis_up_socket(r));
    sent_marked(c, "c0003");
    rep = redisCommand(c, "XRANGE t:candidates - + COUNT 1");
    assert_string_equal(rep->element[0]->element[1]->element[1]->str, "c0000");
    freeReplyObject(rep);
    redisFree(c);

    /* Redis goes away: records land in the spool; it comes back: they are
     * replayed, in order, once. */
    assert_int_equal(redis_up_halt(r, true), 0);
    fwd_send_n(f, 5, 12, &s);
    fwd_run_until(&s.calls, 17);
    assert_int_equal(s.ok, 17);
    forwarder_get_stats(f, &st);
    assert_true(st.spooled >= 7);
    assert_int_equal(redis_up_restart(r), 0);
    drain_spool(f);
    /* The restarted Redis has no AOF: only the 7 new ones are there. */
    assert_int_equal(xlen(r, "t:candidates"), 7);
    c = redisConnectUnix(redis_up_socket(r));
    rep = redisCommand(c, "XRANGE t:candidates - +");
    assert_int_equal(rep->elements, 7);
    assert_string_equal(rep->element[0]->element[1]->element[1]->str, "c0005");
    assert_string_equal(rep->element[6]->element[1]->element[1]->str, "c0011");
    freeReplyObject(rep);

    /* Fresh records go unguarded (MULTI/EXEC) but leave their markers, so
     * a later replay of them adds nothing: 12..19 fresh, then 12..23 as a
     * replay -> 8 + 4 entries. */
    fwd_send_recs(f, 12, 20, true, &s);
    fwd_run_until(&s.calls, 25);
    assert_int_equal(xlen(r, "t:candidates"), 15);
    sent_marked(c, "c0013");
    fwd_send_n(f, 12, 24, &s);
    fwd_run_until(&s.calls, 37);
    assert_int_equal(s.ok, 37);
    assert_int_equal(xlen(r, "t:candidates"), 19);
    redisFree(c);
    forwarder_free(f);
    redis_up_stop(r);
}

/* A fresh batch whose XADD Redis refuses inside the transaction (the
 * stream key holds a string): EXEC runs, the batch is not delivered, it
 * is retried and spooled (nothing lost), and once the key is fixed the
 * spool replays it, once. */
static void stream_refused_inside_exec_is_spooled(void **state)
{
    struct redis_up *r = redis_up_start(NULL);
    struct redis_cfg rc = {.retry_ms = 10, .timeout_ms = 2000};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    redisContext *c;
    redisReply *rep;

    (void)state;
    assert_non_null(r);
    rc.socket = redis_up_socket(r);
    c = redisConnectUnix(redis_up_socket(r));
    rep = redisCommand(c, "SET t:candidates oops");
    freeReplyObject(rep);
    f = fwd_make(STREAM_CONF, &rc, true);
    fwd_send_recs(f, 0, 3, true, &s);
    fwd_run_until(&s.calls, 3);
    assert_int_equal(s.ok, 3); /* spooled: accepted, not lost */
    forwarder_get_stats(f, &st);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.spooled, 3);
    assert_false(st.up);
    rep = redisCommand(c, "DEL t:candidates");
    freeReplyObject(rep);
    drain_spool(f);
    assert_int_equal(xlen(r, "t:candidates"), 3);
    redisFree(c);
    forwarder_free(f);
    redis_up_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(file_kind_writes_json_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            file_short_write_leaves_no_partial_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(config_errors_are_collected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(capture_retries_then_delivers_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(exhausted_without_spool_hands_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(rejected_goes_to_dead_letter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dead_letter_unwritable_keeps_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(full_spool_logs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(spool_keeps_order_across_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(down_then_back_replays_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(spool_ack_failure_replays_nothing_twice,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_500_then_200_delivers_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_4xx_dead_letters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(webhook_unreachable_spools, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_exactly_once_and_replay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_refused_inside_exec_is_spooled,
                                        setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    if (forwarder_register(&forwarder_capture_ops) != IG_OK) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
