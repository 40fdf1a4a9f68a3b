/* classify_bench.c — the classifier engine next to its baselines, on the
 * same items in the same run.
 *
 *     bench_classify --rules DIR --items FILE [--mode MODE] [--scale K]
 *                    [--repeat N] [--limit N]
 *
 * Modes (one per run; the runner script bench/classify.sh calls them all):
 *   engine    ruleset_classify() per item (normalise, one automaton pass,
 *             candidate rules, regexes, scoring, evidence)
 *   scan      normalisation and the automaton pass only (the prefilter)
 *   hs-lit    normalisation and a Vectorscan scan of the same literals:
 *             the alternative prefilter, measured for the choice
 *   naive     every keyword and regex of every rule tried on every item
 *             with PCRE2 JIT (PCRE2_NO_UTF_CHECK after one validation)
 *   naive-utf the same, letting PCRE2 re-validate UTF-8 on every call
 *   percode   one PCRE2 alternation per code (all its rules' keywords and
 *             regexes), JIT, one call per code and item
 *   hs        one Vectorscan database of all keywords and regexes (UTF8,
 *             UCP, caseless; lookarounds compiled with HS_FLAG_PREFILTER),
 *             one scan per item: the multi-pattern limit
 * --scale K loads the rule set K times over: the original plus K-1
 * rewritten copies (each keyword's characters permuted, so the copies add
 * automaton states and literals that real text can hit, as new rules
 * would), to show how cost grows with the number of rules. Routing data
 * is left out of scaled copies, so `engine` measures the classifier alone
 * unless --scale 0 (the directory as given, routing included). --extra
 * FILE adds one more rules file (bench/classify_regex.rules: the regex
 * path, which the shipped rules do not use yet).
 * Prints one line: mode, items, bytes, seconds, items/s, MB/s, and the
 * pattern count and compile time where there is a compile step.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hs.h>
#include <pcre2.h>

#include "classifiers/classifier.h"
#include "classifiers/classifier_int.h"
#include "classifiers/prefilter.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/jsonr.h"
#include "core/mem.h"
#include "core/norm.h"
#include "core/text.h"

struct item {
    char *title, *text;
    size_t tl, xl;
    char *both; /* title \n text, raw, for the baselines */
    size_t bl;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    struct ig_buf b;
    ig_buf_init(&b, 0);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        ig_buf_add(&b, tmp, n);
    }
    fclose(f);
    *len = b.len;
    return ig_buf_take(&b);
}

