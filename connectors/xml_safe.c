/* xml_safe.c — hardened libxml2 setup shared by rss, letters and web.
 *
 * Design: feeds and pages are written by strangers, so every document goes
 * through the same gate. The body is capped before anything else, decoded
 * to UTF-8 by charset.c (libxml2 never chooses a charset: the declaration
 * is ignored with XML_PARSE_IGNORE_ENC), and pre-scanned in one pass that
 * (a) refuses a DOCTYPE whose internal subset declares entities (billion
 * laughs, quadratic blow-up, XXE: the only safe expansion is none, and
 * feeds have no business declaring entities), (b) drops characters XML
 * forbids (C0 controls, NUL, U+FFFE/U+FFFF, numeric references to them),
 * which real CMSs paste into titles, and (c) rewrites HTML named entities
 * (&ldquo; &nbsp; ...) to numeric references outside CDATA and comments,
 * as feedparser does, so the common "Entity 'nbsp' not defined" feed
 * still parses strictly. The parse itself uses neither XML_PARSE_NOENT
 * nor DTDLOAD/DTDATTR/XINCLUDE/HUGE, adds XML_PARSE_NONET, and a global
 * external entity loader refuses every URL (a second lock behind NONET:
 * libxml2 would otherwise open file:// URLs). Only if the strict parse
 * fails is the document parsed once more in recover mode, and the caller
 * flags every item as partial. Our walkers are iterative (parent/next
 * pointers), so libxml2's 256-level depth limit is the only depth that
 * matters and no document can exhaust our stack.
 *
 * Rejected: xmlTextReader streaming. It would bound memory for huge feeds,
 * but the body cap already does, and XPath (letters, web) needs a tree.
 */
#include "connectors/xml_safe.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "connectors/connector.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/text.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void (*loader_hook)(const char *url);

static xmlParserInputPtr refuse_loader(const char *url, const char *id,
                                       xmlParserCtxtPtr ctxt)
{
    (void)id;
    (void)ctxt;
    if (loader_hook != NULL) {
        loader_hook(url != NULL ? url : "");
    }
    return NULL;
}

static void do_init(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_loader);
}

void xml_safe_init(void)
{
    pthread_once(&init_once, do_init);
}

void xml_safe_set_loader_hook(void (*hook)(const char *url))
{
    xml_safe_init();
    loader_hook = hook;
}

void xml_safe_report(struct connector_sink *sink, const char *source_id,
                     bool error, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (sink == NULL || sink->diags == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_diags_add(sink->diags, error ? IG_DIAG_ERROR : IG_DIAG_WARNING,
                 source_id != NULL ? source_id : "-", 0, 0, "%s", msg);
}

void xml_safe_report_charset(struct connector_sink *sink, const char *source_id,
                             const struct xml_safe_info *info)
{
    if (info->cs.mismatch) {
        xml_safe_report(sink, source_id, false,
                        "charset: declared '%s', decoded as %s",
                        info->cs.declared, info->cs.used);
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool only_ws(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_ws(s[i])) {
            return false;
        }
    }
    return true;
}

/* True when cp may appear in an XML 1.0 document. */
static bool xml_char_ok(unsigned long cp)
{
    if (cp == 0x9 || cp == 0xA || cp == 0xD) {
        return true;
    }
    if (cp < 0x20) {
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        return false;
    }
    if (cp == 0xFFFE || cp == 0xFFFF || cp > 0x10FFFF) {
        return false;
    }
    return true;
}

/* Length of an illegal character at s (control byte or U+FFFE/FFFF),
 * or 0 when s starts with a legal one. */
static size_t bad_char_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        return 1;
    }
    if (c == 0xEF && n >= 3 && (unsigned char)s[1] == 0xBF &&
        ((unsigned char)s[2] == 0xBE || (unsigned char)s[2] == 0xBF)) {
        return 3;
    }
    return 0;
}

/* windows-1252 for the C1 range 0x80-0x9F (0 = undefined). */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

