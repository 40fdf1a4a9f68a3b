/* regex_lit.c — required literals of a PCRE2 pattern, and patterns
 * rewritten for normalised text.
 *
 * A rule's regex is only run when a literal it cannot match without was
 * seen by the automaton. The extractor is a small recursive-descent reader
 * of the PCRE2 syntax that matters here: it collects runs of literal
 * characters that every match must contain (a character followed by `?`,
 * `*` or `{0,...}` ends a run without joining it; `+` joins it and ends
 * the run), and for a mandatory group the union of its branches' literals
 * (each branch must give one, else the group gives nothing). Of all the
 * candidates of a sequence it keeps the set whose shortest literal is
 * longest. Anything it does not understand (classes, `\d`, backreferences,
 * lookarounds, letters whose case PCRE2 would fold beyond ASCII) ends a
 * run, which only ever makes the answer weaker, never wrong. What reads
 * like text but is not is skipped whole: backtracking verbs and their
 * names (`(*MARK:x)`), callouts, the digits of `\123` or `\g-1`, named
 * assertions (`(*nla:...)`, read as lookarounds). A first pass turns
 * `\Q..\E` into escaped characters and drops comments and lone `\E`, so
 * a quantifier after them is seen on the item it applies to. `(?x)` and
 * `(*ACCEPT)` (a match may end anywhere) give up.
 */
#include "classifiers/classifier_int.h"

#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/norm.h"
#include "core/text.h"

#define MAX_DEPTH 64

struct lset {
    char **v; /* arena strings; n == 0 means "no required literal" */
    size_t n;
    size_t minlen;
};

struct rp {
    const char *p;
    size_t i, n;
    bool bad;
    int depth;
    struct ig_arena *a;
    /* every candidate of the top-level sequence (regex_required()'s sets) */
    struct lset *all;
    size_t nall, capall;
    bool top_alt; /* a '|' at the top level */
};

/* Notes a candidate of the top-level sequence. */
static void note(struct rp *r, struct lset c)
{
    if (r->depth != 0 || c.n == 0 || r->capall == 0) {
        return;
    }
    if (r->nall == r->capall) {
        struct lset *v = ig_arena_alloc(r->a, 2 * r->capall * sizeof(*v));
        memcpy(v, r->all, r->nall * sizeof(*v));
        r->all = v;
        r->capall *= 2;
    }
    r->all[r->nall++] = c;
}

static void better(struct lset *best, struct lset c)
{
    if (c.n == 0) {
        return;
    }
    if (best->n == 0 || c.minlen > best->minlen ||
        (c.minlen == best->minlen && c.n < best->n)) {
        *best = c;
    }
}

/* Turns the pending run into a one-literal candidate. */
static void flush(struct rp *r, struct ig_buf *run, struct lset *best)
{
    if (run->len == 0) {
        return;
    }
    size_t nl;
    char *s = ig_norm_str(run->data, run->len, &nl);
    /* One ASCII character would gate nothing. */
    if (nl >= 2) {
        struct lset c;
        c.v = ig_arena_alloc(r->a, sizeof(char *));
        c.v[0] = ig_arena_strndup(r->a, s, nl);
        c.n = 1;
        c.minlen = nl;
        note(r, c);
        better(best, c);
    }
    ig_free(s);
    ig_buf_reset(run);
}

/* Reads a quantifier at r->i if there is one. Returns true when present;
 * *optional says whether it allows zero repetitions. */
