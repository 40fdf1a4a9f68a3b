/* cmd_rules.c — `intake rules test|check|diff`: the rule base's own tools.
 *
 * Monitors tune the rules/ files daily; these three commands tell them what
 * an edit does before it goes live.
 *
 *   test   runs a labelled corpus (JSON Lines in the format of the shared
 *          corpus: id, title, text, acceptable[], in_scope, primary) through
 *          the rule set and reports top-1 accuracy in scope (a verdict
 *          counts when it is in `acceptable`), the correct-abstention rate
 *          out of scope, precision / recall / F1 per code and per major
 *          category, the most frequent confusions and, per rule, its hits
 *          and false positives. Bars (--min-accuracy, --baseline) turn it
 *          into a test that fails; items marked "pinned" must stay right.
 *   check  the linter: load errors (unknown code ...), codes without a
 *          rule, examples and counters that fail, regexes without a
 *          required literal, patterns hitting their match limit on their
 *          own examples, keywords claimed by several codes, and with
 *          --corpus the rules that never fire.
 *   diff   the items whose verdict changes between two rule directories.
 *
 * The corpus is read whole into one arena (the labelled sets are small:
 * hundreds to a few thousand lines); each line is capped at MAX_LINE and
 * the number of items at MAX_ITEMS. Metrics are plain counters per code
 * and per major category in table order; confusions are a linear list of
 * (expected, got) pairs, which stays tiny (at most 145 x 145). Rejected: a
 * separate metrics library — the numbers are only ever printed here, and
 * the golden tests run this very command.
 */
#include "gateway/cmd.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "classifiers/rule_words.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/mem.h"

/* One labelled message: 1 MiB of text JSON-escaped several times over. */
#define MAX_LINE (8u * 1024u * 1024u)
/* Items per corpus: far above any labelled set, below memory trouble. */
#define MAX_ITEMS 200000u
/* Codes a corpus line may list as acceptable. */
#define MAX_ACCEPT 16u
/* Example ids kept per confusion for the report. */
#define CONF_IDS 3u

/* One corpus line. Strings live in the corpus arena. */
struct citem {
    const char *id;
    const char *title, *text;
    size_t tl, xl;
    const char *acc[MAX_ACCEPT]; /* acceptable codes, primary first */
    size_t nacc;
    const char *primary; /* NULL when out of scope */
    bool in_scope;
    bool pinned; /* must be right, whatever the bars */
};

struct corpus {
    struct ig_arena *a;
    const char *path;
    struct citem *v;
    size_t n, cap;
    size_t nbad; /* lines that could not be read */
};

/* ------------------------------------------------------------ reading */

/* Reads one line into b (without the newline). Returns 1 for a line, 0 at
 * EOF, -1 on a read error; *too_long is set when the line exceeded the
 * buffer's cap (the rest of it is skipped). */
static int read_line(FILE *f, struct ig_buf *b, bool *too_long)
{
    char chunk[65536];
    bool any = false;
    ig_buf_reset(b);
    *too_long = false;
    while (fgets(chunk, sizeof(chunk), f) != NULL) {
        any = true;
        size_t n = strlen(chunk);
        bool nl = n > 0 && chunk[n - 1] == '\n';
        if (nl) {
            n--;
        }
        if (!*too_long && ig_buf_add(b, chunk, n) < 0) {
            *too_long = true;
        }
        if (nl) {
            return 1;
        }
    }
    if (ferror(f)) {
        return -1;
    }
    return any ? 1 : 0;
}

/* Decodes the JSON strings of an array value (already validated by the
 * reader) into out[]. Non-string elements are ignored. Returns the count
 * or -1 when there are more than max. */
static int decode_str_array(const char *raw, size_t len, struct ig_arena *a,
                            const char **out, size_t max)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        if (raw[i] != '"') {
            i++;
            continue;
        }
        size_t s = i++;
        while (i < len && raw[i] != '"') {
            i += raw[i] == '\\' ? 2 : 1;
        }
        i++;
        if (n >= max) {
            return -1;
        }
        /* Reuse the strict reader for the escapes: {"s":<string>}. */
        char *obj = ig_arena_printf(a, "{\"s\":%.*s}", (int)(i - s), raw + s);
        struct ig_jsonr_member *m;
        size_t nm, off;
        const char *err;
        if (ig_jsonr_object(obj, strlen(obj), a, &m, &nm, &off, &err) == 0 &&
            nm == 1 && m[0].type == IG_JSONR_STRING) {
            out[n++] = m[0].str;
        }
    }
    return (int)n;
}

/* Parses one corpus line into it. Returns 0, or -1 with *why set. */
static int parse_item(struct corpus *c, const char *line, size_t len,
                      size_t lineno, struct citem *it, const char **why)
{
    struct ig_jsonr_member *m;
    size_t nm, off;
    const char *err;
    memset(it, 0, sizeof(*it));
    if (ig_jsonr_object(line, len, c->a, &m, &nm, &off, &err) < 0) {
        *why = ig_arena_printf(c->a, "invalid JSON: %s at byte %zu", err, off);
        return -1;
    }
    const struct ig_jsonr_member *idm = ig_jsonr_get(m, nm, "id");
    const struct ig_jsonr_member *tm = ig_jsonr_get(m, nm, "title");
    const struct ig_jsonr_member *xm = ig_jsonr_get(m, nm, "text");
    const struct ig_jsonr_member *am = ig_jsonr_get(m, nm, "acceptable");
    const struct ig_jsonr_member *sm = ig_jsonr_get(m, nm, "in_scope");
    const struct ig_jsonr_member *pm = ig_jsonr_get(m, nm, "primary");
    const struct ig_jsonr_member *pin = ig_jsonr_get(m, nm, "pinned");
    if ((tm == NULL || tm->str == NULL) && (xm == NULL || xm->str == NULL)) {
        *why = "no \"title\" or \"text\" string";
        return -1;
    }
    if (idm && idm->type == IG_JSONR_STRING) {
        it->id = idm->str;
    } else if (idm && idm->type != IG_JSONR_NULL) {
        it->id = ig_arena_strndup(c->a, idm->raw, idm->raw_len);
    } else {
        it->id = ig_arena_printf(c->a, "line %zu", lineno);
    }
    it->title = tm && tm->str ? tm->str : "";
    it->tl = tm && tm->str ? tm->str_len : 0;
    it->text = xm && xm->str ? xm->str : "";
    it->xl = xm && xm->str ? xm->str_len : 0;
    if (am && am->type == IG_JSONR_ARRAY) {
        int k =
            decode_str_array(am->raw, am->raw_len, c->a, it->acc, MAX_ACCEPT);
        if (k < 0) {
            *why = "more than 16 acceptable codes";
            return -1;
        }
        it->nacc = (size_t)k;
    } else if (am && am->type != IG_JSONR_NULL) {
        *why = "\"acceptable\" must be an array of codes";
        return -1;
    }
    /* The primary code comes first among the acceptable ones; a corpus
     * that gives only "primary" still works. */
    if (pm && pm->type == IG_JSONR_STRING) {
        it->primary = pm->str;
        bool listed = false;
        for (size_t k = 0; k < it->nacc; k++) {
            listed = listed || strcmp(it->acc[k], pm->str) == 0;
        }
        if (!listed && it->nacc < MAX_ACCEPT) {
            memmove(it->acc + 1, it->acc, it->nacc * sizeof(it->acc[0]));
            it->acc[0] = pm->str;
            it->nacc++;
        }
    } else if (it->nacc > 0) {
        it->primary = it->acc[0];
    }
    if (sm && (sm->type == IG_JSONR_TRUE || sm->type == IG_JSONR_FALSE)) {
        it->in_scope = sm->type == IG_JSONR_TRUE;
    } else {
        it->in_scope = it->nacc > 0;
    }
    if (it->in_scope && it->nacc == 0) {
        *why = "in scope but no acceptable code";
        return -1;
    }
    if (!it->in_scope) {
        it->nacc = 0;
        it->primary = NULL;
    }
    it->pinned = pin && pin->type == IG_JSONR_TRUE;
    return 0;
}

