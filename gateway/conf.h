/* conf.h — gateway.conf: the daemon's own configuration.
 *
 * gateway.conf uses the INI-like format of core/cfg.h. Sections:
 *
 *     [gateway]        rules dir, sources path, state dir, logging, limits
 *     [redis]          where Redis is and how to log in; key prefix, TTL
 *     [dedup]          near-duplicate thresholds (schema owned by dedup.c)
 *     [spool]          on-disk spool policy (schema owned by spool.c)
 *     [forward NAME]   one per target; kind = stream | webhook | file
 *                      (kind schemas owned by forward.c)
 *     [api]            HTTP endpoints: listen address, tokens
 *
 * Each section is checked against its schema table: unknown keys, bad
 * values and unknown sections are errors, all collected before anything is
 * refused. Relative paths are resolved against the directory of the
 * config file, so a config and its rules can move together. Secrets are
 * never written in the file itself: a *_ref key names "env:NAME" or
 * "file:/path" and gw_secret_read() resolves it when the daemon starts.
 *
 * The tables are exported so that --help-config, the docs generator and
 * the example-config test all read the same source of truth.
 */
#ifndef IG_GATEWAY_CONF_H
#define IG_GATEWAY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

struct ig_diags;

/* [gateway] */
struct gw_conf_main {
    char *rules;               /* owned: rules directory */
    char *sources;             /* owned: sources file or sources.d folder */
    char *state_dir;           /* owned: cursors, spool, dead letters */
    char *log_level;           /* owned: debug|info|warn|error */
    char *log_format;          /* owned: json|text */
    int64_t max_inflight;      /* items between intake and forward */
    int64_t classify_threads;  /* 0: classify on the loop thread */
    int64_t drain_timeout_ms;  /* SIGTERM/--once: wait this long at most */
    int64_t reload_delay_ms;   /* coalescing window for reload requests */
    int64_t max_text_bytes;    /* text handed to the classifier, per item */
    bool forward_unclassified; /* forward items no rule classified */
    bool review;               /* keep the review queue <prefix>:review */
    double review_below;       /* confidence below which a person looks */
};

/* [redis] */
struct gw_conf_redis {
    char *host; /* owned */
    int64_t port;
    char *socket; /* owned: unix socket path, overrides host */
    int64_t db;
    char *user;           /* owned: ACL user, or NULL for default */
    char *password_ref;   /* owned: env:NAME | file:/path | NULL */
    char *prefix;         /* owned: key prefix, e.g. "intake" */
    int64_t retention_ms; /* TTL of every dedup key */
    int64_t timeout_ms;   /* connect or command, then reconnect */
    int64_t retry_ms;     /* reconnect interval when Redis is down */
};

/* [api] */
struct gw_conf_api {
    char *listen;           /* owned: "127.0.0.1:8080", "" = disabled */
    char *push_token_ref;   /* owned: env:NAME | file:/path | NULL */
    char *admin_token_ref;  /* owned */
    int64_t max_body_bytes; /* cap on a POST body */
    int64_t max_push_items; /* items per POST /v1/items batch */
    int64_t request_timeout_ms; /* a whole request must arrive within */
    int64_t max_connections;    /* API connections open at once */
};

/* One [forward NAME] section, checked by forward.c's kind schemas. */
struct gw_conf_forward {
    const char *name;                 /* borrowed from doc */
    const char *kind;                 /* borrowed from doc */
    const struct ig_cfg_section *sec; /* borrowed from doc */
};

struct gw_conf {
    char *path;            /* owned: the file read */
    char *base_dir;        /* owned: its directory */
    struct ig_cfg_doc doc; /* owned: raw sections */
    struct gw_conf_main gw;
    struct gw_conf_redis redis;
    bool has_redis; /* a [redis] section is present */
    struct gw_conf_api api;
    const struct ig_cfg_section *dedup; /* borrowed; NULL if absent */
    const struct ig_cfg_section *spool; /* borrowed; NULL if absent */
    struct gw_conf_forward *fwd;        /* owned array */
    size_t nfwd;
};

extern const struct ig_cfg_field gw_conf_main_schema[];
extern const struct ig_cfg_field gw_conf_redis_schema[];
extern const struct ig_cfg_field gw_conf_api_schema[];

/* Reads and checks path. Every problem goes to d. On success *out is a new
 * conf (free with gw_conf_free) and IG_OK is returned; on failure *out is
 * NULL and IG_EINVAL/IG_EIO/IG_EPARSE returned. Any thread. */
int gw_conf_load(const char *path, struct gw_conf **out, struct ig_diags *d);
/* Same, from text (name is used in diagnostics, base_dir for paths). */
int gw_conf_load_mem(const char *name, const char *text, size_t len,
                     const char *base_dir, struct gw_conf **out,
                     struct ig_diags *d);
void gw_conf_free(struct gw_conf *c);

/* Resolves a secret reference: "env:NAME" reads the environment, "file:P"
 * reads the first line of P (relative to base_dir). Returns IG_OK with
 * *out owned by the caller, IG_ENOENT when the variable/file is missing or
 * empty, IG_EINVAL for a malformed reference. NULL/"" ref gives IG_OK with
 * *out = NULL (no secret). */
int gw_secret_read(const char *ref, const char *base_dir, char **out);

/* Returns path resolved against base_dir (absolute paths unchanged), owned
 * by the caller. */
char *gw_conf_path(const struct gw_conf *c, const char *path);

/* Prints every section's schema ("--help-config"). */
void gw_conf_print_reference(FILE *out);

#endif
