/* cmd_classify.c — `intake classify`: texts in, B/S codes out.
 *
 * Reads items from files or stdin, one per line: a line whose first
 * non-blank character is `{` is a JSON object ({"id","title","text",...},
 * read by core/jsonr.h; unknown fields are passed through to the output),
 * any other line is plain text (the whole line is the item's text, its id
 * the line number). Blank lines are skipped. Each item is classified by
 * the rule set (classifiers/classifier.h) and written as one JSON object
 * per line, or as a row of a readable table with --format text. A line
 * that cannot be read (bad JSON, longer than MAX_LINE) gives an error
 * object for that line and the run goes on; the exit status then says 1.
 *
 * One rule set, one scratch and one arena per item: the same path the
 * gateway uses, so what this prints is what the gateway would forward.
 */
#include "gateway/cmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/mem.h"

/* Longest input line: a 1 MiB item JSON-escaped several times over. */
#define MAX_LINE (8u * 1024u * 1024u)
#define PREVIEW_COLS 40

struct run {
    struct ruleset *rs;
    struct cls_scratch *scratch;
    bool explain, text;
    bool many_files;
    size_t nitems, nclassified, nerrors, nregex_errors;
    struct ig_buf out;
    int rc;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: intake classify [--rules DIR] [--explain] "
            "[--format jsonl|text] [FILE...|-]\n"
            "\n"
            "Classifies each input item into a B/S code of the Qingpu plan\n"
            "and its departments. Input: one item per line, either plain\n"
            "text or a JSON object {\"id\",\"title\",\"text\",...} (other\n"
            "fields are passed through). No FILE, or '-', reads stdin.\n"
            "\n"
            "  --rules DIR     rule set to use (default: %s)\n"
            "  --format F      jsonl (default): one JSON object per item:\n"
            "                  id, code, name, major, departments, score,\n"
            "                  confidence, alternatives, evidence,\n"
            "                  rules_version, and the routing keys; code\n"
            "                  fields are null when unclassified.\n"
            "                  text: a readable table\n"
            "  --explain       add a human-readable account: which rules\n"
            "                  fired, where, why the winner won (text: under\n"
            "                  each row; jsonl: an \"explain\" field)\n"
            "  -h, --help      this help\n"
            "\n"
            "A malformed line gives {\"file\",\"line\",\"error\"} and the run\n"
            "goes on. Exit status: 0 all lines read, 1 some line was\n"
            "malformed, 2 usage error or the rule set does not load (its\n"
            "errors are printed as file:line:col), 3 an input file cannot\n"
            "be read or the output cannot be written.\n",
            cmd_default_rules_dir());
}

static bool flush_out(struct run *r)
{
    if (r->out.len > 0) {
        if (fwrite(r->out.data, 1, r->out.len, stdout) != r->out.len) {
            return false;
        }
        ig_buf_reset(&r->out);
    }
    return true;
}

static void error_line(struct run *r, const char *file, size_t lineno,
                       const char *msg)
{
    r->nerrors++;
    if (r->text) {
        fprintf(stderr, "intake: %s:%zu: %s\n", file, lineno, msg);
        return;
    }
    struct ig_jsonw w;
    ig_jsonw_init(&w, &r->out);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "file", file);
    ig_jsonw_kint(&w, "line", (int64_t)lineno);
    ig_jsonw_kstr(&w, "error", msg);
    ig_jsonw_obj_close(&w);
    ig_buf_addc(&r->out, '\n');
}

/* Keys this command writes itself; an input field with one of these names
 * is not passed through (the output would have the key twice). */
