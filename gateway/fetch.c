/* fetch.c — libcurl multi_socket on libevent (see fetch.h).
 *
 * The shape is curl's docs/examples/hiperfifo.c: libcurl tells us which
 * sockets to watch (socket callback) and when to wake it (timer callback);
 * libevent watches them and calls curl_multi_socket_action(); finished
 * transfers are collected with curl_multi_info_read(). No thread, no
 * blocking call.
 *
 * Redirects are followed here, not by libcurl (FOLLOWLOCATION off): each
 * Location is resolved with curl's URL API and checked for scheme
 * (http/https) and host:port (the request's own, or one allow-listed for
 * the source) before a new request is made. libcurl's own redirect
 * following checks only the protocol, and a feed redirecting to
 * http://127.0.0.1:1/admin is an SSRF; checking the connected address in
 * an open-socket callback was rejected because it sees IPs, not the
 * configured names.
 *
 * Body size: CURLOPT_MAXFILESIZE_LARGE sees only wire bytes (and only
 * when Content-Length is sent), so the write callback counts decompressed
 * bytes against max_bytes and aborts the transfer past it: a 1 MiB gzip
 * bomb stops at the cap instead of inflating 1 GiB.
 *
 * Per-host limit: transfers to a host:port over max_per_host wait in a
 * FIFO and start when one of that host's transfers ends.
 *
 * Content decoding is ours too (zlib; CURLOPT_HTTP_CONTENT_DECODING off):
 * libcurl reports success for a gzip stream cut short when Content-Length
 * matches the cut (hostile/http_gzip_truncated.http), and a parser may
 * then read a clean-looking prefix as a whole feed. Here a compressed
 * body that does not reach its end is an error, a body that is not what
 * its Content-Encoding says is an error, and gzip sent as "deflate" is
 * decoded (zlib's header auto-detection), as browsers do.
 */
#include "gateway/fetch.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#define FETCH_DEFAULT_MAX_BYTES (16 * 1024 * 1024)
#define FETCH_DEFAULT_REDIRECTS 5

struct hostslot {
    char *key; /* "host:port" */
    int active;
    struct hostslot *next;
};

struct fetch_xfer {
    struct fetch *f;
    CURL *easy;
    fetch_done_cb cb;
    void *ud;
    /* request (owned copies) */
    char *url;    /* current URL (after redirects) */
    char *origin; /* "host:port" of the first URL */
    char **headers;
    size_t nheaders;
    char *secret;        /* owned: the credentials header, or NULL */
    char *origin_scheme; /* owned: the first URL's scheme */
    bool secret_here;    /* the current URL is the origin: send it */
    char *etag, *last_modified;
    char **allow;
    size_t nallow;
    char *user_agent;
    char *log_name;
    int64_t connect_timeout_ms, timeout_ms, low_speed_bps, low_speed_ms;
    int64_t t0_ms; /* when the first request of the fetch started */
    int64_t max_bytes;
    int max_redirects;
    /* response */
    struct ig_buf body;
    bool over_cap;
    /* content decoding */
    int encoding; /* ENC_* of the current response */
    z_stream z;
    bool z_init, z_end;       /* inflate set up / stream reached its end */
    bool z_fed;               /* compressed bytes were seen */
    const char *decode_error; /* static text, or NULL */
    char *ctype, *resp_etag, *resp_lm;
    int64_t retry_after_s;
    int redirects;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *slist;
    struct hostslot *slot;
    bool queued, running;
    struct fetch_xfer *prev, *next; /* in f->queue or f->active */
};

struct fetch {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct fetch_opts o;
    char *user_agent;
    struct hostslot *slots;
    struct fetch_xfer *active;
    struct fetch_xfer *queue_head, *queue_tail;
    size_t nactive, nqueued;
    bool freeing;
};

struct sockinfo {
    struct event *ev;
    curl_socket_t fd;
};

static void check_done(struct fetch *f);
static void start_queued(struct fetch *f);

/* --- URL helpers ---------------------------------------------------------- */

/* host:port of url (lower-case host, default port by scheme), or NULL
 * when the URL is not http(s). */
