/* jsonw.c — streaming JSON writer (see jsonw.h). */
#include "core/jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"

void ig_jsonw_init(struct ig_jsonw *w, struct ig_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

/* Emits the comma that separates this value from the previous one. */
static void pre_value(struct ig_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0 && w->depth <= IG_JSONW_MAX_DEPTH) {
        if (w->need_comma[w->depth - 1]) {
            ig_buf_addc(w->out, ',');
        }
        w->need_comma[w->depth - 1] = true;
    }
}

static void open(struct ig_jsonw *w, char c)
{
    pre_value(w);
    ig_buf_addc(w->out, c);
    if (w->depth < IG_JSONW_MAX_DEPTH) {
        w->need_comma[w->depth] = false;
    }
    w->depth++;
}

static void close_(struct ig_jsonw *w, char c)
{
    if (w->depth > 0) {
        w->depth--;
    }
    ig_buf_addc(w->out, c);
}

void ig_jsonw_obj_open(struct ig_jsonw *w) { open(w, '{'); }
void ig_jsonw_obj_close(struct ig_jsonw *w) { close_(w, '}'); }
void ig_jsonw_arr_open(struct ig_jsonw *w) { open(w, '['); }
void ig_jsonw_arr_close(struct ig_jsonw *w) { close_(w, ']'); }

/* What the escaper does with a byte: 0 copies it (printable ASCII but
 * '"' and '\\'), 1 starts a 3-byte sequence that is valid whenever two
 * continuation bytes follow (E1..EC, EE, EF: CJK text), 2 needs a closer
 * look (controls, quotes, other UTF-8 leads, stray bytes). */
static const unsigned char esc_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* The end of the run from i of bytes that go out unchanged. */
static size_t plain_run(const unsigned char *u, size_t i, size_t n)
{
    while (i < n) {
        unsigned k = esc_class[u[i]];
        if (k == 0) {
            i++;
        } else if (k == 1 && i + 2 < n) {
            /* Both continuation bytes checked with one load. */
            uint16_t c;
            memcpy(&c, u + i + 1, 2);
            if ((c & 0xC0C0) != 0x8080) {
                break;
            }
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

/* Appends "key": in one copy when the key needs no escaping and fits;
 * false otherwise (nothing appended). */
static bool key_plain(struct ig_buf *out, const char *key, size_t n)
{
    if (plain_run((const unsigned char *)key, 0, n) != n ||
        !ig_buf_fits(out, n + 3)) {
        return false;
    }
    char *d = out->data + out->len;
    d[0] = '"';
    memcpy(d + 1, key, n);
    d[n + 1] = '"';
    d[n + 2] = ':';
    out->len += n + 3;
    out->data[out->len] = '\0';
    return true;
}

void ig_json_escape(struct ig_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Room for the common case (nothing to escape) in one go; a cap that
     * does not allow it is left to the appends below to report. */
    if (!ig_buf_fits(out, n + 2)) {
        (void)ig_buf_reserve(out, n + 2);
    }
    size_t i = plain_run((const unsigned char *)s, 0, n);
    if (i == n && ig_buf_fits(out, n + 2)) {
        char *d = out->data + out->len;
        d[0] = '"';
        if (n) {
            memcpy(d + 1, s, n);
        }
        d[n + 1] = '"';
        out->len += n + 2;
        out->data[out->len] = '\0';
        return;
    }
    ig_buf_addc(out, '"');
    /* The plain start is known already. */
    ig_buf_add(out, s, i);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        /* A run of bytes that need no escaping goes in at once: printable
         * ASCII and well-formed 3-byte sequences (CJK text). */
        size_t e = plain_run((const unsigned char *)s, i, n);
        if (e > i) {
            ig_buf_add(out, s + i, e - i);
            i = e;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t len = ig_utf8_decode(s + i, n - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                ig_buf_add(out, "\xEF\xBF\xBD", 3);
            } else {
                ig_buf_add(out, s + i, len);
            }
            i += len;
            continue;
        }
        switch (c) {
        case '"':  ig_buf_add(out, "\\\"", 2); break;
        case '\\': ig_buf_add(out, "\\\\", 2); break;
        case '\n': ig_buf_add(out, "\\n", 2); break;
        case '\r': ig_buf_add(out, "\\r", 2); break;
        case '\t': ig_buf_add(out, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                ig_buf_add(out, esc, 6);
            } else {
                ig_buf_addc(out, (char)c);
            }
        }
        i++;
    }
    ig_buf_addc(out, '"');
}

void ig_jsonw_keyn(struct ig_jsonw *w, const char *key, size_t n)
{
    pre_value(w);
    /* Keys are plain ASCII nearly always: quotes, key and colon at once. */
    if (!key_plain(w->out, key, n)) {
        ig_json_escape(w->out, key, n);
        ig_buf_addc(w->out, ':');
    }
    w->after_key = true;
}

void ig_jsonw_str(struct ig_jsonw *w, const char *s)
{
    if (!s) {
        ig_jsonw_null(w);
        return;
    }
    ig_jsonw_strn(w, s, strlen(s));
}

void ig_jsonw_strn(struct ig_jsonw *w, const char *s, size_t n)
{
    pre_value(w);
    ig_json_escape(w->out, s, n);
}

/* Decimal digits of v, right-aligned in b[24]; returns the first. */
static char *digits(char b[24], uint64_t v)
{
    char *p = b + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void ig_jsonw_int(struct ig_jsonw *w, int64_t v)
{
    pre_value(w);
    char b[24];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char *p = digits(b, u);
    if (v < 0) {
        *--p = '-';
    }
    ig_buf_add(w->out, p, (size_t)(b + 24 - p));
}

void ig_jsonw_uint(struct ig_jsonw *w, uint64_t v)
{
    pre_value(w);
    char b[24];
    char *p = digits(b, v);
    ig_buf_add(w->out, p, (size_t)(b + 24 - p));
}

void ig_jsonw_num(struct ig_jsonw *w, double v)
{
    pre_value(w);
    if (!isfinite(v)) {
        ig_buf_adds(w->out, "null");
        return;
    }
    /* A whole number below 1e6 is what "%.6g" prints as an integer
     * (negative zero aside): counts and sizes, no printf needed. */
    if (fabs(v) < 1e6 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        char b[24];
        int64_t iv = (int64_t)v;
        char *p = digits(b, iv < 0 ? 0 - (uint64_t)iv : (uint64_t)iv);
        if (iv < 0) {
            *--p = '-';
        }
        ig_buf_add(w->out, p, (size_t)(b + 24 - p));
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.6g", v);
    /* %g never yields a bare "." or exponent-only form, but it can yield
     * "-0"; JSON allows that, and it only appears for true negative zero. */
    ig_buf_adds(w->out, tmp);
}

void ig_jsonw_bool(struct ig_jsonw *w, bool v)
{
    pre_value(w);
    ig_buf_adds(w->out, v ? "true" : "false");
}

void ig_jsonw_null(struct ig_jsonw *w)
{
    pre_value(w);
    ig_buf_adds(w->out, "null");
}

void ig_jsonw_raw(struct ig_jsonw *w, const char *json, size_t n)
{
    pre_value(w);
    ig_buf_add(w->out, json, n);
}
