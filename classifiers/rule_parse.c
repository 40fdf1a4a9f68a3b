/* rule_parse.c — rules/NAME.rules text -> parsed rules, with file:line:col
 * diagnostics.
 *
 * The language (rules/README.md) is line-based: `key: value`, a rule runs
 * from its `rule:` line to the next one. The parser never stops at the
 * first mistake: every line is checked, each problem is added to the
 * diagnostics with its column in characters, and the caller refuses the
 * set if any error was reported. Keywords are normalised here (core/norm.h)
 * so the compiler only sees the form that is matched. What needs the whole
 * set (codes against the taxonomy, duplicate ids across files, regex
 * compilation) is checked by rule_compile.c.
 */
#include "classifiers/classifier_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/mem.h"
#include "core/norm.h"
#include "core/text.h"

static const char *const keys[] = {
    "rule", "code",  "desc", "weight",    "any",     "all",
    "near", "regex", "not",  "not-regex", "example", "counter",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

#define MAX_WEIGHT 100.0
#define MAX_WITHIN 1000

const char *rule_closest(const char *s, const char *const *cand, size_t n)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, s);
    for (size_t i = 0; i < n; i++) {
        ig_suggest_try(&sg, cand[i]);
    }
    return ig_suggest_best(&sg);
}

/* 1-based column in characters of byte offset off within line. */
static int col_of(const char *line, size_t off)
{
    return (int)ig_utf8_count(line, off) + 1;
}

static bool is_sep(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == 0x3000 || cp == 0x3001 ||
           cp == 0xFF0C || cp == ',';
}

int rule_split_words(const char *s, struct ig_arena *a, struct prule_words *out,
                     size_t *err_col, const char **err)
{
    size_t len = strlen(s);
    size_t cap = 8, n = 0;
    char **w = ig_arena_alloc(a, cap * sizeof(char *));
    size_t i = 0, chars = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = ig_utf8_decode(s + i, len - i, &cp);
        if (is_sep(cp)) {
            i += k;
            chars++;
            continue;
        }
        size_t start, end;
        if (cp == '"') {
            size_t qcol = chars;
            start = i + 1;
            const char *q = memchr(s + start, '"', len - start);
            if (q == NULL) {
                *err_col = qcol;
                *err = "unterminated quote";
                return -1;
            }
            end = (size_t)(q - s);
            chars += ig_utf8_count(s + i, end + 1 - i);
            i = end + 1;
        } else {
            start = i;
            while (i < len) {
                k = ig_utf8_decode(s + i, len - i, &cp);
                if (is_sep(cp) || cp == '"') {
                    break;
                }
                i += k;
                chars++;
            }
            end = i;
        }
        size_t nl;
        char *nw = ig_norm_str(s + start, end - start, &nl);
        if (nl > 0) {
            if (n == cap) {
                char **nv = ig_arena_alloc(a, 2 * cap * sizeof(char *));
                memcpy(nv, w, n * sizeof(char *));
                w = nv;
                cap *= 2;
            }
            w[n++] = ig_arena_strndup(a, nw, nl);
        }
        ig_free(nw);
    }
    out->w = w;
    out->n = n;
    return (int)n;
}

struct pstate {
    const char *name;
    struct ig_arena *a;
    struct ig_diags *d;
    struct prule_list *out;
    struct prule *cur;
    int errors;
    /* growable per-rule arrays, copied into the arena when the rule ends */
    struct prule_words *any;
    size_t nany, capany;
    struct prule_near *near;
    size_t nnear, capnear;
    struct prule_rx *rxv, *nrxv;
    size_t nrx, caprx, nnrx, capnrx;
    struct rule_sample *ex, *ctr;
    size_t nex, capex, nctr, capctr;
    struct prule_words all, nots;
    size_t capall, capnots;
    struct prule_veto *lnots;
    size_t nlnots, caplnots;
    bool seen_code, seen_desc, seen_weight;
};