static char *host_key(const char *url, char **scheme_out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *key = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
            CURLUE_OK) {
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        goto out;
    }
    for (char *p = host; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    key = ig_asprintf("%s:%s", host, port);
    if (scheme_out) {
        *scheme_out = ig_strdup(scheme);
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return key;
}

char *fetch_url_for_log(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL, *s = NULL;
    if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(u, CURLUPART_QUERY, NULL, 0);
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
        if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
            out = ig_strdup(s);
        }
        curl_free(s);
    }
    curl_url_cleanup(u);
    return out ? out : ig_strdup("(invalid url)");
}

static bool allowed_redirect(const struct fetch_xfer *x, const char *key)
{
    if (strcmp(key, x->origin) == 0) {
        return true;
    }
    for (size_t i = 0; i < x->nallow; i++) {
        const char *a = x->allow[i];
        size_t al = strlen(a);
        /* "host" allows any port of host; "host:port" exactly that. */
        if (strcasecmp(a, key) == 0 ||
            (!strchr(a, ':') && strncasecmp(a, key, al) == 0 &&
             key[al] == ':')) {
            return true;
        }
    }
    return false;
}

/* --- host slots ----------------------------------------------------------- */

static struct hostslot *slot_get(struct fetch *f, const char *key)
{
    for (struct hostslot *s = f->slots; s; s = s->next) {
        if (strcmp(s->key, key) == 0) {
            return s;
        }
    }
    struct hostslot *s = ig_calloc(1, sizeof(*s));
    s->key = ig_strdup(key);
    s->next = f->slots;
    f->slots = s;
    return s;
}

/* --- libcurl callbacks ---------------------------------------------------- */

enum { ENC_IDENTITY = 0, ENC_ZLIB, ENC_UNSUPPORTED };

static void decoder_reset(struct fetch_xfer *x)
{
    if (x->z_init) {
        inflateEnd(&x->z);
    }
    memset(&x->z, 0, sizeof(x->z));
    x->z_init = x->z_end = x->z_fed = false;
    x->decode_error = NULL;
    x->encoding = ENC_IDENTITY;
}

/* Appends decoded bytes; false past the cap. */
static bool keep(struct fetch_xfer *x, const void *p, size_t len)
{
    if (x->body.len + len > (size_t)x->max_bytes ||
        ig_buf_add(&x->body, p, len) < 0) {
        x->over_cap = true;
        return false;
    }
    return true;
}

/* Inflates one chunk. The cap is checked per 64 KiB of output, so a
 * bomb stops within one output block of max_bytes. */
static bool inflate_chunk(struct fetch_xfer *x, const char *p, size_t len)
{
    if (!x->z_init) {
        /* 15 + 32: zlib or gzip header, detected. */
        if (inflateInit2(&x->z, 15 + 32) != Z_OK) {
            x->decode_error = "cannot set up decompression";
            return false;
        }
        x->z_init = true;
    }
    x->z_fed = true;
    x->z.next_in = (Bytef *)(uintptr_t)p;
    x->z.avail_in = (uInt)len;
    unsigned char out[65536];
    while (x->z.avail_in > 0) {
        if (x->z_end) {
            /* Another gzip member follows (concatenated gzip). */
            if (inflateReset(&x->z) != Z_OK) {
                x->decode_error = "bad compressed body";
                return false;
            }
            x->z_end = false;
        }
        x->z.next_out = out;
        x->z.avail_out = sizeof(out);
        int zr = inflate(&x->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            x->decode_error = "body does not match its Content-Encoding";
            return false;
        }
        size_t got = sizeof(out) - x->z.avail_out;
        if (got && !keep(x, out, got)) {
            return false;
        }
        if (zr == Z_STREAM_END) {
            x->z_end = true;
        } else if (zr == Z_BUF_ERROR && got == 0) {
            break; /* needs more input */
        }
    }
    return true;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    struct fetch_xfer *x = ud;
    size_t len = sz * n;
    /* Returning less than len aborts with CURLE_WRITE_ERROR. */
    if (x->encoding == ENC_UNSUPPORTED) {
        x->decode_error = "unsupported Content-Encoding";
        return 0;
    }
    if (x->encoding == ENC_ZLIB) {
        return inflate_chunk(x, p, len) ? len : 0;
    }
    return keep(x, p, len) ? len : 0;
}