/* Loads a labelled corpus. Bad lines are reported on stderr and counted;
 * returns IG_OK, or IG_EIO / IG_E2BIG. */
static int corpus_load(const char *path, struct corpus *c)
{
    int rc = IG_OK;
    memset(c, 0, sizeof(*c));
    c->a = ig_arena_new(256 * 1024);
    c->path = path;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct ig_buf line;
    ig_buf_init(&line, MAX_LINE);
    if (f == NULL) {
        fprintf(stderr, "intake rules: cannot open %s: %s\n", path,
                strerror(errno));
        rc = IG_EIO;
        goto out;
    }
    size_t lineno = 0;
    for (;;) {
        bool too_long;
        errno = 0;
        int r = read_line(f, &line, &too_long);
        if (r < 0) {
            /* fopen() opens a directory; the read then says EISDIR. */
            fprintf(stderr, "intake rules: %s: %s\n", path,
                    errno ? strerror(errno) : "read error");
            rc = IG_EIO;
            goto out;
        }
        if (r == 0) {
            break;
        }
        lineno++;
        size_t ll = line.len;
        if (ll > 0 && line.data[ll - 1] == '\r') {
            ll--;
        }
        size_t b = 0;
        while (b < ll && (line.data[b] == ' ' || line.data[b] == '\t')) {
            b++;
        }
        if (b == ll && !too_long) {
            continue;
        }
        const char *why = NULL;
        struct citem it;
        if (too_long) {
            why = "line longer than 8 MiB";
        } else if (parse_item(c, line.data, ll, lineno, &it, &why) == 0) {
            if (c->n >= MAX_ITEMS) {
                fprintf(stderr, "intake rules: %s: more than %u items\n", path,
                        MAX_ITEMS);
                rc = IG_E2BIG;
                goto out;
            }
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 256;
                c->v = ig_realloc(c->v, c->cap * sizeof(*c->v));
            }
            c->v[c->n++] = it;
            continue;
        }
        fprintf(stderr, "intake rules: %s:%zu: %s (skipped)\n", path, lineno,
                why);
        c->nbad++;
    }
out:
    ig_buf_fini(&line);
    if (f != NULL && f != stdin) {
        fclose(f);
    }
    return rc;
}

static void corpus_fini(struct corpus *c)
{
    ig_free(c->v);
    ig_arena_free(c->a);
    memset(c, 0, sizeof(*c));
}

/* Loads a rule set, printing its diagnostics on failure. */
static struct ruleset *load_rules(const char *dir)
{
    struct ig_diags d;
    struct ruleset *rs = NULL;
    ig_diags_init(&d);
    if (ruleset_load(dir, &rs, &d) < 0) {
        ig_diags_print(&d, stderr);
        fprintf(stderr, "intake rules: the rule set in %s does not load\n",
                dir);
        rs = NULL;
    }
    ig_diags_fini(&d);
    return rs;
}

/* ------------------------------------------------------------ metrics */

static bool accepted(const struct citem *it, const char *code)
{
    if (code == NULL) {
        return !it->in_scope;
    }
    for (size_t k = 0; k < it->nacc; k++) {
        if (strcmp(it->acc[k], code) == 0) {
            return true;
        }
    }
    return false;
}

/* Counters for one code or one major category. */
struct cnt {
    size_t truth;    /* items whose primary code is this one */
    size_t truth_ok; /* ... classified correctly (recall numerator) */
    size_t pred;     /* verdicts naming this one */
    size_t pred_ok;  /* ... that were acceptable (precision numerator) */
};

struct conf {
    const char *expected; /* primary code, or NULL = out of scope */
    const char *got;      /* verdict, or NULL = unclassified */
    size_t n;
    const char *ids[CONF_IDS];
};

struct rstat {
    size_t hits;   /* items it fired on (not vetoed) */
    size_t fp;     /* ... whose acceptable codes do not include its code */
    size_t wrong;  /* ... where its code was the (wrong) verdict */
    size_t vetoed; /* items where a not: line stopped it */
};

struct eval {
    const struct ruleset *rs;
    size_t ntaxa, nmajor, nrules;
    const char **major_code; /* distinct major codes, table order */
    const char **major_name;
    size_t *taxon_major; /* taxon index -> major index */
    struct cnt *code, *major;
    struct rstat *rule;
    struct conf *conf;
    size_t nconf, confcap;
    size_t n, nin, nout, in_ok, out_ok, regex_errors;
    const struct taxon **verdict; /* per item */
    size_t npinned_bad;
};

static void eval_init(struct eval *e, const struct ruleset *rs, size_t nitems)
{
    memset(e, 0, sizeof(*e));
    e->rs = rs;
    e->ntaxa = ruleset_ntaxa(rs);
    e->nrules = ruleset_nrules(rs);
    e->major_code = ig_calloc(e->ntaxa + 1, sizeof(char *));
    e->major_name = ig_calloc(e->ntaxa + 1, sizeof(char *));
    e->taxon_major = ig_calloc(e->ntaxa + 1, sizeof(size_t));
    for (size_t i = 0; i < e->ntaxa; i++) {
        const struct taxon *t = ruleset_taxon_at(rs, i);
        size_t k = 0;
        while (k < e->nmajor && strcmp(e->major_code[k], t->major_code) != 0) {
            k++;
        }
        if (k == e->nmajor) {
            e->major_code[k] = t->major_code;
            e->major_name[k] = t->major;
            e->nmajor++;
        }
        e->taxon_major[i] = k;
    }
    e->code = ig_calloc(e->ntaxa + 1, sizeof(struct cnt));
    e->major = ig_calloc(e->nmajor + 1, sizeof(struct cnt));
    e->rule = ig_calloc(e->nrules + 1, sizeof(struct rstat));
    e->verdict = ig_calloc(nitems + 1, sizeof(*e->verdict));
}

static void eval_fini(struct eval *e)
{
    ig_free(e->major_code);
    ig_free(e->major_name);
    ig_free(e->taxon_major);
    ig_free(e->code);
    ig_free(e->major);
    ig_free(e->rule);
    ig_free(e->conf);
    ig_free(e->verdict);
}

static void add_confusion(struct eval *e, const char *expected, const char *got,
                          const char *id)
{
    struct conf *c = NULL;
    for (size_t k = 0; k < e->nconf; k++) {
        struct conf *x = &e->conf[k];
        bool se = (x->expected == NULL && expected == NULL) ||
                  (x->expected && expected && !strcmp(x->expected, expected));
        bool sg = (x->got == NULL && got == NULL) ||
                  (x->got && got && !strcmp(x->got, got));
        if (se && sg) {
            c = x;
            break;
        }
    }
    if (c == NULL) {
        if (e->nconf == e->confcap) {
            e->confcap = e->confcap ? e->confcap * 2 : 64;
            e->conf = ig_realloc(e->conf, e->confcap * sizeof(*e->conf));
        }
        c = &e->conf[e->nconf++];
        memset(c, 0, sizeof(*c));
        c->expected = expected;
        c->got = got;
    }
    if (c->n < CONF_IDS) {
        c->ids[c->n] = id;
    }
    c->n++;
}

