/* cmd_sources.c — `intake sources check|status|kinds`.
 *
 * check validates a sources file or folder the way the gateway loads it
 * (every error as file:line:col, all at once) and warns about auth
 * references that do not resolve on this machine; status prints each
 * source's health from the state dir without talking to the gateway;
 * kinds lists the built-in kinds and their keys (the schema tables).
 */
#include "gateway/cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/scheduler.h"
#include "gateway/sources.h"
#include "gateway/state.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: intake sources check [-c FILE_OR_DIR]\n"
            "       intake sources status [-d STATE_DIR] [-c FILE_OR_DIR] "
            "[--json]\n"
            "       intake sources kinds [KIND]\n"
            "\n"
            "check   validate every [source ID] section (unknown keys, bad\n"
            "        values, unknown kinds, duplicate ids): errors as\n"
            "        file:line:col; exit 1 when any is found\n"
            "status  health of each source from the gateway's state dir:\n"
            "        last success, last error and why, consecutive\n"
            "        failures, items in the last poll, last new item\n"
            "kinds   the built-in kinds and the keys each accepts\n"
            "\n"
            "-c (also -s, --sources) defaults to $INTAKE_SOURCES or\n"
            "./sources.d; -d (also --state) to $INTAKE_STATE or ./state.\n"
            "Exit status: 0 ok, 1 check found errors, 2 usage error or a\n"
            "path that cannot be read, 3 status found no state.\n");
}

static const char *default_state_dir(void)
{
    const char *e = getenv("INTAKE_STATE");
    return e && *e ? e : "state";
}

static int do_check(const char *path)
{
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    int rc = source_set_load(path, &set, &d);
    if (set) {
        /* Auth references are checked here as warnings: the check may run
         * on a machine without the production secrets. */
        for (size_t i = 0; i < set->n; i++) {
            struct source *s = set->v[i];
            char *hdr = NULL;
            const char *why = NULL;
            if (source_auth_header(s, &hdr, &why) < 0) {
                ig_diags_add(&d, IG_DIAG_WARNING, s->sec->file, s->sec->line, 0,
                             "[source %s] %s (%s)", s->conn.id, why,
                             s->conn.conf.auth);
            }
            ig_free(hdr);
            /* A local source whose path is missing will only fail later. */
            const char *u = s->conn.conf.url;
            if (connector_is_local(&s->conn) && u) {
                const char *lp = strncmp(u, "file://", 7) == 0 ? u + 7 : u;
                if (access(lp, R_OK) != 0) {
                    ig_diags_add(&d, IG_DIAG_WARNING, s->sec->file,
                                 s->sec->line, 0,
                                 "[source %s] url: %s is not readable here",
                                 s->conn.id, lp);
                }
            }
        }
    }
    ig_diags_print(&d, stderr);
    int ret;
    if (rc < 0) {
        fprintf(stderr, "intake: %s: %zu error%s\n", path, d.nerrors,
                d.nerrors == 1 ? "" : "s");
        /* An unreadable path is a usage error; a bad file is a finding. */
        ret = rc == IG_EIO ? IG_EXIT_USAGE : IG_EXIT_FINDINGS;
    } else {
        size_t en = 0;
        for (size_t i = 0; i < set->n; i++) {
            en += set->v[i]->conn.conf.enabled;
        }
        printf("%s: %zu source%s OK (%zu enabled)\n", path, set->n,
               set->n == 1 ? "" : "s", en);
        for (size_t i = 0; i < set->n; i++) {
            const struct connector *c = &set->v[i]->conn;
            printf("  %-24s %-8s every %llds%s  %s\n", c->id, c->ops->kind,
                   (long long)(c->conf.interval_ms / 1000),
                   c->conf.enabled ? "" : " (disabled)", c->conf.url);
        }
        ret = IG_EXIT_OK;
    }
    source_set_free(set);
    ig_diags_fini(&d);
    return ret;
}

struct status_ctx {
    struct ig_jsonw *w;
    const struct source_set *set;
    size_t n;
};

static void fmt_ts(int64_t ts, char out[32])
{
    if (ts <= 0) {
        snprintf(out, 32, "-");
        return;
    }
    ig_time_iso(ts, 0, out);
}

static void print_one(void *ud, const struct source_state *st)
{
    struct status_ctx *c = ud;
    const struct source_health *h = &st->h;
    c->n++;
    if (c->w) {
        sched_health_obj_json(h, c->w);
        return;
    }
    char ls[32], le[32], ln[32];
    fmt_ts(h->last_success_ts, ls);
    fmt_ts(h->last_error_ts, le);
    fmt_ts(h->last_new_item_ts, ln);
    const char *status = h->polls == 0                 ? "never"
                         : h->consecutive_failures > 0 ? "FAILING"
                                                       : "ok";
    bool configured = !c->set || source_set_find(c->set, h->id);
    printf("%-24s %-8s %-7s last ok %s  items %lld  new %s%s\n", h->id,
           h->kind ? h->kind : "?", status, ls, (long long)h->items_last_poll,
           ln, configured ? "" : "  (no longer configured)");
    if (h->empty_polls >= 3) {
        printf("%-24s   %lld successful polls in a row returned no item\n", "",
               (long long)h->empty_polls);
    }
    if (h->consecutive_failures > 0 || h->last_error) {
        printf("%-24s   failures in a row %lld; last error %s: %s\n", "",
               (long long)h->consecutive_failures, le,
               h->last_error ? h->last_error : "-");
    }
}

