/* json_safe.c — the hostile-JSON reader (see json_safe.h).
 *
 * One pass over the bytes with an explicit stack (no recursion, so depth
 * is bounded by a counter, not by the C stack) that applies the whole
 * policy and builds the tree at the same time: strings are decoded and
 * repaired into the caller's arena (through a scratch buffer only when
 * they hold an escape or a byte to repair; the others, nearly all, are
 * copied while they are scanned, 16 bytes per step with SSE2, into one
 * buffer for the document's strings), numbers keep their text, and
 * nodes are bump-allocated in blocks. Each object is checked for
 * duplicate keys as it closes; the error is raised once the syntax is
 * known good (naming the first duplicate in a walk of the tree), so a
 * broken document reports its first syntax error, as it always has.
 *
 * Callers keep the tree (an arena per document or record) and read it
 * through the helpers at the end: JSON pointers, scalars as text, the
 * number and U+FFFD checks. Rejected: rewriting the input into a
 * canonical JSON text for cJSON to parse (the earlier design: three passes
 * and a malloc per node, most of the cost of a push), then copying this
 * tree into cJSON nodes for the kinds written against cJSON (two tree
 * types for one document, and a malloc per node again), and giving
 * core/jsonr a repair mode (it reads one flat object and hands nested
 * values back as raw text; a push body is an array of objects with a
 * nested "fields").
 */
#include "connectors/json_safe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"

/* The deepest nesting any caller may ask for. */
#define DEPTH_LIMIT 1024

struct jp {
    const char *s;
    size_t n, i;
    struct ig_arena *a;
    /* The decoded text of strings without escapes or bytes to repair,
     * one after the other: a string takes no more bytes here (its text
     * and NUL) than it took in s (its text and quotes), so n bytes hold
     * them all, and text_used <= the start of the string being read. A
     * plain run is copied in while it is scanned, up to 15 bytes past its
     * end, which stays inside n bytes for the same reason. */
    char *text;
    size_t text_used;
    /* Nodes are taken from blocks of up to NODE_BLOCK. */
    struct json_safe_node *nodes;
    size_t nodes_left;
    struct ig_buf scratch; /* decoded text of strings with escapes */
    unsigned repairs;
    bool dup; /* some object has duplicate keys */
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

static void skip_ws_run(struct jp *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->i++;
    }
}

