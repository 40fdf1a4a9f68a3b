/* test_webhook.c — the webhook forwarder against a real HTTP receiver: an
 * evhttp server on the test's own loop that answers each request as its
 * script says (a status, a Retry-After, a large body, a dropped connection
 * after reading the body, no answer at all), with libcurl on the same
 * loop. test_forward.c covers the plain 500/429/200 and 400 paths; the
 * cases here are the ones where a record could be lost or sent twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/cfg.h"
#include "core/clock.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/forward.h"
#include "gateway/forward_int.h"
#include "gateway/spool.h"
#include "tests/lib/fwd_fixture.h"

static int setup(void **state)
{
    (void)state;
    return fwd_fx_setup("test-webhook");
}

static int teardown(void **state)
{
    (void)state;
    return fwd_fx_teardown();
}

/* --- the receiver --------------------------------------------------------- */

/* What the receiver does with one request. */
enum act {
    ACT_REPLY, /* answer status (200 when 0) */
    ACT_DROP,  /* read the whole body, then close without an answer */
    ACT_HOLD,  /* read the body and never answer */
};

struct step {
    enum act act;
    int status;
    const char *retry_after; /* Retry-After value, or NULL */
    size_t body_len;         /* answer body of this many 'x' */
    const char *body;        /* or this text */
};

#define HOOK_MAX 16

struct hook {
    struct evhttp *http;
    int port;
    struct step steps[HOOK_MAX]; /* per request, in order; then 200 */
    int nsteps;
    int hits;
    int64_t at_ms[HOOK_MAX]; /* when each request arrived */
    char keys[HOOK_MAX][64];
    char bodies[HOOK_MAX][512];
    int accepted; /* requests answered 2xx */
    struct evhttp_request *held;
    const char *reject; /* after the steps: 422 to bodies containing this */
    char accepted_ids[HOOK_MAX][64]; /* Idempotency-Key of each 2xx */
};

static void on_hook(struct evhttp_request *req, void *ud)
{
    struct hook *h = ud;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    const char *key = evhttp_find_header(in, "Idempotency-Key");
    struct step st = {0};
    int i = h->hits++;
    size_t n = evbuffer_get_length(body);

    if (i < h->nsteps) {
        st = h->steps[i];
    }
    if (i < HOOK_MAX) {
        h->at_ms[i] = ig_mono_ms();
        snprintf(h->keys[i], sizeof(h->keys[0]), "%s", key ? key : "");
        if (n >= sizeof(h->bodies[0])) {
            n = sizeof(h->bodies[0]) - 1;
        }
        evbuffer_copyout(body, h->bodies[i], n);
        h->bodies[i][n] = '\0';
    }
    if (i >= h->nsteps && h->reject && i < HOOK_MAX &&
        strstr(h->bodies[i], h->reject)) {
        st.status = 422;
        st.body = "record refused";
    }
    if (st.act == ACT_DROP) {
        /* The body has been read (evhttp calls us with the whole request):
         * the receiver may have stored it; the client never hears so. */
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        evutil_socket_t fd =
            bufferevent_getfd(evhttp_connection_get_bufferevent(c));

        shutdown(fd, SHUT_RDWR);
        return;
    }
    if (st.act == ACT_HOLD) {
        h->held = req;
        return;
    }
    if (!st.status) {
        st.status = 200;
    }
    if (st.status >= 200 && st.status < 300) {
        if (h->accepted < HOOK_MAX) {
            snprintf(h->accepted_ids[h->accepted], sizeof(h->accepted_ids[0]),
                     "%s", key ? key : "");
        }
        h->accepted++;
    }
    if (st.retry_after) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
                          st.retry_after);
    }
    if (st.body_len || st.body) {
        struct evbuffer *out = evbuffer_new();

        if (st.body) {
            evbuffer_add(out, st.body, strlen(st.body));
        }
        for (size_t k = 0; k < st.body_len; k += 4096) {
            static const char xs[4096] = {[0 ... 4095] = 'x'};
            size_t m = st.body_len - k < 4096 ? st.body_len - k : 4096;

            evbuffer_add(out, xs, m);
        }
        evhttp_send_reply(req, st.status, "Status", out);
        evbuffer_free(out);
        return;
    }
    evhttp_send_reply(req, st.status, "Status", NULL);
}

