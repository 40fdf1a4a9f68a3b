/* cfg.c — INI-like config reader and schema tables (see cfg.h).
 *
 * Parsing and validation are separate: ig_cfg_parse_* builds a document of
 * sections and raw entries with their positions; ig_cfg_apply() checks one
 * section against a schema table and fills a struct. Both collect every
 * problem in an ig_diags list instead of stopping at the first, so a user
 * fixes a whole file in one pass. No includes, no variables, no multi-line
 * values: a config an administrator edits at 3 a.m. should hold no surprises.
 */
#include "core/cfg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/text.h"

void ig_cfg_doc_init(struct ig_cfg_doc *doc)
{
    doc->s = NULL;
    doc->n = doc->cap = 0;
}

void ig_cfg_doc_fini(struct ig_cfg_doc *doc)
{
    for (size_t i = 0; i < doc->n; i++) {
        struct ig_cfg_section *s = &doc->s[i];
        for (size_t j = 0; j < s->n; j++) {
            ig_free(s->e[j].key);
            ig_free(s->e[j].value);
        }
        ig_free(s->e);
        ig_free(s->type);
        ig_free(s->name);
        ig_free(s->file);
    }
    ig_free(doc->s);
    ig_cfg_doc_init(doc);
}

static struct ig_cfg_section *add_section(struct ig_cfg_doc *doc,
                                          const char *file, int line,
                                          const char *type, const char *name)
{
    if (doc->n == doc->cap) {
        doc->cap = doc->cap ? doc->cap * 2 : 8;
        doc->s = ig_realloc(doc->s, doc->cap * sizeof(*doc->s));
    }
    struct ig_cfg_section *s = &doc->s[doc->n++];
    memset(s, 0, sizeof(*s));
    s->type = ig_strdup(type);
    s->name = name ? ig_strdup(name) : NULL;
    s->file = ig_strdup(file);
    s->line = line;
    return s;
}

static void add_entry(struct ig_cfg_section *s, const char *key, char *value,
                      int line, int col)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->e = ig_realloc(s->e, s->cap * sizeof(*s->e));
    }
    struct ig_cfg_entry *e = &s->e[s->n++];
    e->key = ig_strdup(key);
    e->value = value;
    e->line = line;
    e->col = col;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

static const char *rtrim(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
                           end[-1] == '\r')) {
        end--;
    }
    return end;
}

static bool valid_key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Unquotes "..." with \" \\ \n \t escapes. Returns NULL on a bad string. */
static char *unquote(const char *p, const char *end, const char **err)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    p++; /* opening quote */
    while (p < end && *p != '"') {
        if (*p == '\\' && p + 1 < end) {
            p++;
            switch (*p) {
            case 'n': ig_buf_addc(&b, '\n'); break;
            case 't': ig_buf_addc(&b, '\t'); break;
            case '"': ig_buf_addc(&b, '"'); break;
            case '\\': ig_buf_addc(&b, '\\'); break;
            default:
                *err = "unknown escape in quoted value (use \\\" \\\\ \\n \\t)";
                ig_buf_fini(&b);
                return NULL;
            }
            p++;
            continue;
        }
        ig_buf_addc(&b, *p++);
    }
    if (p >= end) {
        *err = "unterminated quoted value";
        ig_buf_fini(&b);
        return NULL;
    }
    p++;
    p = skip_ws(p, end);
    if (p < end && *p != '#') {
        *err = "unexpected text after quoted value";
        ig_buf_fini(&b);
        return NULL;
    }
    return ig_buf_take(&b);
}