/* Classifies every item and fills the counters. */
static void eval_run(struct eval *e, const struct corpus *c)
{
    struct cls_scratch *s = cls_scratch_new();
    for (size_t i = 0; i < c->n; i++) {
        const struct citem *it = &c->v[i];
        struct ig_arena *a = ig_arena_new(16 * 1024);
        struct cls_result r;
        ruleset_classify(e->rs, s, it->title, it->tl, it->text, it->xl, false,
                         a, &r);
        const char *got = r.top ? r.top->code : NULL;
        bool ok = accepted(it, got);
        e->verdict[i] = r.top;
        e->n++;
        e->regex_errors += r.regex_errors;
        if (it->in_scope) {
            e->nin++;
            e->in_ok += ok;
        } else {
            e->nout++;
            e->out_ok += ok;
        }
        if (it->pinned && !ok) {
            e->npinned_bad++;
        }
        if (it->primary) {
            const struct taxon *t = ruleset_taxon(e->rs, it->primary);
            if (t) {
                e->code[t->index].truth++;
                e->code[t->index].truth_ok += ok;
                e->major[e->taxon_major[t->index]].truth++;
                e->major[e->taxon_major[t->index]].truth_ok += ok;
            }
        }
        if (r.top) {
            e->code[r.top->index].pred++;
            e->code[r.top->index].pred_ok += ok;
            e->major[e->taxon_major[r.top->index]].pred++;
            e->major[e->taxon_major[r.top->index]].pred_ok += ok;
        }
        if (!ok) {
            add_confusion(e, it->primary, got, it->id);
        }
        for (size_t k = 0; k < r.nfired; k++) {
            const struct cls_fired *f = &r.fired[k];
            if (f->rule >= e->nrules || f->error) {
                continue;
            }
            struct rstat *st = &e->rule[f->rule];
            if (f->vetoed) {
                st->vetoed++;
                continue;
            }
            st->hits++;
            if (!accepted(it, f->taxon->code)) {
                st->fp++;
                if (!ok && r.top == f->taxon) {
                    st->wrong++;
                }
            }
        }
        ig_arena_free(a);
    }
    cls_scratch_free(s);
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static double f1(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static int cmp_conf(const void *a, const void *b)
{
    const struct conf *x = a, *y = b;
    if (x->n != y->n) {
        return x->n < y->n ? 1 : -1;
    }
    const char *xe = x->expected ? x->expected : "";
    const char *ye = y->expected ? y->expected : "";
    return strcmp(xe, ye);
}

/* ------------------------------------------------------------ output */

/* cmd_cell() of the C string s straight to out; no cut mark: the report
 * columns are wide enough for ids and codes, and a title is a hint. */
static void cell(FILE *out, const char *s, int max_cols, int pad_cols)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    cmd_cell(&b, s, strlen(s), max_cols, pad_cols, false);
    if (b.len > 0) {
        fwrite(b.data, 1, b.len, out);
    }
    ig_buf_fini(&b);
}

static void print_cnt_row(FILE *out, const char *code, const char *name,
                          const struct cnt *c)
{
    double p = ratio(c->pred_ok, c->pred), r = ratio(c->truth_ok, c->truth);
    cell(out, code, 8, 9);
    cell(out, name, 20, 21);
    fprintf(out, "%5zu %5zu  ", c->truth, c->pred);
    /* A ratio of nothing (no verdict here, no item expected here) is not
     * a score: "-", not 0.0 %, and no F1 without both. */
    if (c->pred) {
        fprintf(out, "%6.1f%% ", 100 * p);
    } else {
        fprintf(out, "%7s ", "-");
    }
    if (c->truth) {
        fprintf(out, "%6.1f%% ", 100 * r);
    } else {
        fprintf(out, "%7s ", "-");
    }
    if (c->pred && c->truth) {
        fprintf(out, "%6.3f\n", f1(p, r));
    } else {
        fprintf(out, "%6s\n", "-");
    }
}

/* The rule statistics qsort compares through (qsort has no context
 * argument; the command is single-threaded). */
static const struct rstat *sort_rules;

/* Wrong verdicts first, then false positives, then hits; ties keep the
 * rule order. */
static int cmp_rule_harm(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct rstat *x = &sort_rules[i], *y = &sort_rules[j];
    if (x->wrong != y->wrong) {
        return x->wrong < y->wrong ? 1 : -1;
    }
    if (x->fp != y->fp) {
        return x->fp < y->fp ? 1 : -1;
    }
    if (x->hits != y->hits) {
        return x->hits < y->hits ? 1 : -1;
    }
    return i < j ? -1 : i > j;
}

static void print_test_human(FILE *out, struct eval *e, const struct corpus *c,
                             const char *dir, size_t top, bool all_codes)
{
    fprintf(out, "rules test: %s (%s) on %s\n", dir, ruleset_version(e->rs),
            c->path);
    fprintf(out, "  %zu items: %zu in scope, %zu out of scope", e->n, e->nin,
            e->nout);
    if (c->nbad) {
        fprintf(out, "; %zu unreadable lines skipped", c->nbad);
    }
    fprintf(out, "\n\n");
    fprintf(out, "  top-1 accuracy in scope   %6.1f%%  (%zu/%zu)\n",
            100 * ratio(e->in_ok, e->nin), e->in_ok, e->nin);
    fprintf(out, "  correct abstention        %6.1f%%  (%zu/%zu)\n",
            100 * ratio(e->out_ok, e->nout), e->out_ok, e->nout);
    fprintf(out, "  all items right           %6.1f%%  (%zu/%zu)\n",
            100 * ratio(e->in_ok + e->out_ok, e->n), e->in_ok + e->out_ok,
            e->n);
    if (e->regex_errors) {
        fprintf(out, "  regex limit hits          %zu\n", e->regex_errors);
    }
    if (e->npinned_bad) {
        fprintf(out, "  pinned items wrong        %zu\n", e->npinned_bad);
    }
    fprintf(out, "\nPer major category (recall: expected here and right; "
                 "precision: verdicts here that were right)\n");
    fprintf(out, "  MAJOR    NAME                 ITEMS  PRED  "
                 "PRECISN  RECALL     F1\n");
    for (size_t k = 0; k < e->nmajor; k++) {
        fputs("  ", out);
        print_cnt_row(out, e->major_code[k], e->major_name[k], &e->major[k]);
    }
    fprintf(out, "\nPer code (%s)\n",
            all_codes ? "all codes" : "codes seen in the corpus or verdicts");
    fprintf(out, "  CODE     NAME                 ITEMS  PRED  "
                 "PRECISN  RECALL     F1\n");
    for (size_t i = 0; i < e->ntaxa; i++) {
        const struct taxon *t = ruleset_taxon_at(e->rs, i);
        if (!all_codes && e->code[i].truth == 0 && e->code[i].pred == 0) {
            continue;
        }
        fputs("  ", out);
        print_cnt_row(out, t->code, t->name, &e->code[i]);
    }
    if (e->nconf > 1) {
        qsort(e->conf, e->nconf, sizeof(*e->conf), cmp_conf);
    }
    fprintf(out, "\nMost frequent confusions (expected -> got)\n");
    if (e->nconf == 0) {
        fprintf(out, "  none\n");
    }
    for (size_t k = 0; k < e->nconf && k < top; k++) {
        const struct conf *x = &e->conf[k];
        fprintf(out, "  %4zu  ", x->n);
        cell(out, x->expected ? x->expected : "(out)", 8, 9);
        fputs("-> ", out);
        cell(out, x->got ? x->got : "(unclassified)", 14, 15);
        fputs("e.g. ", out);
        for (size_t j = 0; j < x->n && j < CONF_IDS; j++) {
            fprintf(out, "%s%s", j ? ", " : "", x->ids[j]);
        }
        fputc('\n', out);
    }
    fprintf(out, "\nRules that fired, most harmful first (hits; false "
                 "positives = fired on an\nitem whose acceptable codes do "
                 "not include the rule's code; wrong = its\ncode was the "
                 "wrong verdict)\n");
    fprintf(out, "  RULE                          CODE      HITS    FP  "
                 "WRONG  VETOED\n");
    /* Sorted so the rules worth looking at come first. */
    size_t *order = ig_calloc(e->nrules + 1, sizeof(size_t));
    for (size_t i = 0; i < e->nrules; i++) {
        order[i] = i;
    }
    sort_rules = e->rule;
    if (e->nrules > 1) {
        qsort(order, e->nrules, sizeof(order[0]), cmp_rule_harm);
    }
    for (size_t k = 0; k < e->nrules; k++) {
        size_t i = order[k];
        const struct rstat *st = &e->rule[i];
        if (st->hits == 0 && st->vetoed == 0) {
            continue;
        }
        const struct rule_info *ri = ruleset_rule(e->rs, i);
        fputs("  ", out);
        cell(out, ri->id, 29, 30);
        cell(out, ri->code, 8, 9);
        fprintf(out, "%5zu %5zu  %5zu  %6zu\n", st->hits, st->fp, st->wrong,
                st->vetoed);
    }
    ig_free(order);
}

static void json_cnt(struct ig_jsonw *w, const char *code, const char *name,
                     const struct cnt *c)
{
    double p = ratio(c->pred_ok, c->pred), r = ratio(c->truth_ok, c->truth);
    ig_jsonw_obj_open(w);
    ig_jsonw_kstr(w, "code", code);
    ig_jsonw_kstr(w, "name", name);
    ig_jsonw_kint(w, "items", (int64_t)c->truth);
    ig_jsonw_kint(w, "items_right", (int64_t)c->truth_ok);
    ig_jsonw_kint(w, "predicted", (int64_t)c->pred);
    ig_jsonw_kint(w, "predicted_right", (int64_t)c->pred_ok);
    ig_jsonw_knum(w, "precision", p);
    ig_jsonw_knum(w, "recall", r);
    ig_jsonw_knum(w, "f1", f1(p, r));
    ig_jsonw_obj_close(w);
}

static void kstr_or_null(struct ig_jsonw *w, const char *k, const char *v)
{
    if (v) {
        ig_jsonw_kstr(w, k, v);
    } else {
        ig_jsonw_knull(w, k);
    }
}

static void print_test_json(FILE *out, struct eval *e, const struct corpus *c,
                            const char *dir, bool pass)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "rules", dir);
    ig_jsonw_kstr(&w, "rules_version", ruleset_version(e->rs));
    ig_jsonw_kstr(&w, "corpus", c->path);
    ig_jsonw_kint(&w, "items", (int64_t)e->n);
    ig_jsonw_kint(&w, "unreadable_lines", (int64_t)c->nbad);
    ig_jsonw_kint(&w, "in_scope", (int64_t)e->nin);
    ig_jsonw_kint(&w, "in_scope_right", (int64_t)e->in_ok);
    ig_jsonw_kint(&w, "out_of_scope", (int64_t)e->nout);
    ig_jsonw_kint(&w, "out_of_scope_abstained", (int64_t)e->out_ok);
    ig_jsonw_knum(&w, "accuracy", ratio(e->in_ok, e->nin));
    ig_jsonw_knum(&w, "abstention", ratio(e->out_ok, e->nout));
    ig_jsonw_kint(&w, "regex_errors", (int64_t)e->regex_errors);
    ig_jsonw_kint(&w, "pinned_wrong", (int64_t)e->npinned_bad);
    ig_jsonw_kbool(&w, "pass", pass);
    ig_jsonw_key(&w, "majors");
    ig_jsonw_arr_open(&w);
    for (size_t k = 0; k < e->nmajor; k++) {
        json_cnt(&w, e->major_code[k], e->major_name[k], &e->major[k]);
    }
    ig_jsonw_arr_close(&w);
    ig_jsonw_key(&w, "codes");
    ig_jsonw_arr_open(&w);
    for (size_t i = 0; i < e->ntaxa; i++) {
        const struct taxon *t = ruleset_taxon_at(e->rs, i);
        json_cnt(&w, t->code, t->name, &e->code[i]);
    }
    ig_jsonw_arr_close(&w);
    if (e->nconf > 1) {
        qsort(e->conf, e->nconf, sizeof(*e->conf), cmp_conf);
    }
    ig_jsonw_key(&w, "confusions");
    ig_jsonw_arr_open(&w);
    for (size_t k = 0; k < e->nconf; k++) {
        const struct conf *x = &e->conf[k];
        ig_jsonw_obj_open(&w);
        kstr_or_null(&w, "expected", x->expected);
        kstr_or_null(&w, "got", x->got);
        ig_jsonw_kint(&w, "count", (int64_t)x->n);
        ig_jsonw_key(&w, "ids");
        ig_jsonw_arr_open(&w);
        for (size_t j = 0; j < x->n && j < CONF_IDS; j++) {
            ig_jsonw_str(&w, x->ids[j]);
        }
        ig_jsonw_arr_close(&w);
        ig_jsonw_obj_close(&w);
    }
    ig_jsonw_arr_close(&w);
    ig_jsonw_key(&w, "rules_fired");
    ig_jsonw_arr_open(&w);
    for (size_t i = 0; i < e->nrules; i++) {
        const struct rule_info *ri = ruleset_rule(e->rs, i);
        const struct rstat *st = &e->rule[i];
        ig_jsonw_obj_open(&w);
        ig_jsonw_kstr(&w, "rule", ri->id);
        ig_jsonw_kstr(&w, "code", ri->code);
        ig_jsonw_kstr(&w, "file", ri->file);
        ig_jsonw_kint(&w, "line", ri->line);
        ig_jsonw_kint(&w, "hits", (int64_t)st->hits);
        ig_jsonw_kint(&w, "false_positives", (int64_t)st->fp);
        ig_jsonw_kint(&w, "wrong_verdicts", (int64_t)st->wrong);
        ig_jsonw_kint(&w, "vetoed", (int64_t)st->vetoed);
        ig_jsonw_obj_close(&w);
    }
    ig_jsonw_arr_close(&w);
    ig_jsonw_obj_close(&w);
    cmd_json_line(out, &b);
    ig_buf_fini(&b);
}