#define PUSH(arr, n, cap, val)                                                 \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            (cap) = (cap) ? 2 * (cap) : 4;                                     \
            (arr) = ig_realloc((arr), (cap) * sizeof(*(arr)));                 \
        }                                                                      \
        (arr)[(n)++] = (val);                                                  \
    } while (0)

static void perr(struct pstate *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void perr(struct pstate *ps, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_diags_add(ps->d, IG_DIAG_ERROR, ps->name, line, col, "%s", msg);
    ps->errors++;
}

static void *arena_copy(struct ig_arena *a, const void *p, size_t n)
{
    void *r = ig_arena_alloc(a, n ? n : 1);
    if (n) {
        memcpy(r, p, n);
    }
    return r;
}

static void append_words(struct prule_words *dst, size_t *cap,
                         const struct prule_words *src)
{
    for (size_t i = 0; i < src->n; i++) {
        PUSH(dst->w, dst->n, *cap, src->w[i]);
    }
}

static void finish_rule(struct pstate *ps)
{
    struct prule *r = ps->cur;
    if (r == NULL) {
        return;
    }
    struct ig_arena *a = ps->a;
    r->any = arena_copy(a, ps->any, ps->nany * sizeof(*ps->any));
    r->nany = ps->nany;
    r->near = arena_copy(a, ps->near, ps->nnear * sizeof(*ps->near));
    r->nnear = ps->nnear;
    r->rx = arena_copy(a, ps->rxv, ps->nrx * sizeof(*ps->rxv));
    r->nrx_n = ps->nrx;
    r->nrx = arena_copy(a, ps->nrxv, ps->nnrx * sizeof(*ps->nrxv));
    r->nnrx_n = ps->nnrx;
    r->ex = arena_copy(a, ps->ex, ps->nex * sizeof(*ps->ex));
    r->nex = ps->nex;
    r->ctr = arena_copy(a, ps->ctr, ps->nctr * sizeof(*ps->ctr));
    r->nctr = ps->nctr;
    r->all.w = arena_copy(a, ps->all.w, ps->all.n * sizeof(char *));
    r->all.n = ps->all.n;
    r->nots.w = arena_copy(a, ps->nots.w, ps->nots.n * sizeof(char *));
    r->nots.n = ps->nots.n;
    r->lnots = arena_copy(a, ps->lnots, ps->nlnots * sizeof(*ps->lnots));
    r->nlnots = ps->nlnots;
    if (!ps->seen_code) {
        perr(ps, r->line, 1, "rule '%s' has no 'code:' line", r->id);
    }
    if (r->nany == 0 && r->all.n == 0 && r->nnear == 0 && r->nrx_n == 0) {
        perr(ps, r->line, 1,
             "rule '%s' has no 'any:', 'all:', 'near:' or 'regex:' line",
             r->id);
    }
    if (r->nex == 0) {
        perr(ps, r->line, 1, "rule '%s' has no 'example:' line", r->id);
    }
    if (r->nctr == 0) {
        perr(ps, r->line, 1, "rule '%s' has no 'counter:' line", r->id);
    }
    ps->nany = ps->nnear = ps->nrx = ps->nnrx = ps->nex = ps->nctr = 0;
    ps->nlnots = 0;
    ps->all.n = ps->nots.n = 0;
    ps->seen_code = ps->seen_desc = ps->seen_weight = false;
    ps->cur = NULL;
}

static bool valid_id(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

static bool words_line(struct pstate *ps, const char *key, const char *val,
                       int line, int vcol, struct prule_words *w)
{
    size_t ecol = 0;
    const char *err = NULL;
    int n = rule_split_words(val, ps->a, w, &ecol, &err);
    if (n < 0) {
        perr(ps, line, vcol + (int)ecol, "%s", err);
        return false;
    }
    if (n == 0) {
        perr(ps, line, vcol, "'%s:' needs at least one word", key);
        return false;
    }
    return true;
}

/* Bytes of the blank at s[0..n): a space, a tab or the full-width space
 * U+3000 (what a Chinese keyboard types); 0 when none. */
static size_t blank_at(const char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || s[0] == '\t')) {
        return 1;
    }
    return n >= 3 && memcmp(s, "\xe3\x80\x80", 3) == 0 ? 3 : 0;
}