int ig_cfg_parse_mem(struct ig_cfg_doc *doc, const char *name,
                     const char *text, size_t len, struct ig_diags *d)
{
    size_t before = d->nerrors;
    if (!ig_utf8_valid(text, len)) {
        /* Say where: the line and column of the first bad byte (an editor
         * that saved GBK, a pasted byte). */
        int line = 1, col = 1;
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            size_t k = ig_utf8_decode(text + i, len - i, &cp);
            if (cp == IG_UTF8_INVALID) {
                break;
            }
            if (cp == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
            i += k;
        }
        ig_diags_add(d, IG_DIAG_ERROR, name, line, col,
                     "not valid UTF-8 (save the file as UTF-8)");
        return IG_EPARSE;
    }
    struct ig_cfg_section *cur = NULL;
    const char *p = text;
    const char *end = text + len;
    int lineno = 0;
    /* A UTF-8 BOM at the start is tolerated (editors on Windows add it). */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) {
            eol = end;
        }
        lineno++;
        const char *ls = skip_ws(p, eol);
        const char *le = rtrim(ls, eol);
        const char *next = eol < end ? eol + 1 : end;
        if (ls == le || *ls == '#' || *ls == ';') {
            p = next;
            continue;
        }
        if (*ls == '[') {
            const char *close = memchr(ls, ']', (size_t)(le - ls));
            if (!close || close + 1 != le) {
                ig_diags_add(d, IG_DIAG_ERROR, name, lineno,
                             (int)(ls - p) + 1,
                             "section header must be '[type]' or "
                             "'[type name]'");
                p = next;
                cur = NULL;
                continue;
            }
            const char *ts = skip_ws(ls + 1, close);
            const char *te = ts;
            while (te < close && *te != ' ' && *te != '\t') {
                te++;
            }
            const char *ns = skip_ws(te, close);
            const char *ne = rtrim(ns, close);
            char *type = ig_strndup(ts, (size_t)(te - ts));
            char *sname = ns < ne ? ig_strndup(ns, (size_t)(ne - ns)) : NULL;
            if (!*type) {
                ig_diags_add(d, IG_DIAG_ERROR, name, lineno,
                             (int)(ls - p) + 2, "empty section type");
            }
            cur = add_section(doc, name, lineno, type, sname);
            ig_free(type);
            ig_free(sname);
            p = next;
            continue;
        }
        const char *eq = memchr(ls, '=', (size_t)(le - ls));
        if (!eq) {
            ig_diags_add(d, IG_DIAG_ERROR, name, lineno, (int)(ls - p) + 1,
                         "expected 'key = value'");
            p = next;
            continue;
        }
        const char *ke = rtrim(ls, eq);
        bool keyok = ke > ls;
        for (const char *k = ls; k < ke; k++) {
            if (!valid_key_char(*k)) {
                keyok = false;
                break;
            }
        }
        if (!keyok) {
            ig_diags_add(d, IG_DIAG_ERROR, name, lineno, (int)(ls - p) + 1,
                         "bad key '%.*s' (letters, digits, _ - . only)",
                         (int)(ke - ls), ls);
            p = next;
            continue;
        }
        const char *vs = skip_ws(eq + 1, le);
        char *value;
        if (vs < le && *vs == '"') {
            const char *err = NULL;
            value = unquote(vs, le, &err);
            if (!value) {
                ig_diags_add(d, IG_DIAG_ERROR, name, lineno,
                             (int)(vs - p) + 1, "%s", err);
                p = next;
                continue;
            }
        } else {
            /* A # after whitespace starts a comment in unquoted values. */
            const char *ve = vs;
            while (ve < le && !(*ve == '#' && ve > vs &&
                                (ve[-1] == ' ' || ve[-1] == '\t'))) {
                ve++;
            }
            ve = rtrim(vs, ve);
            value = ig_strndup(vs, (size_t)(ve - vs));
        }
        if (!cur) {
            cur = add_section(doc, name, 0, "", NULL);
        }
        char *key = ig_strndup(ls, (size_t)(ke - ls));
        for (size_t i = 0; i < cur->n; i++) {
            if (strcmp(cur->e[i].key, key) == 0) {
                ig_diags_add(d, IG_DIAG_ERROR, name, lineno,
                             (int)(ls - p) + 1,
                             "duplicate key '%s' (first set on line %d)", key,
                             cur->e[i].line);
                break;
            }
        }
        add_entry(cur, key, value, lineno,
                  (int)ig_utf8_count(p, (size_t)(vs - p)) + 1);
        ig_free(key);
        p = next;
    }
    return d->nerrors > before ? IG_EPARSE : IG_OK;
}

int ig_cfg_parse_file(struct ig_cfg_doc *doc, const char *path,
                      struct ig_diags *d)
{
    char *text = NULL;
    size_t len = 0;
    /* Config files are small; 4 MiB is generous and bounds a mistake such
     * as pointing -c at a log file. */
    int rc = ig_read_file(path, 4u << 20, &text, &len);