static bool quant(struct rp *r, bool *optional)
{
    if (r->i >= r->n) {
        return false;
    }
    char c = r->p[r->i];
    size_t j = r->i;
    if (c == '?' || c == '*') {
        *optional = true;
        j++;
    } else if (c == '+') {
        *optional = false;
        j++;
    } else if (c == '{') {
        size_t k = j + 1;
        size_t min = 0;
        bool digits = false;
        while (k < r->n && r->p[k] >= '0' && r->p[k] <= '9') {
            min = min * 10 + (size_t)(r->p[k] - '0');
            if (min > 100000) {
                min = 100000;
            }
            k++;
            digits = true;
        }
        if (k < r->n && r->p[k] == ',') {
            k++;
            while (k < r->n && r->p[k] >= '0' && r->p[k] <= '9') {
                k++;
            }
        }
        if (!digits || k >= r->n || r->p[k] != '}') {
            return false; /* PCRE2 reads a bad {..} as literal text */
        }
        *optional = min == 0;
        j = k + 1;
    } else {
        return false;
    }
    if (j < r->n && (r->p[j] == '?' || r->p[j] == '+')) {
        j++; /* lazy or possessive */
    }
    r->i = j;
    return true;
}

static void skip_class(struct rp *r)
{
    /* r->i at '['; a ']' right after '[' or '[^' is literal. */
    r->i++;
    if (r->i < r->n && r->p[r->i] == '^') {
        r->i++;
    }
    if (r->i < r->n && r->p[r->i] == ']') {
        r->i++;
    }
    while (r->i < r->n && r->p[r->i] != ']') {
        if (r->p[r->i] == '\\') {
            r->i += 2;
        } else if (r->p[r->i] == '[' && r->i + 1 < r->n &&
                   r->p[r->i + 1] == ':') {
            const char *e = strstr(r->p + r->i + 2, ":]");
            r->i = e ? (size_t)(e - r->p) + 2 : r->n;
        } else {
            r->i++;
        }
    }
    if (r->i < r->n) {
        r->i++;
    }
}

/* An escape that is not a literal character: skip its argument. */
static void skip_escape(struct rp *r)
{
    char e = r->p[r->i + 1];
    r->i += 2;
    if (r->i < r->n && r->p[r->i] == '{' && strchr("pPxogNk", e) != NULL) {
        while (r->i < r->n && r->p[r->i] != '}') {
            r->i++;
        }
        r->i++;
    } else if ((e == 'k' || e == 'g') && r->i < r->n &&
               (r->p[r->i] == '<' || r->p[r->i] == '\'')) {
        char close = r->p[r->i] == '<' ? '>' : '\'';
        r->i++; /* past the opening '<' or quote */
        while (r->i < r->n && r->p[r->i] != close) {
            r->i++;
        }
        r->i++;
    } else if (e == 'g') {
        /* \g1 \g-1 \g+1: a reference, not the text "-1" */
        if (r->i < r->n && (r->p[r->i] == '-' || r->p[r->i] == '+')) {
            r->i++;
        }
        while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9') {
            r->i++;
        }
    } else if (e >= '0' && e <= '9') {
        /* \12 a backreference, \123 an octal character, \0 followed by
         * octal digits: the digits that follow are not text */
        while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9') {
            r->i++;
        }
    } else if (e == 'c') {
        r->i++;
    } else if ((e == 'p' || e == 'P') && r->i < r->n) {
        r->i++; /* \pL */
    } else if (e == 'x') {
        for (int k = 0; k < 2 && r->i < r->n; k++) {
            char h = r->p[r->i];
            if ((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                (h >= 'A' && h <= 'F')) {
                r->i++;
            }
        }
    }
    if (r->i > r->n) {
        r->i = r->n;
    }
}

static struct lset parse_alt(struct rp *r);

/* Whether PCRE2's caseless matching leaves cp alone: the CJK, kana,
 * Hangul and Yi blocks and the CJK forms (no case pairs). Other letters
 * beyond ASCII may match a character the literal does not contain. */
static bool caseless_cp(uint32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0xA63F) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF5B && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* The pattern without the syntax that changes nothing in what it
 * matches but stands between an item and its quantifier: `\Q..\E`
 * becomes its characters, escaped where PCRE2 would read them as syntax
 * (also inside a class, where `\Q]\E` is a literal ']'), a lone `\E` and
 * `(?#...)` comments go. A new ig_buf string (free with ig_free). */