static char *header_value(const char *p, size_t len, size_t namelen)
{
    const char *v = p + namelen;
    const char *e = p + len;
    while (v < e && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) {
        e--;
    }
    return ig_strndup(v, (size_t)(e - v));
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct fetch_xfer *x = ud;
    size_t len = sz * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 1xx): forget earlier headers. */
        ig_free(x->resp_etag);
        ig_free(x->resp_lm);
        x->resp_etag = x->resp_lm = NULL;
        x->retry_after_s = -1;
        decoder_reset(x);
        return len;
    }
    if (len > 17 && strncasecmp(p, "Content-Encoding:", 17) == 0) {
        char *v = header_value(p, len, 17);
        if (strcasecmp(v, "gzip") == 0 || strcasecmp(v, "x-gzip") == 0 ||
            strcasecmp(v, "deflate") == 0) {
            x->encoding = ENC_ZLIB;
        } else if (*v && strcasecmp(v, "identity") != 0) {
            x->encoding = ENC_UNSUPPORTED;
        }
        ig_free(v);
        return len;
    }
    if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        ig_free(x->resp_etag);
        x->resp_etag = header_value(p, len, 5);
    } else if (len > 14 && strncasecmp(p, "Last-Modified:", 14) == 0) {
        ig_free(x->resp_lm);
        x->resp_lm = header_value(p, len, 14);
    } else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char *v = header_value(p, len, 12);
        char *end;
        long long s = strtoll(v, &end, 10);
        if (end != v && !*end && s >= 0) {
            x->retry_after_s = s;
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) {
                int64_t d = (int64_t)t - (int64_t)time(NULL);
                x->retry_after_s = d > 0 ? d : 0;
            }
        }
        ig_free(v);
    }
    return len;
}

static void on_event(evutil_socket_t fd, short kind, void *ud)
{
    struct fetch *f = ud;
    int action = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(f->multi, fd, action, &running);
    check_done(f);
}

static void on_timer(evutil_socket_t fd, short kind, void *ud)
{
    (void)fd;
    (void)kind;
    struct fetch *f = ud;
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(f);
}