    if (rc == IG_E2BIG) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "file larger than 4 MiB");
        return rc;
    }
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return IG_EIO;
    }
    rc = ig_cfg_parse_mem(doc, path, text, len, d);
    ig_free(text);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ig_cfg_parse_path(struct ig_cfg_doc *doc, const char *path,
                      struct ig_diags *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return IG_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        return ig_cfg_parse_file(doc, path, d);
    }
    DIR *dir = opendir(path);
    if (!dir) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return IG_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 ||
            strcmp(de->d_name + l - 5, ".conf") != 0) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = ig_realloc(names, cap * sizeof(*names));
        }
        names[n++] = ig_asprintf("%s/%s", path, de->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof(*names), cmp_str);
    int rc = IG_OK;
    for (size_t i = 0; i < n; i++) {
        int r = ig_cfg_parse_file(doc, names[i], d);
        if (r < 0 && rc == IG_OK) {
            rc = r;
        }
        ig_free(names[i]);
    }
    ig_free(names);
    return rc;
}

const char *ig_cfg_get(const struct ig_cfg_section *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].key, key) == 0) {
            return s->e[i].value;
        }
    }
    return NULL;
}

/* ---- value parsers ---------------------------------------------------- */

int ig_parse_int(const char *s, int64_t *out)
{
    if (!s || !*s) {
        return IG_EINVAL;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s) {
        return IG_EINVAL;
    }
    *out = v;
    return IG_OK;
}

int ig_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return IG_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return IG_OK;
        }
    }
    return IG_EINVAL;
}

/* Parses "<number><unit>" with the unit looked up in a table. */
static int parse_scaled(const char *s, const char *const *units,
                        const int64_t *mult, int64_t bare, int64_t *out)
{
    if (!s || !*s) {
        return IG_EINVAL;
    }
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !(v == v)) {
        return IG_EINVAL;
    }
    while (*end == ' ') {
        end++;
    }
    int64_t m = bare;
    if (*end) {
        m = 0;
        for (int i = 0; units[i]; i++) {
            if (strcasecmp(end, units[i]) == 0) {
                m = mult[i];
                break;
            }
        }
        if (!m) {
            return IG_EINVAL;
        }
    }
    double r = v * (double)m;
    if (r > 9.2e18) {
        return IG_EINVAL;
    }
    *out = (int64_t)r;
    return IG_OK;
}

int ig_parse_duration_ms(const char *s, int64_t *out)
{
    static const char *const units[] = {"ms", "s", "sec", "m", "min", "h",
                                        "d", NULL};
    static const int64_t mult[] = {1, 1000, 1000, 60000, 60000, 3600000,
                                   86400000};
    return parse_scaled(s, units, mult, 1000, out);
}

int ig_parse_size(const char *s, int64_t *out)
{
    static const char *const units[] = {"b", "k", "kb", "kib", "m", "mb",
                                        "mib", "g", "gb", "gib", NULL};
    static const int64_t mult[] = {1, 1024, 1024, 1024, 1 << 20, 1 << 20,
                                   1 << 20, 1 << 30, 1 << 30, 1 << 30};
    return parse_scaled(s, units, mult, 1, out);
}

size_t ig_edit_distance(const char *a, const char *b)
{
    uint32_t ca[256], cb[256];
    size_t na = 0, nb = 0;
    for (size_t i = 0, l = strlen(a); i < l && na < 256;) {
        i += ig_utf8_decode(a + i, l - i, &ca[na++]);
    }
    for (size_t i = 0, l = strlen(b); i < l && nb < 256;) {
        i += ig_utf8_decode(b + i, l - i, &cb[nb++]);
    }
    size_t *row = ig_malloc((nb + 1) * sizeof(*row));
    for (size_t j = 0; j <= nb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= na; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cur = row[j];
            size_t best = prev + (ca[i - 1] != cb[j - 1]);
            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            prev = cur;
        }
    }
    size_t r = row[nb];
    ig_free(row);
    return r;
}

void ig_suggest_init(struct ig_suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = (size_t)-1;
}

void ig_suggest_try(struct ig_suggest *s, const char *name)
{
    size_t d = ig_edit_distance(s->word, name);
    if (d < s->dist) {
        s->dist = d;
        s->best = name;
    }
}