/* Prints each wrong item: what was expected, what came out. */
static void print_errors(FILE *out, const struct eval *e,
                         const struct corpus *c)
{
    fprintf(out, "\nWrong items\n");
    for (size_t i = 0; i < c->n; i++) {
        const struct citem *it = &c->v[i];
        const char *got = e->verdict[i] ? e->verdict[i]->code : NULL;
        if (accepted(it, got)) {
            continue;
        }
        fprintf(out, "  %s%s  ", it->id, it->pinned ? " (pinned)" : "");
        cell(out, it->primary ? it->primary : "(out)", 8, 9);
        fputs("-> ", out);
        cell(out, got ? got : "(unclassified)", 14, 15);
        cell(out, it->tl ? it->title : it->text, 50, 0);
        fputc('\n', out);
    }
}

/* ------------------------------------------------------------ options */

struct opts {
    const char *rules;
    const char *rules2; /* diff: NEW_DIR */
    const char *corpus;
    const char *baseline;
    double min_acc, min_abst, min_major; /* < 0: no bar */
    bool json, errors, all_codes, verbose;
    size_t top;
};

/* Parses "0.85" or "85" or "85%" as a fraction in [0, 1]. */
static int parse_bar(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || (*end != '\0' && strcmp(end, "%") != 0) || isnan(v) ||
        v < 0) {
        return -1;
    }
    if (v > 1 || *end == '%') {
        v /= 100;
    }
    if (v > 1) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads a baseline file: `key = value` lines, # comments. Keys:
 * min_accuracy, min_abstention, min_major_recall (fractions or percent).
 * A bar given on the command line wins. Returns 0 or -1 (message
 * printed). */
static int read_baseline(const char *path, struct opts *o)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "intake rules test: cannot open baseline %s: %s\n",
                path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) {
            *h = '\0';
        }
        char key[64], val[64];
        if (sscanf(line, " %63[a-z_] = %63s", key, val) != 2) {
            if (strspn(line, " \t\r\n") != strlen(line)) {
                fprintf(stderr, "%s:%d: expected 'key = value'\n", path,
                        lineno);
                rc = -1;
            }
            continue;
        }
        double v;
        double *dst = NULL;
        if (strcmp(key, "min_accuracy") == 0) {
            dst = &o->min_acc;
        } else if (strcmp(key, "min_abstention") == 0) {
            dst = &o->min_abst;
        } else if (strcmp(key, "min_major_recall") == 0) {
            dst = &o->min_major;
        } else {
            fprintf(stderr, "%s:%d: unknown key '%s'\n", path, lineno, key);
            rc = -1;
            continue;
        }
        if (parse_bar(val, &v) < 0) {
            fprintf(stderr, "%s:%d: bad value '%s'\n", path, lineno, val);
            rc = -1;
        } else if (*dst < 0) {
            *dst = v;
        }
    }
    fclose(f);
    return rc;
}

static void usage_main(FILE *out)
{
    fprintf(out,
            "usage: intake rules test  --corpus FILE.jsonl [options]\n"
            "       intake rules check [--corpus FILE.jsonl] [options]\n"
            "       intake rules diff  OLD_DIR NEW_DIR --corpus FILE.jsonl\n"
            "\n"
            "Tools for the rule base (rules/*.rules): measure it on a\n"
            "labelled corpus, lint it, and see what an edit changes.\n"
            "'intake rules COMMAND --help' describes each command.\n"
            "Default rule directory: %s\n",
            cmd_default_rules_dir());
}

