/* jsonw.c — streaming JSON writer (see jsonw.h). */
#include "core/jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void ig_jsonw_init(struct ig_jsonw *w, struct ig_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

/* Whether the value about to be written needs a separating comma, and
 * the bookkeeping for it: after a key none, else one before every value
 * but the first at this level. */
static inline bool comma_due(struct ig_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return false;
    }
    if (w->depth > 0 && w->depth <= IG_JSONW_MAX_DEPTH) {
        bool due = w->need_comma[w->depth - 1];
        w->need_comma[w->depth - 1] = true;
        return due;
    }
    return false;
}

/* Emits the comma that separates this value from the previous one. */
static inline void pre_value(struct ig_jsonw *w)
{
    if (comma_due(w)) {
        ig_buf_addc(w->out, ',');
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

/* SWAR (eight bytes per step) over the common case. stop_bytes() flags,
 * in bit 7 of each byte, the bytes that end a plain ASCII run (controls,
 * '"', '\\', 0x7f and everything from 0x80). Each test is the classic
 * "has a zero byte" trick, (x - 0x01..) & ~x & 0x80..: it may also flag
 * bytes above a true hit (a borrow runs upwards) but never one below the
 * first, so on a little-endian load the lowest flag is exactly the first
 * byte to stop at. Other hosts take the table, a byte at a time. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#else
#define SWAR 0
#endif
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline __attribute__((always_inline)) uint64_t stop_bytes(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"');
    uint64_t bs = v ^ (ONES * '\\');
    uint64_t del = v ^ (ONES * 0x7f);
    uint64_t t = ((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) |
                 ((bs - ONES) & ~bs) | ((del - ONES) & ~del);
    return (t | v) & HIGHS;
}

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load4(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The end of the run from i of printable ASCII but '"' and '\\'. A tail
 * of 4 to 7 bytes is tested as one word made of two overlapping 4-byte
 * loads (the second flags only bytes past the first when the first has
 * none), so short keys and values need no byte loop. */
static inline __attribute__((always_inline)) size_t
ascii_run(const unsigned char *u, size_t i, size_t n)
{
#if SWAR
    while (n - i >= 8) {
        uint64_t m = stop_bytes(load8(u + i));
        if (m) {
            return i + ((size_t)__builtin_ctzll(m) >> 3);
        }
        i += 8;
    }
    if (n - i >= 4) {
        uint64_t v = load4(u + i) | (uint64_t)load4(u + n - 4) << 32;
        uint64_t m = stop_bytes(v);
        if (!m) {
            return n;
        }
        size_t k = (size_t)__builtin_ctzll(m) >> 3;
        return k < 4 ? i + k : n - 8 + k;
    }
#endif
    while (i < n && esc_class[u[i]] == 0) {
        i++;
    }
    return i;
}

#if defined(__SSE2__)
/* Sixteen bytes per step (SSE2 is part of x86-64), short inputs and the
 * tail included, so no byte loop runs. A block is three masks, a bit per
 * byte: plain ASCII, continuation bytes (80..BF) and leads of esc_class
 * 1. It passes when every byte is one of them and the continuation bytes
 * are exactly the two after each lead; a lead in the last two places
 * carries its continuation bytes into the next block. */
struct run_masks {
    unsigned ascii, cont, lead;
};

static inline __attribute__((always_inline)) struct run_masks
run_masks(__m128i v)
{
    /* signed compares: 0x20..0x7f are the bytes above 0x1f, 0x80..0xbf
     * those below (char)0xc0, 0xe1..0xef those between (char)0xe0 and
     * (char)0xf0 */
    __m128i q =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    __m128i a = _mm_andnot_si128(q, _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)));
    __m128i l = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)0xE0)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xF0)));
    l = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED)), l);
    __m128i c = _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0));
    struct run_masks m = {(unsigned)_mm_movemask_epi8(a),
                          (unsigned)_mm_movemask_epi8(c),
                          (unsigned)_mm_movemask_epi8(l)};
    return m;
}

