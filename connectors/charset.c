/* charset.c — charset detection and decoding to UTF-8 (glibc iconv).
 *
 * Design: the candidates are collected in precedence order (BOM, then the
 * bytes' own shape for UTF-16/32 without BOM, then the HTTP charset, then
 * the XML declaration or HTML <meta>, then UTF-8 and GB18030 as the two
 * charsets Chinese sites really use) and the first one that decodes the
 * whole body strictly wins. Labels are normalised first, and every GB label
 * maps to GB18030, because glibc's "GB2312" rejects the GBK characters that
 * sites declaring gb2312 use every day and maps A1AA/A1A4 differently from
 * browsers. A declaration is therefore a hint that the bytes must confirm,
 * never an order: this is what keeps mojibake out without a statistical
 * detector (rejected: chardet-style guessing is large, slow and still wrong
 * on short items, while the UTF-8/GB18030 pair covers our sources). Only
 * when nothing decodes cleanly is the best candidate used leniently, with
 * U+FFFD for each bad sequence, and the result flagged.
 */
#include "connectors/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/text.h"

/* How far into the document a declaration is looked for: XML requires the
 * declaration first; HTML5 requires <meta charset> in the first 1024 bytes,
 * and real pages put long <head> scripts first, so allow more. */
#define XML_DECL_SCAN 256
#define HTML_META_SCAN 4096

struct label {
    const char *label;
    const char *canon;
};

/* WHATWG-style label table (lower case). Names on the right are glibc iconv
 * names; single-byte Latin labels follow WHATWG and decode as
 * windows-1252, a superset that never fails on real text. */
static const struct label labels[] = {
    {"utf-8", "UTF-8"},
    {"utf8", "UTF-8"},
    {"unicode-1-1-utf-8", "UTF-8"},
    {"utf-16", "UTF-16"},
    {"utf-16le", "UTF-16LE"},
    {"utf-16be", "UTF-16BE"},
    {"ucs-2", "UTF-16"},
    {"iso-10646-ucs-2", "UTF-16"},
    {"utf-32", "UTF-32"},
    {"utf-32le", "UTF-32LE"},
    {"utf-32be", "UTF-32BE"},
    {"ucs-4", "UTF-32"},
    {"iso-10646-ucs-4", "UTF-32"},
    {"gb2312", "GB18030"},
    {"gb_2312", "GB18030"},
    {"gb_2312-80", "GB18030"},
    {"gbk", "GB18030"},
    {"x-gbk", "GB18030"},
    {"cp936", "GB18030"},
    {"ms936", "GB18030"},
    {"windows-936", "GB18030"},
    {"gb18030", "GB18030"},
    {"chinese", "GB18030"},
    {"csgb2312", "GB18030"},
    {"csiso58gb231280", "GB18030"},
    {"iso-ir-58", "GB18030"},
    {"euc-cn", "GB18030"},
    {"hz-gb-2312", "HZ"},
    {"big5", "BIG5-HKSCS"},
    {"big5-hkscs", "BIG5-HKSCS"},
    {"cn-big5", "BIG5-HKSCS"},
    {"csbig5", "BIG5-HKSCS"},
    {"x-x-big5", "BIG5-HKSCS"},
    {"cp950", "BIG5-HKSCS"},
    {"euc-kr", "CP949"},
    {"ks_c_5601-1987", "CP949"},
    {"korean", "CP949"},
    {"windows-949", "CP949"},
    {"cp949", "CP949"},
    {"csksc56011987", "CP949"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"sjis", "CP932"},
    {"x-sjis", "CP932"},
    {"ms_kanji", "CP932"},
    {"windows-31j", "CP932"},
    {"cp932", "CP932"},
    {"euc-jp", "EUC-JP"},
    {"iso-2022-jp", "ISO-2022-JP"},
    {"us-ascii", "WINDOWS-1252"},
    {"ascii", "WINDOWS-1252"},
    {"iso-8859-1", "WINDOWS-1252"},
    {"iso8859-1", "WINDOWS-1252"},
    {"iso_8859-1", "WINDOWS-1252"},
    {"latin1", "WINDOWS-1252"},
    {"l1", "WINDOWS-1252"},
    {"cp1252", "WINDOWS-1252"},
    {"windows-1252", "WINDOWS-1252"},
    {"koi8-r", "KOI8-R"},
    {"koi8-u", "KOI8-U"},
};

