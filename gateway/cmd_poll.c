/* cmd_poll.c — `intake poll SOURCE_ID`: fetch one source once and show
 * the items it would produce, with their classification.
 *
 * What an administrator runs right after adding a source. It uses the
 * same code path as the gateway (sources.c, scheduler.c, fetch.c, the
 * connector) on a private event loop, then classifies each item with the
 * rule set. It never forwards, and never writes state: by default it
 * starts from nothing (every item the source currently lists), with
 * --state DIR from the gateway's committed cursor (what the gateway would
 * get next), read-only. --dry-run is accepted for clarity and is the only
 * mode.
 */
#include "gateway/cmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "classifiers/classifier.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "gateway/scheduler.h"
#include "gateway/sources.h"

struct pollrun {
    struct event_base *base;
    struct sched *sched;
    struct ruleset *rs;
    struct cls_scratch *scratch;
    bool json;
    bool explain;
    size_t max_show;
    int rc;
    size_t nitems, nclassified;
    bool done;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: intake poll SOURCE_ID [-s SOURCES] [--dry-run] "
            "[--rules DIR]\n"
            "                   [--state DIR] [--json] [--explain] "
            "[--no-classify] [--max N]\n"
            "\n"
            "Fetches one source once (also a disabled one) and prints the\n"
            "items it would produce with their classification. Nothing is\n"
            "forwarded and no state is written.\n"
            "\n"
            "  -s, --sources P   sources file or folder ($INTAKE_SOURCES,\n"
            "                    ./sources.d); -c is the same\n"
            "  --rules DIR       rule set (default: the shipped rules)\n"
            "  --state DIR       start from the gateway's committed cursor\n"
            "                    and validators in DIR (read-only)\n"
            "  --json            one JSON object per item\n"
            "  --explain         show why each code was chosen\n"
            "  --no-classify     only fetch and parse\n"
            "  --max N           print at most N items, N >= 1 (default\n"
            "                    all)\n"
            "  -v, --verbose     log fetch details (URLs without queries)\n"
            "\n"
            "Exit status: 0 the poll worked, 3 it failed (the reason is\n"
            "printed; items before the failure are still shown), 2 usage\n"
            "or configuration error.\n");
}

static void print_json(struct pollrun *r, const struct ig_item *it,
                       const struct cls_result *cr)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "source", it->source_id);
    ig_jsonw_kstr(&w, "channel", it->channel);
    ig_jsonw_kstr(&w, "ext_id", it->ext_id);
    ig_jsonw_kstr(&w, "url", it->url);
    ig_jsonw_kstr(&w, "title", it->title);
    ig_jsonw_kstr(&w, "text", it->text);
    ig_jsonw_kstr(&w, "author", it->author);
    ig_jsonw_kstr(&w, "place", it->place);
    ig_jsonw_kstr(&w, "published", it->published);
    ig_jsonw_kstr(&w, "fetched", it->fetched);
    if (it->flags) {
        ig_jsonw_kint(&w, "flags", it->flags);
        ig_jsonw_kstr(&w, "warning", it->warning);
    }
    if (it->nfields) {
        ig_jsonw_key(&w, "fields");
        ig_jsonw_obj_open(&w);
        for (size_t i = 0; i < it->nfields; i++) {
            ig_jsonw_kstr(&w, it->fields[i].key, it->fields[i].value);
        }
        ig_jsonw_obj_close(&w);
    }
    if (cr) {
        ig_jsonw_key(&w, "classification");
        ig_jsonw_obj_open(&w);
        cls_result_json(r->rs, cr, &w);
        ig_jsonw_obj_close(&w);
    }
    ig_jsonw_obj_close(&w);
    cmd_json_line(stdout, &b);
    ig_buf_fini(&b);
}

