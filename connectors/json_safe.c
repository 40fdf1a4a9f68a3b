/* json_safe.c — the hostile-JSON validator and rewriter (see json_safe.h).
 *
 * One pass over the bytes with an explicit stack (no recursion, so depth
 * is bounded by a counter, not by the C stack), writing a canonical JSON
 * text into a capped buffer: whitespace dropped, strings repaired, numbers
 * turned into marked strings. cJSON then only ever sees text it parses
 * unambiguously. The output cap is 6 x input + 64: the worst case is one
 * raw invalid byte becoming the 6-byte escape \uFFFD.
 */
#include "connectors/json_safe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/text.h"

struct jp {
    const char *s;
    size_t n, i;
    struct ig_buf out;
    unsigned repairs;
    char *err;
    size_t errlen;
};

static int fail(struct jp *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct jp *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[160];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->err && p->errlen) {
        snprintf(p->err, p->errlen, "%s at byte %zu", msg, p->i);
    }
    return rc;
}

static void skip_ws(struct jp *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->i++;
    }
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

#define CHK(x)                                                                 \
    do {                                                                       \
        if ((x) < 0) {                                                         \
            return fail(p, IG_E2BIG, "output cap");                            \
        }                                                                      \
    } while (0)

/* Reads a \uXXXX at p->i (pointing at the backslash); -1 when not one. */
static int read_u(struct jp *p, size_t at, uint32_t *cp)
{
    if (at + 6 > p->n || p->s[at] != '\\' || p->s[at + 1] != 'u') {
        return -1;
    }
    return hex4(p->s + at + 2, cp);
}

/* String at p->i (after the opening quote). */
/* The end of the run from i of string bytes that are copied unchanged:
 * ASCII from space up but the quote and the backslash, and well-formed
 * 3-byte sequences whose lead needs no range check (E1..EC, EE, EF: CJK).
 * Anything else goes through the byte-by-byte rules in string(). */
static size_t plain_run(const unsigned char *u, size_t i, size_t n)
{
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
        } else if (c >= 0xE1 && c <= 0xEF && c != 0xED && i + 2 < n &&
                   (u[i + 1] & 0xC0) == 0x80 && (u[i + 2] & 0xC0) == 0x80) {
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

static int string(struct jp *p)
{
    CHK(ig_buf_addc(&p->out, '"'));
    for (;;) {
        size_t run = plain_run((const unsigned char *)p->s, p->i, p->n);
        if (run > p->i) {
            CHK(ig_buf_add(&p->out, p->s + p->i, run - p->i));
            p->i = run;
        }
        if (p->i >= p->n) {
            return fail(p, IG_EPARSE, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            CHK(ig_buf_addc(&p->out, '"'));
            return IG_OK;
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                return fail(p, IG_EPARSE, "unterminated string");
            }
            char e = p->s[p->i + 1];
            if (strchr("\"\\/bfnrt", e) && e) {
                CHK(ig_buf_add(&p->out, p->s + p->i, 2));
                p->i += 2;
                continue;
            }
            if (e != 'u') {
                return fail(p, IG_EPARSE, "invalid escape in string");
            }
            uint32_t cp;
            if (p->i + 6 > p->n || hex4(p->s + p->i + 2, &cp) < 0) {
                return fail(p, IG_EPARSE, "invalid \\u escape in string");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (read_u(p, p->i + 6, &lo) == 0 && lo >= 0xDC00 &&
                    lo <= 0xDFFF) {
                    CHK(ig_buf_add(&p->out, p->s + p->i, 12));
                    p->i += 12;
                    continue;
                }
                /* A lone high surrogate would become CESU-8 bytes. */
                CHK(ig_buf_adds(&p->out, "\\uFFFD"));
                p->repairs++;
                p->i += 6;
                continue;
            }
            if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                /* Lone low surrogate; NUL would truncate a C string and
                 * make "QP\u0000-admin" collapse into "QP". */
                CHK(ig_buf_adds(&p->out, "\\uFFFD"));
                p->repairs++;
                p->i += 6;
                continue;
            }
            if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') {
                p->repairs++;
                p->i += 6;
                continue;
            }
            CHK(ig_buf_add(&p->out, p->s + p->i, 6));
            p->i += 6;
            continue;
        }
        if (c < 0x20) {
            /* RFC 8259 forbids raw controls in strings: strip and flag. */
            if (c == '\t' || c == '\n' || c == '\r') {
                CHK(ig_buf_addc(&p->out, ' '));
            }
            p->repairs++;
            p->i++;
            continue;
        }
        if (c < 0x80) {
            CHK(ig_buf_addc(&p->out, (char)c));
            p->i++;
            continue;
        }
        uint32_t cp;
        size_t k = ig_utf8_decode(p->s + p->i, p->n - p->i, &cp);
        if (cp == IG_UTF8_INVALID) {
            CHK(ig_buf_adds(&p->out, "\\uFFFD"));
            p->repairs++;
        } else {
            CHK(ig_buf_add(&p->out, p->s + p->i, k));
        }
        p->i += k;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Number at p->i, per the RFC 8259 grammar; written as a marked string. */
static int number(struct jp *p)
{
    size_t st = p->i;
    const char *s = p->s;
    size_t i = p->i;
    if (i < p->n && s[i] == '-') {
        i++;
    }
    if (i >= p->n || !is_digit(s[i])) {
        return fail(p, IG_EPARSE, "invalid number");
    }
    if (s[i] == '0') {
        i++;
        if (i < p->n && is_digit(s[i])) {
            return fail(p, IG_EPARSE, "invalid number (leading zero)");
        }
    } else {
        while (i < p->n && is_digit(s[i])) {
            i++;
        }
    }
    if (i < p->n && s[i] == '.') {
        i++;
        if (i >= p->n || !is_digit(s[i])) {
            return fail(p, IG_EPARSE, "invalid number (digit after '.')");
        }
        while (i < p->n && is_digit(s[i])) {
            i++;
        }
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= p->n || !is_digit(s[i])) {
            return fail(p, IG_EPARSE, "invalid number (exponent)");
        }
        while (i < p->n && is_digit(s[i])) {
            i++;
        }
    }
    /* Only a separator may follow: "0x1F", "1.", "12abc" are errors. */
    if (i < p->n && !strchr(" \t\n\r,]}", s[i])) {
        return fail(p, IG_EPARSE, "invalid number");
    }
    CHK(ig_buf_adds(&p->out, "\"\\u0001"));
    CHK(ig_buf_add(&p->out, s + st, i - st));
    CHK(ig_buf_addc(&p->out, '"'));
    p->i = i;
    return IG_OK;
}

