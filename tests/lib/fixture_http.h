/* fixture_http.h — a real, small HTTP/1.1 server for tests.
 *
 * Listens on 127.0.0.1, port 0 (the kernel picks a free one), in its own
 * thread; each connection is served by a short-lived thread, so a stalled
 * response never blocks the others. One request per connection
 * (Connection: close). It serves:
 *
 * - files under root: GET /a/b.xml -> ROOT/a/b.xml, with a Content-Type
 *   from the extension, an ETag (content hash) and Last-Modified, and 304
 *   for a matching If-None-Match / If-Modified-Since;
 * - raw replays: a file ending in ".http" is written verbatim (status line,
 *   headers, body: /work/shared/hostile/http_*.http), then the connection
 *   is closed;
 * - behaviour by query parameter on any file:
 *     status=N        answer N (with the file as body unless 304)
 *     retry_after=S   add Retry-After: S
 *     stall_ms=N      wait N ms before answering (timeouts)
 *     trickle_ms=N    send the body one byte every N ms (low-speed limit)
 *     ctype=T         Content-Type to send (lie about encodings)
 *     gzip=1          gzip the body, Content-Encoding: gzip
 *     redirect=URL    answer 302 with Location: URL
 *     noetag=1        send no validators
 * - absolute-form requests ("GET http://host/path"), so it can stand in
 *   for an HTTP proxy (http_proxy=http://127.0.0.1:PORT);
 * - routes added with fixture_http_route() (or lines of ROOT/routes.txt in
 *   the standalone binary), matched first, for paging and status
 *   sequences.
 *
 * Every request head is recorded; tests read hits and the last head per
 * path. Standalone: `fixture_http --root DIR --port-file F [--port N]`
 * writes the port to F and serves until SIGTERM/SIGINT.
 */
#ifndef IG_TESTS_LIB_FIXTURE_HTTP_H
#define IG_TESTS_LIB_FIXTURE_HTTP_H

#include <stddef.h>

struct fixture_http;

/* Starts a server for root (copied). port 0 = any free port. Returns NULL
 * when it cannot listen. */
struct fixture_http *fixture_http_start(const char *root, int port);

/* Stops listening, waits for the connection threads, frees. NULL ok. */
void fixture_http_stop(struct fixture_http *s);

int fixture_http_port(const struct fixture_http *s);

/* "http://127.0.0.1:PORT" + path, malloc'd (free()). */
char *fixture_http_url(const struct fixture_http *s, const char *path);

/* Adds a route, tried in the order added: a GET of path whose query
 * contains query_has (NULL or "" = any query; "-" = no query at all) is
 * answered with file (relative to root, or absolute), status (0 = 200)
 * and ctype (NULL = from the extension). times > 0 limits how often the
 * route applies; afterwards the next matching route (or plain file
 * serving) answers. A ".http" file is replayed raw. */
void fixture_http_route(struct fixture_http *s, const char *path,
                        const char *query_has, const char *file, int status,
                        const char *ctype, int times);

/* Requests received for path (query ignored); NULL path = all. */
size_t fixture_http_hits(struct fixture_http *s, const char *path);

/* The largest number of requests in flight at the same time so far (read
 * but not yet answered; for concurrency-limit tests). */
int fixture_http_max_active(struct fixture_http *s);

/* The last request head received for path (NULL = any), malloc'd, or
 * NULL when none. */
char *fixture_http_last_head(struct fixture_http *s, const char *path);

/* A test group's setup: a private temp dir "/tmp/ig-test-<tag>-XXXXXX"
 * (its name into tmp[tmpsz]) and a server on the shared folder in *srv;
 * loopback is kept off any proxy (no_proxy). 0, or -1 when either cannot
 * be made. */
int fixture_http_setup(const char *tag, char *tmp, size_t tmpsz,
                       struct fixture_http **srv);

/* Its teardown: stops srv and removes tmp. 0, or -1 when removing fails. */
int fixture_http_teardown(struct fixture_http *srv, const char *tmp);

#endif
