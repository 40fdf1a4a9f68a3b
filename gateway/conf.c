/* conf.c — gateway.conf reader (see conf.h).
 *
 * The file is parsed once into a document of raw sections; each section is
 * then applied to its schema table. Sections owned by other gateway modules
 * ([dedup], [spool], [forward NAME]) are kept as borrowed section pointers
 * and checked by those modules' own tables when the engine is built (and by
 * --check-config through the same path), so each key is declared exactly
 * once. A section type nobody knows is an error with a suggestion, like an
 * unknown key.
 */
#include "gateway/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"
#include "gateway/dedup.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error",
                                         NULL};
static const char *const log_formats[] = {"json", "text", NULL};

#define M(f) offsetof(struct gw_conf_main, f)
const struct ig_cfg_field gw_conf_main_schema[] = {
    {"rules", IG_CFG_STR, NULL, M(rules),
     "rules directory (default: the installed rule base)", 0, NULL},
    {"sources", IG_CFG_STR, "sources.d", M(sources),
     "sources file or folder of *.conf (relative to this file)", 0, NULL},
    {"state_dir", IG_CFG_STR, "/var/lib/intake", M(state_dir),
     "cursors, spool and dead-letter files live here", 0, NULL},
    {"log_level", IG_CFG_ENUM, "info", M(log_level),
     "least severe level written to stderr", 0, log_levels},
    {"log_format", IG_CFG_ENUM, "json", M(log_format),
     "json: one object per line (for journald/collectors); text", 0,
     log_formats},
    {"max_inflight", IG_CFG_INT, "1024", M(max_inflight),
     "items between intake and forward; sources pause above this", 0, NULL},
    {"drain_timeout", IG_CFG_DUR_MS, "30s", M(drain_timeout_ms),
     "on SIGTERM or --once, wait this long for in-flight items", 0, NULL},
    {"reload_delay", IG_CFG_DUR_MS, "500ms", M(reload_delay_ms),
     "reload requests within this window are coalesced into one", 0, NULL},
    {"classify_threads", IG_CFG_INT, "0", M(classify_threads),
     "threads classifying beside the event loop (0: on the loop itself)", 0,
     NULL},
    {"max_text_bytes", IG_CFG_SIZE, "64k", M(max_text_bytes),
     "text per item handed to the classifier (the rest is not scanned)", 0,
     NULL},
    {"forward_unclassified", IG_CFG_BOOL, "false", M(forward_unclassified),
     "also deduplicate and forward items no rule classified", 0, NULL},
    {"review", IG_CFG_BOOL, "true", M(review),
     "keep the review queue <prefix>:review in Redis (needs [redis])", 0, NULL},
    {"review_below", IG_CFG_DOUBLE, "0.5", M(review_below),
     "candidates with a confidence below this go to the review queue", 0, NULL},
    {0},
};
#undef M

#define R(f) offsetof(struct gw_conf_redis, f)
const struct ig_cfg_field gw_conf_redis_schema[] = {
    {"host", IG_CFG_STR, "127.0.0.1", R(host), "Redis host (TCP)", 0, NULL},
    {"port", IG_CFG_INT, "6379", R(port), "Redis port (TCP)", 0, NULL},
    {"socket", IG_CFG_STR, NULL, R(socket),
     "unix socket path; when set, host and port are ignored", 0, NULL},
    {"db", IG_CFG_INT, "0", R(db), "database index (SELECT)", 0, NULL},
    {"user", IG_CFG_STR, NULL, R(user),
     "ACL user for AUTH (Redis 6+); empty: the default user", 0, NULL},
    {"password_ref", IG_CFG_STR, NULL, R(password_ref),
     "password reference: env:NAME or file:/path (never the password)",
     IG_CFG_F_SECRET, NULL},
    {"prefix", IG_CFG_STR, "intake", R(prefix),
     "prefix of every key the gateway writes (\"intake\" -> intake:seen:...)",
     0, NULL},
    {"retention", IG_CFG_DUR_MS, "30d", R(retention_ms),
     "TTL of every dedup key (how long a report is remembered)", 0, NULL},
    {"timeout", IG_CFG_DUR_MS, "5s", R(timeout_ms),
     "a connect or command unanswered this long: reconnect and retry", 0, NULL},
    {"retry", IG_CFG_DUR_MS, "1s", R(retry_ms),
     "reconnect interval while Redis is unreachable", 0, NULL},
    {0},
};
#undef R