/* Families accepted by prefix with a numeric suffix. */
static const struct label families[] = {
    {"iso-8859-", "ISO-8859-"},
    {"iso8859-", "ISO-8859-"},
    {"windows-125", "WINDOWS-125"},
    {"cp125", "WINDOWS-125"},
};

const char *charset_canonical(const char *label, size_t len)
{
    /* Static storage for the family names built below; one per family
     * and suffix is enough because the table is small and fixed. */
    static const char *const iso[] = {
        NULL,          NULL,         "ISO-8859-2", "ISO-8859-3",  "ISO-8859-4",
        "ISO-8859-5",  "ISO-8859-6", "ISO-8859-7", "ISO-8859-8",  "ISO-8859-9",
        "ISO-8859-10", NULL,         NULL,         "ISO-8859-13", "ISO-8859-14",
        "ISO-8859-15", "ISO-8859-16"};
    static const char *const win[] = {
        "WINDOWS-1250", "WINDOWS-1251", "WINDOWS-1252",
        "WINDOWS-1253", "WINDOWS-1254", "WINDOWS-1255",
        "WINDOWS-1256", "WINDOWS-1257", "WINDOWS-1258"};
    char buf[40];
    size_t n = 0;

    /* Trim spaces and quotes, lower-case, map '_' as is. */
    while (len > 0 && (*label == ' ' || *label == '"' || *label == '\'')) {
        label++;
        len--;
    }
    while (len > 0 && (label[len - 1] == ' ' || label[len - 1] == '"' ||
                       label[len - 1] == '\'')) {
        len--;
    }
    if (len == 0 || len >= sizeof(buf)) {
        return NULL;
    }
    for (n = 0; n < len; n++) {
        char c = label[n];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        buf[n] = c;
    }
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (strcmp(buf, labels[i].label) == 0) {
            return labels[i].canon;
        }
    }
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        size_t pl = strlen(families[i].label);
        if (strncmp(buf, families[i].label, pl) != 0) {
            continue;
        }
        const char *num = buf + pl;
        char *end = NULL;
        long v = strtol(num, &end, 10);
        if (end == num || *end != '\0') {
            return NULL;
        }
        if (families[i].canon[0] == 'I') {
            if (v == 1) {
                return "WINDOWS-1252";
            }
            if (v >= 2 && v <= 16 && iso[v] != NULL) {
                return iso[v];
            }
            return NULL;
        }
        /* windows-125N: the prefix already holds "125". */
        if (v >= 0 && v <= 8) {
            return win[v];
        }
        return NULL;
    }
    return NULL;
}