/* Finds needle in s[from..n); returns its index or n. */
static size_t find(const char *s, size_t n, size_t from, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = from; i + nl <= n; i++) {
        if (s[i] == needle[0] && memcmp(s + i, needle, nl) == 0) {
            return i;
        }
    }
    return n;
}

/* The end (index after '>') of a DOCTYPE starting at i, and whether its
 * internal subset declares entities. */
static size_t doctype_end(const char *s, size_t n, size_t i, bool *entities)
{
    size_t j = i + 9;
    bool in_subset = false;
    char quote = 0;
    *entities = false;
    for (; j < n; j++) {
        char c = s[j];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[') {
            in_subset = true;
        } else if (c == ']') {
            in_subset = false;
        } else if (in_subset && c == '<' && j + 8 <= n &&
                   memcmp(s + j, "<!ENTITY", 8) == 0) {
            *entities = true;
        } else if (!in_subset && c == '>') {
            return j + 1;
        }
    }
    return n;
}

/* Copies s to out with the repairs described at the top of the file.
 * map_entities: XML only (the HTML parser knows its own entities). */
static int prepare(const char *s, size_t n, bool map_entities,
                   struct ig_buf *out, bool *repaired, char *err, size_t errsz)
{
    size_t run = 0; /* start of the pending unchanged run */
    size_t i = 0;
    int rc = IG_OK;

#define FLUSH(upto)                                                            \
    do {                                                                       \
        if ((upto) > run) {                                                    \
            rc = ig_buf_add(out, s + run, (upto)-run);                         \
            if (rc < 0) {                                                      \
                return rc;                                                     \
            }                                                                  \
        }                                                                      \
    } while (0)

    while (i < n) {
        char c = s[i];
        size_t bad = bad_char_len(s + i, n - i);
        if (bad > 0) {
            FLUSH(i);
            i += bad;
            run = i;
            *repaired = true;
            continue;
        }
        if (c == '<' && map_entities && i + 1 < n && s[i + 1] == '!') {
            size_t end;
            if (i + 9 <= n && memcmp(s + i, "<![CDATA[", 9) == 0) {
                end = find(s, n, i + 9, "]]>");
                end = end < n ? end + 3 : n;
            } else if (i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) {
                end = find(s, n, i + 4, "-->");
                end = end < n ? end + 3 : n;
            } else if (i + 9 <= n && memcmp(s + i, "<!DOCTYPE", 9) == 0) {
                bool ents;
                end = doctype_end(s, n, i, &ents);
                if (ents) {
                    snprintf(err, errsz,
                             "entity declarations not allowed (DOCTYPE "
                             "internal subset)");
                    return IG_EPARSE;
                }
            } else {
                i++;
                continue;
            }
            /* Inside CDATA/comments only the character filter applies. */
            for (size_t j = i; j < end;) {
                size_t b = bad_char_len(s + j, end - j);
                if (b > 0) {
                    FLUSH(j);
                    j += b;
                    run = j;
                    *repaired = true;
                } else {
                    j++;
                }
            }
            i = end;
            continue;
        }
        if (c != '&' || !map_entities) {
            i++;
            continue;
        }
        /* An entity or character reference. */
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            unsigned long cp = 0;
            bool hex = false;
            j++;
            if (j < n && (s[j] == 'x' || s[j] == 'X')) {
                hex = true;
                j++;
            }
            size_t digits = 0;
            while (j < n && digits < 10) {
                char d = s[j];
                int v;
                if (d >= '0' && d <= '9') {
                    v = d - '0';
                } else if (hex && d >= 'a' && d <= 'f') {
                    v = d - 'a' + 10;
                } else if (hex && d >= 'A' && d <= 'F') {
                    v = d - 'A' + 10;
                } else {
                    break;
                }
                cp = cp * (hex ? 16u : 10u) + (unsigned long)v;
                digits++;
                j++;
            }
            if (digits > 0 && j < n && s[j] == ';') {
                /* Rewritten in one canonical form: "&#X41;" (upper-case
                 * X, not XML) parses, C1 references mean windows-1252 as
                 * in browsers, and forbidden characters go. */
                if (cp >= 0x80 && cp <= 0x9F && cp1252[cp - 0x80] != 0) {
                    cp = cp1252[cp - 0x80];
                }
                FLUSH(i);
                if (xml_char_ok(cp)) {
                    rc = ig_buf_addf(out, "&#%lu;", cp);
                    if (rc < 0) {
                        return rc;
                    }
                } else {
                    *repaired = true;
                }
                i = j + 1;
                run = i;
                continue;
            }
            /* "&#" without a valid reference: a literal ampersand. */
            FLUSH(i);
            rc = ig_buf_adds(out, "&amp;");
            if (rc < 0) {
                return rc;
            }
            i++;
            run = i;
            continue;
        }
        size_t nlen = 0;
        while (j + nlen < n && nlen < 32 &&
               ((s[j + nlen] >= 'a' && s[j + nlen] <= 'z') ||
                (s[j + nlen] >= 'A' && s[j + nlen] <= 'Z') ||
                (nlen > 0 && ((s[j + nlen] >= '0' && s[j + nlen] <= '9') ||
                              s[j + nlen] == '_' || s[j + nlen] == '-' ||
                              s[j + nlen] == '.')))) {
            nlen++;
        }
        const htmlEntityDesc *ent = NULL;
        bool known = false;
        if (nlen > 0 && j + nlen < n && s[j + nlen] == ';') {
            char name[40];
            memcpy(name, s + j, nlen);
            name[nlen] = '\0';
            known = strcmp(name, "amp") == 0 || strcmp(name, "lt") == 0 ||
                    strcmp(name, "gt") == 0 || strcmp(name, "quot") == 0 ||
                    strcmp(name, "apos") == 0;
            if (!known) {
                ent = htmlEntityLookup((const xmlChar *)name);
            }
        }
        if (known) {
            i = j + nlen + 1;
            continue;
        }
        FLUSH(i);
        if (ent != NULL) {
            rc = ig_buf_addf(out, "&#%u;", ent->value);
            i = j + nlen + 1;
        } else {
            /* A bare '&' (query strings) or an unknown entity: literal
             * text, as HTML would show it; never an entity lookup. */
            rc = ig_buf_adds(out, "&amp;");
            i++;
        }
        if (rc < 0) {
            return rc;
        }
        run = i;
    }
    FLUSH(n);