static char *desugar(const char *p, size_t n)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    bool in_class = false;
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n && (p[i + 1] == 'Q' || p[i + 1] == 'E')) {
            if (p[i + 1] == 'E') {
                i += 2;
                continue;
            }
            const char *end = strstr(p + i + 2, "\\E");
            size_t e = end ? (size_t)(end - p) : n;
            for (size_t k = i + 2; k < e; k++) {
                unsigned char q = (unsigned char)p[k];
                bool alnum = (q >= 'a' && q <= 'z') || (q >= 'A' && q <= 'Z') ||
                             (q >= '0' && q <= '9');
                if (q < 0x80 && !alnum) {
                    ig_buf_addc(&b, '\\');
                }
                ig_buf_addc(&b, (char)q);
            }
            i = end ? e + 2 : n;
            continue;
        }
        if (c == '\\') {
            ig_buf_add(&b, p + i, i + 1 < n ? 2 : 1);
            i += 2;
            continue;
        }
        if (in_class) {
            if (c == '[' && i + 1 < n && p[i + 1] == ':') {
                const char *e = strstr(p + i + 2, ":]");
                size_t k = e ? (size_t)(e - p) + 2 : n;
                ig_buf_add(&b, p + i, k - i);
                i = k;
                continue;
            }
            in_class = c != ']';
        } else if (c == '[') {
            /* a ']' right after '[' or '[^' is literal */
            size_t k = i + 1;
            if (k < n && p[k] == '^') {
                k++;
            }
            if (k < n && p[k] == ']') {
                k++;
            }
            ig_buf_add(&b, p + i, k - i);
            i = k;
            in_class = true;
            continue;
        } else if (c == '(' && i + 2 < n && p[i + 1] == '?' &&
                   p[i + 2] == '#') {
            /* a comment ends at the first ')', escapes or not */
            const char *e = memchr(p + i, ')', n - i);
            i = e ? (size_t)(e - p) + 1 : n;
            continue;
        }
        ig_buf_addc(&b, c);
        i++;
    }
    char *r = ig_strndup(b.data ? b.data : "", b.len);
    ig_buf_fini(&b);
    return r;
}