/* Compact JSON (every push) has no whitespace: one test, inline. */
static inline __attribute__((always_inline)) void skip_ws(struct jp *p)
{
    if (p->i >= p->n || (unsigned char)p->s[p->i] <= ' ') {
        skip_ws_run(p);
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

/* Reads a \uXXXX at `at` (pointing at the backslash); -1 when not one. */
static int read_u(struct jp *p, size_t at, uint32_t *cp)
{
    if (at + 6 > p->n || p->s[at] != '\\' || p->s[at + 1] != 'u') {
        return -1;
    }
    return hex4(p->s + at + 2, cp);
}

static void add_cp(struct ig_buf *b, uint32_t cp)
{
    char enc[4];
    ig_buf_add(b, enc, ig_utf8_encode(cp, enc));
}

/* One token of a plain run at u[i] (i < n) copied to d: its length, or 0
 * when the run ends there (a quote, backslash, control or invalid UTF-8,
 * which the decoder below handles). */
static size_t plain_token(const unsigned char *u, size_t i, size_t n,
                          unsigned char *d)
{
    unsigned char c = u[i];
    if (c < 0x80) {
        if (c < 0x20 || c == '"' || c == '\\') {
            return 0;
        }
        *d = c;
        return 1;
    }
    uint32_t cp;
    size_t k = ig_utf8_decode((const char *)u + i, n - i, &cp);
    if (cp == IG_UTF8_INVALID) {
        return 0;
    }
    memcpy(d, u + i, k);
    return k;
}

#if defined(__SSE2__)
/* The bytes of v that end a run of plain ASCII, as a bit mask: '"', '\\',
 * the controls and 0x80..0xff (signed, all of them are below 0x20). */
static inline unsigned stop_mask(__m128i v)
{
    __m128i q = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(q, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
}

/* Sixteen bytes per step while sixteen are left (SSE2 is part of x86-64),
 * each block stored to d as it is loaded. A block passes when every byte
 * is printable ASCII but '"' and '\\', a lead of a 3-byte sequence that
 * needs no range check (E1..EC, EE, EF: CJK text), or exactly one of the
 * two continuation bytes after each such lead (a lead in the last two
 * places carries into the next block). Returns the end of what passed,
 * exact within the block that failed, moved back to the lead of a
 * sequence the end cut; plain_token() judges the byte there. */
static size_t plain_blocks(const unsigned char *u, size_t i, size_t n,
                           unsigned char *d)
{
    const __m128i kc0 = _mm_set1_epi8((char)0xC0);
    const __m128i klead = _mm_set1_epi8((char)(0x80 - 0xE1));
    const __m128i kleads = _mm_set1_epi8((char)(0x80 + 0xEF - 0xE1 + 1));
    const __m128i ked = _mm_set1_epi8((char)0xED);
    unsigned carry = 0;
    if (n - i < 16) {
        return i;
    }
    for (const size_t last = n - 16; i <= last; i += 16, d += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        _mm_storeu_si128((__m128i *)(void *)d, v);
        unsigned ms = stop_mask(v);
        if (!(ms | carry)) {
            continue;
        }
        /* Continuation bytes are those below (char)0xc0; an add moves
         * E1..EF to the lowest signed values, then ED is taken out. */
        unsigned mc = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, kc0));
        __m128i l = _mm_cmplt_epi8(_mm_add_epi8(v, klead), kleads);
        l = _mm_andnot_si128(_mm_cmpeq_epi8(v, ked), l);
        unsigned ml = (unsigned)_mm_movemask_epi8(l);
        unsigned follow = (ml << 1) | (ml << 2) | carry;
        /* A continuation byte passes where one is due, a lead where none
         * is, and any other flagged byte never (mc and ml are flagged). */
        unsigned bad = (ms ^ (mc | ml)) | ((mc ^ follow) & 0xFFFF);
        if (bad) {
            unsigned at = (unsigned)__builtin_ctz(bad);
            i += at;
            if ((follow >> at) & 1) {
                /* The lead just before, or the one before that. */
                i -= u[i - 1] >= 0xC0 ? 1 : 2;
            }
            return i;
        }
        carry = follow >> 16;
    }
    /* a lead in place 15 carries two bytes, one in place 14 one */
    return i - (carry & 2 ? 1 : carry ? 2 : 0);
}
#endif

/* The end of the run from i of bytes a string keeps as they are
 * (printable ASCII but '"' and '\\', valid UTF-8), copied to d on the way
 * with up to 15 bytes more (d has room for n - i bytes). Not
 * ig_json_plain_run(): the writer's runs end at DEL and at UTF-8 other
 * than CJK (it escapes or checks them), and their end is found byte by
 * byte after the last whole block, a cost per string that short keys and
 * values pay in full. */
static size_t plain_copy(const unsigned char *u, size_t i, size_t n,
                         unsigned char *d)
{
    const size_t st = i;
    for (;;) {
#if defined(__SSE2__)
        i = plain_blocks(u, i, n, d + (i - st));
#endif
        if (i >= n) {
            return i;
        }
        size_t k = plain_token(u, i, n, d + (i - st));
        if (k == 0) {
            return i;
        }
        i += k;
    }
}

static int string_slow(struct jp *p, size_t run, const char **out, size_t *len,
                       bool *fffd);

/* The string at p->i (just after the opening quote), decoded and repaired
 * into the arena as a NUL-terminated *out of *len bytes. A string without
 * escapes or bytes to repair (nearly all) is copied while it is scanned,
 * into p->text (its *fffd is left to mark_fffd()); the others are
 * decoded by string_slow(), which sets *fffd when they hold U+FFFD. */
static inline int string(struct jp *p, const char **out, size_t *len,
                         bool *fffd)
{
    const unsigned char *u = (const unsigned char *)p->s;
    size_t st = p->i;
    char *d = p->text + p->text_used;
    size_t run = st;
#if defined(__SSE2__)
    /* Keys and codes: plain ASCII up to a stop byte in the first block. */
    if (p->n - st >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + st));
        _mm_storeu_si128((__m128i *)(void *)d, v);
        unsigned ms = stop_mask(v);
        run = ms ? st + (unsigned)__builtin_ctz(ms) : st + 16;
    }
    if (run == st || run == st + 16 || u[run] >= 0x80) {
        run = plain_copy(u, run, p->n, (unsigned char *)d + (run - st));
    }
