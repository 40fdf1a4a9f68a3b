/* jsonr.h — a minimal, strict reader for one flat JSON object per line.
 *
 * For JSON Lines input outside connectors/ (which read hostile JSON with
 * their own repairing reader, connectors/json_safe.h): `intake
 * classify` reads {"id","title","text",...} records. The reader accepts
 * exactly RFC 8259: strings with every escape (\uXXXX with surrogate pairs;
 * a lone or reversed surrogate is an error, \u0000 is kept as a NUL byte in
 * the decoded string), numbers in the strict grammar (no 01, +1, .5, 1.,
 * NaN), true/false/null, and nested objects/arrays, which are validated
 * (depth cap IG_JSONR_MAX_DEPTH) and handed back as raw text, not decoded.
 * Raw control characters in strings, invalid UTF-8, duplicate keys and
 * trailing garbage are errors. Decoded strings and the member array come
 * from the caller's arena.
 */
#ifndef IG_CORE_JSONR_H
#define IG_CORE_JSONR_H

#include <stddef.h>

struct ig_arena;

#define IG_JSONR_MAX_DEPTH 64

enum ig_jsonr_type {
    IG_JSONR_STRING,
    IG_JSONR_NUMBER,
    IG_JSONR_TRUE,
    IG_JSONR_FALSE,
    IG_JSONR_NULL,
    IG_JSONR_OBJECT,
    IG_JSONR_ARRAY,
};

struct ig_jsonr_member {
    const char *key; /* decoded, NUL-terminated (arena) */
    size_t key_len;
    enum ig_jsonr_type type;
    const char *str; /* STRING: decoded value (arena), else NULL */
    size_t str_len;
    const char *raw; /* the value's JSON text, inside the input */
    size_t raw_len;
};

/* Parses one JSON object spanning s[0..len) (whitespace around it
 * allowed). On success returns IG_OK and sets *out (arena array) and *n.
 * On failure returns IG_EPARSE, sets *err_off (byte offset of the problem)
 * and *err (static message), and leaves *out NULL. */
int ig_jsonr_object(const char *s, size_t len, struct ig_arena *a,
                    struct ig_jsonr_member **out, size_t *n, size_t *err_off,
                    const char **err);

/* The first member named key, or NULL. */
const struct ig_jsonr_member *ig_jsonr_get(const struct ig_jsonr_member *m,
                                           size_t n, const char *key);

#endif
