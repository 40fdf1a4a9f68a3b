/* diag.h — collected diagnostics: file:line:col: message.
 *
 * Config and rule errors are all collected and reported before anything is
 * refused, so a user fixes every mistake in one pass. A diag list owns its
 * strings.
 */
#ifndef IG_CORE_DIAG_H
#define IG_CORE_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum ig_diag_sev {
    IG_DIAG_ERROR = 0,
    IG_DIAG_WARNING = 1,
    IG_DIAG_NOTE = 2,
};

struct ig_diag {
    enum ig_diag_sev sev;
    char *file;    /* owned */
    int line;      /* 1-based; 0 when not tied to a line */
    int col;       /* 1-based, in characters; 0 when unknown */
    char *msg;     /* owned */
};

struct ig_diags {
    struct ig_diag *v;  /* owned array */
    size_t n, cap;
    size_t nerrors;
};

void ig_diags_init(struct ig_diags *d);
void ig_diags_fini(struct ig_diags *d);
void ig_diags_add(struct ig_diags *d, enum ig_diag_sev sev, const char *file,
                  int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Prints "file:line:col: error: msg" lines, one per diagnostic. */
void ig_diags_print(const struct ig_diags *d, FILE *out);
static inline bool ig_diags_has_errors(const struct ig_diags *d)
{
    return d->nerrors > 0;
}

#endif
