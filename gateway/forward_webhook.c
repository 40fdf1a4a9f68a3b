/* forward_webhook.c — the `webhook` forwarder: JSON batches over HTTP POST.
 *
 * One request per batch:
 *
 *     POST <url>
 *     Content-Type: application/json
 *     Idempotency-Key: <candidate id, or batch-<hash of the ids>-<n>>
 *     Authorization: Bearer <token>          (when token_ref is set)
 *
 *     {"batch":"<same key>","count":n,"candidates":[<record>, ...]}
 *
 * Each record carries its own "id", so a receiver can deduplicate per
 * candidate even when a replay regroups records into other batches. The
 * key stays the same across retries of one batch.
 *
 * Outcome: 2xx delivered; 408, 429, 5xx, timeouts and connection errors
 * IG_EAGAIN (Retry-After honoured, seconds or HTTP-date); other 4xx
 * IG_EREJECTED (the receiver said the records are wrong: dead letter,
 * never retried); anything else (1xx, 3xx: redirects are not followed, a
 * moved endpoint is a configuration problem) IG_EAGAIN so the records wait
 * in the spool for an operator instead of being dead-lettered.
 *
 * libcurl multi_socket on the gateway's event_base, after curl's
 * hiperfifo.c: curl tells us which sockets to watch and when to wake it;
 * libevent does the watching. fetch.c has the same glue for GETs; this is
 * a second, smaller copy because a POST with a body and per-request
 * headers is not what fetch.c's connector-shaped API offers.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/conf.h"
#include "gateway/forward_int.h"

#define WH_RESP_MAX 4096 /* response body kept for the dead-letter reason */
#define WH_WHY_BODY 200  /* of which the reason quotes this much */

struct wh_cfg {
    char *url;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    char *token_ref;
    struct ig_cfg_list header; /* MAP: header.Name = value */
    bool verify_tls;
};

#define W(f) offsetof(struct wh_cfg, f)
static const struct ig_cfg_field wh_schema[] = {
    {"url", IG_CFG_STR, NULL, W(url), "http(s) URL the batches are POSTed to",
     IG_CFG_F_REQUIRED, NULL},
    {"timeout", IG_CFG_DUR_MS, "10s", W(timeout_ms),
     "whole request; a timeout is retried", 0, NULL},
    {"connect_timeout", IG_CFG_DUR_MS, "3s", W(connect_timeout_ms),
     "TCP + TLS connect", 0, NULL},
    {"token_ref", IG_CFG_STR, NULL, W(token_ref),
     "bearer token reference: env:NAME or file:/path", IG_CFG_F_SECRET, NULL},
    {"header", IG_CFG_MAP, NULL, W(header),
     "extra request headers: header.X-Name = value", 0, NULL},
    {"verify_tls", IG_CFG_BOOL, "true", W(verify_tls),
     "verify the server certificate (https)", 0, NULL},
    {0},
};
#undef W

struct wh_xfer;

struct wh_ctx {
    struct forwarder *f;
    CURLM *multi;
    struct event *timer;
    struct curl_slist *base_hdrs; /* owned */
    char *token;                  /* owned: masked in answers we quote */
    struct wh_xfer *xfers;        /* in flight */
};

struct wh_xfer {
    struct wh_ctx *x;
    struct wh_xfer *next, *prev;
    CURL *easy;
    struct fwd_batch *b;
    struct ig_buf body;
    struct ig_buf resp;
    struct curl_slist *hdrs; /* owned: base + per-request */
    char retry_after[64];
};

struct wh_sock {
    struct event *ev;
};

