/* fetch.h — HTTP fetching for the connectors: libcurl multi on libevent.
 *
 * One struct fetch drives many transfers on the caller's event_base
 * through libcurl's multi_socket interface (curl's hiperfifo.c pattern):
 * one thread, no blocking. libcurl stays inside fetch.c.
 *
 * Politeness and safety, applied to every transfer:
 * - http and https only, also after redirects; redirects are followed by
 *   fetch.c itself (at most max_redirects, default 5) and only to the
 *   request's own host:port or one of req->allow_hosts, so a feed cannot
 *   send us to 127.0.0.1 or file:///etc/passwd;
 * - gzip/deflate accepted and decoded by fetch.c (zlib): the DECOMPRESSED
 *   size is capped as it is produced (a 1 MiB gzip bomb cannot inflate to
 *   1 GiB in memory), a compressed body that never reaches its end or
 *   does not match its Content-Encoding is an error (IG_EREJECTED);
 * - connect, total and low-speed timeouts;
 * - conditional GET when the caller passes validators (ETag,
 *   Last-Modified): a 304 comes back as status 304 with an empty body;
 * - 429 and 503 with Retry-After: the delay is returned to the caller;
 * - per-host concurrency limit: transfers over it wait in a queue;
 * - proxy from the environment (http_proxy, https_proxy, no_proxy), as
 *   libcurl reads it;
 * - nothing with credentials is logged: URLs are logged without their
 *   query string and request headers never.
 */
#ifndef IG_GATEWAY_FETCH_H
#define IG_GATEWAY_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fetch;
struct fetch_xfer;

struct fetch_opts {
    int max_per_host;       /* concurrent transfers per host:port; 0: 2 */
    int max_total;          /* concurrent transfers overall; 0: 32 */
    const char *user_agent; /* borrowed; NULL: "intake/<version>" */
};

struct fetch_req {
    const char *url;            /* absolute http(s) URL */
    const char *const *headers; /* "Name: value"; may hold secrets */
    size_t nheaders;
    /* "Name: value" of the source's credentials: sent to the request's
     * own scheme, host and port only — not after a redirect elsewhere
     * (another host, or https to http), whatever redirect_hosts allows */
    const char *secret_header;
    const char *etag;           /* validator or NULL */
    const char *last_modified;  /* validator or NULL */
    int64_t connect_timeout_ms; /* 0: 10 s */
    int64_t timeout_ms;         /* 0: 60 s */
    int64_t low_speed_bps;      /* 0: no low-speed limit */
    int64_t low_speed_ms;
    int64_t max_bytes;              /* decompressed cap; 0: 16 MiB */
    int max_redirects;              /* 0: 5; negative: none followed */
    const char *const *allow_hosts; /* extra "host[:port]" for redirects */
    size_t nallow_hosts;
    const char *user_agent; /* NULL: fetch_opts.user_agent */
    const char *log_name;   /* source id for log lines */
};

struct fetch_result {
    int rc;           /* IG_OK when an HTTP response arrived (any
                       * status); else IG_EAGAIN (timeout, reset,
                       * DNS: retry later), IG_E2BIG (over
                       * max_bytes), IG_EREJECTED (bad redirect,
                       * protocol, too many redirects, bad content
                       * encoding), IG_EIO (other) */
    int status;       /* last HTTP status, 0 when none */
    const char *body; /* decompressed bytes, NUL-terminated; the
                       * body may itself hold NULs: use len */
    size_t len;
    const char *content_type; /* or NULL */
    const char *url;          /* effective URL after redirects */
    const char *etag;         /* response validators, or NULL */
    const char *last_modified;
    int64_t retry_after_s; /* from Retry-After on 429/503, else -1 */
    const char *error;     /* human text for rc != IG_OK or status >= 400
                            * (no secrets), else NULL */
    int redirects;         /* redirects followed */
};

/* Called exactly once per fetch_start() that returned IG_OK: when the
 * transfer ends, fails, is cancelled (rc IG_EIO, error "cancelled") or the
 * fetch is freed. r and everything in it are *borrowed*: valid until the
 * callback returns; copy to keep. Runs on the loop thread; it may start
 * new transfers but must not call fetch_free(). */
typedef void (*fetch_done_cb)(void *ud, const struct fetch_result *r);

/* Creates a fetcher on base (borrowed; must outlive the fetcher). Calls
 * curl_global_init once per process. Returns NULL only when libcurl cannot
 * be initialised. Loop thread. */
struct fetch *fetch_new(struct event_base *base, const struct fetch_opts *o);

/* Frees the fetcher: every transfer still running or queued gets its
 * callback with rc IG_EIO, error "cancelled". NULL is a no-op. */
void fetch_free(struct fetch *f);

/* Starts (or queues, over the host limit) a GET of req. req and its
 * strings are copied. Returns IG_OK (cb will be called exactly once, never
 * from inside fetch_start) and the transfer handle in *out (may be NULL if
 * not wanted; valid until cb runs), IG_EINVAL when the URL is not
 * http(s), or IG_EIO when libcurl refuses the transfer or the fetcher is
 * being freed (in both cases cb will not be called). */
int fetch_start(struct fetch *f, const struct fetch_req *req, fetch_done_cb cb,
                void *ud, struct fetch_xfer **out);

/* Cancels a transfer: its callback runs now with rc IG_EIO, "cancelled". */
void fetch_cancel(struct fetch *f, struct fetch_xfer *x);

/* Transfers running plus queued. */
size_t fetch_active(const struct fetch *f);

/* URL without userinfo, query and fragment, for logs (ig_free). */
char *fetch_url_for_log(const char *url);

#endif