/* Reads a group at r->i ('('); returns its literals if it is mandatory. */
static struct lset parse_group(struct rp *r)
{
    struct lset none = {NULL, 0, 0};
    bool discard = false;
    r->i++;
    if (r->i < r->n && r->p[r->i] == '*') {
        r->i++;
        char v = r->i < r->n ? r->p[r->i] : '\0';
        if (v >= 'a' && v <= 'z') {
            /* (*pla:...), (*nla:...), (*atomic:...), ...: read as a
             * lookaround, its content not counted */
            while (r->i < r->n && r->p[r->i] != ':' && r->p[r->i] != ')') {
                r->i++;
            }
            if (r->i >= r->n || r->p[r->i] != ':') {
                r->bad = true;
                return none;
            }
            r->i++;
            discard = true;
        } else {
            /* a verb: (*ACCEPT) ends the match wherever it stands, the
             * others only restrict it; a name after it is no text */
            if (strncmp(r->p + r->i, "ACCEPT", 6) == 0) {
                r->bad = true;
                return none;
            }
            while (r->i < r->n && r->p[r->i] != ')') {
                r->i++;
            }
            if (r->i < r->n) {
                r->i++;
            }
            return none;
        }
    } else if (r->i < r->n && r->p[r->i] == '?') {
        r->i++;
        char c = r->i < r->n ? r->p[r->i] : '\0';
        if (c == 'C') {
            /* a callout: (?C), (?C12), or a string between delimiters
             * (a doubled delimiter stands for itself) */
            r->i++;
            char d = r->i < r->n ? r->p[r->i] : '\0';
            if (d != '\0' && strchr("`'\"^%#${", d) != NULL) {
                char close = d == '{' ? '}' : d;
                r->i++;
                while (r->i < r->n) {
                    if (r->p[r->i] == close) {
                        if (r->i + 1 < r->n && r->p[r->i + 1] == close) {
                            r->i += 2;
                            continue;
                        }
                        r->i++;
                        break;
                    }
                    r->i++;
                }
            }
            while (r->i < r->n && r->p[r->i] != ')') {
                r->i++;
            }
            if (r->i < r->n) {
                r->i++;
            }
            return none;
        }
        if (c == ':' || c == '>' || c == '|') {
            r->i++;
        } else if (c == '=' || c == '!') {
            discard = true;
            r->i++;
        } else if (c == '<' && r->i + 1 < r->n &&
                   (r->p[r->i + 1] == '=' || r->p[r->i + 1] == '!')) {
            discard = true;
            r->i += 2;
        } else if (c == '<' || c == '\'' ||
                   (c == 'P' && r->i + 1 < r->n && r->p[r->i + 1] == '<')) {
            char close = c == '\'' ? '\'' : '>';
            r->i++; /* past the opening '<', quote or 'P' */
            while (r->i < r->n && r->p[r->i] != close) {
                r->i++;
            }
            r->i++;
        } else if (c == '#' || c == 'P' || c == 'R' || c == '&' || c == '(' ||
                   (c >= '0' && c <= '9') || c == '+' ||
                   (c == '-' && r->i + 1 < r->n && r->p[r->i + 1] >= '0' &&
                    r->p[r->i + 1] <= '9')) {
            /* comment, recursion, condition: nothing literal to learn */
            int depth = 1;
            while (r->i < r->n && depth > 0) {
                if (r->p[r->i] == '\\') {
                    r->i++;
                } else if (r->p[r->i] == '(') {
                    depth++;
                } else if (r->p[r->i] == ')') {
                    depth--;
                }
                r->i++;
            }
            bool opt;
            quant(r, &opt);
            return none;
        } else {
            /* option letters: (?i) (?-i) (?i:...) */
            size_t s = r->i;
            while (r->i < r->n && r->p[r->i] != ')' && r->p[r->i] != ':') {
                r->i++;
            }
            if (memchr(r->p + s, 'x', r->i - s) != NULL) {
                r->bad = true;
            }
            if (r->i < r->n && r->p[r->i] == ')') {
                r->i++;
                return none;
            }
            r->i++;
        }
    }
    struct lset in = parse_alt(r);
    if (r->i < r->n && r->p[r->i] == ')') {
        r->i++;
    } else {
        r->bad = true;
    }
    bool opt = false;
    quant(r, &opt);
    if (discard || opt) {
        return none;
    }
    return in;
}