static struct item *load_items(const char *path, size_t limit, size_t *n,
                               size_t *bytes)
{
    size_t len;
    char *all = slurp(path, &len);
    struct ig_arena *a = ig_arena_new(0);
    size_t cap = 1024;
    struct item *v = ig_malloc(cap * sizeof(*v));
    *n = 0;
    *bytes = 0;
    char *p = all;
    while (p < all + len && *n < limit) {
        char *nl = memchr(p, '\n', (size_t)(all + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(all + len - p);
        struct ig_jsonr_member *m;
        size_t nm, off;
        const char *err;
        if (ll > 0 && ig_jsonr_object(p, ll, a, &m, &nm, &off, &err) == 0) {
            const struct ig_jsonr_member *t = ig_jsonr_get(m, nm, "title");
            const struct ig_jsonr_member *x = ig_jsonr_get(m, nm, "text");
            if (*n == cap) {
                cap *= 2;
                v = ig_realloc(v, cap * sizeof(*v));
            }
            struct item *it = &v[(*n)++];
            it->title = ig_strdup(t && t->str ? t->str : "");
            it->tl = strlen(it->title);
            it->text = ig_strdup(x && x->str ? x->str : "");
            it->xl = strlen(it->text);
            it->both = ig_asprintf("%s\n%s", it->title, it->text);
            it->bl = it->tl + 1 + it->xl;
            *bytes += it->tl + it->xl;
        }
        p += ll + 1;
    }
    ig_arena_free(a);
    ig_free(all);
    return v;
}

/* ---- scaled copies of a rule set ---- */

static const char *const extra_char[] = {"甲", "乙", "丙", "丁",
                                         "戊", "己", "庚", "辛"};

/* Permutes the characters of word w for copy k (2..): reversed, rotated,
 * or both; a word that would not change gets a marker character. */
static void permute(const char *w, size_t wl, int k, struct ig_buf *out)
{
    uint32_t cp[256];
    size_t n = 0;
    for (size_t i = 0; i < wl && n < 256;) {
        i += ig_utf8_decode(w + i, wl - i, &cp[n++]);
    }
    uint32_t r[256];
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        switch (k % 3) {
        case 2:
            j = n - 1 - i;
            break;
        case 0:
            j = (i + 1) % n;
            break;
        default:
            j = n - 1 - ((i + 1) % n);
            break;
        }
        r[i] = cp[j];
    }
    bool same = memcmp(r, cp, n * sizeof(uint32_t)) == 0;
    for (size_t i = 0; i < n; i++) {
        char e[4];
        ig_buf_add(out, e, ig_utf8_encode(r[i], e));
    }
    if (same || k > 4) {
        ig_buf_adds(out, extra_char[(k - 2) % 8]);
    }
}

static bool is_sep_at(const char *s, size_t *len)
{
    if (*s == ' ' || *s == '\t' || *s == ',' || *s == '/') {
        *len = 1;
        return true;
    }
    if (strncmp(s, "、", 3) == 0 || strncmp(s, "，", 3) == 0) {
        *len = 3;
        return true;
    }
    return false;
}

static void rewrite_rules(const char *text, size_t len, int k,
                          struct ig_buf *out)
{
    const char *p = text;
    while (p < text + len) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        char *line = ig_strndup(p, ll);
        p += ll + 1;
        const char *v = strchr(line, ':');
        bool words =
            strncmp(line, "any:", 4) == 0 || strncmp(line, "all:", 4) == 0 ||
            strncmp(line, "not:", 4) == 0 || strncmp(line, "near:", 5) == 0;
        if (strncmp(line, "rule:", 5) == 0) {
            ig_buf_addf(out, "%s-r%d\n", line, k);
        } else if (words && v) {
            ig_buf_add(out, line, (size_t)(v - line) + 1);
            const char *s = v + 1;
            bool near = line[1] == 'e';
            while (*s) {
                size_t sl;
                if (is_sep_at(s, &sl)) {
                    ig_buf_add(out, s, sl);
                    s += sl;
                    continue;
                }
                const char *e = s;
                while (*e && !is_sep_at(e, &sl)) {
                    e++;
                }
                bool keep =
                    *s == '"' || (near && (strncmp(s, "within", 6) == 0 ||
                                           (*s >= '0' && *s <= '9')));
                if (keep) {
                    ig_buf_add(out, s, (size_t)(e - s));
                } else {
                    permute(s, (size_t)(e - s), k, out);
                }
                s = e;
            }
            ig_buf_addc(out, '\n');
        } else {
            ig_buf_add(out, line, ll);
            ig_buf_addc(out, '\n');
        }
        ig_free(line);
    }
}

static void copy_file(const char *src, const char *dst)
{
    size_t len;
    char *t = slurp(src, &len);
    FILE *f = fopen(dst, "wb");
    fwrite(t, 1, len, f);
    fclose(f);
    ig_free(t);
}

/* Builds DIR x K in a temporary directory, plus the rules file extra
 * (may be NULL) once; returns its path (static). */
static const char *scaled_dir(const char *dir, int k, const char *extra)
{
    static char out[4096];
    snprintf(out, sizeof(out), "/tmp/ig-bench-rules-XXXXXX");
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    char a[8192], b[8192];
    snprintf(a, sizeof(a), "%s/taxonomy.tsv", dir);
    snprintf(b, sizeof(b), "%s/taxonomy.tsv", out);
    copy_file(a, b);
    snprintf(a, sizeof(a), "%s/settings.conf", dir);
    snprintf(b, sizeof(b), "%s/settings.conf", out);
    if (access(a, R_OK) == 0) {
        copy_file(a, b);
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 7 || strcmp(e->d_name + nl - 6, ".rules") != 0) {
            continue;
        }
        snprintf(a, sizeof(a), "%s/%s", dir, e->d_name);
        size_t len;
        char *t = slurp(a, &len);
        for (int c = 1; c <= k; c++) {
            snprintf(b, sizeof(b), "%s/r%d-%s", out, c, e->d_name);
            struct ig_buf o;
            ig_buf_init(&o, 0);
            if (c == 1) {
                ig_buf_add(&o, t, len);
            } else {
                rewrite_rules(t, len, c, &o);
            }
            FILE *f = fopen(b, "wb");
            fwrite(o.data ? o.data : "", 1, o.len, f);
            fclose(f);
            ig_buf_fini(&o);
        }
        ig_free(t);
    }
    closedir(d);
    if (extra) {
        snprintf(b, sizeof(b), "%s/zz-extra.rules", out);
        copy_file(extra, b);
    }
    return out;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char p[8192];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* ---- the patterns of a loaded rule set, for the baselines ---- */

