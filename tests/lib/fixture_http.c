/* fixture_http.c — the tests' HTTP/1.1 fixture server (see fixture_http.h).
 *
 * Deliberately plain: blocking sockets, one thread per connection, one
 * request per connection, files read whole (fixtures are small; the raw
 * gzip bomb is ~1 MiB). It is a test tool, so it favours being obviously
 * correct over being fast, and it answers exactly what it is told to,
 * including lies (wrong encodings, short bodies) that a real server would
 * never send. With -DFIXTURE_HTTP_MAIN it builds the standalone binary.
 */
#include "tests/lib/fixture_http.h"
#include "tests/lib/test_dirs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

struct route {
    char *path, *query_has, *file, *ctype;
    int status, times;
};

struct hitrec {
    char *path;
    char *head;
    size_t n;
};

struct fixture_http {
    char *root;
    int fd, port;
    pthread_t thr;
    atomic_int stop; /* read by the accept and connection threads */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active;
    int inflight, max_inflight; /* requests read, not yet answered */
    struct route *routes;
    size_t nroutes;
    struct hitrec *hits;
    size_t nhits;
    size_t total;
};

struct conn {
    struct fixture_http *s;
    int fd;
};

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        c += w;
        n -= (size_t)w;
    }
}

static void sendf(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sendf(int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        send_all(fd, buf,
                 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    }
}

static char *read_file(const char *path, size_t *len, time_t *mtime)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t n = fread(b, 1, (size_t)st.st_size, f);
    fclose(f);
    b[n] = '\0';
    *len = n;
    if (mtime) {
        *mtime = st.st_mtime;
    }
    return b;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static const char *ctype_of(const char *path)
{
    if (ends_with(path, ".json")) {
        return "application/json";
    }
    if (ends_with(path, ".jsonl")) {
        return "application/x-ndjson";
    }
    if (ends_with(path, ".html") || ends_with(path, ".htm")) {
        return "text/html";
    }
    if (ends_with(path, ".xml") || ends_with(path, ".rss")) {
        return "application/xml";
    }
    return "application/octet-stream";
}

/* Value of query parameter name (copied into out), or NULL. */
static const char *qparam(const char *q, const char *name, char *out,
                          size_t cap)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t k = 0;
            while (v[k] && v[k] != '&' && k + 1 < cap) {
                out[k] = v[k];
                k++;
            }
            out[k] = '\0';
            /* %XX decoding for redirect URLs and content types. */
            char *w = out;
            for (char *r = out; *r; r++) {
                unsigned x;
                if (*r == '%' && r[1] && r[2] &&
                    sscanf(r + 1, "%2x", &x) == 1) {
                    *w++ = (char)x;
                    r += 2;
                } else {
                    *w++ = *r == '+' ? ' ' : *r;
                }
            }
            *w = '\0';
            return out;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return NULL;
}

static void nap_ms(struct fixture_http *s, long ms)
{
    while (ms > 0 && !s->stop) {
        long step = ms > 50 ? 50 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static char *gzip_buf(const char *in, size_t n, size_t *outn)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    size_t cap = deflateBound(&z, n) + 64;
    char *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *outn = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    }
    return h;
}

static void record(struct fixture_http *s, const char *path, const char *head)
{
    pthread_mutex_lock(&s->mu);
    s->total++;
    size_t i;
    for (i = 0; i < s->nhits; i++) {
        if (strcmp(s->hits[i].path, path) == 0) {
            break;
        }
    }
    if (i == s->nhits) {
        s->hits = realloc(s->hits, (s->nhits + 1) * sizeof(*s->hits));
        s->hits[i].path = strdup(path);
        s->hits[i].head = NULL;
        s->hits[i].n = 0;
        s->nhits++;
    }
    s->hits[i].n++;
    free(s->hits[i].head);
    s->hits[i].head = strdup(head);
    pthread_mutex_unlock(&s->mu);
}