static void hook_start(struct hook *h)
{
    h->http = fwd_receiver(on_hook, h, &h->port);
}

static struct forwarder *make_hook(const struct hook *h, const char *extra,
                                   bool spool)
{
    return fwd_make_hook(h->port, extra, spool);
}

/* --- cases ---------------------------------------------------------------- */

/* The receiver reads a batch, then the connection drops before it answers:
 * the batch may or may not have been stored, so it is sent again with the
 * same Idempotency-Key and the same records, and completes once. */
static void dropped_after_body_retried_with_same_key(void **state)
{
    struct hook h = {.steps = {{.act = ACT_DROP}, {.act = ACT_DROP}},
                     .nsteps = 2};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;

    (void)state;
    hook_start(&h);
    f = make_hook(&h, "batch_max = 10\n", false);
    fwd_send_n(f, 0, 3, &s);
    fwd_run_until(&s.calls, 3);
    assert_int_equal(s.ok, 3);
    assert_int_equal(h.hits, 3);
    assert_int_equal(h.accepted, 1);
    assert_true(strncmp(h.keys[0], "batch-", 6) == 0);
    assert_string_equal(h.keys[0], h.keys[1]);
    assert_string_equal(h.keys[1], h.keys[2]);
    assert_string_equal(h.bodies[0], h.bodies[2]);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.retries, 2);
    forwarder_free(f);
    evhttp_free(h.http);
}

/* 503 with Retry-After in seconds: the next attempt waits at least that
 * long, although the backoff is 1 ms. */
static void retry_after_seconds_is_honoured(void **state)
{
    struct hook h = {.steps = {{.status = 503, .retry_after = "1"}},
                     .nsteps = 1};
    struct forwarder *f;
    struct fwd_sink s = {0};

    (void)state;
    hook_start(&h);
    f = make_hook(&h, NULL, false);
    fwd_send_n(f, 0, 1, &s);
    fwd_run_until(&s.calls, 1);
    assert_int_equal(s.ok, 1);
    assert_int_equal(h.hits, 2);
    assert_true(h.at_ms[1] - h.at_ms[0] >= 950);
    forwarder_free(f);
    evhttp_free(h.http);
}