#define A(f) offsetof(struct gw_conf_api, f)
const struct ig_cfg_field gw_conf_api_schema[] = {
    {"listen", IG_CFG_STR, "127.0.0.1:8080", A(listen),
     "address:port of /healthz, /metrics, /v1/*; empty disables", 0, NULL},
    {"push_token_ref", IG_CFG_STR, NULL, A(push_token_ref),
     "bearer token for POST /v1/items: env:NAME or file:/path; "
     "unset disables the push endpoint",
     IG_CFG_F_SECRET, NULL},
    {"admin_token_ref", IG_CFG_STR, NULL, A(admin_token_ref),
     "bearer token for POST /v1/reload: env:NAME or file:/path; "
     "unset disables it",
     IG_CFG_F_SECRET, NULL},
    {"max_body", IG_CFG_SIZE, "1MiB", A(max_body_bytes),
     "largest POST body accepted (413 above)", 0, NULL},
    {"max_push_items", IG_CFG_INT, "256", A(max_push_items),
     "items per POST /v1/items batch (413 above)", 0, NULL},
    {"request_timeout", IG_CFG_DUR_MS, "30s", A(request_timeout_ms),
     "a request (line, headers, body) must arrive within this of the "
     "connection or the previous answer; slower clients are disconnected",
     0, NULL},
    {"max_connections", IG_CFG_INT, "128", A(max_connections),
     "API connections open at once; above this, new ones are closed at once", 0,
     NULL},
    {0},
};
#undef A

/* Section types this file knows; the others are listed for suggestions. */
static const char *const section_types[] = {
    "gateway", "redis", "dedup", "spool", "forward", "api", NULL};

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return ig_strdup(".");
    }
    if (slash == path) {
        return ig_strdup("/");
    }
    return ig_strndup(path, (size_t)(slash - path));
}

char *gw_conf_path(const struct gw_conf *c, const char *path)
{
    if (!path) {
        return NULL;
    }
    if (path[0] == '/' || !c->base_dir) {
        return ig_strdup(path);
    }
    return ig_asprintf("%s/%s", c->base_dir, path);
}

static void check_range(struct ig_diags *d, const struct ig_cfg_section *s,
                        const char *key, int64_t v, int64_t lo, int64_t hi)
{
    if (v >= lo && v <= hi) {
        return;
    }
    int line = s->line;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            line = s->e[i].line;
        }
    }
    ig_diags_add(d, IG_DIAG_ERROR, s->file, line, 0,
                 "%s: %lld is out of range [%lld, %lld]", key, (long long)v,
                 (long long)lo, (long long)hi);
}

static void check_ref(struct ig_diags *d, const struct ig_cfg_section *s,
                      const char *key, const char *ref)
{
    if (!ref || !*ref || strncmp(ref, "env:", 4) == 0 ||
        strncmp(ref, "file:", 5) == 0) {
        return;
    }
    int line = s->line;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            line = s->e[i].line;
        }
    }
    /* The value is not echoed: it may be a pasted secret. */
    ig_diags_add(d, IG_DIAG_ERROR, s->file, line, 0,
                 "%s: expected env:NAME or file:/path (secrets are never "
                 "written in the config itself)",
                 key);
}

static void section_error(struct ig_diags *d, const struct ig_cfg_section *s,
                          const char *what)
{
    ig_diags_add(d, IG_DIAG_ERROR, s->file, s->line, 0, "[%s%s%s]: %s", s->type,
                 s->name ? " " : "", s->name ? s->name : "", what);
}