#else
    run = plain_copy(u, st, p->n, (unsigned char *)d);
#endif
    if (run < p->n && u[run] == '"') {
        d[run - st] = '\0';
        p->text_used += run - st + 1;
        *out = d;
        *len = run - st;
        p->i = run + 1;
        return IG_OK;
    }
    return string_slow(p, run, out, len, fffd);
}

/* string() from run, where the plain start ends: escapes and repairs go
 * through the scratch buffer. */
static int string_slow(struct jp *p, size_t run, const char **out, size_t *len,
                       bool *fffd)
{
    const unsigned char *u = (const unsigned char *)p->s;
    char *d = p->text + p->text_used;
    struct ig_buf *b = &p->scratch;
    ig_buf_reset(b);
    for (;;) {
        if (run > p->i) {
            ig_buf_add(b, p->s + p->i, run - p->i);
            p->i = run;
        }
        if (p->i >= p->n) {
            return fail(p, IG_EPARSE, "unterminated string");
        }
        unsigned char c = u[p->i];
        if (c == '"') {
            p->i++;
            *out = ig_arena_strndup(p->a, b->data ? b->data : "", b->len);
            *len = b->len;
            *fffd = ig_utf8_has_fffd(*out, *len);
            return IG_OK;
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                return fail(p, IG_EPARSE, "unterminated string");
            }
            char e = p->s[p->i + 1];
            const char *simple = "\"\\/bfnrt";
            const char *map = "\"\\/\b\f\n\r\t";
            const char *at = e ? strchr(simple, e) : NULL;
            if (e == 'b' || e == 'f') {
                /* Control characters like \u0008 and \u000C: dropped. */
                p->repairs++;
                p->i += 2;
            } else if (at) {
                ig_buf_addc(b, map[at - simple]);
                p->i += 2;
            } else if (e != 'u') {
                return fail(p, IG_EPARSE, "invalid escape in string");
            } else {
                uint32_t cp;
                if (p->i + 6 > p->n || hex4(p->s + p->i + 2, &cp) < 0) {
                    return fail(p, IG_EPARSE, "invalid \\u escape in string");
                }
                uint32_t lo;
                if (cp >= 0xD800 && cp <= 0xDBFF &&
                    read_u(p, p->i + 6, &lo) == 0 && lo >= 0xDC00 &&
                    lo <= 0xDFFF) {
                    add_cp(b, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                    p->i += 12;
                } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
                    /* A lone surrogate would become CESU-8 bytes; NUL
                     * would truncate a C string and make "QP\u0000-admin"
                     * collapse into "QP". */
                    add_cp(b, 0xFFFD);
                    p->repairs++;
                    p->i += 6;
                } else if (cp < 0x20 && cp != '\t' && cp != '\n' &&
                           cp != '\r') {
                    p->repairs++;
                    p->i += 6;
                } else {
                    add_cp(b, cp);
                    p->i += 6;
                }
            }
        } else if (c < 0x20) {
            /* RFC 8259 forbids raw controls in strings: strip and flag. */
            if (c == '\t' || c == '\n' || c == '\r') {
                ig_buf_addc(b, ' ');
            }
            p->repairs++;
            p->i++;
        } else if (c < 0x80) {
            ig_buf_addc(b, (char)c);
            p->i++;
        } else {
            uint32_t cp;
            size_t k = ig_utf8_decode(p->s + p->i, p->n - p->i, &cp);
            if (cp == IG_UTF8_INVALID) {
                add_cp(b, 0xFFFD);
                p->repairs++;
            } else {
                ig_buf_add(b, p->s + p->i, k);
            }
            p->i += k;
        }
        /* d: room for what follows, as above; its copy is not used. */
        run = plain_copy(u, p->i, p->n, (unsigned char *)d);
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Number at p->i, per the RFC 8259 grammar; its exact text is kept. */
static int number(struct jp *p, const char **out, size_t *len)
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
    *out = ig_arena_strndup(p->a, s + st, i - st);
    *len = i - st;
    p->i = i;
    return IG_OK;
}

static int literal(struct jp *p, const char *word)
{
    size_t l = strlen(word);
    if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0) {
        return fail(p, IG_EPARSE, "invalid literal");
    }
    p->i += l;
    return IG_OK;
}

/* Nodes per allocation: one call for a pushed item or two instead of one
 * per value. */
#define NODE_BLOCK 32