static void print_text(struct pollrun *r, size_t n, const struct ig_item *it,
                       const struct cls_result *cr)
{
    (void)r;
    printf("[%zu] %s  %s  %s\n", n, it->ext_id ? it->ext_id : "-",
           it->published ? it->published : "(no date)", it->channel);
    if (it->title) {
        printf("    title: %s\n", it->title);
    }
    if (it->url) {
        printf("    url:   %s\n", it->url);
    }
    if (it->place) {
        printf("    place: %s\n", it->place);
    }
    if (it->text) {
        size_t l = strlen(it->text);
        size_t cut = ig_utf8_trim_len(it->text, l, 240);
        printf("    text:  %.*s%s\n", (int)cut, it->text, cut < l ? "…" : "");
    }
    if (it->flags) {
        printf("    flags: 0x%x %s\n", it->flags,
               it->warning ? it->warning : "");
    }
    if (cr) {
        if (cr->top) {
            printf("    code:  %s %s (%s)  confidence %.2f\n", cr->top->code,
                   cr->top->name, cr->top->major, cr->confidence);
        } else {
            printf("    code:  unclassified\n");
        }
        if (cr->explain) {
            printf("    why:   %s\n", cr->explain);
        }
    }
}

/* The configured id closest to a mistyped one, or NULL when none is
 * close enough (ig_suggest_best()). */
static const char *closest_id(const struct source_set *set, const char *id)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, id);
    for (size_t i = 0; i < set->n; i++) {
        ig_suggest_try(&sg, set->v[i]->conn.id);
    }
    return ig_suggest_best(&sg);
}

static void on_batch(void *ud, struct sched_batch *b)
{
    struct pollrun *r = ud;
    for (size_t i = 0; i < b->nitems; i++) {
        struct ig_item *it = b->items[i];
        r->nitems++;
        if (r->max_show && r->nitems > r->max_show) {
            continue;
        }
        struct cls_result cr;
        struct cls_result *crp = NULL;
        if (r->rs) {
            const char *t = it->title ? it->title : "";
            const char *x = it->text ? it->text : "";
            if (ruleset_classify(r->rs, r->scratch, t, strlen(t), x, strlen(x),
                                 r->explain, it->arena, &cr) == IG_OK) {
                crp = &cr;
                r->nclassified += cr.top != NULL;
            }
        }
        if (r->json) {
            print_json(r, it, crp);
        } else {
            print_text(r, r->nitems, it, crp);
        }
    }
    fprintf(stderr, "intake poll: %s (%s): %zu item%s", b->source_id, b->kind,
            b->nitems, b->nitems == 1 ? "" : "s");
    /* Only the items shown are classified: "3 items, 1 classified" read
     * as two unclassified ones. */
    if (r->max_show && b->nitems > r->max_show) {
        fprintf(stderr, " (%zu shown)", r->max_show);
    }
    fprintf(stderr, "%s%s", b->not_modified ? ", not modified (304)" : "",
            b->nskipped ? ", skipped " : "");
    if (b->nskipped) {
        fprintf(stderr, "%zu malformed", b->nskipped);
    }
    if (r->rs) {
        fprintf(stderr, ", %zu classified", r->nclassified);
    }
    fprintf(stderr, "\n");
    if (b->rc != IG_OK) {
        fprintf(stderr, "intake poll: %s failed: %s\n", b->source_id,
                b->error ? b->error : ig_strerror(b->rc));
        r->rc = b->rc;
    }
    /* Settled as "not safe": a poll never commits anything. */
    sched_done(r->sched, b->token, IG_EAGAIN, 0);
    r->done = true;
    event_base_loopbreak(r->base);
}