static struct lset parse_seq(struct rp *r)
{
    struct lset best = {NULL, 0, 0};
    struct ig_buf run;
    ig_buf_init(&run, 0);
    while (r->i < r->n && !r->bad && r->p[r->i] != '|' && r->p[r->i] != ')') {
        char c = r->p[r->i];
        bool opt = false;
        if (c == '(') {
            flush(r, &run, &best);
            if (++r->depth > MAX_DEPTH) {
                r->bad = true;
                break;
            }
            struct lset g = parse_group(r);
            r->depth--;
            note(r, g);
            better(&best, g);
            continue;
        }
        if (c == '[') {
            flush(r, &run, &best);
            skip_class(r);
            quant(r, &opt);
            continue;
        }
        if (c == '.' || c == '^' || c == '$') {
            flush(r, &run, &best);
            r->i++;
            quant(r, &opt);
            continue;
        }
        const char *lit = NULL;
        size_t litlen = 0;
        if (c == '\\') {
            if (r->i + 1 >= r->n) {
                r->i++;
                break;
            }
            char e = r->p[r->i + 1];
            bool alnum = (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
                         (e >= '0' && e <= '9');
            if (alnum || (unsigned char)e >= 0x80) {
                flush(r, &run, &best);
                skip_escape(r);
                quant(r, &opt);
                continue;
            }
            lit = r->p + r->i + 1;
            litlen = 1;
            r->i += 2;
        } else if ((c == '*' || c == '+' || c == '?') ||
                   (c == '{' && quant(r, &opt))) {
            /* a quantifier with nothing before it: PCRE2 rejects it or
             * reads it after something we flushed */
            flush(r, &run, &best);
            if (c != '{') {
                r->i++;
            }
            continue;
        } else {
            uint32_t cp;
            size_t k = ig_utf8_decode(r->p + r->i, r->n - r->i, &cp);
            if (cp == IG_UTF8_INVALID || (cp >= 0x80 && !caseless_cp(cp))) {
                /* letters PCRE2 might case-fold beyond ASCII */
                flush(r, &run, &best);
                r->i += k;
                quant(r, &opt);
                continue;
            }
            lit = r->p + r->i;
            litlen = k;
            r->i += k;
        }
        if (quant(r, &opt)) {
            if (!opt) {
                ig_buf_add(&run, lit, litlen);
            }
            flush(r, &run, &best);
        } else {
            ig_buf_add(&run, lit, litlen);
        }
    }
    flush(r, &run, &best);
    ig_buf_fini(&run);
    return best;
}

static struct lset parse_alt(struct rp *r)
{
    struct lset acc = parse_seq(r);
    bool dead = acc.n == 0;
    while (r->i < r->n && r->p[r->i] == '|' && !r->bad) {
        if (r->depth == 0) {
            r->top_alt = true;
        }
        r->i++;
        struct lset b = parse_seq(r);
        if (b.n == 0) {
            dead = true;
        }
        if (!dead) {
            char **v = ig_arena_alloc(r->a, (acc.n + b.n) * sizeof(char *));
            memcpy(v, acc.v, acc.n * sizeof(char *));
            memcpy(v + acc.n, b.v, b.n * sizeof(char *));
            acc.v = v;
            acc.n += b.n;
            if (b.minlen < acc.minlen) {
                acc.minlen = b.minlen;
            }
        }
    }
    if (dead) {
        struct lset none = {NULL, 0, 0};
        return none;
    }
    return acc;
}

size_t regex_required(const char *pattern, struct ig_arena *a, char ***lits,
                      struct regex_req **sets, size_t *nsets)
{
    char *p = desugar(pattern, strlen(pattern));
    struct rp r = {.p = p, .n = strlen(p), .a = a};
    r.capall = 4;
    r.all = ig_arena_alloc(a, r.capall * sizeof(*r.all));
    struct lset s = parse_alt(&r);
    ig_free(p);
    *lits = NULL;
    *sets = NULL;
    *nsets = 0;
    if (r.bad || r.i != r.n) {
        return 0;
    }
    if (!r.top_alt && r.nall > 0) {
        struct regex_req *v = ig_arena_alloc(a, r.nall * sizeof(*v));
        for (size_t k = 0; k < r.nall; k++) {
            v[k].v = r.all[k].v;
            v[k].n = r.all[k].n;
        }
        *sets = v;
        *nsets = r.nall;
    }
    *lits = s.v;
    return s.n;
}

char *regex_normalise(const char *pattern, struct ig_arena *a)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    size_t n = strlen(pattern);
    bool esc = false;
    /* Inside \Q..\E every character is literal, a backslash too: what
     * full-width punctuation folds to is written as it is, and the quote
     * ends at the first \E of the pattern as written. */
    bool quoted = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = ig_utf8_decode(pattern + i, n - i, &cp);
        if (cp < 0x80) {
            ig_buf_addc(&b, (char)cp);
            if (quoted) {
                quoted = !(cp == '\\' && i + 1 < n && pattern[i + 1] == 'E');
                if (!quoted) {
                    ig_buf_addc(&b, 'E');
                    i++;
                }
                esc = false;
            } else {
                quoted = esc && cp == 'Q';
                esc = cp == '\\' ? !esc : false;
            }
            i += k;
            continue;
        }
        i += k;
        if (cp == IG_UTF8_INVALID || ig_norm_is_invisible(cp)) {
            esc = false;
            continue;
        }
        if (ig_norm_is_space(cp)) {
            ig_buf_addc(&b, ' ');
            esc = false;
            continue;
        }
        uint32_t f = ig_norm_fold(cp);
        if (f < 0x80 && quoted) {
            if (f == '\\') {
                /* a folded backslash must not start the quote's end */
                ig_buf_adds(&b, "\\E\\\\\\Q");
            } else {
                ig_buf_addc(&b, (char)f);
            }
        } else if (f < 0x80) {
            bool alnum = (f >= 'a' && f <= 'z') || (f >= '0' && f <= '9');
            /* Full-width punctuation becomes ASCII in the text, where it
             * must not turn into a metacharacter of the pattern. */
            if (!alnum && !esc) {
                ig_buf_addc(&b, '\\');
            }
            ig_buf_addc(&b, (char)f);
        } else {
            char enc[4];
            ig_buf_add(&b, enc, ig_utf8_encode(f, enc));
        }
        esc = false;
    }
    char *r = ig_arena_strndup(a, b.data ? b.data : "", b.len);
    ig_buf_fini(&b);
    return r;
}