/* A zeroed node for the value at p->i. */
static struct json_safe_node *node_new(struct jp *p)
{
    if (!p->nodes_left) {
        /* Each value takes a byte at least: no more nodes than bytes. */
        size_t k = p->n - p->i < NODE_BLOCK ? p->n - p->i : NODE_BLOCK;
        p->nodes = ig_arena_alloc(p->a, k * sizeof(*p->nodes));
        p->nodes_left = k;
    }
    p->nodes_left--;
    struct json_safe_node *v = p->nodes++;
    *v = (struct json_safe_node){0};
    return v;
}

/* An open object or array and its last member so far. */
struct frame {
    struct json_safe_node *v;
    struct json_safe_node *last;
    uint64_t keys; /* a bit per member key, from its length and first byte */
    bool dups;     /* two keys have the same bit: object_dup() looks */
};

/* Hangs v under the innermost open container (or makes it the root). */
static inline __attribute__((always_inline)) void
attach(struct frame *stack, int depth, struct json_safe_node **root,
       struct json_safe_node *v)
{
    if (depth == 0) {
        *root = v;
        return;
    }
    struct frame *f = &stack[depth - 1];
    if (f->last) {
        f->last->next = v;
    } else {
        f->v->child = v;
    }
    f->last = v;
    f->v->n++;
    if (v->key) {
        uint64_t bit = 1ull << ((v->klen * 8 + (unsigned char)v->key[0]) & 63);
        f->dups |= (f->keys & bit) != 0;
        f->keys |= bit;
    }
}

static const char *object_dup(const struct json_safe_node *v);

enum state { S_VALUE, S_KEY_OR_END, S_VALUE_OR_END, S_KEY, S_AFTER };

/* The nesting limit in force for a caller's max_depth. */
static int depth_cap(int max_depth)
{
    if (max_depth <= 0) {
        return JSON_SAFE_DEPTH;
    }
    return max_depth < DEPTH_LIMIT ? max_depth : DEPTH_LIMIT;
}

static int read_tree(struct jp *p, int max_depth, struct json_safe_node **root)
{
    struct frame *stack =
        ig_arena_alloc(p->a, (size_t)max_depth * sizeof(*stack));
    int depth = 0;
    enum state st = S_VALUE;
    const char *key = NULL; /* of the member whose value comes next */
    size_t klen = 0;
    bool fffd; /* of a key: not kept */
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
            rc = string(p, &key, &klen, &fffd);
            if (rc < 0) {
                return rc;
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                return fail(p, IG_EPARSE, "expected ':'");
            }
            p->i++;
            st = S_VALUE;
            continue;
        case S_VALUE_OR_END:
            if (c == ']') {
                goto close;
            }
            /* fallthrough */
        case S_VALUE: {
            struct json_safe_node *v = node_new(p);
            v->key = key;
            v->klen = klen;
            key = NULL;
            if (c == '{' || c == '[') {
                if (depth >= max_depth) {
                    return fail(p, IG_E2BIG, "nesting deeper than %d",
                                max_depth);
                }
                v->type = c == '{' ? JSON_SAFE_T_OBJECT : JSON_SAFE_T_ARRAY;
                attach(stack, depth, root, v);
                stack[depth++] = (struct frame){.v = v};
                p->i++;
                st = c == '{' ? S_KEY_OR_END : S_VALUE_OR_END;
                continue;
            }
            if (c == '"') {
                p->i++;
                v->type = JSON_SAFE_T_STRING;
                rc = string(p, &v->str, &v->len, &v->fffd);
            } else if (c == '-' || is_digit(c)) {
                v->type = JSON_SAFE_T_NUMBER;
                rc = number(p, &v->str, &v->len);
            } else if (c == 't') {
                v->type = JSON_SAFE_T_TRUE;
                rc = literal(p, "true");
            } else if (c == 'f') {
                v->type = JSON_SAFE_T_FALSE;
                rc = literal(p, "false");
            } else if (c == 'n') {
                v->type = JSON_SAFE_T_NULL;
                rc = literal(p, "null");
            } else {
                return fail(p, IG_EPARSE, "unexpected character");
            }
            if (rc < 0) {
                return rc;
            }
            attach(stack, depth, root, v);
            st = S_AFTER;
            continue;
        }
        case S_AFTER:
            if (depth == 0) {
                return fail(p, IG_EPARSE,
                            "trailing data after the JSON "
                            "value");
            }
            if (c == ',') {
                p->i++;
                st = stack[depth - 1].v->type == JSON_SAFE_T_OBJECT ? S_KEY
                                                                    : S_VALUE;
                continue;
            }
            if ((c == '}' && stack[depth - 1].v->type == JSON_SAFE_T_OBJECT) ||
                (c == ']' && stack[depth - 1].v->type == JSON_SAFE_T_ARRAY)) {
                goto close;
            }
            return fail(p, IG_EPARSE, "expected ',' or a closing bracket");
        }
        continue;
    close:
        p->i++;
        depth--;
        /* While its members are in cache; reported once the syntax is
         * known good. */
        if (stack[depth].dups && !p->dup) {
            p->dup = object_dup(stack[depth].v) != NULL;
        }
        st = S_AFTER;
    }
}