static void unknown_section(struct ig_diags *d, const struct ig_cfg_section *s)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, s->type);
    for (const char *const *t = section_types; *t; t++) {
        ig_suggest_try(&sg, *t);
    }
    const char *best = ig_suggest_best(&sg);
    if (s->type[0] == '\0') {
        ig_diags_add(d, IG_DIAG_ERROR, s->file, s->line ? s->line : 1, 0,
                     "keys before the first [section] header");
    } else if (best) {
        ig_diags_add(d, IG_DIAG_ERROR, s->file, s->line, 0,
                     "unknown section [%s] (did you mean [%s]?)", s->type,
                     best);
    } else {
        ig_diags_add(d, IG_DIAG_ERROR, s->file, s->line, 0,
                     "unknown section [%s]", s->type);
    }
}

/* Applies the sections of c->doc to c. Returns IG_OK or IG_EINVAL. */
static int apply_doc(struct gw_conf *c, struct ig_diags *d)
{
    size_t before = d->nerrors;
    bool seen_gw = false, seen_api = false;

    ig_cfg_defaults(gw_conf_main_schema, &c->gw);
    ig_cfg_defaults(gw_conf_redis_schema, &c->redis);
    ig_cfg_defaults(gw_conf_api_schema, &c->api);

    for (size_t i = 0; i < c->doc.n; i++) {
        const struct ig_cfg_section *s = &c->doc.s[i];
        if (strcmp(s->type, "gateway") == 0) {
            if (seen_gw) {
                section_error(d, s, "appears twice");
            }
            seen_gw = true;
            ig_cfg_apply(s, gw_conf_main_schema, &c->gw, d);
            check_range(d, s, "max_inflight", c->gw.max_inflight, 1, 1 << 20);
            check_range(d, s, "classify_threads", c->gw.classify_threads, 0,
                        64);
            check_range(d, s, "max_text_bytes", c->gw.max_text_bytes, 256,
                        16 << 20);
            if (c->gw.review_below < 0 || c->gw.review_below > 1) {
                section_error(d, s, "review_below must lie in [0, 1]");
            }
        } else if (strcmp(s->type, "redis") == 0) {
            if (c->has_redis) {
                section_error(d, s, "appears twice");
            }
            c->has_redis = true;
            ig_cfg_apply(s, gw_conf_redis_schema, &c->redis, d);
            check_range(d, s, "port", c->redis.port, 1, 65535);
            check_range(d, s, "db", c->redis.db, 0, 65535);
            check_range(d, s, "retention", c->redis.retention_ms,
                        (int64_t)DEDUP_TTL_MIN_S * 1000,
                        (int64_t)3650 * 86400 * 1000);
            check_ref(d, s, "password_ref", c->redis.password_ref);
        } else if (strcmp(s->type, "api") == 0) {
            if (seen_api) {
                section_error(d, s, "appears twice");
            }
            seen_api = true;
            ig_cfg_apply(s, gw_conf_api_schema, &c->api, d);
            check_ref(d, s, "push_token_ref", c->api.push_token_ref);
            check_ref(d, s, "admin_token_ref", c->api.admin_token_ref);
            check_range(d, s, "max_push_items", c->api.max_push_items, 1,
                        100000);
            check_range(d, s, "request_timeout", c->api.request_timeout_ms, 100,
                        (int64_t)3600 * 1000);
            check_range(d, s, "max_connections", c->api.max_connections, 1,
                        65536);
        } else if (strcmp(s->type, "dedup") == 0) {
            if (c->dedup) {
                section_error(d, s, "appears twice");
            }
            c->dedup = s;
        } else if (strcmp(s->type, "spool") == 0) {
            if (c->spool) {
                section_error(d, s, "appears twice");
            }
            c->spool = s;
        } else if (strcmp(s->type, "forward") == 0) {
            if (!s->name || !*s->name) {
                section_error(d, s, "needs a name: [forward NAME]");
                continue;
            }
            for (size_t j = 0; j < c->nfwd; j++) {
                if (strcmp(c->fwd[j].name, s->name) == 0) {
                    section_error(d, s, "a forwarder of this name exists");
                }
            }
            const char *kind = ig_cfg_get(s, "kind");
            if (!kind) {
                section_error(d, s, "is missing required key 'kind'");
                continue;
            }
            c->fwd = ig_realloc(c->fwd, (c->nfwd + 1) * sizeof(*c->fwd));
            c->fwd[c->nfwd].name = s->name;
            c->fwd[c->nfwd].kind = kind;
            c->fwd[c->nfwd].sec = s;
            c->nfwd++;
        } else {
            unknown_section(d, s);
        }
    }
    return d->nerrors > before ? IG_EINVAL : IG_OK;
}