#undef FLUSH
    return IG_OK;
}

static void copy_error(const xmlError *e, struct xml_safe_info *info)
{
    if (e == NULL || e->code == 0 || info->error[0] != '\0') {
        return;
    }
    const char *m = e->message != NULL ? e->message : "parse error";
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) {
        n--;
    }
    if (n >= sizeof(info->error)) {
        n = sizeof(info->error) - 1;
    }
    memcpy(info->error, m, n);
    info->error[n] = '\0';
    info->error_line = e->line;
}

/* Steps shared by the XML and HTML readers: their outputs reset (*doc
 * NULL, info zeroed, errbuf empty, *text initialised: the caller
 * finalises it), then cap, empty check, charset, repairs, libxml2's int
 * length. On success *text holds the UTF-8 text to parse. */
static int gate(const char *body, size_t len, const char *content_type,
                size_t max_body, enum charset_doc kind, struct ig_buf *text,
                xmlDoc **doc, struct xml_safe_info *info, char *errbuf,
                size_t errsz)
{
    struct ig_buf dec;
    int rc;

    xml_safe_init();
    *doc = NULL;
    memset(info, 0, sizeof(*info));
    errbuf[0] = '\0';
    ig_buf_init(text, 0);
    if (max_body == 0) {
        max_body = XML_SAFE_MAX_BODY;
    }
    if (len > max_body) {
        snprintf(errbuf, errsz,
                 "document too large: %zu bytes, cap %zu (max_bytes)", len,
                 max_body);
        return IG_E2BIG;
    }
    if (len == 0 || body == NULL || only_ws(body, len)) {
        snprintf(errbuf, errsz, "empty document");
        return IG_EPARSE;
    }
    /* Decoding may grow the text (GBK 2 bytes -> UTF-8 3 bytes, UTF-16
     * ASCII stays the same); allow twice the cap. */
    ig_buf_init(&dec, 2 * max_body + 16);
    rc = charset_to_utf8(body, len, content_type, kind, &dec, &info->cs);
    if (rc < 0) {
        snprintf(errbuf, errsz, "charset decoding failed: %s", ig_strerror(rc));
        goto out;
    }
    if (dec.len == 0 || only_ws(dec.data, dec.len)) {
        snprintf(errbuf, errsz, "empty document");
        rc = IG_EPARSE;
        goto out;
    }
    rc = prepare(dec.data, dec.len, kind == CHARSET_DOC_XML, text,
                 &info->repaired, errbuf, errsz);
    if (rc == IG_E2BIG) {
        snprintf(errbuf, errsz, "document too large after decoding");
    } else if (rc == IG_OK && text->len > (size_t)INT32_MAX) {
        /* libxml2 takes the length as an int. */
        rc = IG_E2BIG;
        snprintf(errbuf, errsz, "document too large");
    }
out:
    ig_buf_fini(&dec);
    return rc;
}