const char *ig_suggest_best(const struct ig_suggest *s)
{
    size_t len = ig_utf8_count(s->word, strlen(s->word));
    size_t max = len < 6 ? 2 : 3;
    if (s->best == NULL || s->dist == 0 || s->dist > max ||
        s->dist * 2 > len + 1) {
        return NULL;
    }
    return s->best;
}

/* ---- schema application ----------------------------------------------- */

static void *field_ptr(void *obj, const struct ig_cfg_field *f)
{
    return (char *)obj + f->offset;
}

static void list_free(struct ig_cfg_list *l)
{
    size_t total = l->n;
    for (size_t i = 0; i < total; i++) {
        ig_free(l->v[i]);
    }
    ig_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void list_push(struct ig_cfg_list *l, const char *s, size_t len)
{
    l->v = ig_realloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = ig_strndup(s, len);
}

static bool map_prefix(const struct ig_cfg_field *f, const char *key)
{
    size_t l = strlen(f->name);
    return strncmp(key, f->name, l) == 0 && key[l] == '.' && key[l + 1];
}

bool ig_cfg_known(const struct ig_cfg_field *schema, const char *key)
{
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        if (f->type == IG_CFG_MAP ? map_prefix(f, key)
                                  : strcmp(f->name, key) == 0) {
            return true;
        }
    }
    return false;
}

/* Sets one field from text. Returns NULL or a static error message. */
static const char *set_field(const struct ig_cfg_field *f, void *obj,
                             const char *v)
{
    void *p = field_ptr(obj, f);
    switch (f->type) {
    case IG_CFG_STR:
        ig_free(*(char **)p);
        *(char **)p = ig_strdup(v);
        return NULL;
    case IG_CFG_ENUM:
        for (const char *const *c = f->choices; c && *c; c++) {
            if (strcmp(*c, v) == 0) {
                ig_free(*(char **)p);
                *(char **)p = ig_strdup(v);
                return NULL;
            }
        }
        return "not one of the accepted values";
    case IG_CFG_INT:
        return ig_parse_int(v, (int64_t *)p) < 0 ? "expected an integer"
                                                   : NULL;
    case IG_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end) {
            return "expected a number";
        }
        *(double *)p = d;
        return NULL;
    }
    case IG_CFG_BOOL:
        return ig_parse_bool(v, (bool *)p) < 0
                   ? "expected true/false (yes/no, on/off, 1/0)"
                   : NULL;
    case IG_CFG_DUR_MS:
        return ig_parse_duration_ms(v, (int64_t *)p) < 0
                   ? "expected a duration such as 250ms, 30s, 5m, 1h, 30d"
                   : NULL;
    case IG_CFG_SIZE:
        return ig_parse_size(v, (int64_t *)p) < 0
                   ? "expected a size such as 512, 64k, 10MiB, 1G"
                   : NULL;
    case IG_CFG_LIST: {
        struct ig_cfg_list *l = p;
        list_free(l);
        const char *s = v;
        while (*s) {
            while (*s == ' ' || *s == ',') {
                s++;
            }
            const char *e = s;
            while (*e && *e != ',') {
                e++;
            }
            const char *te = rtrim(s, e);
            if (te > s) {
                list_push(l, s, (size_t)(te - s));
            }
            s = e;
        }
        return NULL;
    }
    case IG_CFG_MAP:
        return NULL;
    }
    return "unsupported field type";
}

void ig_cfg_defaults(const struct ig_cfg_field *schema, void *obj)
{
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        if (f->def && f->type != IG_CFG_MAP) {
            set_field(f, obj, f->def);
        }
    }
}

static const char *closest_key(const struct ig_cfg_field *schema,
                               const char *key)
{
    struct ig_suggest sg;
    ig_suggest_init(&sg, key);
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        ig_suggest_try(&sg, f->name);
    }
    return ig_suggest_best(&sg);
}