/* Bytes of the blank that ends s[0..n); 0 when none. */
static size_t blank_before(const char *s, size_t n)
{
    if (n >= 1 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        return 1;
    }
    return n >= 3 && memcmp(s + n - 3, "\xe3\x80\x80", 3) == 0 ? 3 : 0;
}

/* The "within N" that ends a near: or not: line's value: returns 1 with
 * the characters allowed in *n and the length of what precedes it in
 * *head, 0 when the value has no "within" (the caller decides whether
 * that is an error), -1 when its number is missing or out of range
 * (reported). */
static int within_clause(struct pstate *ps, const char *val, int line, int vcol,
                         size_t *head, unsigned *n)
{
    const char *w = NULL;
    for (const char *p = val; (p = strstr(p, "within")) != NULL; p++) {
        if (p == val || blank_before(val, (size_t)(p - val)) > 0) {
            w = p;
        }
    }
    if (w == NULL) {
        return 0;
    }
    int wcol = vcol + (int)ig_utf8_count(val, (size_t)(w - val));
    char *end = NULL;
    const char *num = w + 6;
    size_t b;
    while ((b = blank_at(num, strlen(num))) > 0) {
        num += b;
    }
    long v = strtol(num, &end, 10);
    while (end && (b = blank_at(end, strlen(end))) > 0) {
        end += b;
    }
    if (end == num || end == NULL || *end != '\0' || v < 1 || v > MAX_WITHIN) {
        perr(ps, line, wcol,
             "'within' needs a number of characters from 1 to %d", MAX_WITHIN);
        return -1;
    }
    *head = (size_t)(w - val);
    *n = (unsigned)v;
    return 1;
}

static void near_line(struct pstate *ps, const char *val, int line, int vcol)
{
    /* "LEFT WORDS / RIGHT WORDS within N" */
    size_t llen;
    unsigned n;
    int wc = within_clause(ps, val, line, vcol, &llen, &n);
    if (wc == 0) {
        perr(ps, line, vcol,
             "'near:' expects 'WORDS / WORDS within N' (missing 'within')");
    }
    if (wc <= 0) {
        return;
    }
    char *left = ig_arena_strndup(ps->a, val, llen);
    char *slash = strchr(left, '/');
    char *fw = strstr(left, "\xef\xbc\x8f"); /* full-width slash */
    size_t slen = 1;
    if (slash == NULL || (fw && fw < slash)) {
        slash = fw;
        slen = 3;
    }
    if (slash == NULL) {
        perr(ps, line, vcol,
             "'near:' expects 'WORDS / WORDS within N' (missing '/')");
        return;
    }
    *slash = '\0';
    struct prule_near nr;
    memset(&nr, 0, sizeof(nr));
    nr.within = (unsigned)n;
    bool ok = words_line(ps, "near", left, line, vcol, &nr.left);
    int rcol = vcol + (int)ig_utf8_count(left, strlen(left)) + 1;
    ok = words_line(ps, "near", slash + slen, line, rcol, &nr.right) && ok;
    if (ok) {
        PUSH(ps->near, ps->nnear, ps->capnear, nr);
    }
}

/* "WORDS" (they veto wherever they are) or "WORDS within N" (only
 * within N characters of the rule's evidence). */
static void not_line(struct pstate *ps, const char *val, int line, int vcol)
{
    size_t head;
    unsigned n;
    int wc = within_clause(ps, val, line, vcol, &head, &n);
    struct prule_words w;
    if (wc < 0) {
        return;
    }
    if (wc == 0) {
        if (words_line(ps, "not", val, line, vcol, &w)) {
            append_words(&ps->nots, &ps->capnots, &w);
        }
        return;
    }
    if (words_line(ps, "not", ig_arena_strndup(ps->a, val, head), line, vcol,
                   &w)) {
        struct prule_veto v = {w, n};
        PUSH(ps->lnots, ps->nlnots, ps->caplnots, v);
    }
}