/* ---- braces whose meaning depends on the PCRE2 version ---- */

static size_t skip_blanks(const char *s, size_t k)
{
    while (s[k] == ' ' || s[k] == '\t') {
        k++;
    }
    return k;
}

static size_t skip_digits(const char *s, size_t k, size_t *n)
{
    size_t k0 = k;
    while (s[k] >= '0' && s[k] <= '9') {
        k++;
    }
    *n = k - k0;
    return k;
}

/* True when s (at a '{') is a quantifier for PCRE2 10.43 and later but
 * literal text for 10.42: {,n}, or a quantifier with blanks inside. */
static bool version_brace(const char *s)
{
    size_t k = 1, lo, hi = 0, k0;
    bool comma = false, blanks;

    k0 = k;
    k = skip_blanks(s, k);
    blanks = k != k0;
    k = skip_digits(s, k, &lo);
    k0 = k;
    k = skip_blanks(s, k);
    blanks |= k != k0;
    if (s[k] == ',') {
        comma = true;
        k0 = k + 1;
        k = skip_blanks(s, k0);
        blanks |= k != k0;
        k = skip_digits(s, k, &hi);
        k0 = k;
        k = skip_blanks(s, k);
        blanks |= k != k0;
    }
    if (s[k] != '}') {
        return false;
    }
    /* 10.43: {n}, {n,}, {n,m}, {,m}, blanks allowed around the numbers */
    if (lo == 0 && !(comma && hi > 0)) {
        return false; /* {} {,} { }: literal for both */
    }
    return blanks || lo == 0; /* 10.42 takes only {n} {n,} {n,m} */
}

long regex_version_brace(const char *pattern)
{
    const char *p = pattern;
    size_t i, n = strlen(pattern);

    for (i = 0; p[i]; i++) {
        if (p[i] == '\\') {
            if (p[i + 1] == 'Q') {
                const char *e = strstr(p + i + 2, "\\E");
                if (!e) {
                    return -1; /* literal to the end */
                }
                i = (size_t)(e - p) + 1;
            } else if (p[i + 1]) {
                i++;
            }
        } else if (p[i] == '(' && p[i + 1] == '?' && p[i + 2] == '#') {
            const char *e = strchr(p + i, ')');
            if (!e) {
                return -1;
            }
            i = (size_t)(e - p);
        } else if (p[i] == '[') {
            /* A class: no quantifier inside. */
            struct rp r = {.p = p, .i = i, .n = n};

            skip_class(&r);
            if (r.i >= n) {
                return -1; /* it runs to the end (unterminated: pcre2_compile
                              says so) */
            }
            i = r.i - 1; /* at its ']' */
        } else if (p[i] == '{' && version_brace(p + i)) {
            return (long)i;
        }
    }
    return -1;
}