/* 429 with Retry-After as an HTTP-date two seconds ahead. */
static void retry_after_http_date_is_honoured(void **state)
{
    struct hook h = {.nsteps = 1};
    struct forwarder *f;
    struct fwd_sink s = {0};
    char date[64];
    time_t at = time(NULL) + 2;
    struct tm tm;

    (void)state;
    gmtime_r(&at, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    h.steps[0] = (struct step){.status = 429, .retry_after = date};
    hook_start(&h);
    f = make_hook(&h, NULL, false);
    fwd_send_n(f, 0, 1, &s);
    fwd_run_until(&s.calls, 1);
    assert_int_equal(s.ok, 1);
    assert_int_equal(h.hits, 2);
    /* Whole seconds: at least one of the two has passed. */
    assert_true(h.at_ms[1] - h.at_ms[0] >= 1000);
    forwarder_free(f);
    evhttp_free(h.http);
}

/* Retry-After as an HTTP-date far in the future is capped at a day, as
 * the delta-seconds form is: a misbehaving server must not park the
 * forwarder for years. */
static void retry_after_http_date_is_capped(void **state)
{
    char date[64];
    time_t at = time(NULL) + 10 * 86400;
    struct tm tm;
    int64_t ms;

    (void)state;
    gmtime_r(&at, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    assert_int_equal(forwarder_retry_after_ms(date), 86400 * 1000LL);
    assert_int_equal(forwarder_retry_after_ms("Fri, 01 Jan 2999 00:00:00 GMT"),
                     86400 * 1000LL);
    assert_int_equal(forwarder_retry_after_ms("9999999"), 86400 * 1000LL);
    /* Below the cap the date still counts in full. */
    at = time(NULL) + 3600;
    gmtime_r(&at, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ms = forwarder_retry_after_ms(date);
    assert_true(ms > 3590 * 1000LL && ms <= 3600 * 1000LL);
}

/* One record the receiver refuses (422) in a batch of five: the batch is
 * sent again record by record, in order, each with its own id as key, and
 * only the refused record is dead-lettered; the other four are delivered.
 * Live (first) and replayed from the spool (second) alike. */
static void one_bad_record_dead_letters_only_itself(void **state)
{
    static const char *const want[] = {"c0000", "c0001", "c0003", "c0004"};
    struct hook h = {.reject = "\"c0002\""};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;
    char path[400];
    char *dl;
    int i;

    (void)state;
    alarm(20);
    hook_start(&h);
    f = make_hook(&h, "batch_max = 10\nconcurrency = 1\n", false);
    fwd_send_n(f, 0, 5, &s);
    fwd_run_until(&s.calls, 5);
    assert_int_equal(s.ok, 4);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(h.hits, 6); /* the batch, then each record alone */
    assert_true(strncmp(h.keys[0], "batch-", 6) == 0);
    for (i = 0; i < 5; i++) {
        char id[16];

        snprintf(id, sizeof(id), "c%04d", i);
        assert_string_equal(h.keys[1 + i], id);
    }
    for (i = 0; i < 4; i++) {
        assert_string_equal(h.accepted_ids[i], want[i]);
    }
    dl = fwd_slurp("dead-letter-hook.jsonl");
    assert_int_equal(fwd_count_lines(dl), 1);
    assert_non_null(strstr(dl, "\"id\":\"c0002\""));
    forwarder_free(f);
    evhttp_free(h.http);
    snprintf(path, sizeof(path), "%s/dead-letter-hook.jsonl", fwd_dir);
    assert_int_equal(unlink(path), 0);

    /* From the spool: the first attempt fails (500), the batch is spooled,
     * the replay is refused and split the same way. */
    memset(&h, 0, sizeof(h));
    h.reject = "\"c0002\"";
    h.nsteps = 4; /* the attempt and its three retries */
    for (i = 0; i < h.nsteps; i++) {
        h.steps[i] = (struct step){.status = 500};
    }
    memset(&s, 0, sizeof(s));
    hook_start(&h);
    f = make_hook(&h, "batch_max = 10\nconcurrency = 1\n", true);
    fwd_send_n(f, 0, 5, &s);
    fwd_run_until(&s.calls, 5);
    assert_int_equal(s.ok, 5); /* spooled */
    for (;;) {
        forwarder_get_stats(f, &st);
        if (st.spool_records == 0) {
            break;
        }
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    assert_int_equal(h.accepted, 4);
    for (i = 0; i < 4; i++) {
        assert_string_equal(h.accepted_ids[i], want[i]);
    }
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.replayed, 4);
    dl = fwd_slurp("dead-letter-hook.jsonl");
    assert_int_equal(fwd_count_lines(dl), 1);
    assert_non_null(strstr(dl, "\"id\":\"c0002\""));
    forwarder_free(f);
    evhttp_free(h.http);
    alarm(0);
}

/* A redirect is not followed and not a rejection: the records wait in the
 * spool for an operator, none is dead-lettered. */
static void redirect_is_spooled_not_dead_lettered(void **state)
{
    struct hook h = {.nsteps = 4};
    struct forwarder *f;
    struct fwd_sink s = {0};
    struct forwarder_stats st;

    (void)state;
    for (int i = 0; i < 4; i++) {
        h.steps[i] = (struct step){.status = 307};
    }
    hook_start(&h);
    f = make_hook(&h, "backoff_max = 10s\n", true);
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.ok, 2);
    assert_int_equal(s.rejected, 0);
    forwarder_get_stats(f, &st);
    assert_int_equal(st.spooled, 2);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(h.hits, 4); /* 1 + 3 retries, never a redirect hop */
    assert_int_equal(fwd_count_lines(fwd_slurp("dead-letter-hook.jsonl")), 0);
    forwarder_free(f);
    evhttp_free(h.http);
}

/* A chatty receiver: a 400 with a 1 MiB body. The reason keeps the start
 * of the body only; the records are dead-lettered once each. */
static void huge_error_body_is_capped(void **state)
{
    /* The batch, then each record alone (a rejected batch is split). */
    struct hook h = {.steps = {{.status = 400, .body_len = 1 << 20},
                               {.status = 400, .body_len = 1 << 20},
                               {.status = 400, .body_len = 1 << 20}},
                     .nsteps = 3};
    struct forwarder *f;
    struct fwd_sink s = {0};
    char *dl;

    (void)state;
    hook_start(&h);
    f = make_hook(&h, NULL, false);
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.rejected, 2);
    dl = fwd_slurp("dead-letter-hook.jsonl");
    assert_int_equal(fwd_count_lines(dl), 2);
    assert_true(strlen(dl) < 4096);
    assert_non_null(strstr(dl, "\"reason\":\"HTTP 400: xxx"));
    forwarder_free(f);
    evhttp_free(h.http);
}

/* The receiver takes longer than `timeout`: the attempt is abandoned and
 * repeated with the same key and body (it may have been stored). */
static void timeout_retried_with_same_key(void **state)
{
    struct hook h = {.steps = {{.act = ACT_HOLD}}, .nsteps = 1};
    struct forwarder *f;
    struct fwd_sink s = {0};

    (void)state;
    hook_start(&h);
    f = make_hook(&h, "timeout = 300ms\n", false);
    fwd_send_n(f, 0, 2, &s);
    fwd_run_until(&s.calls, 2);
    assert_int_equal(s.ok, 2);
    assert_int_equal(h.hits, 2);
    assert_int_equal(h.accepted, 1);
    assert_true(h.at_ms[1] - h.at_ms[0] >= 290);
    assert_string_equal(h.keys[0], h.keys[1]);
    assert_string_equal(h.bodies[0], h.bodies[1]);
    forwarder_free(f);
    evhttp_free(h.http);
}

/* The gateway stops while a request is in flight (SIGTERM after the drain
 * timeout): the records come back IG_EAGAIN (the source keeps them), the
 * curl handle and its socket are released (ASan's leak check). */
static void stop_with_request_in_flight_hands_back(void **state)
{
    struct hook h = {.steps = {{.act = ACT_HOLD}}, .nsteps = 1};
    struct forwarder *f;
    struct fwd_sink s = {0};

    (void)state;
    hook_start(&h);
    f = make_hook(&h, NULL, true);
    fwd_send_n(f, 0, 3, &s);
    while (h.hits < 1) {
        event_base_loop(fwd_base, EVLOOP_ONCE);
    }
    assert_int_equal(s.calls, 0);
    forwarder_free(f);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.again, 3);
    evhttp_free(h.http);
}

