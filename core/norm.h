/* norm.h — text normalisation for matching, with a map back to the original.
 *
 * Rules and messages are compared on a normalised form of the text so that a
 * rule author writes one spelling of a word: full-width ASCII becomes
 * half-width (ＡＢ１ -> ab1, U+3000 -> space), ASCII letters are lower-cased,
 * common traditional characters fold to simplified (門 -> 门, 車 -> 车; a
 * table of ~700 characters frequent in citizen reports, not a full
 * converter), invalid UTF-8 becomes U+FFFD (one per maximal invalid
 * subpart), zero-width characters (U+200B..U+200D, U+2060, U+FEFF, soft
 * hyphen) are dropped, and whitespace (including C0 controls and NUL) is
 * dropped between two CJK characters (井 盖 -> 井盖) and collapsed to one
 * space elsewhere, with leading and trailing whitespace removed. The output
 * is always valid UTF-8 without NUL bytes.
 *
 * Every output byte records the byte offset in the original of the
 * character that produced it, so a match in the normalised text maps back
 * to an exact span of the original (ig_norm_span). Several inputs can be
 * appended to one buffer (title, separator, text); offsets are relative to
 * each input.
 *
 * Left out on purpose: Unicode case folding beyond ASCII (but for the two
 * characters that fold to an ASCII letter, U+212A KELVIN SIGN -> k and
 * U+017F LONG S -> s, which a caseless pattern's k and s match), NFKC (it
 * would fold CJK compatibility ideographs and circled digits in ways rule
 * authors do not expect), and phrase-level traditional conversion
 * (OpenCC's job).
 */
#ifndef IG_CORE_NORM_H
#define IG_CORE_NORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ig_norm {
    char *s;       /* owned; normalised UTF-8, NUL-terminated */
    uint32_t *map; /* owned; map[i] = original offset for byte i */
    size_t len;    /* bytes in s */
    size_t cap;    /* bytes allocated in s and entries in map */
};

/* Largest total normalised length (offsets are 32-bit). */
#define IG_NORM_MAX_LEN ((size_t)UINT32_MAX - 16)

void ig_norm_init(struct ig_norm *n);
void ig_norm_fini(struct ig_norm *n);
/* Empties n, keeping its allocation. */
void ig_norm_reset(struct ig_norm *n);
/* Appends the normalised form of s[0..len) (any bytes). Offsets recorded
 * in map are relative to s. Returns IG_OK or IG_E2BIG (nothing appended)
 * when the total would exceed IG_NORM_MAX_LEN. */
int ig_norm_add(struct ig_norm *n, const char *s, size_t len);
/* Appends one ASCII byte c (a field separator) mapped to offset off. */
void ig_norm_addc(struct ig_norm *n, char c, uint32_t off);
/* Maps the normalised byte span [a, b) (a <= b <= n->len, lying within
 * the part that came from orig) to the original span [*oa, *ob): from the
 * start of the character that produced byte a to the end of the character
 * that produced byte b-1. An empty span (a == b) maps to an empty span at
 * the original offset of byte a (orig_len when a == n->len). */
void ig_norm_span(const struct ig_norm *n, const char *orig, size_t orig_len,
                  size_t a, size_t b, size_t *oa, size_t *ob);

/* Folds one code point (full-width -> ASCII, ASCII lower case, U+212A and
 * U+017F -> k and s, traditional -> simplified); other code points are
 * returned unchanged. */
uint32_t ig_norm_fold(uint32_t cp);
/* True for code points dropped everywhere (zero-width, soft hyphen). */
bool ig_norm_is_invisible(uint32_t cp);
/* True for code points treated as whitespace (incl. C0 controls, NUL). */
bool ig_norm_is_space(uint32_t cp);
/* Normalises s[0..len) into a new NUL-terminated string (free with
 * ig_free); *out_len receives its length when out_len is not NULL. */
char *ig_norm_str(const char *s, size_t len, size_t *out_len);

#endif