static void usage_test(FILE *out)
{
    fprintf(
        out,
        "usage: intake rules test --corpus FILE.jsonl [--rules DIR]\n"
        "       [--json] [--min-accuracy X] [--min-abstention X]\n"
        "       [--min-major-recall X] [--baseline FILE] [--errors]\n"
        "       [--all-codes] [--top N]\n"
        "\n"
        "Runs a labelled corpus through the rule set. Each line is\n"
        "{\"id\",\"title\",\"text\",\"acceptable\":[codes],\"in_scope\":bool}\n"
        "(\"primary\" and \"pinned\":true are optional). A verdict is\n"
        "right when it is one of the acceptable codes; for an\n"
        "out-of-scope item only 'unclassified' is right.\n"
        "\n"
        "Reports top-1 accuracy in scope, the correct-abstention rate\n"
        "out of scope, precision/recall/F1 per major category and per\n"
        "code, the most frequent confusions and, per rule, its hits,\n"
        "false positives and wrong verdicts.\n"
        "\n"
        "  --corpus FILE        labelled JSON Lines ('-' = stdin)\n"
        "  --rules DIR          rule set (default: %s)\n"
        "  --json               one JSON object instead of tables\n"
        "  --min-accuracy X     exit 1 when accuracy in scope < X\n"
        "  --min-abstention X   exit 1 when correct abstention < X\n"
        "  --min-major-recall X exit 1 when a major category that has\n"
        "                       items has recall < X\n"
        "                       (X: 0.85, 85 or 85%%)\n"
        "  --baseline FILE      read the bars from FILE: lines\n"
        "                       min_accuracy = X, min_abstention = X,\n"
        "                       min_major_recall = X\n"
        "  --errors             list every wrong item\n"
        "  --all-codes          list all codes, not only those seen\n"
        "  --top N              confusions to show (default 15)\n"
        "\n"
        "A corpus line that cannot be read is reported on stderr as\n"
        "FILE:LINE and skipped (counted in the report, exit status\n"
        "unchanged).\n"
        "\n"
        "Exit status: 0 all bars met and every pinned item right,\n"
        "1 a bar missed or a pinned item wrong, 2 usage error or the\n"
        "rule set does not load, 3 the corpus cannot be read.\n",
        cmd_default_rules_dir());
}

static void usage_check(FILE *out)
{
    fprintf(out,
            "usage: intake rules check [--rules DIR] [--corpus FILE.jsonl]\n"
            "       [--json] [--verbose]\n"
            "\n"
            "Lints the rule set. Errors (exit 1):\n"
            "  - anything that stops it loading (unknown code, bad regex,\n"
            "    syntax), each as file:line:col;\n"
            "  - a code of the table without any rule;\n"
            "  - an example: line the rule set does not classify as its\n"
            "    rule's code (or the rule does not fire), a counter: line\n"
            "    it does;\n"
            "  - a rule whose regex has no required literal (it would run\n"
            "    on every message: slow);\n"
            "  - a pattern that hits its PCRE2 match limit on its own\n"
            "    rule's examples.\n"
            "Warnings (reported, exit status unchanged):\n"
            "  - a code with fewer than 3 examples of its own;\n"
            "  - a keyword claimed by rules of several codes (ambiguity\n"
            "    report: the words that decide a rule on their own; all\n"
            "    shared words with --verbose);\n"
            "  - with --corpus: rules that never fire on that corpus.\n"
            "\n"
            "  --rules DIR     rule set (default: %s)\n"
            "  --corpus FILE   JSON Lines with \"title\"/\"text\" (labels not\n"
            "                  needed) for the never-fires report\n"
            "  --json          findings as one JSON object\n"
            "  -v, --verbose   the whole ambiguity report\n"
            "\n"
            "Exit status: 0 no errors, 1 errors found (including a rule set\n"
            "that does not load), 2 usage error, 3 the corpus cannot be\n"
            "read.\n",
            cmd_default_rules_dir());
}

static void usage_diff(FILE *out)
{
    fprintf(out,
            "usage: intake rules diff OLD_DIR NEW_DIR --corpus FILE.jsonl\n"
            "       [--json]\n"
            "\n"
            "Classifies every corpus item with both rule sets and lists\n"
            "the items whose verdict changes, so a monitor sees what an\n"
            "edit does before it goes live. When the corpus is labelled\n"
            "(acceptable / in_scope), each change is marked 'fixed' (wrong\n"
            "before, right now), 'broken' (right before, wrong now),\n"
            "'changed-ok' (another acceptable code) or 'changed-wrong'\n"
            "(wrong both times), and the accuracy of both sides is\n"
            "printed.\n"
            "\n"
            "  --corpus FILE   JSON Lines with \"title\"/\"text\"\n"
            "  --json          one JSON object per changed item, then a\n"
            "                  summary object\n"
            "\n"
            "Exit status (like diff(1)): 0 no verdict changed, 1 some\n"
            "verdicts changed, 2 usage error or a rule set does not load,\n"
            "3 the corpus cannot be read.\n");
}

/* The options each command takes (its --help lists exactly these). */
static const char *const test_opts[] = {
    "--rules",
    "--corpus",
    "--json",
    "--min-accuracy",
    "--min-abstention",
    "--min-major-recall",
    "--baseline",
    "--errors",
    "--all-codes",
    "--top",
    NULL,
};
static const char *const check_opts[] = {
    "--rules", "--corpus", "--json", "--verbose", "-v", NULL,
};
static const char *const diff_opts[] = {"--corpus", "--json", NULL};

static bool takes_opt(const char *const *allowed, const char *a)
{
    for (size_t i = 0; allowed[i]; i++) {
        if (!strcmp(allowed[i], a)) {
            return true;
        }
    }
    return false;
}

/* Parses the options of one command; allowed lists the ones it takes.
 * pos receives up to npos positional arguments. Returns 0, 1 for --help
 * (printed), or -1. */
