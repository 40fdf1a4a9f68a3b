/* text.c — strict UTF-8 helpers (see text.h). */
#include "core/text.h"

#include "core/err.h"

size_t ig_utf8_decode_slow(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0) {
            lo = 0xA0;   /* overlong */
        } else if (c == 0xED) {
            hi = 0x9F;   /* surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0) {
            lo = 0x90;   /* overlong */
        } else if (c == 0xF4) {
            hi = 0x8F;   /* > U+10FFFF */
        }
    } else {
        *cp = IG_UTF8_INVALID;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n) {
            *cp = IG_UTF8_INVALID;
            return i;
        }
        unsigned char t = u[i];
        if (t < lo || t > hi) {
            *cp = IG_UTF8_INVALID;
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (t & 0x3F);
    }
    *cp = v;
    return len;
}

size_t ig_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool ig_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        i += ig_utf8_decode(s + i, n - i, &cp);
        if (cp == IG_UTF8_INVALID) {
            return false;
        }
    }
    return true;
}

int ig_utf8_sanitize(struct ig_buf *out, const char *s, size_t n,
                     bool drop_controls)
{
    int changes = 0;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        /* Copy the longest clean run in one append. */
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x80) {
                if (drop_controls && ((c < 0x20 && c != '\t' && c != '\n' &&
                                       c != '\r') || c == 0x7f)) {
                    break;
                }
                i++;
                continue;
            }
            uint32_t cp;
            size_t len = ig_utf8_decode(s + i, n - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                break;
            }
            i += len;
        }
        if (i > start && ig_buf_add(out, s + start, i - start) < 0) {
            return IG_E2BIG;
        }
        if (i >= n) {
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;  /* a dropped control character */
        } else {
            uint32_t cp;
            i += ig_utf8_decode(s + i, n - i, &cp);
            if (ig_buf_add(out, "\xEF\xBF\xBD", 3) < 0) {
                return IG_E2BIG;
            }
        }
        changes++;
    }
    return changes;
}

size_t ig_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += ig_utf8_decode(s + i, n - i, &cp);
        count++;
    }
    return count;
}

bool ig_utf8_has_fffd(const char *s, size_t n)
{
    /* Looks for the lead byte with memchr: far cheaper than memmem() on
     * CJK text, where EF leads only the fullwidth forms. */
    const char *end = s + n;

    while (end - s >= 3) {
        const char *p = memchr(s, 0xEF, (size_t)(end - s) - 2);

        if (!p) {
            return false;
        }
        if (p[1] == '\xBF' && p[2] == '\xBD') {
            return true;
        }
        s = p + 1;
    }
    return false;
}

size_t ig_utf8_trim_len(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return n;
    }
    size_t k = max;
    /* Step back over continuation bytes to a sequence start. */
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) {
        k--;
    }
    return k;
}

size_t ig_utf8_head_len(const char *s, size_t n, size_t k)
{
    /* Sequence length by the lead byte's top four bits (valid UTF-8:
     * never a continuation byte 8..B here). */
    static const unsigned char seq_len[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                              1, 1, 1, 1, 2, 2, 3, 4};
    size_t i = 0;

    while (k > 0 && i < n) {
        i += seq_len[(unsigned char)s[i] >> 4];
        k--;
    }
    return i < n ? i : n;
}

size_t ig_utf8_tail_start(const char *s, size_t n, size_t k)
{
    size_t i = n;

    while (k > 0 && i > 0) {
        if (i >= 3 && ((unsigned char)s[i - 3] & 0xF0) == 0xE0) {
            /* A 3-byte lead three bytes back (all CJK): in valid UTF-8
             * the two bytes after it are its own. */
            i -= 3;
        } else {
            do {
                i--;
            } while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
        }
        k--;
    }
    return i;
}

bool ig_is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* CJK unified */
           (cp >= 0x3400 && cp <= 0x4DBF) ||   /* extension A */
           (cp >= 0x20000 && cp <= 0x2FA1F) || /* extensions B.. */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility */
           (cp >= 0x3000 && cp <= 0x303F) ||   /* CJK punctuation */
           (cp >= 0xFF00 && cp <= 0xFFEF);     /* fullwidth forms */
}

int ig_cp_width(uint32_t cp)
{
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD)) {
        return 2;
    }
    return 1;
}