static int multi_timer_cb(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    struct fetch *f = ud;
    if (timeout_ms < 0) {
        evtimer_del(f->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(f->timer, &tv);
    return 0;
}

static int multi_sock_cb(CURL *e, curl_socket_t s, int what, void *ud,
                         void *sockp)
{
    (void)e;
    struct fetch *f = ud;
    struct sockinfo *si = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (si) {
            event_free(si->ev);
            ig_free(si);
            curl_multi_assign(f->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!si) {
        si = ig_calloc(1, sizeof(*si));
        si->fd = s;
        curl_multi_assign(f->multi, s, si);
    } else {
        event_free(si->ev);
    }
    si->ev = event_new(f->base, s, kind, on_event, f);
    event_add(si->ev, NULL);
    return 0;
}

/* --- transfers ------------------------------------------------------------ */

static void list_remove(struct fetch *f, struct fetch_xfer *x)
{
    if (x->queued) {
        if (x->prev) {
            x->prev->next = x->next;
        } else {
            f->queue_head = x->next;
        }
        if (x->next) {
            x->next->prev = x->prev;
        } else {
            f->queue_tail = x->prev;
        }
        f->nqueued--;
        x->queued = false;
    } else if (x->running) {
        if (x->prev) {
            x->prev->next = x->next;
        } else {
            f->active = x->next;
        }
        if (x->next) {
            x->next->prev = x->prev;
        }
        f->nactive--;
        x->running = false;
        x->slot->active--;
    }
    x->prev = x->next = NULL;
}

static void xfer_free(struct fetch_xfer *x)
{
    if (x->easy) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->slist);
    decoder_reset(x);
    ig_buf_fini(&x->body);
    ig_free(x->url);
    ig_free(x->origin);
    for (size_t i = 0; i < x->nheaders; i++) {
        ig_free(x->headers[i]);
    }
    ig_free(x->headers);
    if (x->secret) {
        memset(x->secret, 0, strlen(x->secret));
        ig_free(x->secret);
    }
    ig_free(x->origin_scheme);
    for (size_t i = 0; i < x->nallow; i++) {
        ig_free(x->allow[i]);
    }
    ig_free(x->allow);
    ig_free(x->etag);
    ig_free(x->last_modified);
    ig_free(x->user_agent);
    ig_free(x->log_name);
    ig_free(x->ctype);
    ig_free(x->resp_etag);
    ig_free(x->resp_lm);
    ig_free(x);
}

/* Configures x->easy for x->url and adds it to the multi. */
static int easy_start(struct fetch *f, struct fetch_xfer *x)
{
    if (!x->easy) {
        x->easy = curl_easy_init();
        if (!x->easy) {
            return IG_EIO;
        }
    } else {
        curl_easy_reset(x->easy);
    }
    curl_slist_free_all(x->slist);
    x->slist = NULL;
    ig_buf_reset(&x->body);
    x->over_cap = false;
    decoder_reset(x);
    x->retry_after_s = -1;
    x->errbuf[0] = '\0';
    for (size_t i = 0; i < x->nheaders; i++) {
        x->slist = curl_slist_append(x->slist, x->headers[i]);
    }
    if (x->secret && x->secret_here) {
        x->slist = curl_slist_append(x->slist, x->secret);
    }
    /* Validators belong to the configured URL: not sent after a redirect. */
    if (x->redirects == 0 && x->etag) {
        char *h = ig_asprintf("If-None-Match: %s", x->etag);
        x->slist = curl_slist_append(x->slist, h);
        ig_free(h);
    }
    if (x->redirects == 0 && x->last_modified) {
        char *h = ig_asprintf("If-Modified-Since: %s", x->last_modified);
        x->slist = curl_slist_append(x->slist, h);
        ig_free(h);
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* Advertise what we decode, and decode it ourselves (see above). */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->slist);
    curl_easy_setopt(e, CURLOPT_USERAGENT, x->user_agent);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms);
    /* timeout bounds the whole fetch, redirects included: each hop gets
     * what the ones before it left (5 stalled hops must not take 6x). */
    if (x->redirects == 0) {
        x->t0_ms = ig_mono_ms();
    }
    int64_t left = x->timeout_ms - (ig_mono_ms() - x->t0_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
    if (x->low_speed_bps > 0 && x->low_speed_ms > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)x->low_speed_bps);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                         (long)((x->low_speed_ms + 999) / 1000));
    }
    /* The wire-size cap is a cheap early refusal when the server declares
     * a huge Content-Length; the real cap is in on_write. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        return IG_EIO;
    }
    return IG_OK;
}

static void finish(struct fetch *f, struct fetch_xfer *x, int rc, int status,
                   const char *error)
{
    list_remove(f, x);
    if (x->easy) {
        curl_multi_remove_handle(f->multi, x->easy);
    }
    struct fetch_result r = {
        .rc = rc,
        .status = status,
        .body = x->body.data ? x->body.data : "",
        .len = x->body.len,
        .content_type = x->ctype,
        .url = x->url,
        .etag = x->resp_etag,
        .last_modified = x->resp_lm,
        .retry_after_s =
            (status == 429 || status == 503) ? x->retry_after_s : -1,
        .error = error,
        .redirects = x->redirects,
    };
    if (rc == IG_OK && status >= 400 && !error) {
        r.error = status == 429   ? "HTTP 429 Too Many Requests"
                  : status >= 500 ? "HTTP server error"
                                  : "HTTP client error";
    }
    if (rc != IG_OK || status >= 400) {
        char *lu = fetch_url_for_log(x->url);
        ig_debug("fetch", "[%s] %s: %s (HTTP %d)",
                 x->log_name ? x->log_name : "-", lu,
                 r.error ? r.error : "error", status);
        ig_free(lu);
    }
    x->cb(x->ud, &r);
    xfer_free(x);
    if (!f->freeing) {
        start_queued(f);
    }
}

static int map_curl(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return IG_EAGAIN;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
        return IG_EREJECTED;
    case CURLE_FILESIZE_EXCEEDED:
        return IG_E2BIG;
    default:
        return IG_EIO;
    }
}

/* One finished easy transfer: redirect, or report. */
static void on_done(struct fetch *f, struct fetch_xfer *x, CURLcode res)
{
    char msg[CURL_ERROR_SIZE + 80];
    if (res == CURLE_OK && x->z_fed && !x->z_end && !x->decode_error) {
        x->decode_error = "compressed body truncated (the stream never "
                          "reached its end)";
    }
    if (x->decode_error && !x->over_cap) {
        /* The status line was read before the body (a bad body aborts
         * the transfer: res is then an error, the code still known). */
        long st = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 400) {
            /* An error answer's body is never read as items: its status
             * (and a 429/503's Retry-After) is what counts, whatever its
             * Content-Encoding claims. */
            ig_buf_reset(&x->body);
            finish(f, x, IG_OK, (int)st, NULL);
            return;
        }
        finish(f, x, IG_EREJECTED, 0, x->decode_error);
        return;
    }
    if (res != CURLE_OK) {
        if (x->over_cap || res == CURLE_FILESIZE_EXCEEDED) {
            snprintf(msg, sizeof(msg),
                     "response larger than max_bytes (%lld bytes, after "
                     "decompression)",
                     (long long)x->max_bytes);
            finish(f, x, IG_E2BIG, 0, msg);
            return;
        }
        snprintf(msg, sizeof(msg), "%s (curl %d)",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(res), (int)res);
        finish(f, x, map_curl(res), 0, msg);
        return;
    }
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *ct = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
    ig_free(x->ctype);
    x->ctype = ct ? ig_strdup(ct) : NULL;
    if (status >= 300 && status < 400 && status != 304) {
        const char *loc = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
        if (!loc) {
            finish(f, x, IG_EREJECTED, (int)status,
                   "redirect without a usable Location");
            return;
        }
        if (x->redirects >= x->max_redirects) {
            snprintf(msg, sizeof(msg), "too many redirects (more than %d)",
                     x->max_redirects);
            finish(f, x, IG_EREJECTED, (int)status, msg);
            return;
        }
        char *scheme = NULL;
        char *key = host_key(loc, &scheme);
        if (!key) {
            finish(f, x, IG_EREJECTED, (int)status,
                   "redirect to a non-http(s) URL refused");
            return;
        }
        if (!allowed_redirect(x, key)) {
            snprintf(msg, sizeof(msg),
                     "redirect to another host refused (%.100s; allow it "
                     "with redirect_hosts)",
                     key);
            ig_free(key);
            ig_free(scheme);
            finish(f, x, IG_EREJECTED, (int)status, msg);
            return;
        }
        /* The credentials follow only back to the origin itself. */
        x->secret_here = strcmp(key, x->origin) == 0 &&
                         strcmp(scheme, x->origin_scheme) == 0;
        ig_free(key);
        ig_free(scheme);
        char *next = ig_strdup(loc);
        curl_multi_remove_handle(f->multi, x->easy);
        ig_free(x->url);
        x->url = next;
        x->redirects++;
        if (easy_start(f, x) < 0) {
            finish(f, x, IG_EIO, 0, "cannot restart transfer");
        }
        return;
    }
    finish(f, x, IG_OK, (int)status, NULL);
}