static void do_line(struct pstate *ps, const char *line, int lineno)
{
    size_t len = strlen(line);
    size_t i = 0, b;
    while ((b = blank_at(line + i, len - i)) > 0) {
        i += b;
    }
    if (i == len || line[i] == '#') {
        return;
    }
    size_t ks = i;
    while (i < len && ((line[i] >= 'a' && line[i] <= 'z') ||
                       (line[i] >= 'A' && line[i] <= 'Z') || line[i] == '-')) {
        i++;
    }
    size_t ke = i;
    size_t after;
    if (i < len && line[i] == ':') {
        after = i + 1;
    } else if (len - i >= 3 && memcmp(line + i, "\xef\xbc\x9a", 3) == 0) {
        after = i + 3; /* full-width colon, easy to type in Chinese IMEs */
    } else {
        perr(ps, lineno, col_of(line, ks),
             "expected 'key: value' (a rule line starts with a key such "
             "as 'any:')");
        return;
    }
    char key[32];
    size_t kl = ke - ks < sizeof(key) - 1 ? ke - ks : sizeof(key) - 1;
    for (size_t k = 0; k < kl; k++) {
        char c = line[ks + k];
        key[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    key[kl] = '\0';
    while ((b = blank_at(line + after, len - after)) > 0) {
        after += b;
    }
    size_t ve = len;
    while (ve > after && (b = blank_before(line + after, ve - after)) > 0) {
        ve -= b;
    }
    char *val = ig_arena_strndup(ps->a, line + after, ve - after);
    int kcol = col_of(line, ks);
    int vcol = col_of(line, after);

    bool known = false;
    for (size_t k = 0; k < NKEYS; k++) {
        if (strcmp(key, keys[k]) == 0) {
            known = true;
        }
    }
    if (!known) {
        const char *s = rule_closest(key, keys, NKEYS);
        if (s) {
            perr(ps, lineno, kcol, "unknown key '%s:' (did you mean '%s:'?)",
                 key, s);
        } else {
            perr(ps, lineno, kcol, "unknown key '%s:'", key);
        }
        return;
    }
    if (strcmp(key, "rule") == 0) {
        finish_rule(ps);
        if (!valid_id(val)) {
            perr(ps, lineno, vcol,
                 "rule id '%s' must be letters, digits, '-', '_' or '.'", val);
        }
        struct prule r;
        memset(&r, 0, sizeof(r));
        r.id = val;
        r.file = ps->name;
        r.line = lineno;
        r.weight = 1.0;
        r.desc = "";
        struct prule_list *o = ps->out;
        PUSH(o->v, o->n, o->cap, r);
        ps->cur = &o->v[o->n - 1];
        return;
    }
    if (ps->cur == NULL) {
        perr(ps, lineno, kcol, "'%s:' before the first 'rule:' line", key);
        return;
    }
    /* ps->cur may move when out->v grows; it only grows at rule: lines. */
    struct prule *r = ps->cur;
    if (*val == '\0') {
        perr(ps, lineno, vcol, "'%s:' has no value", key);
        return;
    }
    if (strcmp(key, "code") == 0) {
        if (ps->seen_code) {
            perr(ps, lineno, kcol, "second 'code:' line in rule '%s'", r->id);
            return;
        }
        ps->seen_code = true;
        r->code = val;
        r->code_line = lineno;
        r->code_col = vcol;
    } else if (strcmp(key, "desc") == 0) {
        if (ps->seen_desc) {
            perr(ps, lineno, kcol, "second 'desc:' line in rule '%s'", r->id);
            return;
        }
        ps->seen_desc = true;
        r->desc = val;
    } else if (strcmp(key, "weight") == 0) {
        if (ps->seen_weight) {
            perr(ps, lineno, kcol, "second 'weight:' line in rule '%s'", r->id);
            return;
        }
        ps->seen_weight = true;
        char *end = NULL;
        double w = strtod(val, &end);
        if (end == val || *end != '\0' || !isfinite(w) || w <= 0 ||
            w > MAX_WEIGHT) {
            perr(ps, lineno, vcol,
                 "weight '%s' must be a number above 0 and at most %g", val,
                 MAX_WEIGHT);
            return;
        }
        r->weight = w;
    } else if (strcmp(key, "any") == 0) {
        struct prule_words w;
        if (words_line(ps, key, val, lineno, vcol, &w)) {
            PUSH(ps->any, ps->nany, ps->capany, w);
        }
    } else if (strcmp(key, "all") == 0) {
        struct prule_words w;
        if (words_line(ps, key, val, lineno, vcol, &w)) {
            append_words(&ps->all, &ps->capall, &w);
        }
    } else if (strcmp(key, "not") == 0) {
        not_line(ps, val, lineno, vcol);
    } else if (strcmp(key, "near") == 0) {
        near_line(ps, val, lineno, vcol);
    } else if (strcmp(key, "regex") == 0 || strcmp(key, "not-regex") == 0) {
        /* Checked as compiled: the characters regex_normalise() drops
         * (zero-width, soft hyphen, BOM) must not hide a leading (*. */
        if (strncmp(regex_normalise(val, ps->a), "(*", 2) == 0) {
            perr(ps, lineno, vcol,
                 "a pattern may not start with '(*' (engine settings are "
                 "not allowed in rule files)");
            return;
        }
        struct prule_rx x = {val, lineno, vcol};
        if (key[0] == 'r') {
            PUSH(ps->rxv, ps->nrx, ps->caprx, x);
        } else {
            PUSH(ps->nrxv, ps->nnrx, ps->capnrx, x);
        }
    } else if (strcmp(key, "example") == 0) {
        struct rule_sample s = {val, lineno};
        PUSH(ps->ex, ps->nex, ps->capex, s);
    } else if (strcmp(key, "counter") == 0) {
        struct rule_sample s = {val, lineno};
        PUSH(ps->ctr, ps->nctr, ps->capctr, s);
    }
}

int rule_parse_mem(const char *name, const char *text, size_t len,
                   struct ig_arena *a, struct prule_list *out,
                   struct ig_diags *d)
{
    struct pstate ps;
    memset(&ps, 0, sizeof(ps));
    ps.name = ig_arena_strdup(a, name);
    ps.a = a;
    ps.d = d;
    ps.out = out;
    struct rule_lines it = {.text = text, .len = len};
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        it.pos = 3; /* a UTF-8 BOM, as some Windows editors write */
    }
    const char *ls;
    size_t ll;
    while (rule_lines_next(&it, &ls, &ll)) {
        int lineno = it.lineno;
        if (memchr(ls, '\0', ll) != NULL) {
            perr(&ps, lineno,
                 col_of(ls, (size_t)((const char *)memchr(ls, '\0', ll) - ls)),
                 "NUL byte in a rules file");
        } else if (!ig_utf8_valid(ls, ll)) {
            size_t k = 0;
            while (k < ll) {
                uint32_t cp;
                size_t step = ig_utf8_decode(ls + k, ll - k, &cp);
                if (cp == IG_UTF8_INVALID) {
                    break;
                }
                k += step;
            }
            perr(&ps, lineno, col_of(ls, k),
                 "invalid UTF-8 (save the file as UTF-8)");
        } else {
            char *line = ig_strndup(ls, ll);
            do_line(&ps, line, lineno);
            ig_free(line);
        }
    }
    finish_rule(&ps);
    ig_free(ps.any);
    ig_free(ps.near);
    ig_free(ps.rxv);
    ig_free(ps.nrxv);
    ig_free(ps.ex);
    ig_free(ps.ctr);
    ig_free(ps.all.w);
    ig_free(ps.nots.w);
    ig_free(ps.lnots);
    return ps.errors;
}
