/* sources.c — loading and checking the source set (see sources.h).
 *
 * Each section is checked against the union of connector_common_schema and
 * its kind's schema: a key known to neither is an error with the closest
 * known key suggested. The common keys are then applied to struct
 * source_conf, the kind's keys by the kind's init() (through
 * connector_cfg_apply). Everything is collected before the set is refused,
 * so one run of `intake sources check` shows every mistake.
 *
 * The fingerprint of a source is its id plus its entries in file order
 * ("key=value\n"): a reload keeps the state of a source whose fingerprint
 * did not change.
 */
#include "gateway/sources.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/connector.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"
#include "gateway/conf.h"

bool source_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64 || id[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

const char *source_default_path(void)
{
    const char *e = getenv("INTAKE_SOURCES");
    return e && *e ? e : "sources.d";
}

static const char *closest(const struct ig_cfg_field *a,
                           const struct ig_cfg_field *b, const char *key)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, key);
    const struct ig_cfg_field *tabs[2] = {a, b};
    for (int t = 0; t < 2; t++) {
        for (const struct ig_cfg_field *f = tabs[t]; f && f->name; f++) {
            ig_suggest_try(&sg, f->name);
        }
    }
    return ig_suggest_best(&sg);
}

static void source_free(struct source *s)
{
    if (!s) {
        return;
    }
    if (s->conn.ops) {
        connector_teardown(&s->conn);
    } else {
        ig_free(s->conn.id); /* unknown kind: never set up */
    }
    ig_cfg_free(connector_common_schema, &s->conn.conf);
    ig_free(s->fingerprint);
    ig_free(s);
}

const char *source_kind_closest(const char *kind)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, kind);
    for (const struct connector_ops *const *k = connector_kinds(); *k; k++) {
        ig_suggest_try(&sg, (*k)->kind);
    }
    return ig_suggest_best(&sg);
}

char *source_kind_list(void)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    const struct connector_ops *const *k = connector_kinds();
    for (size_t i = 0; k[i]; i++) {
        ig_buf_addf(&b, "%s%s", i ? ", " : "", k[i]->kind);
    }
    return ig_buf_take(&b);
}

static const struct ig_cfg_entry *entry(const struct ig_cfg_section *s,
                                        const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            return &s->e[i];
        }
    }
    return NULL;
}