bool charset_from_content_type(const char *ct, char *out, size_t outsz)
{
    if (ct == NULL || outsz == 0) {
        return false;
    }
    const char *p = ct;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (strncasecmp(p, "charset", 7) != 0) {
            continue;
        }
        p += 7;
        while (*p == ' ') {
            p++;
        }
        if (*p != '=') {
            continue;
        }
        p++;
        while (*p == ' ' || *p == '"' || *p == '\'') {
            p++;
        }
        size_t n = 0;
        while (p[n] != '\0' && p[n] != ';' && p[n] != ' ' && p[n] != '"' &&
               p[n] != '\'' && p[n] != ',') {
            n++;
        }
        if (n == 0 || n >= outsz) {
            return false;
        }
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Finds the value of encoding="..." in an XML declaration at s. */
static bool xml_decl_charset(const char *s, size_t n, char *out, size_t outsz)
{
    if (n < 6 || memcmp(s, "<?xml", 5) != 0) {
        return false;
    }
    size_t lim = n < XML_DECL_SCAN ? n : XML_DECL_SCAN;
    for (size_t i = 5; i + 8 < lim; i++) {
        if (s[i] == '?' && s[i + 1] == '>') {
            return false;
        }
        if (memcmp(s + i, "encoding", 8) != 0) {
            continue;
        }
        size_t j = i + 8;
        while (j < lim && (s[j] == ' ' || s[j] == '\t')) {
            j++;
        }
        if (j >= lim || s[j] != '=') {
            return false;
        }
        j++;
        while (j < lim && (s[j] == ' ' || s[j] == '\t')) {
            j++;
        }
        if (j >= lim || (s[j] != '"' && s[j] != '\'')) {
            return false;
        }
        char q = s[j++];
        size_t k = 0;
        while (j + k < lim && s[j + k] != q) {
            k++;
        }
        if (j + k >= lim || k == 0 || k >= outsz) {
            return false;
        }
        memcpy(out, s + j, k);
        out[k] = '\0';
        return true;
    }
    return false;
}

/* Finds charset=... inside the first <meta> tags of an HTML page. */
static bool html_meta_charset(const char *s, size_t n, char *out, size_t outsz)
{
    size_t lim = n < HTML_META_SCAN ? n : HTML_META_SCAN;
    for (size_t i = 0; i + 5 < lim; i++) {
        if (s[i] != '<' || strncasecmp(s + i + 1, "meta", 4) != 0) {
            continue;
        }
        size_t end = i + 5;
        while (end < lim && s[end] != '>') {
            end++;
        }
        for (size_t j = i + 5; j + 8 < end; j++) {
            if (strncasecmp(s + j, "charset", 7) != 0) {
                continue;
            }
            size_t k = j + 7;
            while (k < end && s[k] == ' ') {
                k++;
            }
            if (k >= end || s[k] != '=') {
                continue;
            }
            k++;
            while (k < end && (s[k] == ' ' || s[k] == '"' || s[k] == '\'')) {
                k++;
            }
            size_t m = 0;
            while (k + m < end && s[k + m] != '"' && s[k + m] != '\'' &&
                   s[k + m] != ' ' && s[k + m] != ';' && s[k + m] != '/') {
                m++;
            }
            if (m == 0 || m >= outsz) {
                break;
            }
            memcpy(out, s + k, m);
            out[m] = '\0';
            return true;
        }
        i = end;
    }
    return false;
}

static bool is_ascii_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            return false;
        }
    }
    return true;
}

static bool is_cjk_multibyte(const char *cs)
{
    return strcmp(cs, "GB18030") == 0 || strcmp(cs, "BIG5-HKSCS") == 0 ||
           strcmp(cs, "CP949") == 0 || strcmp(cs, "CP932") == 0 ||
           strcmp(cs, "EUC-JP") == 0 || strcmp(cs, "HZ") == 0;
}

static bool is_wide(const char *cs)
{
    return strncmp(cs, "UTF-16", 6) == 0 || strncmp(cs, "UTF-32", 6) == 0;
}

/* Appends U+FFFD. */
static int add_repl(struct ig_buf *out)
{
    return ig_buf_add(out, "\xEF\xBF\xBD", 3);
}

/* Decodes with iconv. Strict: fails (IG_EPARSE) at the first invalid or
 * truncated sequence, leaving out at its old length. Lenient: each bad
 * byte becomes U+FFFD; *nbad counts them. GB18030 also maps a lone 0x80
 * to the euro sign as browsers (WHATWG gbk) do. */
static int decode_iconv(const char *cs, const char *in, size_t n, bool lenient,
                        struct ig_buf *out, size_t *nbad)
{
    size_t start_len = out->len;
    int rc = IG_OK;
    bool gb = strcmp(cs, "GB18030") == 0;
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1) {
        return IG_EINVAL;
    }
    char *ip = (char *)(uintptr_t)in;
    size_t il = n;
    char chunk[4096];
    while (il > 0) {
        char *op = chunk;
        size_t ol = sizeof(chunk);
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        if (op > chunk) {
            rc = ig_buf_add(out, chunk, (size_t)(op - chunk));
            if (rc < 0) {
                goto out;
            }
        }
        if (r != (size_t)-1) {
            continue;
        }
        if (e == E2BIG) {
            continue;
        }
        if (gb && e == EILSEQ && (unsigned char)*ip == 0x80) {
            rc = ig_buf_add(out, "\xE2\x82\xAC", 3);
            if (rc < 0) {
                goto out;
            }
            ip++;
            il--;
            continue;
        }
        if (!lenient) {
            rc = IG_EPARSE;
            goto out;
        }
        /* EILSEQ or EINVAL (truncated at the end): skip one byte. */
        (*nbad)++;
        rc = add_repl(out);
        if (rc < 0) {
            goto out;
        }
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    /* Flush any shift state (ISO-2022-JP, HZ). */
    {
        char *op = chunk;
        size_t ol = sizeof(chunk);
        iconv(cd, NULL, NULL, &op, &ol);
        if (op > chunk) {
            rc = ig_buf_add(out, chunk, (size_t)(op - chunk));
        }
    }
out:
    iconv_close(cd);
    if (rc < 0) {
        out->len = start_len;
        if (out->data != NULL) {
            out->data[start_len] = '\0';
        }
    }
    return rc;
}