static void xfer_free(struct wh_xfer *t)
{
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        t->x->xfers = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    curl_multi_remove_handle(t->x->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    ig_buf_fini(&t->body);
    ig_buf_fini(&t->resp);
    ig_free(t);
}

/* The start of the receiver's answer, fit for one log line and the
 * dead-letter file: the answer is the receiver's text, not ours, so line
 * breaks and other control bytes become spaces (a line of its own would
 * pass for a gateway log line) and the bearer token, should the receiver
 * echo the request back, is masked; a token that starts inside the quoted
 * part is matched whole, so no prefix of it survives at the cut. */
static void quote_answer(const struct wh_xfer *t, char *out, size_t cap)
{
    const char *tok = t->x->token;
    size_t tlen = tok ? strlen(tok) : 0;
    size_t i = 0, k = 0;

    while (i < t->resp.len && k + 1 < cap) {
        const char *p = t->resp.data + i;

        if (tlen && t->resp.len - i >= tlen && memcmp(p, tok, tlen) == 0) {
            k += (size_t)snprintf(out + k, cap - k, "***");
            k = k < cap ? k : cap - 1;
            i += tlen;
            continue;
        }
        out[k++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
        i++;
    }
    out[k] = '\0';
}

static void finish(struct wh_xfer *t, CURLcode res)
{
    long code = 0;
    char why[320];
    char answer[WH_WHY_BODY + 1];
    int st;
    int64_t ra = 0;

    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (res != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
        st = IG_EAGAIN;
    } else if (code >= 200 && code < 300) {
        st = IG_OK;
        why[0] = '\0';
    } else {
        /* 408 and 429 are the receiver asking us to come back; 5xx is the
         * receiver's own trouble. Other 4xx: the request itself is wrong. */
        bool transient =
            code == 408 || code == 429 || code >= 500 || code < 400;

        st = transient ? IG_EAGAIN : IG_EREJECTED;
        ra =
            forwarder_retry_after_ms(t->retry_after[0] ? t->retry_after : NULL);
        quote_answer(t, answer, sizeof(answer));
        snprintf(why, sizeof(why), "HTTP %ld%s%s", code, answer[0] ? ": " : "",
                 answer);
    }
    forwarder_batch_done(t->b, st, ra, why[0] ? why : NULL);
    xfer_free(t);
}

static void check_done(struct wh_ctx *x)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
        struct wh_xfer *t = NULL;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        finish(t, m->data.result);
    }
}

static void on_sock(evutil_socket_t fd, short what, void *ud)
{
    struct wh_ctx *x = ud;
    int flags = 0, running;

    if (what & EV_READ) {
        flags |= CURL_CSELECT_IN;
    }
    if (what & EV_WRITE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(x->multi, fd, flags, &running);
    check_done(x);
}

static void on_timer(evutil_socket_t fd, short what, void *ud)
{
    struct wh_ctx *x = ud;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(x->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(x);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
    struct wh_ctx *x = userp;
    struct wh_sock *k = sockp;
    short kind = EV_PERSIST;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            event_free(k->ev);
            ig_free(k);
            curl_multi_assign(x->multi, s, NULL);
        }
        return 0;
    }
    if (what & CURL_POLL_IN) {
        kind |= EV_READ;
    }
    if (what & CURL_POLL_OUT) {
        kind |= EV_WRITE;
    }
    if (!k) {
        k = ig_calloc(1, sizeof(*k));
        curl_multi_assign(x->multi, s, k);
    } else {
        event_free(k->ev);
    }
    k->ev = event_new(forwarder_base(x->f), s, kind, on_sock, x);
    event_add(k->ev, NULL);
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    struct wh_ctx *x = userp;
    struct timeval tv;

    (void)m;
    if (timeout_ms < 0) {
        evtimer_del(x->timer);
        return 0;
    }
    /* Never call back into curl from here: wake up on the loop instead. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(x->timer, &tv);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct wh_xfer *t = ud;
    size_t len = size * n;

    /* Keep the start of the answer for the log; the rest is read and
     * thrown away (the cap keeps a chatty receiver from filling memory). */
    if (t->resp.len < WH_RESP_MAX) {
        size_t k = WH_RESP_MAX - t->resp.len;

        ig_buf_add(&t->resp, p, len < k ? len : k);
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct wh_xfer *t = ud;
    size_t len = size * n;

    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        size_t k = len - 12;

        if (k >= sizeof(t->retry_after)) {
            k = sizeof(t->retry_after) - 1;
        }
        memcpy(t->retry_after, p + 12, k);
        t->retry_after[k] = '\0';
        t->retry_after[strcspn(t->retry_after, "\r\n")] = '\0';
    }
    return len;
}