static int literal(struct jp *p, const char *word)
{
    size_t l = strlen(word);
    if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0) {
        return fail(p, IG_EPARSE, "invalid literal");
    }
    CHK(ig_buf_add(&p->out, word, l));
    p->i += l;
    return IG_OK;
}

enum state { S_VALUE, S_KEY_OR_END, S_VALUE_OR_END, S_KEY, S_AFTER };

static int rewrite(struct jp *p, int max_depth)
{
    char stack[1024];
    int depth = 0;
    enum state st = S_VALUE;
    if (max_depth > (int)sizeof(stack)) {
        max_depth = (int)sizeof(stack);
    }
    if (p->n >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0) {
        p->i = 3;
    }
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '<') {
        return fail(p, IG_EPARSE, "not JSON (looks like an HTML/XML page)");
    }
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n) {
            if (st == S_AFTER && depth == 0) {
                return IG_OK;
            }
            return fail(p, IG_EPARSE,
                        p->n ? "unexpected end of JSON" : "empty document");
        }
        char c = p->s[p->i];
        int rc = IG_OK;
        switch (st) {
        case S_KEY_OR_END:
        case S_KEY:
            if (c == '}' && st == S_KEY_OR_END) {
                goto close;
            }
            if (c != '"') {
                return fail(p, IG_EPARSE, "expected a key string");
            }
            p->i++;
            rc = string(p);
            if (rc < 0) {
                return rc;
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                return fail(p, IG_EPARSE, "expected ':'");
            }
            p->i++;
            CHK(ig_buf_addc(&p->out, ':'));
            st = S_VALUE;
            continue;
        case S_VALUE_OR_END:
            if (c == ']') {
                goto close;
            }
            /* fallthrough */
        case S_VALUE:
            if (c == '{' || c == '[') {
                if (depth >= max_depth) {
                    return fail(p, IG_E2BIG, "nesting deeper than %d",
                                max_depth);
                }
                stack[depth++] = c;
                CHK(ig_buf_addc(&p->out, c));
                p->i++;
                st = c == '{' ? S_KEY_OR_END : S_VALUE_OR_END;
                continue;
            }
            if (c == '"') {
                p->i++;
                rc = string(p);
            } else if (c == '-' || is_digit(c)) {
                rc = number(p);
            } else if (c == 't') {
                rc = literal(p, "true");
            } else if (c == 'f') {
                rc = literal(p, "false");
            } else if (c == 'n') {
                rc = literal(p, "null");
            } else {
                return fail(p, IG_EPARSE, "unexpected character");
            }
            if (rc < 0) {
                return rc;
            }
            st = S_AFTER;
            continue;
        case S_AFTER:
            if (depth == 0) {
                return fail(p, IG_EPARSE,
                            "trailing data after the JSON "
                            "value");
            }
            if (c == ',') {
                p->i++;
                CHK(ig_buf_addc(&p->out, ','));
                st = stack[depth - 1] == '{' ? S_KEY : S_VALUE;
                continue;
            }
            if ((c == '}' && stack[depth - 1] == '{') ||
                (c == ']' && stack[depth - 1] == '[')) {
                goto close;
            }
            return fail(p, IG_EPARSE, "expected ',' or a closing bracket");
        }
        continue;
    close:
        CHK(ig_buf_addc(&p->out, c));
        p->i++;
        depth--;
        st = S_AFTER;
    }
}