static int parse_opts(int argc, char **argv, const char *cmd,
                      void (*usage)(FILE *), const char *const *allowed,
                      struct opts *o, const char **pos, int npos, int *got)
{
    *got = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool known = takes_opt(test_opts, a) || takes_opt(check_opts, a);
        if (known && !takes_opt(allowed, a)) {
            /* The three commands share this parser; an option of another
             * one was accepted and did nothing ('diff --rules X' ran
             * without X), which a monitor cannot tell from working. */
            fprintf(stderr,
                    "intake rules %s: %s is not an option of 'rules %s' "
                    "(see intake rules %s --help)\n",
                    cmd, a, cmd, cmd);
            return -1;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--errors")) {
            o->errors = true;
        } else if (!strcmp(a, "--all-codes")) {
            o->all_codes = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->verbose = true;
        } else if (!strcmp(a, "--rules") || !strcmp(a, "--corpus") ||
                   !strcmp(a, "--baseline") || !strcmp(a, "--top") ||
                   !strcmp(a, "--min-accuracy") ||
                   !strcmp(a, "--min-abstention") ||
                   !strcmp(a, "--min-major-recall")) {
            if (v == NULL) {
                fprintf(stderr, "intake rules %s: %s needs a value\n", cmd, a);
                return -1;
            }
            i++;
            if (!strcmp(a, "--rules")) {
                o->rules = v;
            } else if (!strcmp(a, "--corpus")) {
                o->corpus = v;
            } else if (!strcmp(a, "--baseline")) {
                o->baseline = v;
            } else if (!strcmp(a, "--top")) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 0) {
                    fprintf(stderr, "intake rules %s: bad --top '%s'\n", cmd,
                            v);
                    return -1;
                }
                o->top = (size_t)n;
            } else {
                double *dst = !strcmp(a, "--min-accuracy")     ? &o->min_acc
                              : !strcmp(a, "--min-abstention") ? &o->min_abst
                                                               : &o->min_major;
                if (parse_bar(v, dst) < 0) {
                    fprintf(stderr,
                            "intake rules %s: bad value '%s' for %s "
                            "(0..1 or a percentage)\n",
                            cmd, v, a);
                    return -1;
                }
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "intake rules %s: unknown option '%s'\n\n", cmd, a);
            usage(stderr);
            return -1;
        } else if (*got < npos) {
            pos[(*got)++] = a;
        } else {
            fprintf(stderr, "intake rules %s: unexpected argument '%s'\n", cmd,
                    a);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ test */

static int rules_test(int argc, char **argv)
{
    struct opts o = {.min_acc = -1, .min_abst = -1, .min_major = -1, .top = 15};
    int npos;
    int rc = parse_opts(argc, argv, "test", usage_test, test_opts, &o, NULL, 0,
                        &npos);
    if (rc != 0) {
        return rc > 0 ? IG_EXIT_OK : IG_EXIT_USAGE;
    }
    if (o.corpus == NULL) {
        fprintf(stderr, "intake rules test: --corpus FILE is required\n");
        return IG_EXIT_USAGE;
    }
    if (o.baseline && read_baseline(o.baseline, &o) < 0) {
        return IG_EXIT_USAGE;
    }
    const char *dir = o.rules ? o.rules : cmd_default_rules_dir();
    struct ruleset *rs = load_rules(dir);
    if (rs == NULL) {
        return IG_EXIT_USAGE;
    }
    struct corpus c;
    struct eval e;
    int exit_rc = IG_EXIT_OK;
    if (corpus_load(o.corpus, &c) < 0) {
        corpus_fini(&c);
        ruleset_unref(rs);
        return IG_EXIT_RUNTIME;
    }
    eval_init(&e, rs, c.n);
    eval_run(&e, &c);

    /* Bars: say which one failed, on stderr so --json stays parseable. */
    double acc = ratio(e.in_ok, e.nin), abst = ratio(e.out_ok, e.nout);
    if (o.min_acc >= 0 && e.nin > 0 && acc < o.min_acc) {
        fprintf(stderr,
                "intake rules test: accuracy in scope %.1f%% is "
                "below the bar %.1f%%\n",
                100 * acc, 100 * o.min_acc);
        exit_rc = IG_EXIT_FINDINGS;
    }
    if (o.min_abst >= 0 && e.nout > 0 && abst < o.min_abst) {
        fprintf(stderr,
                "intake rules test: correct abstention %.1f%% is "
                "below the bar %.1f%%\n",
                100 * abst, 100 * o.min_abst);
        exit_rc = IG_EXIT_FINDINGS;
    }
    for (size_t k = 0; o.min_major >= 0 && k < e.nmajor; k++) {
        double r = ratio(e.major[k].truth_ok, e.major[k].truth);
        if (e.major[k].truth > 0 && r < o.min_major) {
            fprintf(stderr,
                    "intake rules test: recall of %s %s %.1f%% is "
                    "below the bar %.1f%%\n",
                    e.major_code[k], e.major_name[k], 100 * r,
                    100 * o.min_major);
            exit_rc = IG_EXIT_FINDINGS;
        }
    }
    if (e.npinned_bad) {
        fprintf(stderr, "intake rules test: %zu pinned item(s) wrong\n",
                e.npinned_bad);
        exit_rc = IG_EXIT_FINDINGS;
    }
    if (o.json) {
        print_test_json(stdout, &e, &c, dir, exit_rc == IG_EXIT_OK);
    } else {
        print_test_human(stdout, &e, &c, dir, o.top, o.all_codes);
        if (o.errors) {
            print_errors(stdout, &e, &c);
        }
    }
    if (fflush(stdout) != 0) {
        exit_rc = IG_EXIT_RUNTIME;
    }
    eval_fini(&e);
    corpus_fini(&c);
    ruleset_unref(rs);
    return exit_rc;
}

/* ------------------------------------------------------------ check */

/* One (word, code) claim for the ambiguity report. */
struct claim {
    const char *word;
    const char *code;
    const char *rule;
    bool alone; /* the word by itself makes its rule fire */
};

struct claims {
    struct claim *v;
    size_t n, cap;
    const char *code, *rule; /* the rule being walked */
    size_t rule_first;       /* its first claim */
    unsigned conds;          /* bit per positive line seen (any/all/near) */
};

static void claim_cb(void *arg, const char *word, enum rule_word_kind kind,
                     size_t group)
{
    struct claims *cl = arg;
    if (kind == RULE_WORD_NOT) {
        return;
    }
    /* Count the rule's positive conditions: one bit per any: group; an
     * all: line and a near: line need two words, so they set two bits
     * (a single bit left means one any: line decides the rule). */
    if (kind == RULE_WORD_ANY) {
        cl->conds |= 1u << (group < 20 ? group : 20);
    } else {
        cl->conds |= 3u << 21;
    }
    if (cl->n == cl->cap) {
        cl->cap = cl->cap ? cl->cap * 2 : 1024;
        cl->v = ig_realloc(cl->v, cl->cap * sizeof(*cl->v));
    }
    cl->v[cl->n++] = (struct claim){word, cl->code, cl->rule, false};
}

static int cmp_claim(const void *a, const void *b)
{
    const struct claim *x = a, *y = b;
    int c = strcmp(x->word, y->word);
    if (c == 0) {
        c = strcmp(x->code, y->code);
    }
    return c;
}

/* A keyword and the distinct codes whose rules use it. */
struct amb {
    const char *word;
    size_t first, n; /* claims [first, first+n) sorted by code */
    size_t ncodes;
    bool alone; /* decides a rule by itself somewhere */
};

static int cmp_amb(const void *a, const void *b)
{
    const struct amb *x = a, *y = b;
    if (x->alone != y->alone) {
        return x->alone ? -1 : 1;
    }
    if (x->ncodes != y->ncodes) {
        return x->ncodes < y->ncodes ? 1 : -1;
    }
    return strcmp(x->word, y->word);
}

/* A finding for the report. */
struct finding {
    bool error;
    const char *kind; /* "load", "no-rule", "selftest", ... */
    const char *file; /* may be NULL */
    int line;
    char *msg; /* owned */
};

struct findings {
    struct finding *v;
    size_t n, cap, nerrors;
};

static void add_finding(struct findings *f, bool error, const char *kind,
                        const char *file, int line, char *msg)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->v = ig_realloc(f->v, f->cap * sizeof(*f->v));
    }
    f->v[f->n++] = (struct finding){error, kind, file, line, msg};
    f->nerrors += error;
}

static void add_diags(struct findings *f, const struct ig_diags *d,
                      const char *kind, struct ig_arena *a)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct ig_diag *g = &d->v[i];
        if (g->sev == IG_DIAG_NOTE) {
            continue;
        }
        const char *file = g->file ? ig_arena_strdup(a, g->file) : NULL;
        char *msg = g->col > 0 ? ig_asprintf("%d: %s", g->col, g->msg)
                               : ig_strdup(g->msg);
        add_finding(f, g->sev == IG_DIAG_ERROR, kind, file, g->line, msg);
    }
}

static void print_findings(FILE *out, const struct findings *f, bool json,
                           const char *dir, const char *version, size_t nrules)
{
    if (json) {
        struct ig_buf b;
        ig_buf_init(&b, 0);
        struct ig_jsonw w;
        ig_jsonw_init(&w, &b);
        ig_jsonw_obj_open(&w);
        ig_jsonw_kstr(&w, "rules", dir);
        kstr_or_null(&w, "rules_version", version);
        ig_jsonw_kint(&w, "rule_count", (int64_t)nrules);
        ig_jsonw_kint(&w, "errors", (int64_t)f->nerrors);
        ig_jsonw_kint(&w, "warnings", (int64_t)(f->n - f->nerrors));
        ig_jsonw_key(&w, "findings");
        ig_jsonw_arr_open(&w);
        for (size_t i = 0; i < f->n; i++) {
            const struct finding *x = &f->v[i];
            ig_jsonw_obj_open(&w);
            ig_jsonw_kstr(&w, "severity", x->error ? "error" : "warning");
            ig_jsonw_kstr(&w, "kind", x->kind);
            kstr_or_null(&w, "file", x->file);
            ig_jsonw_kint(&w, "line", x->line);
            ig_jsonw_kstr(&w, "message", x->msg);
            ig_jsonw_obj_close(&w);
        }
        ig_jsonw_arr_close(&w);
        ig_jsonw_obj_close(&w);
        cmd_json_line(out, &b);
        ig_buf_fini(&b);
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct finding *x = &f->v[i];
        if (x->file && x->line > 0) {
            fprintf(out, "%s:%d: ", x->file, x->line);
        } else if (x->file) {
            fprintf(out, "%s: ", x->file);
        }
        fprintf(out, "%s: [%s] %s\n", x->error ? "error" : "warning", x->kind,
                x->msg);
    }
    fprintf(out, "rules check: %s%s%s: %zu rules, %zu errors, %zu warnings\n",
            dir, version ? " " : "", version ? version : "", nrules, f->nerrors,
            f->n - f->nerrors);
}

