/* gateway_int.h — what the engine's own files (gateway.c, api.c) share.
 *
 * Nobody outside gateway.c and api.c includes this. The HTTP layer talks
 * to the engine through the few functions below, so it never touches the
 * pipeline's queues directly.
 */
#ifndef IG_GATEWAY_GATEWAY_INT_H
#define IG_GATEWAY_GATEWAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "gateway/gateway.h"

struct gw;
struct api;
struct ig_jsonw;
struct event_base;

/* Completion of a reload request: ok, and the JSON answer (generation,
 * errors). Called once, on the loop, after the coalesced reload ran. */
typedef void (*gw_reload_cb)(void *ud, bool ok, const struct ig_buf *body);
/* Requests a reload and calls cb with its outcome; cancel as for push. */
void gw_reload_request(struct gw *g, gw_reload_cb cb, void *ud, void **handle);
void gw_reload_cancel(struct gw *g, void *handle);

/* Counts one answered HTTP request (intake_http_requests_total). */
void gw_note_request(struct gw *g, const char *path, int code);
/* Counts an API connection the gateway closed itself: reason
 * "max_connections" (over the cap, unread) or "request_timeout". */
void gw_note_closed(struct gw *g, const char *reason);
/* Writes /metrics (refreshing the gauges first). */
void gw_metrics_text(struct gw *g, struct ig_buf *out);
/* Writes /healthz as a JSON object; returns true when healthy. */
bool gw_health_json(struct gw *g, struct ig_jsonw *w);
/* Writes /v1/sources as a JSON array. */
void gw_sources_json(struct gw *g, struct ig_jsonw *w);

/* --- api.c ------------------------------------------------------------ */

struct api_opts {
    const char *listen;      /* "host:port"; port 0 picks one */
    const char *push_token;  /* NULL: POST /v1/items disabled */
    const char *admin_token; /* NULL: POST /v1/reload disabled */
    size_t max_body;
    int64_t request_timeout_ms; /* whole request; 0: the default */
    int max_connections;        /* open at once; 0: the default */
};

/* Binds the listener on base. Returns IG_OK and *out, IG_EINVAL (bad
 * address) or IG_EIO (bind failed; reason logged). Loop thread. */
int api_new(struct event_base *base, struct gw *g, const struct api_opts *o,
            struct api **out);
/* The bound port. */
int api_port(const struct api *a);
/* Closes the listener and answers pending requests 503. NULL is a no-op.*/
void api_free(struct api *a);

#endif