static void check_done(struct fetch *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        struct fetch_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode res = m->data.result;
        if (x) {
            on_done(f, x, res);
        }
    }
}

static bool can_run(const struct fetch *f, const struct fetch_xfer *x)
{
    return x->slot->active < f->o.max_per_host &&
           (int)f->nactive < f->o.max_total;
}

/* Moves x to the active list and starts it. On failure x is back off
 * every list and IG_EIO is returned: the caller decides whether the
 * callback runs (never from inside fetch_start()). */
static int run(struct fetch *f, struct fetch_xfer *x)
{
    x->running = true;
    x->slot->active++;
    x->next = f->active;
    x->prev = NULL;
    if (f->active) {
        f->active->prev = x;
    }
    f->active = x;
    f->nactive++;
    if (easy_start(f, x) < 0) {
        list_remove(f, x);
        return IG_EIO;
    }
    return IG_OK;
}

static void start_queued(struct fetch *f)
{
    struct fetch_xfer *x = f->queue_head;
    while (x) {
        struct fetch_xfer *nx = x->next;
        if (can_run(f, x)) {
            list_remove(f, x);
            if (run(f, x) < 0) {
                finish(f, x, IG_EIO, 0, "cannot start transfer");
            }
        }
        x = nx;
    }
}

/* --- public --------------------------------------------------------------- */

struct fetch *fetch_new(struct event_base *base, const struct fetch_opts *o)
{
    static bool inited;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return NULL;
        }
        inited = true;
    }
    struct fetch *f = ig_calloc(1, sizeof(*f));
    f->base = base;
    if (o) {
        f->o = *o;
    }
    if (f->o.max_per_host <= 0) {
        f->o.max_per_host = 2;
    }
    if (f->o.max_total <= 0) {
        f->o.max_total = 32;
    }
    f->user_agent = ig_strdup(o && o->user_agent ? o->user_agent
                                                 : "intake/0.1 (hazard intake "
                                                   "gateway)");
    f->o.user_agent = NULL;
    f->multi = curl_multi_init();
    if (!f->multi) {
        ig_free(f->user_agent);
        ig_free(f);
        return NULL;
    }
    f->timer = evtimer_new(base, on_timer, f);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, multi_sock_cb);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