static struct source *load_one(const struct ig_cfg_section *sec,
                               struct ig_diags *d)
{
    size_t before = d->nerrors;
    const char *id = sec->name;
    if (!source_id_valid(id)) {
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                     "[source %s]: a source id is 1-64 characters of "
                     "A-Z a-z 0-9 . _ - (not starting with '.')",
                     id ? id : "");
        return NULL;
    }
    /* The kind decides which keys are valid. */
    const char *kind = ig_cfg_get(sec, "kind");
    const struct connector_ops *ops = kind ? connector_kind(kind) : NULL;
    if (kind && !ops) {
        const struct ig_cfg_entry *e = entry(sec, "kind");
        char *kl = source_kind_list();
        const char *sug = source_kind_closest(kind);
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, e->line, e->col,
                     "kind: unknown kind '%s'%s%s%s (built-in kinds: %s)", kind,
                     sug ? " (did you mean '" : "", sug ? sug : "",
                     sug ? "'?)" : "", kl);
        ig_free(kl);
    }
    for (size_t i = 0; i < sec->n; i++) {
        const struct ig_cfg_entry *e = &sec->e[i];
        bool common = ig_cfg_known(connector_common_schema, e->key);
        bool own = ops && ops->schema && ig_cfg_known(ops->schema, e->key);
        if (kind && !ops) {
            /* Kind unknown: accept what any kind accepts, so only real
             * typos are reported next to the kind error. */
            const struct connector_ops *const *k = connector_kinds();
            for (size_t j = 0; k[j] && !own; j++) {
                own = k[j]->schema && ig_cfg_known(k[j]->schema, e->key);
            }
        }
        if (common || own) {
            continue;
        }
        const char *sug =
            closest(connector_common_schema, ops ? ops->schema : NULL, e->key);
        if (sug) {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, e->line, 1,
                         "unknown key '%s' in [source %s] (did you mean "
                         "'%s'?)",
                         e->key, id, sug);
        } else {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, e->line, 1,
                         "unknown key '%s' in [source %s]%s%s", e->key, id,
                         ops ? " for kind " : "", ops ? ops->kind : "");
        }
    }

    struct source *s = ig_calloc(1, sizeof(*s));
    s->sec = sec;
    /* Common keys, through a view without the kind's keys. */
    struct ig_cfg_section view = *sec;
    view.e = ig_malloc((sec->n + 1) * sizeof(*view.e));
    view.n = 0;
    for (size_t i = 0; i < sec->n; i++) {
        if (ig_cfg_known(connector_common_schema, sec->e[i].key)) {
            view.e[view.n++] = sec->e[i];
        }
    }
    ig_cfg_apply(&view, connector_common_schema, &s->conn.conf, d);
    ig_free(view.e);

    struct source_conf *c = &s->conn.conf;
    const struct ig_cfg_entry *ue = entry(sec, "url");
    if (ops && ops->request && c->url && strncmp(c->url, "http://", 7) != 0 &&
        strncmp(c->url, "https://", 8) != 0) {
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, ue->line, ue->col,
                     "url: kind %s fetches http:// or https:// URLs only",
                     ops->kind);
    }
    if (c->interval_ms < 1000) {
        const struct ig_cfg_entry *e = entry(sec, "interval");
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, e ? e->line : sec->line,
                     e ? e->col : 0, "interval: at least 1s");
    }
    if (c->jitter_pct < 0 || c->jitter_pct > 50) {
        const struct ig_cfg_entry *e = entry(sec, "jitter");
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, e ? e->line : sec->line,
                     e ? e->col : 0, "jitter: a percentage within 0..50");
    }
    if (c->max_items < 1 || c->max_pages < 1 || c->max_bytes < 1024) {
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                     "[source %s]: max_items and max_pages must be >= 1, "
                     "max_bytes >= 1KiB",
                     id);
    }
    if (c->auth && strcmp(c->auth, "none") != 0 &&
        strncmp(c->auth, "env:", 4) != 0 && strncmp(c->auth, "file:", 5) != 0) {
        const struct ig_cfg_entry *e = entry(sec, "auth");
        /* Never echo the value: it may be a pasted secret. */
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, e->line, e->col,
                     "auth: must be env:VARIABLE, file:/path or none (the "
                     "secret itself never goes into a sources file)");
    }
    if (c->channel && strcmp(c->channel, "hotline") != 0 &&
        strcmp(c->channel, "letters") != 0 &&
        strcmp(c->channel, "media") != 0 && strcmp(c->channel, "web") != 0) {
        const struct ig_cfg_entry *e = entry(sec, "channel");
        ig_diags_add(d, IG_DIAG_ERROR, sec->file, e->line, e->col,
                     "channel: one of hotline, letters, media, web");
    }
    if (ops) {
        connector_setup(&s->conn, ops, id, sec, d);
    } else {
        s->conn.id = ig_strdup(id);
    }
    struct ig_buf fp;
    ig_buf_init(&fp, 0);
    ig_buf_addf(&fp, "%s\n", id);
    for (size_t i = 0; i < sec->n; i++) {
        ig_buf_addf(&fp, "%s=%s\n", sec->e[i].key, sec->e[i].value);
    }
    s->fingerprint = ig_buf_take(&fp);
    if (d->nerrors > before) {
        source_free(s);
        return NULL;
    }
    return s;
}

