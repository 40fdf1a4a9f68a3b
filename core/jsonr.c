/* jsonr.c — strict reader for flat JSON objects (see jsonr.h).
 *
 * A hand-written recursive-descent parser over a byte range: no
 * allocation except the decoded strings and the member array, nesting is
 * bounded by IG_JSONR_MAX_DEPTH so hostile input (100,000 brackets) cannot
 * exhaust the stack. Numbers are only validated; callers who need a value
 * parse the raw text themselves.
 */
#include "core/jsonr.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"

struct jr {
    const char *s;
    size_t i, n;
    const char *err;
    struct ig_arena *a;
};

static bool fail(struct jr *j, const char *msg)
{
    if (j->err == NULL) {
        j->err = msg;
    }
    return false;
}

static void ws(struct jr *j)
{
    while (j->i < j->n) {
        char c = j->s[j->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        j->i++;
    }
}

static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    return v;
}

/* Reads a string at j->i ('"'); decodes into out when out is not NULL. */
static bool string(struct jr *j, struct ig_buf *out)
{
    j->i++;
    while (true) {
        if (j->i >= j->n) {
            return fail(j, "unterminated string");
        }
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') {
            j->i++;
            return true;
        }
        if (c < 0x20) {
            return fail(j, "raw control character in string");
        }
        if (c == '\\') {
            if (j->i + 1 >= j->n) {
                return fail(j, "unterminated escape");
            }
            char e = j->s[j->i + 1];
            const char *simple = "\"\\/bfnrt";
            const char *map = "\"\\/\b\f\n\r\t";
            const char *p = strchr(simple, e);
            if (e != '\0' && p != NULL) {
                if (out) {
                    ig_buf_addc(out, map[p - simple]);
                }
                j->i += 2;
                continue;
            }
            if (e != 'u') {
                return fail(j, "invalid escape");
            }
            if (j->i + 6 > j->n) {
                return fail(j, "short \\u escape");
            }
            int v = hex4(j->s + j->i + 2);
            if (v < 0) {
                return fail(j, "invalid \\u escape");
            }
            j->i += 6;
            uint32_t cp = (uint32_t)v;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(j, "lone low surrogate");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->i + 6 > j->n || j->s[j->i] != '\\' ||
                    j->s[j->i + 1] != 'u') {
                    return fail(j, "lone high surrogate");
                }
                int lo = hex4(j->s + j->i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    return fail(j, "high surrogate without low surrogate");
                }
                j->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            }
            if (out) {
                char enc[4];
                ig_buf_add(out, enc, ig_utf8_encode(cp, enc));
            }
            continue;
        }
        if (c < 0x80) {
            /* a run of plain ASCII at once */
            size_t e = j->i + 1;
            while (e < j->n && (unsigned char)j->s[e] >= 0x20 &&
                   (unsigned char)j->s[e] < 0x80 && j->s[e] != '"' &&
                   j->s[e] != '\\') {
                e++;
            }
            if (out) {
                ig_buf_add(out, j->s + j->i, e - j->i);
            }
            j->i = e;
            continue;
        }
        if (c >= 0xE1 && c != 0xED && c <= 0xEF && j->i + 2 < j->n &&
            ((unsigned char)j->s[j->i + 1] & 0xC0) == 0x80 &&
            ((unsigned char)j->s[j->i + 2] & 0xC0) == 0x80) {
            /* the common 3-byte case (all CJK), well-formed by shape */
            if (out) {
                ig_buf_add(out, j->s + j->i, 3);
            }
            j->i += 3;
            continue;
        }
        uint32_t cp;
        size_t k = ig_utf8_decode(j->s + j->i, j->n - j->i, &cp);
        if (cp == IG_UTF8_INVALID) {
            return fail(j, "invalid UTF-8 in string");
        }
        if (out) {
            ig_buf_add(out, j->s + j->i, k);
        }
        j->i += k;
    }
}

static bool digits(struct jr *j)
{
    size_t s = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
        j->i++;
    }
    return j->i > s;
}

static bool number(struct jr *j)
{
    if (j->s[j->i] == '-') {
        j->i++;
    }
    if (j->i >= j->n) {
        return fail(j, "invalid number");
    }
    if (j->s[j->i] == '0') {
        j->i++;
        if (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
            return fail(j, "leading zero in number");
        }
    } else if (!digits(j)) {
        return fail(j, "invalid number");
    }
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (!digits(j)) {
            return fail(j, "invalid number");
        }
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) {
            j->i++;
        }
        if (!digits(j)) {
            return fail(j, "invalid number");
        }
    }
    return true;
}

static bool word(struct jr *j, const char *w)
{
    size_t l = strlen(w);
    if (j->n - j->i >= l && memcmp(j->s + j->i, w, l) == 0) {
        j->i += l;
        return true;
    }
    return fail(j, "invalid value");
}

static bool value(struct jr *j, int depth, enum ig_jsonr_type *type);