static int wh_init(struct forwarder *f, struct ig_diags *d)
{
    struct wh_cfg *c = forwarder_cfg(f);
    const struct forwarder_env *env = forwarder_env(f);
    struct wh_ctx *x;
    char *token = NULL, *h;
    size_t i;
    int rc;

    if (strncmp(c->url, "http://", 7) != 0 &&
        strncmp(c->url, "https://", 8) != 0) {
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: url must be http:// or https://",
                     forwarder_name(f));
        return IG_EINVAL;
    }
    rc = gw_secret_read(c->token_ref, env->base_dir, &token);
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: token_ref cannot be read (%s)",
                     forwarder_name(f), ig_strerror(rc));
        return IG_EINVAL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    x = ig_calloc(1, sizeof(*x));
    x->f = f;
    x->multi = curl_multi_init();
    x->timer = evtimer_new(forwarder_base(f), on_timer, x);
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETDATA, x);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERDATA, x);
    x->base_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before each batch. */
    x->base_hdrs = curl_slist_append(x->base_hdrs, "Expect:");
    if (token) {
        h = ig_asprintf("Authorization: Bearer %s", token);
        x->base_hdrs = curl_slist_append(x->base_hdrs, h);
        memset(h, 0, strlen(h));
        ig_free(h);
        x->token = token;
    }
    for (i = 0; i < c->header.n; i++) {
        h = ig_asprintf("%s: %s", c->header.v[2 * i], c->header.v[2 * i + 1]);
        x->base_hdrs = curl_slist_append(x->base_hdrs, h);
        ig_free(h);
    }
    forwarder_set_ctx(f, x);
    return IG_OK;
}

static struct curl_slist *copy_hdrs(const struct curl_slist *s)
{
    struct curl_slist *out = NULL;

    for (; s; s = s->next) {
        out = curl_slist_append(out, s->data);
    }
    return out;
}

static void wh_send(struct forwarder *f, struct fwd_batch *b)
{
    struct wh_cfg *c = forwarder_cfg(f);
    struct wh_ctx *x = forwarder_ctx(f);
    struct wh_xfer *t = ig_calloc(1, sizeof(*t));
    size_t i, n = forwarder_batch_len(b);
    char *h;

    t->x = x;
    t->b = b;
    ig_buf_init(&t->body, 0);
    ig_buf_init(&t->resp, 0);
    ig_buf_addf(&t->body, "{\"batch\":\"%s\",\"count\":%zu,\"candidates\":[",
                forwarder_batch_key(b), n);
    for (i = 0; i < n; i++) {
        const struct fwd_rec *r = forwarder_batch_rec(b, i);

        if (i) {
            ig_buf_addc(&t->body, ',');
        }
        ig_buf_add(&t->body, r->json, r->len);
    }
    ig_buf_adds(&t->body, "]}");
    t->hdrs = copy_hdrs(x->base_hdrs);
    h = ig_asprintf("Idempotency-Key: %s", forwarder_batch_key(b));
    t->hdrs = curl_slist_append(t->hdrs, h);
    ig_free(h);

    t->easy = curl_easy_init();
    curl_easy_setopt(t->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body.data);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)t->body.len);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "intake-gateway");
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)c->connect_timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
    curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    t->next = x->xfers;
    if (x->xfers) {
        x->xfers->prev = t;
    }
    x->xfers = t;
    if (curl_multi_add_handle(x->multi, t->easy) != CURLM_OK) {
        forwarder_batch_done(b, IG_EAGAIN, 0, "curl_multi_add_handle failed");
        xfer_free(t);
    }
}

static void wh_fini(struct forwarder *f)
{
    struct wh_ctx *x = forwarder_ctx(f);

    if (!x) {
        return;
    }
    /* Abandon transfers in flight; the generic layer fails their records. */
    while (x->xfers) {
        xfer_free(x->xfers);
    }
    curl_multi_cleanup(x->multi);
    event_free(x->timer);
    curl_slist_free_all(x->base_hdrs);
    if (x->token) {
        memset(x->token, 0, strlen(x->token));
        ig_free(x->token);
    }
    ig_free(x);
    forwarder_set_ctx(f, NULL);
}

const struct forwarder_ops forwarder_webhook_ops = {
    .kind = "webhook",
    .schema = wh_schema,
    .cfg_size = sizeof(struct wh_cfg),
    .init = wh_init,
    .send = wh_send,
    .fini = wh_fini,
};