int source_set_load(const char *path, struct source_set **out,
                    struct ig_diags *d)
{
    *out = NULL;
    struct source_set *set = ig_calloc(1, sizeof(*set));
    ig_cfg_doc_init(&set->doc);
    int rc = ig_cfg_parse_path(&set->doc, path, d);
    if (rc == IG_EIO) {
        source_set_free(set);
        return IG_EIO;
    }
    size_t nsec = 0;
    for (size_t i = 0; i < set->doc.n; i++) {
        const struct ig_cfg_section *sec = &set->doc.s[i];
        if (strcmp(sec->type, "") == 0 && sec->n == 0) {
            continue; /* comments before the first header */
        }
        if (strcmp(sec->type, "source") != 0) {
            ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                         "only [source ID] sections belong in a sources "
                         "file, got [%s]",
                         sec->type);
            continue;
        }
        nsec++;
        bool dup = false;
        for (size_t j = 0; j < i && sec->name; j++) {
            const struct ig_cfg_section *o = &set->doc.s[j];
            if (strcmp(o->type, "source") == 0 && o->name &&
                strcmp(o->name, sec->name) == 0) {
                ig_diags_add(d, IG_DIAG_ERROR, sec->file, sec->line, 0,
                             "duplicate source id '%s' (first defined at "
                             "%s:%d)",
                             sec->name, o->file, o->line);
                dup = true;
                break;
            }
        }
        struct source *s = load_one(sec, d);
        if (!s) {
            continue;
        }
        if (dup) {
            source_free(s);
            continue;
        }
        set->v = ig_realloc(set->v, (set->n + 1) * sizeof(*set->v));
        set->v[set->n++] = s;
    }
    if (nsec == 0 && !ig_diags_has_errors(d)) {
        ig_diags_add(d, IG_DIAG_WARNING, path, 0, 0,
                     "no [source ID] sections found");
    }
    if (ig_diags_has_errors(d)) {
        source_set_free(set);
        return rc == IG_EIO ? IG_EIO : IG_EINVAL;
    }
    *out = set;
    return IG_OK;
}

void source_set_free(struct source_set *set)
{
    if (!set) {
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        source_free(set->v[i]);
    }
    ig_free(set->v);
    ig_cfg_doc_fini(&set->doc);
    ig_free(set);
}

struct source *source_set_find(const struct source_set *set, const char *id)
{
    for (size_t i = 0; set && i < set->n; i++) {
        if (strcmp(set->v[i]->conn.id, id) == 0) {
            return set->v[i];
        }
    }
    return NULL;
}

int source_auth_header(const struct source *s, char **out, const char **why)
{
    const struct source_conf *c = &s->conn.conf;
    *out = NULL;
    *why = NULL;
    if (!c->auth || strcmp(c->auth, "none") == 0 || !*c->auth) {
        return IG_OK;
    }
    /* One secret reader for the whole gateway (gw_secret_read): the
     * sources file only names where the secret is. */
    char *secret = NULL;
    int rc = gw_secret_read(c->auth, NULL, &secret);
    if (rc == IG_EINVAL) {
        *why = "auth: must be env:VARIABLE, file:/path or none";
        return IG_EINVAL;
    }
    if (rc < 0 || !secret) {
        *why = strncmp(c->auth, "env:", 4) == 0
                   ? "auth: the environment variable is not set"
                   : "auth: the secret file cannot be read";
        return IG_ENOENT;
    }
    /* Trim, and refuse anything that could split the header. */
    size_t l = strlen(secret);
    while (l && isspace((unsigned char)secret[l - 1])) {
        secret[--l] = '\0';
    }
    bool bad = l == 0;
    for (size_t i = 0; i < l; i++) {
        bad = bad || (unsigned char)secret[i] < 0x20;
    }
    if (bad) {
        ig_free(secret);
        *why = "auth: the secret is empty or holds control characters";
        return IG_EINVAL;
    }
    const char *scheme = c->auth_scheme ? c->auth_scheme : "";
    *out = ig_asprintf("%s: %s%s%s",
                       c->auth_header ? c->auth_header : "Authorization",
                       scheme, *scheme ? " " : "", secret);
    /* Best effort: do not leave the secret in freed heap memory. */
    memset(secret, 0, l);
    ig_free(secret);
    return IG_OK;
}