struct pats {
    char **v;     /* PCRE2 syntax */
    bool *is_lit; /* keyword (literal) or regex */
    int *code;    /* taxon index */
    size_t n, cap;
};

static void pats_add(struct pats *p, const char *s, bool lit, int code)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->v = ig_realloc(p->v, p->cap * sizeof(char *));
        p->is_lit = ig_realloc(p->is_lit, p->cap * sizeof(bool));
        p->code = ig_realloc(p->code, p->cap * sizeof(int));
    }
    p->v[p->n] = ig_strdup(s);
    p->is_lit[p->n] = lit;
    p->code[p->n] = code;
    p->n++;
}

static void add_list(struct pats *p, const struct ruleset *rs,
                     const struct lit_list *l, int code)
{
    for (size_t i = 0; i < l->n; i++) {
        pats_add(p, rs->lits[l->v[i]], true, code);
    }
}

static struct pats collect(const struct ruleset *rs)
{
    struct pats p = {0};
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct crule *r = &rs->rules[i];
        int c = (int)r->taxon_index;
        for (size_t k = 0; k < r->nany; k++) {
            add_list(&p, rs, &r->any[k], c);
        }
        add_list(&p, rs, &r->all, c);
        add_list(&p, rs, &r->nots, c);
        for (size_t k = 0; k < r->nnear; k++) {
            add_list(&p, rs, &r->near[k].left, c);
            add_list(&p, rs, &r->near[k].right, c);
        }
        for (size_t k = 0; k < r->nrx; k++) {
            pats_add(&p, r->rx[k].src, false, c);
        }
        for (size_t k = 0; k < r->nnrx; k++) {
            pats_add(&p, r->nrx_v[k].src, false, c);
        }
    }
    return p;
}

/* A literal in regex syntax (for Vectorscan and alternations). */
static char *quote(const char *s)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}/", *s)) {
            ig_buf_addc(&b, '\\');
        }
        ig_buf_addc(&b, *s);
    }
    return ig_buf_take(&b);
}

/* ---- modes ---- */

static volatile size_t sink;

static void hit_count(void *ud, uint32_t pat, size_t end)
{
    (void)pat;
    (void)end;
    (*(size_t *)ud)++;
}

static int hs_count(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(size_t *)ctx)++;
    return 0;
}