static bool container(struct jr *j, int depth, bool obj)
{
    if (depth >= IG_JSONR_MAX_DEPTH) {
        return fail(j, "nesting too deep");
    }
    char close = obj ? '}' : ']';
    j->i++;
    ws(j);
    if (j->i < j->n && j->s[j->i] == close) {
        j->i++;
        return true;
    }
    while (true) {
        enum ig_jsonr_type t;
        if (obj) {
            if (j->i >= j->n || j->s[j->i] != '"') {
                return fail(j, "expected a key");
            }
            if (!string(j, NULL)) {
                return false;
            }
            ws(j);
            if (j->i >= j->n || j->s[j->i] != ':') {
                return fail(j, "expected ':'");
            }
            j->i++;
            ws(j);
        }
        if (!value(j, depth + 1, &t)) {
            return false;
        }
        ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            ws(j);
            continue;
        }
        if (j->i < j->n && j->s[j->i] == close) {
            j->i++;
            return true;
        }
        return fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool value(struct jr *j, int depth, enum ig_jsonr_type *type)
{
    if (j->i >= j->n) {
        return fail(j, "missing value");
    }
    char c = j->s[j->i];
    switch (c) {
    case '"':
        *type = IG_JSONR_STRING;
        return string(j, NULL);
    case '{':
        *type = IG_JSONR_OBJECT;
        return container(j, depth, true);
    case '[':
        *type = IG_JSONR_ARRAY;
        return container(j, depth, false);
    case 't':
        *type = IG_JSONR_TRUE;
        return word(j, "true");
    case 'f':
        *type = IG_JSONR_FALSE;
        return word(j, "false");
    case 'n':
        *type = IG_JSONR_NULL;
        return word(j, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            *type = IG_JSONR_NUMBER;
            return number(j);
        }
        return fail(j, "invalid value");
    }
}

static char *decode(struct jr *j, size_t start, size_t *len)
{
    /* Without a backslash the (validated) bytes are the value. */
    const char *q = j->s + start + 1;
    size_t rl = j->i - start;
    if (rl >= 2 && memchr(q, '\\', rl - 2) == NULL) {
        *len = rl - 2;
        return ig_arena_strndup(j->a, q, rl - 2);
    }
    struct jr k = *j;
    k.i = start;
    k.err = NULL;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    string(&k, &b);
    char *r = ig_arena_strndup(j->a, b.data ? b.data : "", b.len);
    *len = b.len;
    ig_buf_fini(&b);
    return r;
}

int ig_jsonr_object(const char *s, size_t len, struct ig_arena *a,
                    struct ig_jsonr_member **out, size_t *n, size_t *err_off,
                    const char **err)
{
    struct jr j = {s, 0, len, NULL, a};
    struct ig_jsonr_member *m = NULL;
    size_t nm = 0, cap = 0;
    *out = NULL;
    *n = 0;
    ws(&j);
    if (j.i >= j.n || s[j.i] != '{') {
        fail(&j, "expected a JSON object");
        goto bad;
    }
    j.i++;
    ws(&j);
    if (j.i < j.n && s[j.i] == '}') {
        j.i++;
    } else {
        while (true) {
            if (j.i >= j.n || s[j.i] != '"') {
                fail(&j, "expected a key");
                goto bad;
            }
            size_t ks = j.i;
            if (!string(&j, NULL)) {
                goto bad;
            }
            size_t klen;
            char *key = decode(&j, ks, &klen);
            for (size_t k = 0; k < nm; k++) {
                if (m[k].key_len == klen && memcmp(m[k].key, key, klen) == 0) {
                    j.i = ks;
                    fail(&j, "duplicate key");
                    goto bad;
                }
            }
            ws(&j);
            if (j.i >= j.n || s[j.i] != ':') {
                fail(&j, "expected ':'");
                goto bad;
            }
            j.i++;
            ws(&j);
            size_t vs = j.i;
            enum ig_jsonr_type t = IG_JSONR_NULL;
            if (!value(&j, 1, &t)) {
                goto bad;
            }
            if (nm == cap) {
                cap = cap ? cap * 2 : 8;
                struct ig_jsonr_member *nmv =
                    ig_arena_alloc(a, cap * sizeof(*nmv));
                if (nm) {
                    memcpy(nmv, m, nm * sizeof(*nmv));
                }
                m = nmv;
            }
            struct ig_jsonr_member *e = &m[nm++];
            e->key = key;
            e->key_len = klen;
            e->type = t;
            e->raw = s + vs;
            e->raw_len = j.i - vs;
            e->str = NULL;
            e->str_len = 0;
            if (t == IG_JSONR_STRING) {
                e->str = decode(&j, vs, &e->str_len);
            }
            ws(&j);
            if (j.i < j.n && s[j.i] == ',') {
                j.i++;
                ws(&j);
                continue;
            }
            if (j.i < j.n && s[j.i] == '}') {
                j.i++;
                break;
            }
            fail(&j, "expected ',' or '}'");
            goto bad;
        }
    }
    ws(&j);
    if (j.i != j.n) {
        fail(&j, "trailing characters after the object");
        goto bad;
    }
    *out = m;
    *n = nm;
    return IG_OK;
bad:
    *err_off = j.i;
    *err = j.err ? j.err : "invalid JSON";
    return IG_EPARSE;
}

const struct ig_jsonr_member *ig_jsonr_get(const struct ig_jsonr_member *m,
                                           size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].key, key) == 0) {
            return &m[i];
        }
    }
    return NULL;
}
