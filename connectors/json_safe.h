/* json_safe.h — hostile JSON in, a clean tree out (connectors only).
 *
 * cJSON alone accepts things a gateway must not: "\uZZZZ" read as U+0000
 * (cJSON issue 635), "\u0000" truncating a string (issue 895), raw control
 * characters and raw invalid UTF-8 inside strings, trailing garbage after
 * the value, and it silently keeps the first of duplicate keys and rounds
 * every number to a double. So JSON is read by our own iterative reader,
 * in one pass, into a light tree allocated from an arena the caller owns
 * (json_safe_read()); push.c, hotline.c and file.c walk that tree, with
 * the helpers below for JSON pointers, scalars and flags. One policy for
 * every JSON input:
 *
 * - a UTF-8 BOM at the start is skipped;
 * - nesting deeper than max_depth (default 64): error;
 * - invalid escapes (\x, \', short or non-hex \u, a trailing backslash),
 *   invalid number forms (01, 0x1F, NaN, Infinity, +1, .5, 1.), trailing
 *   data after the value: error with the byte offset;
 * - \u0000, lone or reversed surrogates, escaped C0 controls other than
 *   \t \n \r, raw invalid UTF-8: replaced by U+FFFD (controls: dropped) and
 *   counted as repairs; raw TAB/LF/CR/other C0 inside a string: replaced by
 *   a space (TAB/LF/CR) or dropped, counted; \b and \f are escaped C0
 *   controls too (dropped, counted). A caller flags the items whose
 *   strings carry U+FFFD;
 * - duplicate keys in any object: the whole document is rejected (one
 *   policy everywhere; first-wins and last-wins parsers disagree, so
 *   accepting either would let two readers see different records);
 * - numbers are never converted: a number keeps its exact JSON text
 *   (node->str of a JSON_SAFE_T_NUMBER), so ids above 2^53 stay exact and
 *   range checks happen per field (json_safe_int()).
 *
 * Decoded strings never contain NUL, so they are also C strings.
 */
#ifndef IG_CONNECTORS_JSON_SAFE_H
#define IG_CONNECTORS_JSON_SAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ig_item;

struct ig_arena;

#define JSON_SAFE_DEPTH 64

enum json_safe_type {
    JSON_SAFE_T_NULL = 0,
    JSON_SAFE_T_FALSE,
    JSON_SAFE_T_TRUE,
    JSON_SAFE_T_NUMBER,
    JSON_SAFE_T_STRING,
    JSON_SAFE_T_OBJECT,
    JSON_SAFE_T_ARRAY,
};

/* One value of a json_safe_read() tree; everything lives in its arena. */
struct json_safe_node {
    enum json_safe_type type;
    bool fffd;       /* STRING: str holds U+FFFD (EF BF BD) */
    const char *key; /* member name (decoded) inside an object, else NULL */
    size_t klen;     /* bytes of key */
    const char *str; /* STRING: decoded text; NUMBER: its exact JSON text;
                      * NUL-terminated; else NULL */
    size_t len;      /* bytes of str */
    size_t n;        /* OBJECT, ARRAY: number of members */
    const struct json_safe_node *child; /* OBJECT, ARRAY: first member */
    const struct json_safe_node *next;  /* next member of the parent */
};

/* Reads s[0..n) with the policy above into a tree allocated from a.
 * Returns IG_OK with the root in *out and the number of repairs in
 * *repairs (may be NULL), or IG_EPARSE (IG_E2BIG for depth) with *out NULL
 * and a message in err (may be NULL; no input bytes echoed beyond a short,
 * sanitised excerpt). max_depth 0 means JSON_SAFE_DEPTH. The tree (and whatever
 * a failed read allocated) dies with a. Any thread. */
int json_safe_read(const char *s, size_t n, int max_depth, struct ig_arena *a,
                   const struct json_safe_node **out, unsigned *repairs,
                   char *err, size_t errlen);

/* A block size for an arena that holds the tree of an n-byte document in
 * one or two blocks. */
size_t json_safe_arena_size(size_t n);

enum json_safe_kind {
    JSON_SAFE_NONE = 0, /* missing, null, object or array */
    JSON_SAFE_STRING,
    JSON_SAFE_NUMBER, /* text is the number's exact JSON text */
    JSON_SAFE_BOOL,   /* text is "true" or "false" */
};

/* Resolves an RFC 6901 JSON pointer ("" = v itself, "/data/list/0").
 * Returns the node (borrowed from v's tree) or NULL. */
const struct json_safe_node *json_safe_pointer(const struct json_safe_node *v,
                                               const char *ptr);

/* The scalar value of v as text (borrowed from the tree): a string's
 * decoded text, a number's exact JSON text, "true" or "false". */
enum json_safe_kind json_safe_scalar(const struct json_safe_node *v,
                                     const char **text);

/* The scalar text at ptr under v (borrowed), or NULL: ptr NULL or ""
 * (a key left unmapped, never the whole document), nothing there, or not
 * a scalar. */
const char *json_safe_text_at(const struct json_safe_node *v, const char *ptr);

/* Parses a number or numeric string into an int64 within [lo, hi].
 * Returns IG_OK or IG_EINVAL (not an integer, or out of range). */
int json_safe_int(const struct json_safe_node *v, int64_t lo, int64_t hi,
                  int64_t *out);

/* True when some number under v (iterative walk) does not fit a finite
 * double (1e400, 4.9e-400, 10,000 digits). */
bool json_safe_bad_numbers(const struct json_safe_node *v);

/* True when some string value under v contains U+FFFD. */
bool json_safe_has_fffd(const struct json_safe_node *v);

/* Flags it IG_ITEM_F_REPAIRED when the document needed repairs (the
 * count json_safe_read() gave) and some of them landed in rec, the
 * part of it that became the item. */
void json_safe_flag_repaired(struct ig_item *it,
                             const struct json_safe_node *rec,
                             unsigned repairs);

#endif