int ig_cfg_apply(const struct ig_cfg_section *s,
                 const struct ig_cfg_field *schema, void *obj,
                 struct ig_diags *d)
{
    size_t before = d->nerrors;
    ig_cfg_defaults(schema, obj);
    for (size_t i = 0; i < s->n; i++) {
        const struct ig_cfg_entry *e = &s->e[i];
        const struct ig_cfg_field *hit = NULL;
        for (const struct ig_cfg_field *f = schema; f->name; f++) {
            if (f->type == IG_CFG_MAP ? map_prefix(f, e->key)
                                      : strcmp(f->name, e->key) == 0) {
                hit = f;
                break;
            }
        }
        if (!hit) {
            const char *sug = closest_key(schema, e->key);
            if (sug) {
                ig_diags_add(d, IG_DIAG_ERROR, s->file, e->line, 1,
                             "unknown key '%s' in [%s%s%s] (did you mean "
                             "'%s'?)",
                             e->key, s->type, s->name ? " " : "",
                             s->name ? s->name : "", sug);
            } else {
                ig_diags_add(d, IG_DIAG_ERROR, s->file, e->line, 1,
                             "unknown key '%s' in [%s%s%s]", e->key, s->type,
                             s->name ? " " : "", s->name ? s->name : "");
            }
            continue;
        }
        if (hit->type == IG_CFG_MAP) {
            struct ig_cfg_list *l = field_ptr(obj, hit);
            const char *sub = e->key + strlen(hit->name) + 1;
            l->v = ig_realloc(l->v, (2 * l->n + 2) * sizeof(*l->v));
            l->v[2 * l->n] = ig_strdup(sub);
            l->v[2 * l->n + 1] = ig_strdup(e->value);
            l->n++;
            continue;
        }
        const char *err = set_field(hit, obj, e->value);
        if (err) {
            if (hit->type == IG_CFG_ENUM) {
                struct ig_buf b;
                ig_buf_init(&b, 0);
                for (const char *const *c = hit->choices; c && *c; c++) {
                    ig_buf_addf(&b, "%s%s", c == hit->choices ? "" : ", ",
                                *c);
                }
                ig_diags_add(d, IG_DIAG_ERROR, s->file, e->line, e->col,
                             "%s: '%s' is not one of: %s", e->key, e->value,
                             b.data ? b.data : "");
                ig_buf_fini(&b);
            } else {
                ig_diags_add(d, IG_DIAG_ERROR, s->file, e->line, e->col,
                             "%s: %s, got '%s'", e->key, err,
                             (hit->flags & IG_CFG_F_SECRET) ? "***"
                                                            : e->value);
            }
        }
    }
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        if (!(f->flags & IG_CFG_F_REQUIRED)) {
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < s->n && !found; i++) {
            found = f->type == IG_CFG_MAP ? map_prefix(f, s->e[i].key)
                                          : strcmp(f->name, s->e[i].key) == 0;
        }
        if (!found) {
            ig_diags_add(d, IG_DIAG_ERROR, s->file, s->line, 0,
                         "[%s%s%s] is missing required key '%s'", s->type,
                         s->name ? " " : "", s->name ? s->name : "", f->name);
        }
    }
    return d->nerrors > before ? IG_EINVAL : IG_OK;
}

void ig_cfg_free(const struct ig_cfg_field *schema, void *obj)
{
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        void *p = field_ptr(obj, f);
        switch (f->type) {
        case IG_CFG_STR:
        case IG_CFG_ENUM:
            ig_free(*(char **)p);
            *(char **)p = NULL;
            break;
        case IG_CFG_LIST:
            list_free(p);
            break;
        case IG_CFG_MAP: {
            struct ig_cfg_list *l = p;
            l->n *= 2;
            list_free(l);
            break;
        }
        default:
            break;
        }
    }
}

void ig_cfg_print_schema(const struct ig_cfg_field *schema, FILE *out)
{
    static const char *tn[] = {"string", "integer", "number", "bool",
                               "duration", "size", "enum", "list", "map"};
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s", f->name,
                 f->type == IG_CFG_MAP ? ".*" : "");
        fprintf(out, "  %-22s %-9s %-14s %s%s\n", name, tn[f->type],
                f->def ? f->def : (f->flags & IG_CFG_F_REQUIRED) ? "(required)"
                                                                 : "-",
                f->doc ? f->doc : "",
                "");
        if (f->type == IG_CFG_ENUM && f->choices) {
            fprintf(out, "  %-22s %-9s %-14s one of:", "", "", "");
            for (const char *const *c = f->choices; *c; c++) {
                fprintf(out, " %s", *c);
            }
            fputc('\n', out);
        }
    }
}
