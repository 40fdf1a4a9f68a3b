/* text.h — UTF-8 helpers shared by every module.
 *
 * Strict decoding per RFC 3629: overlong forms, surrogates (CESU-8),
 * code points above U+10FFFF and truncated sequences are invalid, so an
 * overlong "<" can never decode to ASCII. Text normalisation for matching
 * lives in core/norm.h.
 */
#ifndef IG_CORE_TEXT_H
#define IG_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/buf.h"

#define IG_UTF8_INVALID 0xFFFFFFFFu

/* The general case of ig_utf8_decode(), out of line. */
size_t ig_utf8_decode_slow(const char *s, size_t n, uint32_t *cp);

/* Decodes one code point at s (n > 0 bytes available). Returns the number
 * of bytes consumed (1..4, never 0) and sets *cp, or IG_UTF8_INVALID with
 * the length of the maximal invalid subpart (WHATWG/Unicode practice: one
 * U+FFFD per maximal subpart). Inline for the two cases that make up
 * nearly all text here: ASCII, and a 3-byte sequence whose lead needs no
 * range check on the second byte (E1..EC, EE, EF: all CJK). */
static inline size_t ig_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xE1 && u[0] <= 0xEF && u[0] != 0xED && n >= 3 &&
        (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) |
              (uint32_t)(u[2] & 0x3F);
        return 3;
    }
    return ig_utf8_decode_slow(s, n, cp);
}
/* True when s[0..15) is five 3-byte sequences whose lead bytes lie in
 * lo..hi, each followed by two continuation bytes. 16 bytes must be
 * readable (s[15] is not looked at). With lo..hi within E1..EC none of
 * them is overlong or a surrogate: they are well-formed, a run of CJK
 * text checked in one block test instead of five (SSE2 is part of
 * x86-64; other targets test them one by one). */
static inline bool ig_utf8_five3(const char *s, unsigned char lo,
                                 unsigned char hi)
{
#if defined(__SSE2__)
    /* Byte by byte, (s - low) mod 256 is at most span exactly when s lies
     * in low..low + span; the 16th byte takes anything (00..FF). */
    const __m128i low = _mm_setr_epi8(
        (char)lo, (char)0x80, (char)0x80, (char)lo, (char)0x80, (char)0x80,
        (char)lo, (char)0x80, (char)0x80, (char)lo, (char)0x80, (char)0x80,
        (char)lo, (char)0x80, (char)0x80, 0);
    const __m128i span =
        _mm_setr_epi8((char)(hi - lo), 0x3F, 0x3F, (char)(hi - lo), 0x3F, 0x3F,
                      (char)(hi - lo), 0x3F, 0x3F, (char)(hi - lo), 0x3F, 0x3F,
                      (char)(hi - lo), 0x3F, 0x3F, (char)0xFF);
    __m128i d =
        _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)s), low);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, span), d)) ==
           0xFFFF;
#else
    const unsigned char *u = (const unsigned char *)s;
    for (int c = 0; c < 15; c += 3) {
        if (u[c] < lo || u[c] > hi || (u[c + 1] & 0xC0) != 0x80 ||
            (u[c + 2] & 0xC0) != 0x80) {
            return false;
        }
    }
    return true;
#endif
}
/* Encodes cp (must be a valid scalar value) into out[4]; returns 1..4. */
size_t ig_utf8_encode(uint32_t cp, char out[4]);
/* True when s[0..n) is valid UTF-8. NUL bytes are valid UTF-8. */
bool ig_utf8_valid(const char *s, size_t n);
/* Appends s to out with each invalid sequence replaced by U+FFFD; when
 * drop_controls, C0 controls other than \t \n \r, DEL and NUL are dropped.
 * Returns the number of replacements and drops (0 = input was clean), or
 * IG_E2BIG if out's cap was hit. */
int ig_utf8_sanitize(struct ig_buf *out, const char *s, size_t n,
                     bool drop_controls);
/* Number of code points in valid UTF-8 s (invalid bytes count one each). */
size_t ig_utf8_count(const char *s, size_t n);
/* True when s[0..n) holds U+FFFD (EF BF BD), the mark every reader here
 * leaves where it replaced invalid input (so the item gets flagged). */
bool ig_utf8_has_fffd(const char *s, size_t n);
/* The largest length <= max that does not cut a UTF-8 sequence of s. */
size_t ig_utf8_trim_len(const char *s, size_t n, size_t max);
/* Of valid UTF-8 s[0..n) (a normaliser's output): the length of its first
 * k code points, and where its last k code points start (n and 0 when it
 * has fewer). Each step reads one lead byte, or, from the end, three
 * bytes back: no code point is decoded. */
size_t ig_utf8_head_len(const char *s, size_t n, size_t k);
size_t ig_utf8_tail_start(const char *s, size_t n, size_t k);
/* True for CJK ideographs and CJK punctuation/fullwidth forms used in
 * Chinese text (for "inside a CJK run" decisions). */
bool ig_is_cjk(uint32_t cp);
/* Columns cp takes in a terminal: 2 for CJK and full-width forms, else 1
 * (callers deal with control characters themselves). */
int ig_cp_width(uint32_t cp);

#endif