static bool reserved_key(const char *k)
{
    static const char *const keys[] = {
        "id",           "title",        "text",        "code",
        "name",         "major",        "departments", "score",
        "confidence",   "alternatives", "evidence",    "rules_version",
        "regex_errors", "place",        "town",        "units",
        "priority",     "track",        "explain",     "error",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(k, keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void text_header(struct run *r)
{
    ig_buf_adds(&r->out, "");
    cmd_cell(&r->out, "ID", 2, 10, 11, true);
    cmd_cell(&r->out, "CODE", 4, 7, 8, true);
    cmd_cell(&r->out, "NAME", 4, 18, 19, true);
    cmd_cell(&r->out, "SCORE", 5, 6, 7, true);
    cmd_cell(&r->out, "CONF", 4, 5, 6, true);
    cmd_cell(&r->out, "LEAD DEPARTMENT", 15, 16, 17, true);
    ig_buf_adds(&r->out, "TEXT\n");
}

static void text_row(struct run *r, const char *id, size_t idlen,
                     const char *title, size_t tl, const char *text, size_t xl,
                     const struct cls_result *res)
{
    struct ig_buf *b = &r->out;
    cmd_cell(b, id, idlen, 10, 11, true);
    const struct taxon *t = res->top;
    const char *code = t ? t->code : "-";
    const char *name = t ? t->name : "(unclassified)";
    cmd_cell(b, code, strlen(code), 7, 8, true);
    cmd_cell(b, name, strlen(name), 18, 19, true);
    char num[32];
    snprintf(num, sizeof(num), "%.2f", t ? res->score : res->best_score);
    cmd_cell(b, num, strlen(num), 6, 7, true);
    snprintf(num, sizeof(num), "%.2f", res->confidence);
    cmd_cell(b, num, strlen(num), 5, 6, true);
    const char *dept = t && t->ndepts ? t->depts[0] : "-";
    cmd_cell(b, dept, strlen(dept), 16, 17, true);
    if (tl > 0) {
        cmd_cell(b, title, tl, PREVIEW_COLS, 0, true);
        ig_buf_adds(b, " | ");
    }
    cmd_cell(b, text, xl, PREVIEW_COLS, 0, true);
    ig_buf_addc(b, '\n');
    if (r->explain && res->explain) {
        const char *p = res->explain;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            ig_buf_adds(b, "    ");
            ig_buf_add(b, p, n);
            ig_buf_addc(b, '\n');
            p += n + (nl ? 1 : 0);
        }
    }
}

static void do_item(struct run *r, const char *file, size_t lineno,
                    const char *line, size_t len)
{
    struct ig_arena *a = ig_arena_new(16 * 1024);
    const char *title = NULL, *text = line, *idstr = NULL;
    size_t tl = 0, xl = len, idlen = 0;
    const struct ig_jsonr_member *m = NULL, *idm = NULL;
    size_t nm = 0;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    if (line[i] == '{') {
        struct ig_jsonr_member *mv;
        size_t off;
        const char *err;
        if (ig_jsonr_object(line, len, a, &mv, &nm, &off, &err) < 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "invalid JSON: %s at byte %zu", err,
                     off);
            error_line(r, file, lineno, msg);
            goto out;
        }
        m = mv;
        const struct ig_jsonr_member *tm = ig_jsonr_get(m, nm, "title");
        const struct ig_jsonr_member *xm = ig_jsonr_get(m, nm, "text");
        if ((tm && tm->type != IG_JSONR_STRING && tm->type != IG_JSONR_NULL) ||
            (xm && xm->type != IG_JSONR_STRING && xm->type != IG_JSONR_NULL)) {
            error_line(r, file, lineno,
                       "\"title\" and \"text\" must be strings");
            goto out;
        }
        title = tm && tm->str ? tm->str : NULL;
        tl = tm && tm->str ? tm->str_len : 0;
        text = xm && xm->str ? xm->str : NULL;
        xl = xm && xm->str ? xm->str_len : 0;
        if (title == NULL && text == NULL) {
            error_line(r, file, lineno, "no \"title\" or \"text\"");
            goto out;
        }
        idm = ig_jsonr_get(m, nm, "id");
    }
    char idbuf[64];
    if (idm == NULL || idm->type == IG_JSONR_NULL) {
        if (r->many_files) {
            idstr = ig_arena_printf(a, "%s:%zu", file, lineno);
        } else {
            snprintf(idbuf, sizeof(idbuf), "%zu", lineno);
            idstr = idbuf;
        }
        idlen = strlen(idstr);
    } else if (idm->type == IG_JSONR_STRING) {
        idstr = idm->str;
        idlen = idm->str_len;
    } else {
        idstr = idm->raw;
        idlen = idm->raw_len;
    }
    struct cls_result res;
    if (ruleset_classify(r->rs, r->scratch, title, tl, text, xl, r->explain, a,
                         &res) < 0) {
        error_line(r, file, lineno, "item too large to classify");
        goto out;
    }
    r->nitems++;
    r->nclassified += res.top != NULL;
    r->nregex_errors += res.regex_errors;
    if (r->text) {
        text_row(r, idstr, idlen, title, tl, text ? text : "", xl, &res);
        goto out;
    }
    struct ig_jsonw w;
    ig_jsonw_init(&w, &r->out);
    ig_jsonw_obj_open(&w);
    ig_jsonw_key(&w, "id");
    if (idm && idm->type != IG_JSONR_STRING && idm->type != IG_JSONR_NULL) {
        ig_jsonw_raw(&w, idm->raw, idm->raw_len);
    } else {
        ig_jsonw_strn(&w, idstr, idlen);
    }
    for (size_t k = 0; k < nm; k++) {
        if (!reserved_key(m[k].key)) {
            ig_jsonw_key(&w, m[k].key);
            ig_jsonw_raw(&w, m[k].raw, m[k].raw_len);
        }
    }
    cls_result_json(r->rs, &res, &w);
    if (r->explain) {
        ig_jsonw_kstr(&w, "explain", res.explain);
    }
    ig_jsonw_obj_close(&w);
    ig_buf_addc(&r->out, '\n');
out:
    ig_arena_free(a);
}

/* Reads f line by line with a cap; returns false on a read error. */
static bool do_file(struct run *r, FILE *f, const char *name)
{
    struct ig_buf line;
    ig_buf_init(&line, MAX_LINE);
    char buf[65536];
    size_t lineno = 0;
    bool too_long = false;
    bool ok = true;
    size_t n;
    bool eof = false;
    while (!eof) {
        n = fread(buf, 1, sizeof(buf), f);
        if (n == 0) {
            eof = true;
            if (ferror(f)) {
                ok = false;
                break;
            }
            if (line.len == 0 && !too_long) {
                break;
            }
        }
        size_t s = 0;
        while (s < n || (eof && (line.len > 0 || too_long))) {
            const char *nl = s < n ? memchr(buf + s, '\n', n - s) : NULL;
            size_t e = nl ? (size_t)(nl - buf) : n;
            if (!too_long && ig_buf_add(&line, buf + s, e - s) < 0) {
                too_long = true;
            }
            s = e + (nl ? 1 : 0);
            if (nl == NULL && !eof) {
                break;
            }
            lineno++;
            if (too_long) {
                error_line(r, name, lineno, "line longer than 8 MiB (skipped)");
            } else {
                size_t ll = line.len;
                if (ll > 0 && line.data[ll - 1] == '\r') {
                    ll--;
                }
                size_t b = 0;
                /* a UTF-8 byte order mark, as Windows tools write */
                if (lineno == 1 && ll >= 3 &&
                    memcmp(line.data, "\xef\xbb\xbf", 3) == 0) {
                    b = 3;
                }
                size_t bom = b;
                while (b < ll && strchr(" \t", line.data[b])) {
                    b++;
                }
                if (b < ll) {
                    do_item(r, name, lineno, line.data + bom, ll - bom);
                }
            }
            ig_buf_reset(&line);
            too_long = false;
            if (r->out.len > 65536 && !flush_out(r)) {
                ok = false;
                goto done;
            }
            if (eof) {
                break;
            }
        }
    }
done:
    ig_buf_fini(&line);
    return ok;
}

int cmd_classify(int argc, char **argv)
{
    const char *rules = NULL, *format = "jsonl";
    struct run r;
    memset(&r, 0, sizeof(r));
    int first_file = argc;
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return IG_EXIT_OK;
        } else if (strcmp(a, "--explain") == 0) {
            r.explain = true;
        } else if (strcmp(a, "--rules") == 0 || strcmp(a, "--format") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "intake classify: %s needs a value\n", a);
                return IG_EXIT_USAGE;
            }
            *(a[2] == 'r' ? &rules : &format) = argv[++i];
        } else if (strncmp(a, "--rules=", 8) == 0) {
            rules = a + 8;
        } else if (strncmp(a, "--format=", 9) == 0) {
            format = a + 9;
        } else if (strcmp(a, "--") == 0) {
            first_file = i + 1;
            dashdash = true;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "intake classify: unknown option '%s'\n\n", a);
            usage(stderr);
            return IG_EXIT_USAGE;
        } else {
            first_file = i;
            break;
        }
    }
    /* After "--" every argument is a file, whatever its name. */
    for (int i = first_file; i < argc && !dashdash; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0' && i > first_file) {
            fprintf(stderr,
                    "intake classify: options go before files: "
                    "'%s'\n",
                    argv[i]);
            return IG_EXIT_USAGE;
        }
    }
    if (strcmp(format, "jsonl") == 0) {
        r.text = false;
    } else if (strcmp(format, "text") == 0) {
        r.text = true;
    } else {
        fprintf(stderr,
                "intake classify: --format is jsonl or text, not "
                "'%s'\n",
                format);
        return IG_EXIT_USAGE;
    }
    if (rules == NULL) {
        rules = cmd_default_rules_dir();
    }
    struct ig_diags d;
    ig_diags_init(&d);
    int lrc = ruleset_load(rules, &r.rs, &d);
    ig_diags_print(&d, stderr);
    ig_diags_fini(&d);
    if (lrc < 0) {
        fprintf(stderr, "intake classify: rule set %s not loaded\n", rules);
        return IG_EXIT_USAGE;
    }
    r.scratch = cls_scratch_new();
    ig_buf_init(&r.out, 0);
    r.many_files = argc - first_file > 1;
    r.rc = IG_EXIT_OK;
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    if (r.text) {
        text_header(&r);
    }
    if (first_file >= argc) {
        if (!do_file(&r, stdin, "-")) {
            fprintf(stderr, "intake classify: reading stdin: %s\n",
                    strerror(errno));
            r.rc = IG_EXIT_RUNTIME;
        }
    }
    for (int i = first_file; i < argc && r.rc != IG_EXIT_RUNTIME; i++) {
        bool is_stdin = strcmp(argv[i], "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "intake classify: %s: %s\n", argv[i],
                    strerror(errno));
            r.rc = IG_EXIT_RUNTIME;
            break;
        }
        errno = 0;
        if (!do_file(&r, f, argv[i])) {
            /* fopen() opens a directory; the read then says EISDIR. */
            fprintf(stderr, "intake classify: %s: %s\n", argv[i],
                    errno ? strerror(errno) : "read or write failed");
            r.rc = IG_EXIT_RUNTIME;
        }
        if (!is_stdin) {
            fclose(f);
        }
    }
    if (r.text) {
        ig_buf_addf(&r.out,
                    "\n%zu item%s: %zu classified, %zu unclassified "
                    "(to human review)%s; rules %s\n",
                    r.nitems, r.nitems == 1 ? "" : "s", r.nclassified,
                    r.nitems - r.nclassified,
                    r.nerrors ? ", some lines malformed" : "",
                    ruleset_version(r.rs));
    }
    if (!flush_out(&r) || fflush(stdout) != 0) {
        fprintf(stderr, "intake classify: writing output: %s\n",
                strerror(errno));
        r.rc = IG_EXIT_RUNTIME;
    }
    if (r.nregex_errors) {
        fprintf(stderr,
                "intake classify: %zu regex calls hit the PCRE2 match limit "
                "(those rules were skipped for those items)\n",
                r.nregex_errors);
    }
    if (r.rc == IG_EXIT_OK && r.nerrors > 0) {
        r.rc = IG_EXIT_FINDINGS;
    }
    ig_buf_fini(&r.out);
    cls_scratch_free(r.scratch);
    ruleset_unref(r.rs);
    return r.rc;
}