static hs_database_t *hs_build(const struct pats *p, bool lits_only,
                               size_t *npat, double *secs)
{
    char **ex = ig_malloc((p->n + 1) * sizeof(char *));
    unsigned *flags = ig_malloc((p->n + 1) * sizeof(unsigned));
    unsigned *ids = ig_malloc((p->n + 1) * sizeof(unsigned));
    size_t n = 0;
    double t0 = now_s();
    for (size_t i = 0; i < p->n; i++) {
        if (lits_only && !p->is_lit[i]) {
            continue;
        }
        ex[n] = p->is_lit[i] ? quote(p->v[i]) : ig_strdup(p->v[i]);
        flags[n] = HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_CASELESS |
                   HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
        /* A pattern Vectorscan cannot take (lookarounds, backrefs) goes
         * in as a prefilter to be confirmed by PCRE2. */
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_expression_info(ex[n], flags[n], &info, &err) != HS_SUCCESS) {
            hs_free_compile_error(err);
            flags[n] |= HS_FLAG_PREFILTER;
        }
        free(info);
        ids[n] = (unsigned)i;
        n++;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi((const char *const *)ex, flags, ids, (unsigned)n,
                         HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
        fprintf(stderr, "hs_compile_multi: %s (expression %d)\n", err->message,
                err->expression);
        exit(3);
    }
    *secs = now_s() - t0;
    *npat = n;
    for (size_t i = 0; i < n; i++) {
        ig_free(ex[i]);
    }
    ig_free(ex);
    ig_free(flags);
    ig_free(ids);
    return db;
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *items_path = NULL, *mode = "engine";
    const char *extra = NULL;
    int scale = 1, repeat = 3;
    size_t limit = (size_t)-1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rules") == 0) {
            rules = argv[i + 1];
        } else if (strcmp(argv[i], "--items") == 0) {
            items_path = argv[i + 1];
        } else if (strcmp(argv[i], "--mode") == 0) {
            mode = argv[i + 1];
        } else if (strcmp(argv[i], "--scale") == 0) {
            scale = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--repeat") == 0) {
            repeat = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--extra") == 0) {
            extra = argv[i + 1];
        } else if (strcmp(argv[i], "--limit") == 0) {
            limit = (size_t)atol(argv[i + 1]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (rules == NULL || items_path == NULL) {
        fprintf(stderr, "usage: bench_classify --rules DIR --items FILE "
                        "[--mode M] [--scale K] [--repeat N] [--limit N] "
                        "[--extra FILE]\n");
        return 2;
    }
    size_t nitems, bytes;
    struct item *items = load_items(items_path, limit, &nitems, &bytes);
    const char *dir = scale > 0 ? scaled_dir(rules, scale, extra) : rules;
    struct ig_diags d;
    ig_diags_init(&d);
    struct ruleset *rs = NULL;
    double t0 = now_s();
    if (ruleset_load(dir, &rs, &d) < 0) {
        ig_diags_print(&d, stderr);
        return 2;
    }
    double load_s = now_s() - t0;
    if (scale > 0) {
        rm_dir(dir);
    }
    struct pats p = collect(rs);
    size_t npat = 0;
    double compile_s = load_s;
    size_t matches = 0;
    double secs = 0;

    if (strcmp(mode, "engine") == 0 || strcmp(mode, "scan") == 0) {
        bool scan = mode[0] == 's';
        struct cls_scratch *s = cls_scratch_new();
        struct ig_norm nm;
        ig_norm_init(&nm);
        npat = rs->nlits;
        t0 = now_s();
        for (int r = 0; r < repeat; r++) {
            for (size_t i = 0; i < nitems; i++) {
                struct item *it = &items[i];
                if (scan) {
                    ig_norm_reset(&nm);
                    ig_norm_add(&nm, it->title, it->tl);
                    ig_norm_addc(&nm, '\n', 0);
                    ig_norm_add(&nm, it->text, it->xl);
                    prefilter_scan_utf8(rs->pf, nm.s, nm.len, hit_count,
                                        &matches);
                    continue;
                }
                struct ig_arena *a = ig_arena_new(16 * 1024);
                struct cls_result res;
                ruleset_classify(rs, s, it->title, it->tl, it->text, it->xl,
                                 false, a, &res);
                matches += res.top != NULL;
                ig_arena_free(a);
            }
        }
        secs = now_s() - t0;
        ig_norm_fini(&nm);
        cls_scratch_free(s);
    } else if (strcmp(mode, "hs-lit") == 0 || strcmp(mode, "hs") == 0) {
        bool lit = mode[2] == '-';
        hs_database_t *db = hs_build(&p, lit, &npat, &compile_s);
        hs_scratch_t *hsc = NULL;
        hs_alloc_scratch(db, &hsc);
        struct ig_norm nm;
        ig_norm_init(&nm);
        t0 = now_s();
        for (int r = 0; r < repeat; r++) {
            for (size_t i = 0; i < nitems; i++) {
                struct item *it = &items[i];
                if (lit) {
                    ig_norm_reset(&nm);
                    ig_norm_add(&nm, it->title, it->tl);
                    ig_norm_addc(&nm, '\n', 0);
                    ig_norm_add(&nm, it->text, it->xl);
                    hs_scan(db, nm.s, (unsigned)nm.len, 0, hsc, hs_count,
                            &matches);
                } else {
                    hs_scan(db, it->both, (unsigned)it->bl, 0, hsc, hs_count,
                            &matches);
                }
            }
        }
        secs = now_s() - t0;
        ig_norm_fini(&nm);
        hs_free_scratch(hsc);
        hs_free_database(db);
    } else if (strncmp(mode, "naive", 5) == 0 || strcmp(mode, "percode") == 0) {
        bool utfcheck = strcmp(mode, "naive-utf") == 0;
        bool percode = mode[0] == 'p';
        size_t ncode = ruleset_ntaxa(rs);
        pcre2_code **code = ig_calloc(p.n + ncode, sizeof(*code));
        t0 = now_s();
        if (percode) {
            for (size_t c = 0; c < ncode; c++) {
                struct ig_buf b;
                ig_buf_init(&b, 0);
                for (size_t i = 0; i < p.n; i++) {
                    if (p.code[i] != (int)c) {
                        continue;
                    }
                    char *q = p.is_lit[i] ? quote(p.v[i]) : ig_strdup(p.v[i]);
                    ig_buf_addf(&b, "%s(?:%s)", b.len ? "|" : "", q);
                    ig_free(q);
                }
                if (b.len == 0) {
                    ig_buf_fini(&b);
                    continue;
                }
                int ec;
                PCRE2_SIZE eo;
                code[npat] = pcre2_compile(
                    (PCRE2_SPTR)b.data, b.len,
                    PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &ec, &eo, NULL);
                pcre2_jit_compile(code[npat], PCRE2_JIT_COMPLETE);
                npat++;
                ig_buf_fini(&b);
            }
        } else {
            for (size_t i = 0; i < p.n; i++) {
                int ec;
                PCRE2_SIZE eo;
                /* PCRE2_LITERAL does not combine with PCRE2_UCP */
                uint32_t opt = PCRE2_UTF | PCRE2_CASELESS |
                               (p.is_lit[i] ? PCRE2_LITERAL : PCRE2_UCP);
                code[npat] =
                    pcre2_compile((PCRE2_SPTR)p.v[i], PCRE2_ZERO_TERMINATED,
                                  opt, &ec, &eo, NULL);
                pcre2_jit_compile(code[npat], PCRE2_JIT_COMPLETE);
                npat++;
            }
        }
        compile_s = now_s() - t0;
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(mc, CLS_MATCH_LIMIT);
        t0 = now_s();
        for (int r = 0; r < repeat; r++) {
            for (size_t i = 0; i < nitems; i++) {
                struct item *it = &items[i];
                uint32_t mopt = 0;
                if (!utfcheck) {
                    /* one validation per item, then none per call */
                    if (!ig_utf8_valid(it->both, it->bl)) {
                        continue;
                    }
                    mopt = PCRE2_NO_UTF_CHECK;
                }
                for (size_t k = 0; k < npat; k++) {
                    int rc = pcre2_match(code[k], (PCRE2_SPTR)it->both, it->bl,
                                         0, mopt, md, mc);
                    matches += rc > 0;
                }
            }
        }
        secs = now_s() - t0;
        for (size_t k = 0; k < npat; k++) {
            pcre2_code_free(code[k]);
        }
        ig_free(code);
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    sink = matches;
    double n = (double)nitems * repeat;
    printf("mode=%s%s scale=%d rules=%zu patterns=%zu literals=%zu "
           "states=%zu classes=%zu table_bytes=%zu items=%.0f bytes=%.0f "
           "secs=%.3f items_per_s=%.0f mb_per_s=%.1f compile_s=%.3f "
           "matches=%zu\n",
           mode, extra ? "+regex" : "", scale, ruleset_nrules(rs),
           npat ? npat : p.n, rs->nlits, prefilter_states(rs->pf),
           prefilter_classes(rs->pf), prefilter_bytes(rs->pf), n,
           (double)bytes * repeat, secs, secs > 0 ? n / secs : 0,
           secs > 0 ? (double)bytes * repeat / secs / 1e6 : 0, compile_s,
           matches);
    for (size_t i = 0; i < p.n; i++) {
        ig_free(p.v[i]);
    }
    ig_free(p.v);
    ig_free(p.is_lit);
    ig_free(p.code);
    for (size_t i = 0; i < nitems; i++) {
        ig_free(items[i].title);
        ig_free(items[i].text);
        ig_free(items[i].both);
    }
    ig_free(items);
    ruleset_unref(rs);
    ig_diags_fini(&d);
    return 0;
}