void fetch_free(struct fetch *f)
{
    if (!f) {
        return;
    }
    f->freeing = true;
    while (f->queue_head) {
        finish(f, f->queue_head, IG_EIO, 0, "cancelled");
    }
    while (f->active) {
        finish(f, f->active, IG_EIO, 0, "cancelled");
    }
    curl_multi_cleanup(f->multi);
    event_free(f->timer);
    while (f->slots) {
        struct hostslot *n = f->slots->next;
        ig_free(f->slots->key);
        ig_free(f->slots);
        f->slots = n;
    }
    ig_free(f->user_agent);
    ig_free(f);
}

int fetch_start(struct fetch *f, const struct fetch_req *req, fetch_done_cb cb,
                void *ud, struct fetch_xfer **out)
{
    if (out) {
        *out = NULL;
    }
    if (f->freeing) {
        return IG_EIO;
    }
    char *scheme = NULL;
    char *key = req->url ? host_key(req->url, &scheme) : NULL;
    if (!key) {
        return IG_EINVAL;
    }
    struct fetch_xfer *x = ig_calloc(1, sizeof(*x));
    x->f = f;
    x->cb = cb;
    x->ud = ud;
    x->url = ig_strdup(req->url);
    x->origin = key;
    x->origin_scheme = scheme;
    if (req->secret_header) {
        x->secret = ig_strdup(req->secret_header);
        x->secret_here = true;
    }
    x->slot = slot_get(f, key);
    if (req->nheaders) {
        x->headers = ig_malloc(req->nheaders * sizeof(char *));
        for (size_t i = 0; i < req->nheaders; i++) {
            x->headers[i] = ig_strdup(req->headers[i]);
        }
        x->nheaders = req->nheaders;
    }
    if (req->nallow_hosts) {
        x->allow = ig_malloc(req->nallow_hosts * sizeof(char *));
        for (size_t i = 0; i < req->nallow_hosts; i++) {
            x->allow[i] = ig_strdup(req->allow_hosts[i]);
        }
        x->nallow = req->nallow_hosts;
    }
    x->etag = req->etag ? ig_strdup(req->etag) : NULL;
    x->last_modified =
        req->last_modified ? ig_strdup(req->last_modified) : NULL;
    x->user_agent =
        ig_strdup(req->user_agent ? req->user_agent : f->user_agent);
    x->log_name = req->log_name ? ig_strdup(req->log_name) : NULL;
    x->connect_timeout_ms =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000;
    x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 60000;
    x->low_speed_bps = req->low_speed_bps;
    x->low_speed_ms = req->low_speed_ms;
    x->max_bytes =
        req->max_bytes > 0 ? req->max_bytes : FETCH_DEFAULT_MAX_BYTES;
    x->max_redirects = req->max_redirects == 0  ? FETCH_DEFAULT_REDIRECTS
                       : req->max_redirects < 0 ? 0
                                                : req->max_redirects;
    if (x->max_redirects > FETCH_DEFAULT_REDIRECTS) {
        x->max_redirects = FETCH_DEFAULT_REDIRECTS;
    }
    x->retry_after_s = -1;
    /* The body buffer may exceed max_bytes by nothing: on_write checks
     * first; the buffer cap is a second fence. */
    ig_buf_init(&x->body, (size_t)x->max_bytes);
    if (out) {
        *out = x;
    }
    if (can_run(f, x)) {
        if (run(f, x) < 0) {
            if (out) {
                *out = NULL;
            }
            xfer_free(x);
            return IG_EIO;
        }
    } else {
        x->queued = true;
        x->prev = f->queue_tail;
        if (f->queue_tail) {
            f->queue_tail->next = x;
        } else {
            f->queue_head = x;
        }
        f->queue_tail = x;
        f->nqueued++;
    }
    return IG_OK;
}

void fetch_cancel(struct fetch *f, struct fetch_xfer *x)
{
    if (x) {
        finish(f, x, IG_EIO, 0, "cancelled");
    }
}

size_t fetch_active(const struct fetch *f)
{
    return f->nactive + f->nqueued;
}
