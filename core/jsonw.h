/* jsonw.h — a small streaming JSON writer over an ig_buf.
 *
 * Output only: JSON is read by connectors/json_safe.h (hostile input) and
 * core/jsonr.h (JSON Lines given to the commands). The writer
 * inserts commas itself, escapes strings per RFC 8259 and replaces invalid
 * UTF-8 with U+FFFD, so whatever bytes come in, valid JSON comes out.
 * Non-finite numbers are written as null. Nesting is tracked up to
 * IG_JSONW_MAX_DEPTH levels.
 */
#ifndef IG_CORE_JSONW_H
#define IG_CORE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

#define IG_JSONW_MAX_DEPTH 64

struct ig_jsonw {
    struct ig_buf *out;                   /* borrowed */
    int depth;
    bool need_comma[IG_JSONW_MAX_DEPTH];
    bool after_key;
};

void ig_jsonw_init(struct ig_jsonw *w, struct ig_buf *out);
void ig_jsonw_obj_open(struct ig_jsonw *w);
void ig_jsonw_obj_close(struct ig_jsonw *w);
void ig_jsonw_arr_open(struct ig_jsonw *w);
void ig_jsonw_arr_close(struct ig_jsonw *w);
/* A key of n bytes (need not be NUL-terminated). */
void ig_jsonw_keyn(struct ig_jsonw *w, const char *key, size_t n);
/* s may be NULL: writes null. */
void ig_jsonw_str(struct ig_jsonw *w, const char *s);
void ig_jsonw_strn(struct ig_jsonw *w, const char *s, size_t n);
void ig_jsonw_int(struct ig_jsonw *w, int64_t v);
void ig_jsonw_uint(struct ig_jsonw *w, uint64_t v);
/* Written with up to 6 significant digits after rounding ("%.6g"). */
void ig_jsonw_num(struct ig_jsonw *w, double v);
void ig_jsonw_bool(struct ig_jsonw *w, bool v);
void ig_jsonw_null(struct ig_jsonw *w);
/* Inserts pre-serialised JSON verbatim (the caller vouches for it). */
void ig_jsonw_raw(struct ig_jsonw *w, const char *json, size_t n);

/* ig_jsonw_keyn() for a key known to need no escaping (at most
 * IG_JSONW_PLAIN_KEY_MAX bytes of printable ASCII but '"' and '\\'): no
 * scan. Called by ig_jsonw_key() when the compiler proves it. */
void ig_jsonw_key_plain(struct ig_jsonw *w, const char *key, size_t n);

/* Whether byte i of a key of n bytes is past its end or plain. */
#define IG_JSONW_PK(k, n, i)                                                   \
    ((i) >= (n) ||                                                             \
     ((unsigned char)(k)[i] >= 0x20 && (unsigned char)(k)[i] < 0x7f &&         \
      (k)[i] != '"' && (k)[i] != '\\'))
#define IG_JSONW_PLAIN_KEY_MAX 16
#define IG_JSONW_PLAIN_KEY(k, n)                                               \
    ((n) <= IG_JSONW_PLAIN_KEY_MAX && IG_JSONW_PK(k, n, 0) &&                  \
     IG_JSONW_PK(k, n, 1) && IG_JSONW_PK(k, n, 2) && IG_JSONW_PK(k, n, 3) &&   \
     IG_JSONW_PK(k, n, 4) && IG_JSONW_PK(k, n, 5) && IG_JSONW_PK(k, n, 6) &&   \
     IG_JSONW_PK(k, n, 7) && IG_JSONW_PK(k, n, 8) && IG_JSONW_PK(k, n, 9) &&   \
     IG_JSONW_PK(k, n, 10) && IG_JSONW_PK(k, n, 11) &&                         \
     IG_JSONW_PK(k, n, 12) && IG_JSONW_PK(k, n, 13) &&                         \
     IG_JSONW_PK(k, n, 14) && IG_JSONW_PK(k, n, 15))

/* Keys are nearly always literals: inline, so their length is known at
 * compile time instead of measured per record, and so is whether they
 * need escaping: for a literal the check folds to a constant (with
 * optimisation), and a plain one skips the writer's scan. Anything the
 * compiler cannot fold takes the checking path. */
static inline __attribute__((always_inline)) void
ig_jsonw_key(struct ig_jsonw *w, const char *key)
{
    size_t n = strlen(key);
    if (__builtin_constant_p(IG_JSONW_PLAIN_KEY(key, n)) &&
        IG_JSONW_PLAIN_KEY(key, n)) {
        ig_jsonw_key_plain(w, key, n);
    } else {
        ig_jsonw_keyn(w, key, n);
    }
}

/* key + value shorthands, always inlined so that ig_jsonw_key() sees the
 * literal */
static inline __attribute__((always_inline)) void
ig_jsonw_kstr(struct ig_jsonw *w, const char *key, const char *s)
{
    ig_jsonw_key(w, key);
    ig_jsonw_str(w, s);
}

static inline __attribute__((always_inline)) void
ig_jsonw_kint(struct ig_jsonw *w, const char *key, int64_t v)
{
    ig_jsonw_key(w, key);
    ig_jsonw_int(w, v);
}

static inline __attribute__((always_inline)) void
ig_jsonw_knum(struct ig_jsonw *w, const char *key, double v)
{
    ig_jsonw_key(w, key);
    ig_jsonw_num(w, v);
}

static inline __attribute__((always_inline)) void
ig_jsonw_kbool(struct ig_jsonw *w, const char *key, bool v)
{
    ig_jsonw_key(w, key);
    ig_jsonw_bool(w, v);
}

static inline __attribute__((always_inline)) void
ig_jsonw_knull(struct ig_jsonw *w, const char *key)
{
    ig_jsonw_key(w, key);
    ig_jsonw_null(w);
}

/* Appends s (n bytes) to out as a quoted, escaped JSON string. */
void ig_json_escape(struct ig_buf *out, const char *s, size_t n);

/* The end of the run from i (<= n) of bytes s carries into a JSON string
 * unchanged: printable ASCII but '"', '\\' and DEL, and well-formed
 * 3-byte UTF-8 sequences with an E1..EC, EE or EF lead (CJK text) — 16
 * bytes per step. The escaper's fast path: a string that is one such
 * run is copied as it is. (The reader, connectors/json_safe.c, has its
 * own scan: its runs keep DEL and are copied while they are scanned.) */
size_t ig_json_plain_run(const char *s, size_t i, size_t n);

/* Bare values for records put together from literal pieces ("key": and
 * commas copied as they are, IG_JSON_LIT) instead of through a writer:
 * they append exactly what the ig_jsonw_ calls write as a value, with no
 * comma. Only for buffers without a cap, where every append succeeds;
 * any thread. */
#define IG_JSON_LIT(out, lit) ig_buf_add((out), "" lit, sizeof(lit) - 1)
/* s as a JSON string, null when s is NULL. */
static inline void ig_json_str(struct ig_buf *out, const char *s)
{
    if (s) {
        ig_json_escape(out, s, strlen(s));
    } else {
        ig_buf_add(out, "null", 4);
    }
}
void ig_json_int(struct ig_buf *out, int64_t v);
/* As ig_jsonw_num(): up to 6 significant digits, null when not finite. */
void ig_json_num(struct ig_buf *out, double v);

#endif