static int decode(const char *cs, const char *in, size_t n, bool lenient,
                  struct ig_buf *out, size_t *nbad)
{
    if (strcmp(cs, "UTF-8") == 0) {
        if (!lenient) {
            if (!ig_utf8_valid(in, n)) {
                return IG_EPARSE;
            }
            return ig_buf_add(out, in, n);
        }
        int r = ig_utf8_sanitize(out, in, n, false);
        if (r < 0) {
            return r;
        }
        *nbad += (size_t)r;
        return IG_OK;
    }
    return decode_iconv(cs, in, n, lenient, out, nbad);
}

/* Detects a byte order mark; returns its length and sets *cs. */
static size_t bom_len(const unsigned char *u, size_t n, const char **cs)
{
    if (n >= 4 && u[0] == 0xFF && u[1] == 0xFE && u[2] == 0 && u[3] == 0) {
        *cs = "UTF-32LE";
        return 4;
    }
    if (n >= 4 && u[0] == 0 && u[1] == 0 && u[2] == 0xFE && u[3] == 0xFF) {
        *cs = "UTF-32BE";
        return 4;
    }
    if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        *cs = "UTF-8";
        return 3;
    }
    if (n >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
        *cs = "UTF-16LE";
        return 2;
    }
    if (n >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
        *cs = "UTF-16BE";
        return 2;
    }
    return 0;
}

/* Recognises UTF-16/32 without BOM by the NUL pattern of the first
 * ASCII character ('<' in markup, anything in text). */
static const char *sniff_wide(const unsigned char *u, size_t n)
{
    if (n < 4) {
        return NULL;
    }
    if (u[0] != 0 && u[1] == 0 && u[2] == 0 && u[3] == 0) {
        return "UTF-32LE";
    }
    if (u[0] == 0 && u[1] == 0 && u[2] == 0 && u[3] != 0) {
        return "UTF-32BE";
    }
    if (u[0] != 0 && u[1] == 0 && u[2] != 0 && u[3] == 0) {
        return "UTF-16LE";
    }
    if (u[0] == 0 && u[1] != 0 && u[2] == 0 && u[3] != 0) {
        return "UTF-16BE";
    }
    return NULL;
}

/* Copies a charset name, which comes from the document or the server:
 * charset names are printable ASCII, so any other byte becomes '?' (the
 * name goes into the raw field charset_mismatch and into log lines, both
 * of which must stay valid UTF-8 without control characters). */