/* Up to this many keys an object is checked pair by pair. */
#define DUP_SCAN_MAX 16

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Iterative walk: every object's keys sorted and compared. The first
 * duplicate found is copied into dup[96]. */
static const char *find_dup_key(const cJSON *root, char *dup)
{
    const cJSON *stack[JSON_SAFE_DEPTH * 4 + 8];
    size_t sp = 0;
    stack[sp++] = root;
    while (sp) {
        const cJSON *v = stack[--sp];
        if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
            continue;
        }
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next) {
            n++;
        }
        if (cJSON_IsObject(v) && n > 1 && n <= DUP_SCAN_MAX) {
            /* Few keys (every pushed item): compare pairs, no sort and no
             * allocation. The smallest duplicate is reported, as the
             * sorted walk below would. */
            const char *hit = NULL;
            for (const cJSON *a = v->child; a; a = a->next) {
                for (const cJSON *b = a->next; b; b = b->next) {
                    if (strcmp(a->string, b->string) == 0 &&
                        (!hit || strcmp(a->string, hit) < 0)) {
                        hit = a->string;
                    }
                }
            }
            if (hit) {
                snprintf(dup, 96, "%.60s", hit);
                return dup;
            }
        } else if (cJSON_IsObject(v) && n > 1) {
            const char **keys = ig_malloc(n * sizeof(*keys));
            size_t k = 0;
            for (const cJSON *c = v->child; c; c = c->next) {
                keys[k++] = c->string;
            }
            qsort(keys, n, sizeof(*keys), cmp_key);
            const char *hit = NULL;
            for (size_t i = 1; i < n && !hit; i++) {
                if (strcmp(keys[i - 1], keys[i]) == 0) {
                    hit = keys[i];
                }
            }
            if (hit) {
                snprintf(dup, 96, "%.60s", hit);
                ig_free(keys);
                return dup;
            }
            ig_free(keys);
        }
        /* Depth is bounded by the rewriter, but an array may be wide:
         * push children in chunks only while there is room, and revisit
         * the rest through a second pass over this node's siblings. */
        for (const cJSON *c = v->child; c; c = c->next) {
            if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) {
                continue;
            }
            if (sp == sizeof(stack) / sizeof(stack[0])) {
                const char *r = find_dup_key(c, dup);
                if (r) {
                    return r;
                }
                continue;
            }
            stack[sp++] = c;
        }
    }
    return NULL;
}