/* The receiver's answer is quoted in the log and the dead-letter file: the
 * bearer token never gets there, even when the receiver echoes the request
 * back, and the answer's line breaks cannot start a log line of their own. */
static void answer_quoted_without_token_or_line_breaks(void **state)
{
    struct hook h = {.nsteps = 1};
    struct forwarder *f;
    struct fwd_sink s = {0};
    char logpath[400];
    char *txt;
    int fd;

    (void)state;
    setenv("TEST_WH_TOKEN", "sekrit-token-42", 1);
    h.steps[0] = (struct step){.status = 422,
                               .body = "bad record:\r\nAuthorization: Bearer "
                                       "sekrit-token-42\nintake: forged"};
    snprintf(logpath, sizeof(logpath), "%s/log.txt", fwd_dir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    ig_log_set_fd(fd);
    hook_start(&h);
    f = make_hook(&h, "token_ref = env:TEST_WH_TOKEN\n", false);
    fwd_send_n(f, 0, 1, &s);
    fwd_run_until(&s.calls, 1);
    forwarder_free(f);
    evhttp_free(h.http);
    ig_log_set_fd(2);
    close(fd);
    assert_int_equal(s.rejected, 1);
    txt = fwd_slurp("log.txt");
    assert_null(strstr(txt, "sekrit-token-42"));
    assert_null(strstr(txt, "\nintake: forged"));
    assert_non_null(strstr(txt, "Bearer ***"));
    txt = fwd_slurp("dead-letter-hook.jsonl");
    assert_int_equal(fwd_count_lines(txt), 1);
    assert_null(strstr(txt, "sekrit-token-42"));
    assert_non_null(strstr(txt, "\"reason\":\"HTTP 422: bad record:  "
                                "Authorization: Bearer *** intake: forged\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            dropped_after_body_retried_with_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_seconds_is_honoured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(retry_after_http_date_is_honoured,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_http_date_is_capped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(one_bad_record_dead_letters_only_itself,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(redirect_is_spooled_not_dead_lettered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(huge_error_body_is_capped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(timeout_retried_with_same_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop_with_request_in_flight_hands_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            answer_quoted_without_token_or_line_breaks, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