static int do_status(const char *dir, const char *sources, bool json)
{
    struct source_set *set = NULL;
    if (sources) {
        struct ig_diags d;
        ig_diags_init(&d);
        if (source_set_load(sources, &set, &d) < 0) {
            ig_diags_print(&d, stderr);
            ig_diags_fini(&d);
            return IG_EXIT_USAGE;
        }
        ig_diags_fini(&d);
    }
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    struct status_ctx c = {.w = json ? &w : NULL, .set = set};
    if (json) {
        ig_jsonw_arr_open(&w);
    }
    int n = state_each(dir, print_one, &c);
    /* Configured sources without a record have never been polled. */
    for (size_t i = 0; set && i < set->n; i++) {
        struct source_state st;
        if (state_load(dir, set->v[i]->conn.id, &st) == IG_OK) {
            source_state_fini(&st);
            continue;
        }
        struct source_health h = {.id = set->v[i]->conn.id,
                                  .kind = set->v[i]->conn.ops->kind,
                                  .enabled = set->v[i]->conn.conf.enabled};
        if (json) {
            sched_health_obj_json(&h, &w);
        } else {
            printf("%-24s %-8s never polled\n", h.id, h.kind);
        }
    }
    if (json) {
        ig_jsonw_arr_close(&w);
        cmd_json_line(stdout, &b);
    }
    ig_buf_fini(&b);
    source_set_free(set);
    if (n < 0 && !set) {
        fprintf(stderr, "intake: no state in %s (has the gateway run?)\n", dir);
        return IG_EXIT_RUNTIME;
    }
    return IG_EXIT_OK;
}

static int do_kinds(const char *only)
{
    const struct connector_ops *const *k = connector_kinds();
    if (!only) {
        printf("keys of every source:\n");
        ig_cfg_print_schema(connector_common_schema, stdout);
    }
    for (size_t i = 0; k[i]; i++) {
        if (only && strcmp(only, k[i]->kind) != 0) {
            continue;
        }
        printf("\nkind %s (channel %s):\n", k[i]->kind, k[i]->channel);
        if (k[i]->schema) {
            ig_cfg_print_schema(k[i]->schema, stdout);
        }
        if (only) {
            return IG_EXIT_OK;
        }
    }
    if (only) {
        const char *sug = source_kind_closest(only);
        char *kl = source_kind_list();
        fprintf(stderr,
                "intake sources: unknown kind '%s'%s%s%s (built-in: %s)\n",
                only, sug ? " (did you mean '" : "", sug ? sug : "",
                sug ? "'?)" : "", kl);
        ig_free(kl);
        return IG_EXIT_USAGE;
    }
    return IG_EXIT_OK;
}

int cmd_sources(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IG_EXIT_USAGE : IG_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "check") != 0 && strcmp(sub, "status") != 0 &&
        strcmp(sub, "kinds") != 0) {
        fprintf(stderr, "intake sources: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return IG_EXIT_USAGE;
    }
    const char *cfg = NULL, *state = NULL, *kind = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool is_cfg = strcmp(a, "-c") == 0 || strcmp(a, "-s") == 0 ||
                      strcmp(a, "--sources") == 0;
        bool is_state = strcmp(a, "-d") == 0 || strcmp(a, "--state") == 0;
        if ((is_cfg || is_state) && i + 1 >= argc) {
            /* Said as it is: "unknown option '-c'" sent people looking
             * for a spelling mistake that was not there. */
            fprintf(stderr, "intake sources: %s needs a value\n", a);
            return IG_EXIT_USAGE;
        }
        if (is_cfg) {
            cfg = argv[++i];
        } else if (is_state) {
            state = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return IG_EXIT_OK;
        } else if (a[0] != '-' && !kind && strcmp(sub, "kinds") == 0) {
            kind = a;
        } else if (a[0] != '-') {
            fprintf(stderr, "intake sources %s: unexpected argument '%s'\n",
                    sub, a);
            return IG_EXIT_USAGE;
        } else {
            fprintf(stderr, "intake sources: unknown option '%s'\n", a);
            usage(stderr);
            return IG_EXIT_USAGE;
        }
    }
    ig_log_set_format(IG_LOG_FMT_TEXT);
    if (strcmp(sub, "check") == 0) {
        return do_check(cfg ? cfg : source_default_path());
    }
    if (strcmp(sub, "status") == 0) {
        return do_status(state ? state : default_state_dir(), cfg, json);
    }
    return do_kinds(kind);
}