/* Finds a route; returns a private copy or fills nothing. */
static bool match_route(struct fixture_http *s, const char *path,
                        const char *query, struct route *out)
{
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nroutes && !hit; i++) {
        struct route *r = &s->routes[i];
        if (strcmp(r->path, path) != 0 || r->times == 0) {
            continue;
        }
        bool qok;
        if (!r->query_has || !*r->query_has) {
            qok = true;
        } else if (strcmp(r->query_has, "-") == 0) {
            qok = !query || !*query;
        } else {
            qok = query && strstr(query, r->query_has);
        }
        if (!qok) {
            continue;
        }
        if (r->times > 0) {
            r->times--;
        }
        out->file = xstrdup(r->file);
        out->ctype = xstrdup(r->ctype);
        out->status = r->status;
        hit = true;
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

static const char *reason(int st)
{
    switch (st) {
    case 200:
        return "OK";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void serve(struct fixture_http *s, int fd)
{
    /* Read the request head (up to 16 KiB, 5 s). */
    char head[16384];
    size_t hl = 0;
    while (hl < sizeof(head) - 1) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0) {
            return;
        }
        ssize_t r = recv(fd, head + hl, sizeof(head) - 1 - hl, 0);
        if (r <= 0) {
            return;
        }
        hl += (size_t)r;
        head[hl] = '\0';
        if (strstr(head, "\r\n\r\n")) {
            break;
        }
    }
    char method[16], target[4096];
    if (sscanf(head, "%15s %4095s", method, target) != 2) {
        return;
    }
    /* Absolute-form target: we are being used as an HTTP proxy. */
    if (strncmp(target, "http://", 7) == 0) {
        char *slash = strchr(target + 7, '/');
        memmove(target, slash ? slash : "/", strlen(slash ? slash : "/") + 1);
    }
    char *query = strchr(target, '?');
    if (query) {
        *query++ = '\0';
    }
    record(s, target, head);

    char v[2048];
    struct route rt = {0};
    bool routed = match_route(s, target, query, &rt);
    char *fpath;
    if (routed && rt.file && rt.file[0] == '/') {
        fpath = strdup(rt.file);
    } else if (routed && rt.file) {
        fpath = malloc(strlen(s->root) + strlen(rt.file) + 2);
        sprintf(fpath, "%s/%s", s->root, rt.file);
    } else {
        fpath = malloc(strlen(s->root) + strlen(target) + 2);
        sprintf(fpath, "%s%s", s->root, target);
    }
    int status = rt.status ? rt.status : 200;
    if (qparam(query, "status", v, sizeof(v))) {
        status = atoi(v);
    }
    /* In flight from the request head until the answer starts: a client
     * holds its connection slot for at least this long, so the maximum is
     * what a per-host limit test can assert without timing. */
    pthread_mutex_lock(&s->mu);
    if (++s->inflight > s->max_inflight) {
        s->max_inflight = s->inflight;
    }
    pthread_mutex_unlock(&s->mu);
    if (qparam(query, "stall_ms", v, sizeof(v))) {
        nap_ms(s, atol(v));
    }
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    pthread_mutex_unlock(&s->mu);
    if (strstr(target, "..")) {
        sendf(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n");
        goto out;
    }
    if (qparam(query, "redirect", v, sizeof(v))) {
        sendf(fd,
              "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0"
              "\r\nConnection: close\r\n\r\n",
              v);
        goto out;
    }
    size_t len = 0;
    time_t mtime = 0;
    char *body = read_file(fpath, &len, &mtime);
    if (!body) {
        sendf(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n");
        goto out;
    }
    if (ends_with(fpath, ".http")) {
        send_all(fd, body, len);
        free(body);
        goto out;
    }
    char etag[40];
    snprintf(etag, sizeof(etag), "\"%016llx\"",
             (unsigned long long)fnv(body, len));
    char lm[64];
    struct tm tm;
    gmtime_r(&mtime, &tm);
    strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    bool validators = !qparam(query, "noetag", v, sizeof(v));
    if (validators && status == 200) {
        const char *inm = strcasestr(head, "\r\nIf-None-Match:");
        const char *ims = strcasestr(head, "\r\nIf-Modified-Since:");
        bool same = false;
        if (inm) {
            same = strncmp(inm + 16 + strspn(inm + 16, " "), etag,
                           strlen(etag)) == 0;
        } else if (ims) {
            same =
                strncmp(ims + 20 + strspn(ims + 20, " "), lm, strlen(lm)) == 0;
        }
        if (same) {
            status = 304;
        }
    }
    const char *ct = rt.ctype ? rt.ctype : ctype_of(fpath);
    char ctbuf[256];
    if (qparam(query, "ctype", ctbuf, sizeof(ctbuf))) {
        ct = ctbuf;
    }
    char *send_body = body;
    size_t send_len = status == 304 ? 0 : len;
    char *gz = NULL;
    bool gzip = qparam(query, "gzip", v, sizeof(v)) != NULL;
    if (gzip && send_len) {
        gz = gzip_buf(body, len, &send_len);
        send_body = gz;
    }
    sendf(fd,
          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
          "Connection: close\r\n",
          status, reason(status), ct, send_len);
    if (validators) {
        sendf(fd, "ETag: %s\r\nLast-Modified: %s\r\n", etag, lm);
    }
    if (gz) {
        sendf(fd, "Content-Encoding: gzip\r\n");
    }
    if (qparam(query, "retry_after", v, sizeof(v))) {
        sendf(fd, "Retry-After: %s\r\n", v);
    }
    sendf(fd, "\r\n");
    if (qparam(query, "trickle_ms", v, sizeof(v))) {
        long ms = atol(v);
        for (size_t i = 0; i < send_len && !s->stop; i++) {
            send_all(fd, send_body + i, 1);
            nap_ms(s, ms);
        }
    } else {
        send_all(fd, send_body, send_len);
    }
    free(gz);
    free(body);
out:
    free(fpath);
    free(rt.file);
    free(rt.ctype);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct fixture_http *s = c->s;
    serve(s, c->fd);
    shutdown(c->fd, SHUT_WR);
    /* Drain briefly so the client sees our bytes before the RST. */
    char tmp[512];
    struct pollfd pf = {c->fd, POLLIN, 0};
    if (poll(&pf, 1, 100) > 0) {
        (void)!recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    }
    close(c->fd);
    free(c);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fixture_http *s = arg;
    while (!s->stop) {
        struct pollfd pf = {s->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0) {
            continue;
        }
        int cfd = accept(s->fd, NULL, NULL);
        if (cfd < 0) {
            continue;
        }
        struct conn *c = malloc(sizeof(*c));
        c->s = s;
        c->fd = cfd;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, conn_main, c) != 0) {
            close(cfd);
            free(c);
            pthread_mutex_lock(&s->mu);
            s->active--;
            pthread_mutex_unlock(&s->mu);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

struct fixture_http *fixture_http_start(const char *root, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return NULL;
    }
    struct fixture_http *s = calloc(1, sizeof(*s));
    s->root = strdup(root);
    s->fd = fd;
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thr, NULL, accept_main, s) != 0) {
        close(fd);
        free(s->root);
        free(s);
        return NULL;
    }
    return s;
}

void fixture_http_stop(struct fixture_http *s)
{
    if (!s) {
        return;
    }
    s->stop = 1;
    pthread_join(s->thr, NULL);
    close(s->fd);
    pthread_mutex_lock(&s->mu);
    while (s->active > 0) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].path);
        free(s->routes[i].query_has);
        free(s->routes[i].file);
        free(s->routes[i].ctype);
    }
    free(s->routes);
    for (size_t i = 0; i < s->nhits; i++) {
        free(s->hits[i].path);
        free(s->hits[i].head);
    }
    free(s->hits);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->root);
    free(s);
}