int json_safe_parse(const char *s, size_t n, int max_depth, cJSON **out,
                    unsigned *repairs, char *err, size_t errlen)
{
    struct jp p = {.s = s, .n = n, .err = err, .errlen = errlen};
    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    ig_buf_init(&p.out, n * 6 + 64);
    /* The canonical text is about as long as the input (whitespace goes,
     * repairs and number marks add a little): one allocation up front
     * instead of doubling from 64 bytes through a whole request body. */
    ig_buf_reserve(&p.out, n + 64);
    int rc = rewrite(&p, max_depth > 0 ? max_depth : JSON_SAFE_DEPTH);
    if (rc < 0) {
        goto out;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(p.out.data, p.out.len + 1, &end, 1);
    if (!root) {
        p.i = 0;
        rc = fail(&p, IG_EPARSE, "JSON rejected by the parser");
        goto out;
    }
    char dupbuf[96];
    const char *dup = find_dup_key(root, dupbuf);
    if (dup) {
        cJSON_Delete(root);
        p.i = 0;
        rc = fail(&p, IG_EPARSE,
                  "duplicate key \"%s\" (documents with "
                  "duplicate keys are rejected)",
                  dup);
        goto out;
    }
    *out = root;
    if (repairs) {
        *repairs = p.repairs;
    }
out:
    ig_buf_fini(&p.out);
    return rc;
}

const cJSON *json_safe_pointer(const cJSON *v, const char *ptr)
{
    if (!ptr || !*ptr) {
        return v;
    }
    if (*ptr != '/') {
        return NULL;
    }
    char tok[256];
    const char *p = ptr + 1;
    while (v) {
        size_t k = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1')) {
                c = *p++ == '0' ? '~' : '/';
            }
            if (k + 1 >= sizeof(tok)) {
                return NULL;
            }
            tok[k++] = c;
        }
        tok[k] = '\0';
        if (cJSON_IsObject(v)) {
            v = cJSON_GetObjectItemCaseSensitive(v, tok);
        } else if (cJSON_IsArray(v)) {
            char *e;
            errno = 0;
            long idx = strtol(tok, &e, 10);
            if (!k || *e || errno || idx < 0 || idx > 1000000) {
                return NULL;
            }
            v = cJSON_GetArrayItem(v, (int)idx);
        } else {
            return NULL;
        }
        if (!*p) {
            return v;
        }
        p++;
    }
    return NULL;
}

enum json_safe_kind json_safe_scalar(const cJSON *v, const char **text)
{
    *text = NULL;
    if (!v) {
        return JSON_SAFE_NONE;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        if (v->valuestring[0] == JSON_SAFE_NUM) {
            *text = v->valuestring + 1;
            return JSON_SAFE_NUMBER;
        }
        *text = v->valuestring;
        return JSON_SAFE_STRING;
    }
    if (cJSON_IsBool(v)) {
        *text = cJSON_IsTrue(v) ? "true" : "false";
        return JSON_SAFE_BOOL;
    }
    return JSON_SAFE_NONE;
}

int json_safe_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    const char *t;
    enum json_safe_kind k = json_safe_scalar(v, &t);
    if (k != JSON_SAFE_NUMBER && k != JSON_SAFE_STRING) {
        return IG_EINVAL;
    }
    /* Integers only, parsed as integers: never a double cast. */
    char *e;
    errno = 0;
    long long x = strtoll(t, &e, 10);
    if (e == t || *e || errno || x < lo || x > hi) {
        return IG_EINVAL;
    }
    *out = (int64_t)x;
    return IG_OK;
}

static bool bad_number(const char *t)
{
    if (strlen(t) > 64) {
        return true;
    }
    char *e;
    errno = 0;
    double d = strtod(t, &e);
    return errno == ERANGE || !isfinite(d) || *e;
}

/* Walks v iteratively, calling test on every string; stops at a hit. */
static bool walk(const cJSON *v, bool (*test)(const char *s))
{
    const cJSON *stack[JSON_SAFE_DEPTH + 8];
    size_t sp = 0;
    stack[sp++] = v;
    while (sp) {
        const cJSON *x = stack[--sp];
        if (cJSON_IsString(x) && x->valuestring && test(x->valuestring)) {
            return true;
        }
        for (const cJSON *c = x->child; c; c = c->next) {
            if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
                if (sp == sizeof(stack) / sizeof(stack[0])) {
                    if (walk(c, test)) {
                        return true;
                    }
                    continue;
                }
                stack[sp++] = c;
            } else if (cJSON_IsString(c) && c->valuestring &&
                       test(c->valuestring)) {
                return true;
            }
        }
    }
    return false;
}

static bool test_bad_number(const char *s)
{
    return s[0] == JSON_SAFE_NUM && bad_number(s + 1);
}

static bool test_fffd(const char *s)
{
    return strstr(s, "\xEF\xBF\xBD") != NULL;
}

bool json_safe_bad_numbers(const cJSON *v)
{
    return v && walk(v, test_bad_number);
}

bool json_safe_has_fffd(const cJSON *v)
{
    return v && walk(v, test_fffd);
}