/* The ambiguity report: keywords used by rules of two or more codes. */
static void check_ambiguity(const struct ruleset *rs, struct findings *f,
                            bool verbose)
{
    struct claims cl = {0};
    size_t nr = ruleset_nrules(rs);
    for (size_t i = 0; i < nr; i++) {
        const struct rule_info *ri = ruleset_rule(rs, i);
        cl.code = ri->code;
        cl.rule = ri->id;
        cl.rule_first = cl.n;
        cl.conds = 0;
        ruleset_rule_words(rs, i, claim_cb, &cl);
        /* A rule with a single keyword line and no regex fires on any one
         * of its words: those words decide the code on their own. */
        bool single = ri->nregex == 0 && cl.conds != 0 &&
                      (cl.conds & (cl.conds - 1)) == 0;
        for (size_t k = cl.rule_first; single && k < cl.n; k++) {
            cl.v[k].alone = true;
        }
    }
    if (cl.n == 0) {
        ig_free(cl.v);
        return;
    }
    qsort(cl.v, cl.n, sizeof(*cl.v), cmp_claim);
    struct amb *am = ig_calloc(cl.n, sizeof(*am));
    size_t na = 0;
    for (size_t i = 0; i < cl.n;) {
        size_t j = i, ncodes = 0;
        bool alone = false;
        while (j < cl.n && !strcmp(cl.v[j].word, cl.v[i].word)) {
            if (j == i || strcmp(cl.v[j].code, cl.v[j - 1].code) != 0) {
                ncodes++;
            }
            alone = alone || cl.v[j].alone;
            j++;
        }
        if (ncodes >= 2) {
            am[na++] = (struct amb){cl.v[i].word, i, j - i, ncodes, alone};
        }
        i = j;
    }
    /* Words that decide a rule alone come first: they are the ones that
     * can send a message to the wrong code. Shared problem words (破损,
     * 坏了) that only count next to an object follow. */
    if (na > 1) {
        qsort(am, na, sizeof(*am), cmp_amb);
    }
    size_t nalone = 0;
    while (nalone < na && am[nalone].alone) {
        nalone++;
    }
    size_t show = verbose ? na : nalone;
    for (size_t k = 0; k < show; k++) {
        struct ig_buf b;
        ig_buf_init(&b, 4096);
        ig_buf_addf(&b, "keyword '%s'%s is claimed by %zu codes:", am[k].word,
                    am[k].alone ? " (decides a rule alone)" : "", am[k].ncodes);
        const char *last = NULL;
        for (size_t j = am[k].first; j < am[k].first + am[k].n; j++) {
            if (last && !strcmp(last, cl.v[j].code)) {
                continue;
            }
            last = cl.v[j].code;
            ig_buf_addf(&b, " %s (%s%s)", cl.v[j].code, cl.v[j].rule,
                        cl.v[j].alone ? ", alone" : "");
        }
        add_finding(f, false, "ambiguous", NULL, 0, ig_buf_take(&b));
        ig_buf_fini(&b);
    }
    if (show < na) {
        add_finding(f, false, "ambiguous", NULL, 0,
                    ig_asprintf("%zu more keywords are shared by several "
                                "codes but only count together with other "
                                "words (--verbose lists them)",
                                na - show));
    }
    ig_free(am);
    ig_free(cl.v);
}

static int rules_check(int argc, char **argv)
{
    struct opts o = {.min_acc = -1, .min_abst = -1, .min_major = -1};
    int npos;
    int rc = parse_opts(argc, argv, "check", usage_check, check_opts, &o, NULL,
                        0, &npos);
    if (rc != 0) {
        return rc > 0 ? IG_EXIT_OK : IG_EXIT_USAGE;
    }
    const char *dir = o.rules ? o.rules : cmd_default_rules_dir();
    struct findings f = {0};
    struct ig_arena *a = ig_arena_new(0);
    struct ig_diags d;
    struct ruleset *rs = NULL;
    struct corpus c = {0};
    int exit_rc = IG_EXIT_OK;
    size_t nr = 0;

    /* 1. Load: unknown codes, syntax, bad regexes. */
    ig_diags_init(&d);
    if (ruleset_load(dir, &rs, &d) < 0) {
        add_diags(&f, &d, "load", a);
        if (f.nerrors == 0) {
            add_finding(&f, true, "load", dir, 0,
                        ig_strdup("the rule set does not load"));
        }
        ig_diags_fini(&d);
        goto report;
    }
    ig_diags_fini(&d);
    nr = ruleset_nrules(rs);

    /* 2. Codes without rules, and codes with too few examples. */
    size_t ntaxa = ruleset_ntaxa(rs);
    size_t *nrule = ig_calloc(ntaxa + 1, sizeof(size_t));
    size_t *nex = ig_calloc(ntaxa + 1, sizeof(size_t));
    for (size_t i = 0; i < nr; i++) {
        const struct rule_info *ri = ruleset_rule(rs, i);
        nrule[ri->taxon->index]++;
        nex[ri->taxon->index] += ri->nexamples;
    }
    for (size_t i = 0; i < ntaxa; i++) {
        const struct taxon *t = ruleset_taxon_at(rs, i);
        if (nrule[i] == 0) {
            add_finding(
                &f, true, "no-rule", NULL, 0,
                ig_asprintf("code %s %s has no rule", t->code, t->name));
        } else if (nex[i] < 3) {
            add_finding(&f, false, "few-examples", NULL, 0,
                        ig_asprintf("code %s %s has %zu example(s); write at "
                                    "least 3",
                                    t->code, t->name, nex[i]));
        }
    }
    ig_free(nrule);
    ig_free(nex);

    /* 3. Examples and counters through the whole rule set. */
    ig_diags_init(&d);
    ruleset_selftest(rs, &d);
    add_diags(&f, &d, "selftest", a);
    ig_diags_fini(&d);

    /* 4. Slow rules (the engine's lint) — a regex with no required literal
     * runs on every message, so it is an error here. */
    ig_diags_init(&d);
    ruleset_lint(rs, &d);
    add_diags(&f, &d, "lint", a);
    ig_diags_fini(&d);
    for (size_t i = 0; i < nr; i++) {
        const struct rule_info *ri = ruleset_rule(rs, i);
        if (!ri->has_required_literal) {
            add_finding(&f, true, "slow", ri->file, ri->line,
                        ig_asprintf("rule %s: its regex has no required "
                                    "literal and would run on every "
                                    "message; add an any: line or a fixed "
                                    "word to the pattern",
                                    ri->id));
        }
    }

    /* 5. Patterns that hit their match limit on their own examples. */
    struct cls_scratch *s = cls_scratch_new();
    for (size_t i = 0; i < nr; i++) {
        const struct rule_info *ri = ruleset_rule(rs, i);
        for (size_t k = 0; ri->nregex > 0 && k < ri->nexamples; k++) {
            struct ig_arena *ia = ig_arena_new(0);
            struct cls_result r;
            const char *t = ri->examples[k].text;
            ruleset_classify(rs, s, NULL, 0, t, strlen(t), false, ia, &r);
            for (size_t j = 0; j < r.nfired; j++) {
                if (r.fired[j].error) {
                    const struct rule_info *bad =
                        ruleset_rule(rs, r.fired[j].rule);
                    add_finding(&f, true, "match-limit", ri->file,
                                ri->examples[k].line,
                                ig_asprintf("rule %s: a pattern hits the "
                                            "PCRE2 match limit on this "
                                            "example",
                                            bad ? bad->id : "?"));
                }
            }
            ig_arena_free(ia);
        }
    }
    cls_scratch_free(s);

    /* 6. Ambiguity report. */
    check_ambiguity(rs, &f, o.verbose);

    /* 7. Rules that never fire on the given corpus. */
    if (o.corpus) {
        if (corpus_load(o.corpus, &c) < 0) {
            exit_rc = IG_EXIT_RUNTIME;
            goto report;
        }
        struct eval e;
        eval_init(&e, rs, c.n);
        eval_run(&e, &c);
        size_t never = 0;
        for (size_t i = 0; i < nr; i++) {
            if (e.rule[i].hits == 0) {
                const struct rule_info *ri = ruleset_rule(rs, i);
                never++;
                add_finding(
                    &f, false, "never-fires", ri->file, ri->line,
                    ig_asprintf("rule %s (%s) never fires on %s%s", ri->id,
                                ri->code, o.corpus,
                                e.rule[i].vetoed ? " (only vetoed)" : ""));
            }
        }
        add_finding(&f, false, "never-fires", NULL, 0,
                    ig_asprintf("%zu of %zu rules fire on %s (%zu items)",
                                nr - never, nr, o.corpus, c.n));
        eval_fini(&e);
    }

report:
    print_findings(stdout, &f, o.json, dir, rs ? ruleset_version(rs) : NULL,
                   nr);
    if (exit_rc == IG_EXIT_OK && f.nerrors > 0) {
        exit_rc = IG_EXIT_FINDINGS;
    }
    if (fflush(stdout) != 0) {
        exit_rc = IG_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < f.n; i++) {
        ig_free(f.v[i].msg);
    }
    ig_free(f.v);
    corpus_fini(&c);
    ruleset_unref(rs);
    ig_arena_free(a);
    return exit_rc;
}