static struct gw_conf *conf_alloc(const char *path, const char *base_dir)
{
    struct gw_conf *c = ig_calloc(1, sizeof(*c));
    c->path = ig_strdup(path);
    c->base_dir = base_dir ? ig_strdup(base_dir) : dir_of(path);
    ig_cfg_doc_init(&c->doc);
    return c;
}

int gw_conf_load(const char *path, struct gw_conf **out, struct ig_diags *d)
{
    *out = NULL;
    struct gw_conf *c = conf_alloc(path, NULL);
    int rc = ig_cfg_parse_file(&c->doc, path, d);
    if (rc < 0) {
        goto out;
    }
    rc = apply_doc(c, d);
out:
    if (rc < 0) {
        gw_conf_free(c);
        return rc;
    }
    *out = c;
    return IG_OK;
}

int gw_conf_load_mem(const char *name, const char *text, size_t len,
                     const char *base_dir, struct gw_conf **out,
                     struct ig_diags *d)
{
    *out = NULL;
    struct gw_conf *c = conf_alloc(name, base_dir ? base_dir : ".");
    int rc = ig_cfg_parse_mem(&c->doc, name, text, len, d);
    if (rc < 0) {
        goto out;
    }
    rc = apply_doc(c, d);
out:
    if (rc < 0) {
        gw_conf_free(c);
        return rc;
    }
    *out = c;
    return IG_OK;
}

void gw_conf_free(struct gw_conf *c)
{
    if (!c) {
        return;
    }
    ig_cfg_free(gw_conf_main_schema, &c->gw);
    ig_cfg_free(gw_conf_redis_schema, &c->redis);
    ig_cfg_free(gw_conf_api_schema, &c->api);
    ig_free(c->fwd);
    ig_cfg_doc_fini(&c->doc);
    ig_free(c->path);
    ig_free(c->base_dir);
    ig_free(c);
}

int gw_secret_read(const char *ref, const char *base_dir, char **out)
{
    *out = NULL;
    if (!ref || !*ref) {
        return IG_OK;
    }
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v || !*v) {
            return IG_ENOENT;
        }
        *out = ig_strdup(v);
        return IG_OK;
    }
    if (strncmp(ref, "file:", 5) != 0) {
        return IG_EINVAL;
    }
    const char *p = ref + 5;
    char *full = (p[0] == '/' || !base_dir) ? ig_strdup(p)
                                            : ig_asprintf("%s/%s", base_dir, p);
    FILE *f = fopen(full, "r");
    ig_free(full);
    if (!f) {
        return IG_ENOENT;
    }
    /* A secret is one line; 4 KiB is far above any token we issue. */
    char line[4096];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (!got) {
        return IG_ENOENT;
    }
    size_t n = strcspn(line, "\r\n");
    if (n == 0) {
        return IG_ENOENT;
    }
    *out = ig_strndup(line, n);
    return IG_OK;
}

void gw_conf_print_reference(FILE *out)
{
    fprintf(out, "[gateway]\n");
    ig_cfg_print_schema(gw_conf_main_schema, out);
    fprintf(out, "\n[redis]\n");
    ig_cfg_print_schema(gw_conf_redis_schema, out);
    fprintf(out, "\n[api]\n");
    ig_cfg_print_schema(gw_conf_api_schema, out);
}