static bool is_container(const struct json_safe_node *v)
{
    return v->type == JSON_SAFE_T_OBJECT || v->type == JSON_SAFE_T_ARRAY;
}

/* Up to this many keys an object is checked pair by pair. */
#define DUP_SCAN_MAX 16

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The smallest key that occurs twice among v's members, or NULL. */
static const char *object_dup(const struct json_safe_node *v)
{
    const char *hit = NULL;
    if (v->n <= DUP_SCAN_MAX) {
        /* Few keys (every pushed item): compare pairs, no sort and no
         * allocation. */
        for (const struct json_safe_node *a = v->child; a; a = a->next) {
            for (const struct json_safe_node *b = a->next; b; b = b->next) {
                if (a->klen == b->klen &&
                    memcmp(a->key, b->key, a->klen) == 0 &&
                    (!hit || strcmp(a->key, hit) < 0)) {
                    hit = a->key;
                }
            }
        }
        return hit;
    }
    const char **keys = ig_malloc(v->n * sizeof(*keys));
    size_t k = 0;
    for (const struct json_safe_node *c = v->child; c; c = c->next) {
        keys[k++] = c->key;
    }
    qsort(keys, k, sizeof(*keys), cmp_key);
    for (size_t i = 1; i < k && !hit; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            hit = keys[i];
        }
    }
    ig_free(keys);
    return hit;
}

/* Iterative walk over the tree under root: the first non-NULL that test
 * returns for a node, or NULL. Containers are tested as they are popped,
 * scalars as their parent's members are scanned; the duplicate-key error
 * names the first duplicate in this order, as it always has. */
static const char *find(const struct json_safe_node *root,
                        const char *(*test)(const struct json_safe_node *v))
{
    const struct json_safe_node *stack[JSON_SAFE_DEPTH * 4 + 8];
    size_t sp = 0;
    stack[sp++] = root;
    while (sp) {
        const struct json_safe_node *v = stack[--sp];
        const char *hit = test(v);
        if (hit) {
            return hit;
        }
        /* Depth is bounded by the reader, but an array may be wide: push
         * children only while there is room, and walk the rest of them
         * at once, one by one. */
        for (const struct json_safe_node *c = v->child; c; c = c->next) {
            if (!is_container(c)) {
                hit = test(c);
            } else if (sp == sizeof(stack) / sizeof(stack[0])) {
                hit = find(c, test);
            } else {
                stack[sp++] = c;
            }
            if (hit) {
                return hit;
            }
        }
    }
    return NULL;
}

/* find() pass: a string's U+FFFD flag, from its text. The nodes are the
 * reader's own (const only for the callers). */
static const char *mark_fffd(const struct json_safe_node *v)
{
    if (v->type == JSON_SAFE_T_STRING) {
        ((struct json_safe_node *)(uintptr_t)v)->fffd =
            ig_utf8_has_fffd(v->str, v->len);
    }
    return NULL;
}

/* find() test: the smallest key that occurs twice in an object. */
static const char *dup_key(const struct json_safe_node *v)
{
    return v->type == JSON_SAFE_T_OBJECT && v->n > 1 ? object_dup(v) : NULL;
}