static inline __m128i load16(const unsigned char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The len (1 to 15) bytes at p in a block, zeros after them: a zero is a
 * control, which ends the run just where the end of the input does. Read
 * as overlapping words, never past p + len. */
static inline __m128i load_short(const unsigned char *p, size_t len)
{
    uint64_t lo, hi = 0;
    if (len >= 8) {
        lo = load8(p);
        /* bytes 8..len-1, shifted in two steps: by 64 when len is 8 */
        hi = load8(p + len - 8) >> 8 >> (8 * (15 - len));
    } else if (len >= 4) {
        lo = load4(p) | (uint64_t)load4(p + len - 4) << (8 * (len - 4));
    } else {
        lo = p[0] | (uint64_t)p[len / 2] << (8 * (len / 2)) |
             (uint64_t)p[len - 1] << (8 * (len - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* Where the run ends in the block at b whose bytes below b + s were
 * taken already (carry: the continuation bytes their last lead expects
 * at s and s + 1, bits 0 and 1); b + 16 is the end of the block, the end
 * of the input when the block is the last. The run ends at the first
 * byte that breaks the pattern, or at the lead of the sequence it breaks
 * (which may be up to two bytes before b + s). */
static inline size_t run_end(size_t b, struct run_masks m, unsigned carry,
                             unsigned s)
{
    unsigned keep = ~0u << s;
    unsigned lead = m.lead & keep;
    unsigned follow = (lead << 1) | (lead << 2) | carry << s;
    /* bit 16 and up always set: the first bad byte is at most 16 */
    unsigned bad = (~(m.ascii | m.cont | lead) | (m.cont ^ follow)) & keep;
    unsigned e = (unsigned)__builtin_ctz(bad);
    if (!(follow >> e & 1)) {
        return b + e;
    }
    /* A continuation byte is missing at e: back to its lead, at e - 1
     * when there is one (a lead at s - 1 is the carry's 3), else e - 2. */
    unsigned lead_at = (lead << 1) | (carry >> 1) << s;
    return b + e - (lead_at >> e & 1 ? 1 : 2);
}

/* The end of the run from i of bytes that go out unchanged: printable
 * ASCII and well-formed 3-byte sequences with an E1..EC, EE or EF lead
 * (esc_class 1). Inlined into ig_json_escape(), whose calls are many
 * and mostly short; the other callers share ig_json_plain_run(). */
static inline __attribute__((always_inline)) size_t
plain_run(const unsigned char *u, size_t i, size_t n)
{
    unsigned carry = 0;
    while (n - i >= 16) {
        struct run_masks m = run_masks(load16(u + i));
        unsigned follow = (m.lead << 1) | (m.lead << 2) | carry;
        if ((m.ascii | m.cont | m.lead) != 0xFFFF ||
            m.cont != (follow & 0xFFFF)) {
            return run_end(i, m, carry, 0);
        }
        carry = follow >> 16;
        i += 16;
    }
    if (i == n) {
        /* a lead in place 15 carries two bytes, one in place 14 one: its
         * sequence is cut by the end */
        return i - (carry & 2 ? 1 : carry ? 2 : 0);
    }
    if (n >= 16) {
        /* The last 16 bytes, those before i taken already. */
        size_t b = n - 16;
        return run_end(b, run_masks(load16(u + b)), carry, (unsigned)(i - b));
    }
    return run_end(i, run_masks(load_short(u + i, n - i)), 0, 0);
}
#else
/* The end of the run from i of bytes that go out unchanged: printable
 * ASCII and well-formed 3-byte sequences with an E1..EC, EE or EF lead
 * (esc_class 1). */
static inline size_t plain_run(const unsigned char *u, size_t i, size_t n)
{
    /* Text alternates between the two kinds of run (digits and Latin in
     * CJK text), so the next byte picks the loop before any word test. */
    while (i < n) {
        unsigned k = esc_class[u[i]];
        if (k == 0) {
            i = ascii_run(u, i + 1, n);
            if (i == n) {
                break;
            }
            k = esc_class[u[i]];
        }
        if (k != 1) {
            break;
        }
        /* 3-byte sequences: two per step while eight bytes are left (the
         * continuation bytes 1, 2, 4 and 5 under one mask), then one at a
         * time (both continuation bytes with one load). */
        do {
#if SWAR
            if (n - i >= 8) {
                uint64_t v = load8(u + i);
                if ((v & 0x0000C0C000C0C000ull) == 0x0000808000808000ull &&
                    esc_class[(unsigned char)(v >> 24)] == 1) {
                    i += 6;
                    continue;
                }
            }
#endif
            if (n - i < 3) {
                return i;
            }
            uint16_t c;
            memcpy(&c, u + i + 1, 2);
            if ((c & 0xC0C0) != 0x8080) {
                return i;
            }
            i += 3;
        } while (i < n && esc_class[u[i]] == 1);
    }
    return i;
}
#endif

size_t ig_json_plain_run(const char *s, size_t i, size_t n)
{
    return plain_run((const unsigned char *)s, i, n);
}

/* Copies n bytes where the destination is known to have room: short
 * copies (keys, codes, numbers) as at most two overlapping words instead
 * of a call. */
static inline void copy_in(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) {
            d[i] = s[i];
        }
    } else {
        memcpy(d, s, n);
    }
}

/* s (n bytes, nothing to escape) quoted; the caller checked room. */
static inline void put_quoted(struct ig_buf *out, const char *s, size_t n)
{
    char *d = out->data + out->len;
    d[0] = '"';
    copy_in(d + 1, s, n);
    d[n + 1] = '"';
    out->len += n + 2;
    out->data[out->len] = '\0';
}

/* ig_json_escape() past its plain start s[0..i): a string to escape, or
 * one that needs room first. Out of line, which keeps the common path
 * free of register saves. */
__attribute__((noinline)) static void
escape_slow(struct ig_buf *out, const char *s, size_t i, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Room for the common case (nothing to escape) in one go; a cap that
     * does not allow it is left to the appends below to report. */
    if (!ig_buf_fits(out, n + 2)) {
        (void)ig_buf_reserve(out, n + 2);
    }
    if (i == n && ig_buf_fits(out, n + 2)) {
        put_quoted(out, s, n);
        return;
    }
    ig_buf_addc(out, '"');
    ig_buf_add(out, s, i);
    while (i < n) {
        /* s[i] ends a plain run: repaired, escaped or copied alone. */
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t len = ig_utf8_decode(s + i, n - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                ig_buf_add(out, "\xEF\xBF\xBD", 3);
            } else {
                ig_buf_add(out, s + i, len);
            }
            i += len;
        } else {
            switch (c) {
            case '"':
                ig_buf_add(out, "\\\"", 2);
                break;
            case '\\':
                ig_buf_add(out, "\\\\", 2);
                break;
            case '\n':
                ig_buf_add(out, "\\n", 2);
                break;
            case '\r':
                ig_buf_add(out, "\\r", 2);
                break;
            case '\t':
                ig_buf_add(out, "\\t", 2);
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char esc[6] = {'\\', 'u',         '0',
                                   '0',  hex[c >> 4], hex[c & 15]};
                    ig_buf_add(out, esc, 6);
                } else {
                    ig_buf_addc(out, (char)c);
                }
            }
            i++;
        }
        /* The run of bytes that need no escaping after it goes in at
         * once: printable ASCII and well-formed 3-byte sequences. */
        size_t e = ig_json_plain_run(s, i, n);
        ig_buf_add(out, s + i, e - i);
        i = e;
    }
    ig_buf_addc(out, '"');
}

void ig_json_escape(struct ig_buf *out, const char *s, size_t n)
{
    size_t i = plain_run((const unsigned char *)s, 0, n);
    if (i == n && ig_buf_fits(out, n + 2)) {
        put_quoted(out, s, n);
        return;
    }
    escape_slow(out, s, i, n);
}

/* "key": when it may not fit at once (the buffer must grow, or a cap):
 * step by step, so a cap cuts it where it always did. Out of line, which
 * keeps the callers' common path free of register saves. */
__attribute__((noinline)) static void
key_slow(struct ig_buf *out, const char *key, size_t n, bool comma)
{
    if (comma) {
        ig_buf_addc(out, ',');
    }
    if (ig_json_plain_run(key, 0, n) == n && ig_buf_fits(out, n + 3)) {
        char *d = out->data + out->len;
        d[0] = '"';
        copy_in(d + 1, key, n);
        d[n + 1] = '"';
        d[n + 2] = ':';
        out->len += n + 3;
        out->data[out->len] = '\0';
        return;
    }
    ig_json_escape(out, key, n);
    ig_buf_addc(out, ':');
}

/* Comma, quotes, key and colon at once; the caller checked room. */
static inline void key_put(struct ig_buf *out, const char *key, size_t n,
                           bool comma)
{
    char *d = out->data + out->len;
    *d = ',';
    d += comma;
    d[0] = '"';
    copy_in(d + 1, key, n);
    d[n + 1] = '"';
    d[n + 2] = ':';
    d[n + 3] = '\0';
    out->len += n + 3 + comma;
}

void ig_jsonw_key_plain(struct ig_jsonw *w, const char *key, size_t n)
{
    struct ig_buf *out = w->out;
    bool comma = comma_due(w);
    w->after_key = true;
    if (ig_buf_fits(out, n + 4)) {
        key_put(out, key, n, comma);
    } else {
        key_slow(out, key, n, comma);
    }
}

void ig_jsonw_keyn(struct ig_jsonw *w, const char *key, size_t n)
{
    struct ig_buf *out = w->out;
    bool comma = comma_due(w);
    w->after_key = true;
    /* Keys are plain nearly always. */
    const unsigned char *u = (const unsigned char *)key;
    if (ig_buf_fits(out, n + 4) &&
        (ascii_run(u, 0, n) == n || ig_json_plain_run(key, 0, n) == n)) {
        key_put(out, key, n, comma);
    } else {
        key_slow(out, key, n, comma);
    }
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

void ig_json_int(struct ig_buf *out, int64_t v)
{
    char b[21];
    /* In place when the longest would fit, else through a copy (which
     * a cap may refuse whole). */
    bool direct = ig_buf_fits(out, sizeof(b));
    char *p = direct ? out->data + out->len : b;
    char *s = p;
    if (v < 0) {
        *p++ = '-';
    }
    p = ig_fmt_u64(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (direct) {
        out->len += (size_t)(p - s);
        out->data[out->len] = '\0';
    } else {
        ig_buf_add(out, b, (size_t)(p - b));
    }
}

void ig_jsonw_int(struct ig_jsonw *w, int64_t v)
{
    pre_value(w);
    ig_json_int(w->out, v);
}

void ig_jsonw_uint(struct ig_jsonw *w, uint64_t v)
{
    pre_value(w);
    ig_buf_add_u64(w->out, v);
}

void ig_json_num(struct ig_buf *out, double v)
{
    if (!isfinite(v)) {
        ig_buf_adds(out, "null");
        return;
    }
    /* A whole number below 1e6 is what "%.6g" prints as an integer
     * (negative zero aside): counts and sizes, no printf needed. */
    if (fabs(v) < 1e6 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        ig_json_int(out, (int64_t)v);
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.6g", v);
    /* %g never yields a bare "." or exponent-only form, but it can yield
     * "-0"; JSON allows that, and it only appears for true negative zero. */
    ig_buf_adds(out, tmp);
}

void ig_jsonw_num(struct ig_jsonw *w, double v)
{
    pre_value(w);
    ig_json_num(w->out, v);
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