/* Why these options: NONET refuses network access; IGNORE_ENC because the
 * text is already UTF-8 whatever the declaration says; NOCDATA merges
 * CDATA into text (a "]]>" split over two sections reads as one text);
 * NOERROR/NOWARNING keep libxml2 from printing to stderr (the first error
 * is kept in info). Deliberately absent: NOENT, DTDLOAD, DTDATTR,
 * XINCLUDE, HUGE. */
#define XML_OPTS                                                               \
    (XML_PARSE_NONET | XML_PARSE_IGNORE_ENC | XML_PARSE_NOCDATA |              \
     XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS)

int xml_safe_read_xml(const char *body, size_t len, const char *content_type,
                      const char *url, size_t max_body, xmlDoc **doc,
                      struct xml_safe_info *info, char *errbuf, size_t errsz)
{
    struct ig_buf text;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDoc *d = NULL;
    int rc;

    rc = gate(body, len, content_type, max_body, CHARSET_DOC_XML, &text, doc,
              info, errbuf, errsz);
    if (rc < 0) {
        goto out;
    }
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        rc = IG_EIO;
        snprintf(errbuf, errsz, "libxml2: cannot create a parser");
        goto out;
    }
    d = xmlCtxtReadMemory(ctxt, text.data, (int)text.len, url, "UTF-8",
                          XML_OPTS);
    if (d == NULL || !ctxt->wellFormed) {
        copy_error(&ctxt->lastError, info);
        xmlFreeDoc(d);
        xmlCtxtReset(ctxt);
        d = xmlCtxtReadMemory(ctxt, text.data, (int)text.len, url, "UTF-8",
                              XML_OPTS | XML_PARSE_RECOVER);
        info->recovered = true;
    }
    if (d == NULL || xmlDocGetRootElement(d) == NULL) {
        xmlFreeDoc(d);
        d = NULL;
        rc = IG_EPARSE;
        snprintf(errbuf, errsz, "not well-formed XML: %s (line %d)",
                 info->error[0] ? info->error : "no root element",
                 info->error_line);
        goto out;
    }
    *doc = d;
    rc = IG_OK;
out:
    if (ctxt != NULL) {
        xmlFreeParserCtxt(ctxt);
    }
    ig_buf_fini(&text);
    return rc;
}

#define HTML_OPTS                                                              \
    (HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |            \
     HTML_PARSE_RECOVER)

int xml_safe_read_html(const char *body, size_t len, const char *content_type,
                       const char *url, size_t max_body, xmlDoc **doc,
                       struct xml_safe_info *info, char *errbuf, size_t errsz)
{
    struct ig_buf text;
    htmlParserCtxtPtr ctxt = NULL;
    xmlDoc *d = NULL;
    int rc;