/* ------------------------------------------------------------ diff */

static int rules_diff(int argc, char **argv)
{
    struct opts o = {.min_acc = -1, .min_abst = -1, .min_major = -1};
    const char *pos[2];
    int npos;
    int rc = parse_opts(argc, argv, "diff", usage_diff, diff_opts, &o, pos, 2,
                        &npos);
    if (rc != 0) {
        return rc > 0 ? IG_EXIT_OK : IG_EXIT_USAGE;
    }
    if (npos != 2 || o.corpus == NULL) {
        fprintf(stderr, "intake rules diff: need OLD_DIR NEW_DIR and "
                        "--corpus FILE\n");
        return IG_EXIT_USAGE;
    }
    struct ruleset *old_rs = load_rules(pos[0]);
    struct ruleset *new_rs = old_rs ? load_rules(pos[1]) : NULL;
    if (new_rs == NULL) {
        ruleset_unref(old_rs);
        return IG_EXIT_USAGE;
    }
    struct corpus c;
    if (corpus_load(o.corpus, &c) < 0) {
        corpus_fini(&c);
        ruleset_unref(old_rs);
        ruleset_unref(new_rs);
        return IG_EXIT_RUNTIME;
    }
    bool labelled = false;
    for (size_t i = 0; i < c.n && !labelled; i++) {
        labelled = c.v[i].in_scope;
    }
    struct cls_scratch *s = cls_scratch_new();
    size_t changed = 0, fixed = 0, broken = 0, old_ok = 0, new_ok = 0;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    if (!o.json) {
        printf("rules diff: %s (%s) -> %s (%s) on %s\n", pos[0],
               ruleset_version(old_rs), pos[1], ruleset_version(new_rs),
               o.corpus);
    }
    for (size_t i = 0; i < c.n; i++) {
        const struct citem *it = &c.v[i];
        struct ig_arena *a = ig_arena_new(16 * 1024);
        struct cls_result ro, rn;
        ruleset_classify(old_rs, s, it->title, it->tl, it->text, it->xl, false,
                         a, &ro);
        ruleset_classify(new_rs, s, it->title, it->tl, it->text, it->xl, false,
                         a, &rn);
        const char *co = ro.top ? ro.top->code : NULL;
        const char *cn = rn.top ? rn.top->code : NULL;
        bool oko = accepted(it, co), okn = accepted(it, cn);
        old_ok += oko;
        new_ok += okn;
        bool same =
            (co == NULL && cn == NULL) || (co && cn && strcmp(co, cn) == 0);
        if (!same) {
            changed++;
            const char *st = !labelled     ? "changed"
                             : !oko && okn ? "fixed"
                             : oko && !okn ? "broken"
                             : oko         ? "changed-ok"
                                           : "changed-wrong";
            fixed += labelled && !oko && okn;
            broken += labelled && oko && !okn;
            if (o.json) {
                ig_jsonw_init(&w, &b);
                ig_jsonw_obj_open(&w);
                ig_jsonw_kstr(&w, "id", it->id);
                kstr_or_null(&w, "old", co);
                ig_jsonw_knum(&w, "old_score", ro.best_score);
                kstr_or_null(&w, "new", cn);
                ig_jsonw_knum(&w, "new_score", rn.best_score);
                kstr_or_null(&w, "expected", it->primary);
                ig_jsonw_kstr(&w, "status", st);
                ig_jsonw_kstr(&w, "title", it->title);
                ig_jsonw_obj_close(&w);
                cmd_json_line(stdout, &b);
            } else {
                printf("  %-13s ", st);
                cell(stdout, it->id, 24, 25);
                cell(stdout, co ? co : "-", 8, 9);
                fputs("-> ", stdout);
                cell(stdout, cn ? cn : "-", 8, 9);
                if (labelled) {
                    fputs("want ", stdout);
                    cell(stdout, it->primary ? it->primary : "-", 8, 9);
                }
                cell(stdout, it->tl ? it->title : it->text, 40, 0);
                fputc('\n', stdout);
            }
        }
        ig_arena_free(a);
    }
    if (o.json) {
        ig_jsonw_init(&w, &b);
        ig_jsonw_obj_open(&w);
        ig_jsonw_kstr(&w, "summary", "rules diff");
        ig_jsonw_kstr(&w, "old_version", ruleset_version(old_rs));
        ig_jsonw_kstr(&w, "new_version", ruleset_version(new_rs));
        ig_jsonw_kint(&w, "items", (int64_t)c.n);
        ig_jsonw_kint(&w, "changed", (int64_t)changed);
        if (labelled) {
            ig_jsonw_kint(&w, "fixed", (int64_t)fixed);
            ig_jsonw_kint(&w, "broken", (int64_t)broken);
            ig_jsonw_kint(&w, "old_right", (int64_t)old_ok);
            ig_jsonw_kint(&w, "new_right", (int64_t)new_ok);
        }
        ig_jsonw_obj_close(&w);
        cmd_json_line(stdout, &b);
    } else {
        printf("%zu of %zu items change verdict", changed, c.n);
        if (labelled) {
            printf("; %zu fixed, %zu broken; items right: %zu -> %zu "
                   "(%.1f%% -> %.1f%%)",
                   fixed, broken, old_ok, new_ok, 100 * ratio(old_ok, c.n),
                   100 * ratio(new_ok, c.n));
        }
        printf("\n");
    }
    ig_buf_fini(&b);
    cls_scratch_free(s);
    corpus_fini(&c);
    ruleset_unref(old_rs);
    ruleset_unref(new_rs);
    if (fflush(stdout) != 0) {
        return IG_EXIT_RUNTIME;
    }
    return changed ? IG_EXIT_FINDINGS : IG_EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage_main(argc < 2 ? stderr : stdout);
        return argc < 2 ? IG_EXIT_USAGE : IG_EXIT_OK;
    }
    if (!strcmp(argv[1], "test")) {
        return rules_test(argc, argv);
    }
    if (!strcmp(argv[1], "check")) {
        return rules_check(argc, argv);
    }
    if (!strcmp(argv[1], "diff")) {
        return rules_diff(argc, argv);
    }
    fprintf(stderr, "intake rules: unknown command '%s'\n\n", argv[1]);
    usage_main(stderr);
    return IG_EXIT_USAGE;
}