int cmd_poll(int argc, char **argv)
{
    const char *id = NULL, *sources = NULL, *rules = NULL, *state = NULL;
    struct pollrun r = {0};
    bool classify = true;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool is_src = strcmp(a, "-s") == 0 || strcmp(a, "--sources") == 0 ||
                      strcmp(a, "-c") == 0;
        bool takes_value = is_src || strcmp(a, "--rules") == 0 ||
                           strcmp(a, "--state") == 0 || strcmp(a, "--max") == 0;
        if (takes_value && i + 1 >= argc) {
            fprintf(stderr, "intake poll: %s needs a value\n", a);
            return IG_EXIT_USAGE;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return IG_EXIT_OK;
        } else if (is_src) {
            sources = argv[++i];
        } else if (strcmp(a, "--rules") == 0) {
            rules = argv[++i];
        } else if (strcmp(a, "--state") == 0) {
            state = argv[++i];
        } else if (strcmp(a, "--max") == 0) {
            /* strtoul took "abc" as 0 (= all) and "-1" as huge: both
             * showed every item while the user asked for a few. */
            const char *v = argv[++i];
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 ||
                n == 0) {
                fprintf(stderr,
                        "intake poll: --max takes a count of items (1 or "
                        "more), not '%s'\n",
                        v);
                return IG_EXIT_USAGE;
            }
            r.max_show = (size_t)n;
        } else if (strcmp(a, "--dry-run") == 0) {
            /* the only mode */
        } else if (strcmp(a, "--json") == 0) {
            r.json = true;
        } else if (strcmp(a, "--explain") == 0) {
            r.explain = true;
        } else if (strcmp(a, "--no-classify") == 0) {
            classify = false;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (a[0] != '-' && !id) {
            id = a;
        } else {
            fprintf(stderr, "intake poll: unknown option '%s'\n", a);
            usage(stderr);
            return IG_EXIT_USAGE;
        }
    }
    if (!id) {
        usage(stderr);
        return IG_EXIT_USAGE;
    }
    ig_log_set_format(IG_LOG_FMT_TEXT);
    /* The outcome is printed below; the scheduler's "failing" warning
     * would only repeat it. -v shows everything, fetch details included. */
    ig_log_set_level(verbose ? IG_LOG_DEBUG : IG_LOG_ERROR);
    int ret = IG_EXIT_USAGE;
    struct ig_diags d;
    ig_diags_init(&d);
    struct source_set *set = NULL;
    if (!sources) {
        sources = source_default_path();
    }
    if (source_set_load(sources, &set, &d) < 0) {
        ig_diags_print(&d, stderr);
        goto out;
    }
    if (!source_set_find(set, id)) {
        fprintf(stderr, "intake poll: no source '%s' in %s", id, sources);
        const char *best = closest_id(set, id);
        if (best) {
            fprintf(stderr, " (did you mean '%s'?)", best);
        }
        fprintf(stderr, "\n");
        source_set_free(set);
        goto out;
    }
    if (state) {
        /* A mistyped state dir would otherwise read as "never polled"
         * and show every item from scratch. */
        struct stat st;
        const char *why = NULL;
        if (stat(state, &st) != 0) {
            why = strerror(errno);
        } else if (!S_ISDIR(st.st_mode)) {
            why = "not a directory";
        }
        if (why) {
            fprintf(stderr, "intake poll: --state %s: %s\n", state, why);
            source_set_free(set);
            goto out;
        }
    }
    if (classify) {
        const char *dir = rules ? rules : cmd_default_rules_dir();
        if (ruleset_load(dir, &r.rs, &d) < 0) {
            ig_diags_print(&d, stderr);
            fprintf(stderr, "intake poll: cannot load rules from %s\n", dir);
            source_set_free(set);
            goto out;
        }
        r.scratch = cls_scratch_new();
    }
    r.base = event_base_new();
    struct sched_opts so = {
        .state_dir = state,
        .state_readonly = true,
        .on_batch = on_batch,
        .ud = &r,
    };
    if (sched_new(r.base, set, &so, &r.sched) < 0) {
        ret = IG_EXIT_RUNTIME;
        goto out;
    }
    sched_poll_now(r.sched, id);
    if (!r.done) {
        event_base_dispatch(r.base);
    }
    ret = r.rc == IG_OK ? IG_EXIT_OK : IG_EXIT_RUNTIME;
out:
    sched_free(r.sched);
    if (r.base) {
        event_base_free(r.base);
    }
    cls_scratch_free(r.scratch);
    if (r.rs) {
        ruleset_unref(r.rs);
    }
    ig_diags_fini(&d);
    return ret;
}