    rc = gate(body, len, content_type, max_body, CHARSET_DOC_HTML, &text, doc,
              info, errbuf, errsz);
    if (rc < 0) {
        goto out;
    }
    ctxt = htmlNewParserCtxt();
    if (ctxt == NULL) {
        rc = IG_EIO;
        snprintf(errbuf, errsz, "libxml2: cannot create a parser");
        goto out;
    }
    d = htmlCtxtReadMemory(ctxt, text.data, (int)text.len, url, "UTF-8",
                           HTML_OPTS);
    /* The HTML parser reports every sloppy page; only a stop before the
     * end (the depth limit sets XML_ERR_INTERNAL_ERROR and halts) means
     * the tree is partial. */
    if (ctxt->lastError.code == XML_ERR_INTERNAL_ERROR) {
        copy_error(&ctxt->lastError, info);
        info->recovered = true;
    }
    if (d == NULL || xmlDocGetRootElement(d) == NULL) {
        xmlFreeDoc(d);
        d = NULL;
        rc = IG_EPARSE;
        snprintf(errbuf, errsz, "unparseable HTML");
        goto out;
    }
    *doc = d;
    rc = IG_OK;
out:
    if (ctxt != NULL) {
        htmlFreeParserCtxt(ctxt);
    }
    ig_buf_fini(&text);
    return rc;
}

xmlDoc *xml_safe_read_html_fragment(const char *html, size_t len)
{
    struct ig_buf text;
    bool repaired = false;
    char err[8];
    xmlDoc *d = NULL;

    xml_safe_init();
    if (len > (size_t)INT32_MAX) {
        return NULL;
    }
    ig_buf_init(&text, 0);
    if (prepare(html, len, false, &text, &repaired, err, sizeof(err)) ==
        IG_OK) {
        d = htmlReadMemory(text.data != NULL ? text.data : "", (int)text.len,
                           NULL, "UTF-8", HTML_OPTS);
    }
    ig_buf_fini(&text);
    return d;
}

int xml_safe_add_capped(struct ig_buf *out, const char *s, size_t n)
{
    if (ig_buf_add(out, s, n) == IG_OK) {
        return IG_OK;
    }
    /* Keep what fits, cut on a character boundary. */
    size_t room = out->max_len > out->len ? out->max_len - out->len : 0;
    size_t k = ig_utf8_trim_len(s, n, room);
    if (k > 0) {
        ig_buf_add(out, s, k);
    }
    return IG_E2BIG;
}

int xml_safe_node_text(const xmlNode *node, struct ig_buf *out)
{
    const xmlNode *n = node->children;
    size_t depth = 1; /* of n below node */
    while (n != NULL) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
            n->content != NULL) {
            const char *t = (const char *)n->content;
            int rc = xml_safe_add_capped(out, t, strlen(t));
            if (rc < 0) {
                return rc;
            }
        }
        /* Elements only: entity reference nodes are never entered. */
        if (n->type == XML_ELEMENT_NODE && n->children != NULL &&
            depth < XML_SAFE_MAX_DEPTH) {
            n = n->children;
            depth++;
            continue;
        }
        while (n->next == NULL) {
            n = n->parent;
            depth--;
            if (n == NULL || n == node || depth == 0) {
                return IG_OK;
            }
        }
        n = n->next;
    }
    return IG_OK;
}

void xml_safe_flag_item(struct ig_item *it, const struct xml_safe_info *info)
{
    if (info->recovered) {
        ig_item_flag(it, IG_ITEM_F_PARTIAL,
                     "recovered from a damaged document");
    }
    if (info->repaired || info->cs.repaired) {
        ig_item_flag(it, IG_ITEM_F_REPAIRED,
                     info->cs.repaired
                         ? "invalid byte sequences replaced by U+FFFD"
                         : "illegal control characters dropped");
    }
    if (info->cs.recoded) {
        ig_item_flag(it, IG_ITEM_F_RECODED, "decoded from a legacy charset");
    }
    if (info->cs.mismatch) {
        /* A wrong or unknown declaration is survivable (the bytes told us
         * the truth) but worth a reviewer's glance: flag, keep the label. */
        ig_item_add_field(it, "charset_mismatch", info->cs.declared);
        ig_item_flag(it, IG_ITEM_F_CHARSET,
                     "declared charset is wrong or unknown");
    }
}
