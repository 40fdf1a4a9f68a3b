/* diag.c — collected diagnostics (see diag.h). */
#include "core/diag.h"

#include <stdarg.h>

#include "core/buf.h"
#include "core/mem.h"

void ig_diags_init(struct ig_diags *d)
{
    d->v = NULL;
    d->n = d->cap = d->nerrors = 0;
}

void ig_diags_fini(struct ig_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        ig_free(d->v[i].file);
        ig_free(d->v[i].msg);
    }
    ig_free(d->v);
    ig_diags_init(d);
}

void ig_diags_add(struct ig_diags *d, enum ig_diag_sev sev, const char *file,
                  int line, int col, const char *fmt, ...)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = ig_realloc(d->v, d->cap * sizeof(*d->v));
    }
    struct ig_buf b;
    ig_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    ig_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    struct ig_diag *g = &d->v[d->n++];
    g->sev = sev;
    g->file = ig_strdup(file ? file : "");
    g->line = line;
    g->col = col;
    g->msg = ig_buf_take(&b);
    if (sev == IG_DIAG_ERROR) {
        d->nerrors++;
    }
}

void ig_diags_print(const struct ig_diags *d, FILE *out)
{
    static const char *sev[] = {"error", "warning", "note"};
    for (size_t i = 0; i < d->n; i++) {
        const struct ig_diag *g = &d->v[i];
        if (g->line > 0 && g->col > 0) {
            fprintf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col,
                    sev[g->sev], g->msg);
        } else if (g->line > 0) {
            fprintf(out, "%s:%d: %s: %s\n", g->file, g->line, sev[g->sev],
                    g->msg);
        } else {
            fprintf(out, "%s: %s: %s\n", g->file, sev[g->sev], g->msg);
        }
    }
}