int json_safe_read(const char *s, size_t n, int max_depth, struct ig_arena *a,
                   const struct json_safe_node **out, unsigned *repairs,
                   char *err, size_t errlen)
{
    struct jp p = {.s = s, .n = n, .a = a, .err = err, .errlen = errlen};
    struct json_safe_node *root = NULL;
    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    ig_buf_init(&p.scratch, 0);
    p.text = n ? ig_arena_alloc(a, n) : NULL;
    int rc = read_tree(&p, depth_cap(max_depth), &root);
    ig_buf_fini(&p.scratch);
    if (rc < 0) {
        return rc;
    }
    const char *dup = p.dup ? find(root, dup_key) : NULL;
    if (dup) {
        p.i = 0;
        return fail(&p, IG_EPARSE,
                    "duplicate key \"%.60s\" (documents with "
                    "duplicate keys are rejected)",
                    dup);
    }
    /* A plain string holds U+FFFD only where the input has EF BF BD as
     * it is: one look at the buffer of them all, and the strings one by
     * one only when it has one (string_slow() flagged the others). */
    if (p.text_used && ig_utf8_has_fffd(p.text, p.text_used)) {
        find(root, mark_fffd);
    }
    *out = root;
    if (repairs) {
        *repairs = p.repairs;
    }
    return IG_OK;
}

size_t json_safe_arena_size(size_t n)
{
    /* The decoded strings take about the input's size, the nodes (64 bytes
     * each, one per value) as much again for short values; 4 KiB covers
     * the reader's stack and a small document. */
    return 2 * n + 4096;
}

const struct json_safe_node *json_safe_pointer(const struct json_safe_node *v,
                                               const char *ptr)
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
        const struct json_safe_node *c = v->child;
        if (v->type == JSON_SAFE_T_OBJECT) {
            /* Keys are unique (the reader rejects duplicates). */
            while (c && strcmp(c->key, tok) != 0) {
                c = c->next;
            }
        } else if (v->type == JSON_SAFE_T_ARRAY) {
            char *e;
            errno = 0;
            long idx = strtol(tok, &e, 10);
            if (!k || *e || errno || idx < 0 || idx > 1000000) {
                return NULL;
            }
            for (; c && idx > 0; idx--) {
                c = c->next;
            }
        } else {
            return NULL;
        }
        v = c;
        if (!*p) {
            return v;
        }
        p++;
    }
    return NULL;
}

enum json_safe_kind json_safe_scalar(const struct json_safe_node *v,
                                     const char **text)
{
    *text = NULL;
    if (!v) {
        return JSON_SAFE_NONE;
    }
    switch (v->type) {
    case JSON_SAFE_T_STRING:
        *text = v->str;
        return JSON_SAFE_STRING;
    case JSON_SAFE_T_NUMBER:
        *text = v->str;
        return JSON_SAFE_NUMBER;
    case JSON_SAFE_T_TRUE:
        *text = "true";
        return JSON_SAFE_BOOL;
    case JSON_SAFE_T_FALSE:
        *text = "false";
        return JSON_SAFE_BOOL;
    default:
        return JSON_SAFE_NONE;
    }
}

const char *json_safe_text_at(const struct json_safe_node *v, const char *ptr)
{
    const char *t = NULL;
    if (ptr != NULL && *ptr != '\0') {
        json_safe_scalar(json_safe_pointer(v, ptr), &t);
    }
    return t;
}

int json_safe_int(const struct json_safe_node *v, int64_t lo, int64_t hi,
                  int64_t *out)
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

/* find() test: a number that does not fit a finite double. */
static const char *bad_number(const struct json_safe_node *v)
{
    if (v->type != JSON_SAFE_T_NUMBER) {
        return NULL;
    }
    if (v->len > 64) {
        return v->str;
    }
    char *e;
    errno = 0;
    double d = strtod(v->str, &e);
    return errno == ERANGE || !isfinite(d) || *e ? v->str : NULL;
}

/* find() test: a string value holding U+FFFD. */
static const char *fffd(const struct json_safe_node *v)
{
    if (v->type != JSON_SAFE_T_STRING) {
        return NULL;
    }
    return v->fffd ? v->str : NULL;
}

bool json_safe_bad_numbers(const struct json_safe_node *v)
{
    return v && find(v, bad_number);
}

bool json_safe_has_fffd(const struct json_safe_node *v)
{
    return v && find(v, fffd);
}

void json_safe_flag_repaired(struct ig_item *it,
                             const struct json_safe_node *rec, unsigned repairs)
{
    if (repairs && json_safe_has_fffd(rec)) {
        ig_item_flag(it, IG_ITEM_F_REPAIRED,
                     "invalid UTF-8, NUL, surrogate or control characters "
                     "replaced");
    }
}