static void set_name(char dst[32], const char *src)
{
    size_t n = strlen(src);
    if (n > 31) {
        n = 31;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[n] = '\0';
}

/* Adds cs to the candidate list unless it is there already. */
static void add_cand(const char **cand, size_t *nc, const char *cs)
{
    for (size_t i = 0; i < *nc; i++) {
        if (strcmp(cand[i], cs) == 0) {
            return;
        }
    }
    cand[(*nc)++] = cs;
}

int charset_to_utf8(const char *body, size_t len, const char *content_type,
                    enum charset_doc doc, struct ig_buf *out,
                    struct charset_result *res)
{
    const unsigned char *u = (const unsigned char *)body;
    const char *cand[8];
    size_t nc = 0;
    const char *bomcs = NULL;
    char label[40];
    const char *first_decl = NULL;
    bool unknown_decl = false;
    size_t nbad = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if (body == NULL && len > 0) {
        return IG_EINVAL;
    }

    /* 1. A byte order mark decides alone. */
    size_t skip = bom_len(u, len, &bomcs);
    if (skip > 0) {
        res->bom = true;
        set_name(res->declared, bomcs);
        body += skip;
        len -= skip;
        u += skip;
        add_cand(cand, &nc, bomcs);
        goto decide;
    }

    /* 2. UTF-16/32 without BOM show themselves by their NUL bytes. */
    {
        const char *wide = sniff_wide(u, len);
        if (wide != NULL) {
            add_cand(cand, &nc, wide);
        }
    }

    /* 3. The HTTP charset, then the document's own declaration. A wide
     * charset declared in bytes we could read as ASCII is a lie. */
    if (charset_from_content_type(content_type, label, sizeof(label))) {
        const char *cs = charset_canonical(label, strlen(label));
        set_name(res->declared, label);
        if (cs == NULL || (is_wide(cs) && nc == 0)) {
            unknown_decl = true;
        } else {
            first_decl = cs;
            add_cand(cand, &nc, cs);
        }
    }
    if ((doc == CHARSET_DOC_XML &&
         xml_decl_charset(body, len, label, sizeof(label))) ||
        (doc == CHARSET_DOC_HTML &&
         html_meta_charset(body, len, label, sizeof(label)))) {
        const char *cs = charset_canonical(label, strlen(label));
        if (res->declared[0] == '\0') {
            set_name(res->declared, label);
        }
        if (cs == NULL) {
            unknown_decl = unknown_decl || first_decl == NULL;
        } else if (!(is_wide(cs) && nc == 0)) {
            /* A server-wide Latin default ("charset=iso-8859-1" from the
             * web server) loses to a CJK charset the page itself
             * declares: that is what the author meant. */
            if (first_decl != NULL && strcmp(first_decl, "WINDOWS-1252") == 0 &&
                is_cjk_multibyte(cs) && nc > 0 && cand[0] == first_decl) {
                cand[0] = cs;
                add_cand(cand, &nc, first_decl);
                unknown_decl = true; /* the HTTP header was wrong */
                first_decl = cs;
            } else {
                if (first_decl == NULL) {
                    first_decl = cs;
                }
                add_cand(cand, &nc, cs);
            }
        } else if (first_decl == NULL) {
            unknown_decl = true;
        }
    }

    /* The template lie: a legacy label (GB, Big5, Latin-1 ...) on bytes
     * that are plainly UTF-8: non-ASCII and strictly valid. Legacy text
     * is almost never valid UTF-8 by accident (GBK pairs and Latin-1
     * letters do not form UTF-8 sequences in practice). */
    if (nc > 0 && strcmp(cand[0], "UTF-8") != 0 && !is_wide(cand[0]) &&
        !is_ascii_only(body, len) && ig_utf8_valid(body, len)) {
        const char *tmp = cand[0];
        cand[0] = "UTF-8";
        add_cand(cand, &nc, tmp);
    }

    /* 4. What Chinese sites actually send. */
    add_cand(cand, &nc, "UTF-8");
    add_cand(cand, &nc, "GB18030");

decide:
    /* The first candidate that decodes everything strictly wins. */
    for (size_t i = 0; i < nc; i++) {
        rc = decode(cand[i], body, len, false, out, &nbad);
        if (rc == IG_OK) {
            set_name(res->used, cand[i]);
            goto done;
        }
        if (rc == IG_E2BIG) {
            return rc;
        }
    }
    /* Nothing is clean: the most trusted candidate, with replacements. */
    rc = decode(cand[0], body, len, true, out, &nbad);
    if (rc < 0) {
        return rc;
    }
    set_name(res->used, cand[0]);
    res->repaired = nbad > 0;

done:
    res->recoded = strcmp(res->used, "UTF-8") != 0;
    if (unknown_decl) {
        res->mismatch = true;
    } else if (first_decl != NULL && strcmp(first_decl, res->used) != 0) {
        res->mismatch = true;
    }
    return IG_OK;
}