int fixture_http_port(const struct fixture_http *s)
{
    return s->port;
}

char *fixture_http_url(const struct fixture_http *s, const char *path)
{
    size_t n = strlen(path) + 40;
    char *u = malloc(n);
    snprintf(u, n, "http://127.0.0.1:%d%s", s->port, path);
    return u;
}

void fixture_http_route(struct fixture_http *s, const char *path,
                        const char *query_has, const char *file, int status,
                        const char *ctype, int times)
{
    pthread_mutex_lock(&s->mu);
    s->routes = realloc(s->routes, (s->nroutes + 1) * sizeof(*s->routes));
    struct route *r = &s->routes[s->nroutes++];
    r->path = strdup(path);
    r->query_has = xstrdup(query_has);
    r->file = xstrdup(file);
    r->ctype = xstrdup(ctype);
    r->status = status;
    r->times = times > 0 ? times : -1;
    pthread_mutex_unlock(&s->mu);
}

size_t fixture_http_hits(struct fixture_http *s, const char *path)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    if (!path) {
        n = s->total;
    }
    for (size_t i = 0; path && i < s->nhits; i++) {
        if (strcmp(s->hits[i].path, path) == 0) {
            n = s->hits[i].n;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

int fixture_http_max_active(struct fixture_http *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->max_inflight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

char *fixture_http_last_head(struct fixture_http *s, const char *path)
{
    char *h = NULL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nhits; i++) {
        if (!path || strcmp(s->hits[i].path, path) == 0) {
            free(h);
            h = xstrdup(s->hits[i].head);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return h;
}

int fixture_http_setup(const char *tag, char *tmp, size_t tmpsz,
                       struct fixture_http **srv)
{
    snprintf(tmp, tmpsz, "/tmp/ig-test-%s-XXXXXX", tag);
    if (!mkdtemp(tmp)) {
        return -1;
    }
    *srv = fixture_http_start(test_shared_dir(), 0);
    if (!*srv) {
        return -1;
    }
    /* Never through a proxy: the server is on loopback. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    return 0;
}

int fixture_http_teardown(struct fixture_http *srv, const char *tmp)
{
    char cmd[400];

    fixture_http_stop(srv);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

#ifdef FIXTURE_HTTP_MAIN
static volatile sig_atomic_t quit;

static void on_sig(int sig)
{
    (void)sig;
    quit = 1;
}

/* ROOT/routes.txt: "PATH QUERY_HAS|* FILE [STATUS] [CTYPE]" per line. */
static void load_routes(struct fixture_http *s, const char *root)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/routes.txt", root);
    FILE *f = fopen(p, "r");
    if (!f) {
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char path[1024], q[1024], file[1024], ct[256] = "";
        int st = 0;
        if (line[0] == '#' || sscanf(line, "%1023s %1023s %1023s %d %255s",
                                     path, q, file, &st, ct) < 3) {
            continue;
        }
        fixture_http_route(s, path, strcmp(q, "*") == 0 ? NULL : q, file, st,
                           ct[0] ? ct : NULL, 0);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *root = ".", *port_file = NULL;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: fixture_http --root DIR "
                            "[--port-file F] [--port N]\n");
            return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct fixture_http *s = fixture_http_start(root, port);
    if (!s) {
        perror("fixture_http: listen");
        return 1;
    }
    load_routes(s, root);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            perror(port_file);
            fixture_http_stop(s);
            return 1;
        }
        fprintf(f, "%d\n", s->port);
        fclose(f);
        rename(tmp, port_file);
    } else {
        printf("%d\n", s->port);
        fflush(stdout);
    }
    while (!quit) {
        pause();
    }
    fixture_http_stop(s);
    return 0;
}
#endif
