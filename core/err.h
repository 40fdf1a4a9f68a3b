/* err.h — the project's one small error vocabulary.
 *
 * Functions return int: 0 (IG_OK) on success, a negative enum ig_err on
 * failure, or a non-negative count where their header says so.
 */
#ifndef IG_CORE_ERR_H
#define IG_CORE_ERR_H

enum ig_err {
    IG_OK = 0,
    IG_EINVAL = -1,     /* bad argument or malformed input */
    IG_EIO = -2,        /* I/O failed (file, socket, peer) */
    IG_EPARSE = -3,     /* input could not be parsed */
    IG_E2BIG = -4,      /* a cap was hit */
    IG_EAGAIN = -5,     /* transient: retry later with backoff */
    IG_EREJECTED = -6,  /* permanent: do not retry */
    IG_EDECLINED = -7,  /* not mine: try the next handler */
    IG_ENOENT = -8,     /* no such file, key or object */
    IG_ENOMEM = -9,     /* reported, never returned by core allocators */
};

/* Returns a static, human-readable name for an ig_err code ("invalid
 * argument", ...). Unknown codes give "unknown error". Any thread. */
const char *ig_strerror(int err);

#endif
