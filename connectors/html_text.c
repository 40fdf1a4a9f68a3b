/* html_text.c — visible text of an HTML fragment or subtree.
 *
 * Design: the fragment is parsed by libxml2's HTML parser through
 * xml_safe.c (never by regexes: tags inside attributes, comments and
 * CDATA defeat them), then one iterative walk collects text nodes, skips
 * elements that are not shown (script, style, head, template, ...), and
 * puts a newline at block boundaries. A second pass collapses whitespace,
 * so Chinese text, which has no word spaces, keeps its characters together
 * and only block boundaries differ between extractors. Images and links are
 * not kept: the item model has no place for them yet.
 */
#include "connectors/html_text.h"

#include <string.h>
#include <strings.h>

#include "connectors/xml_safe.h"
#include "core/err.h"
#include "core/text.h"

static const char *const hidden[] = {"script",   "style",    "head",   "title",
                                     "template", "noscript", "iframe", "object",
                                     "embed",    "select",   "button", NULL};

static const char *const blocks[] = {
    "p",       "br",     "div",    "li",      "ul",         "ol",
    "td",      "th",     "tr",     "table",   "h1",         "h2",
    "h3",      "h4",     "h5",     "h6",      "blockquote", "section",
    "article", "header", "footer", "pre",     "hr",         "dd",
    "dt",      "dl",     "form",   "address", "figure",     "figcaption",
    "nav",     "aside",  "main",   "caption", "tbody",      "thead",
    "tfoot",   "center", "body",   "html",    NULL};

static bool in_list(const xmlChar *name, const char *const *list)
{
    if (name == NULL) {
        return false;
    }
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcasecmp((const char *)name, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Collects raw text below node into out, with '\n' at block edges. */
static int collect(const xmlNode *node, struct ig_buf *out)
{
    const xmlNode *n = node->children;
    size_t depth = 1;
    int rc;

    while (n != NULL) {
        bool descend = false;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content != NULL) {
                const char *t = (const char *)n->content;
                rc = xml_safe_add_capped(out, t, strlen(t));
                if (rc < 0) {
                    return rc;
                }
            }
        } else if (n->type == XML_ELEMENT_NODE) {
            if (!in_list(n->name, hidden)) {
                if (in_list(n->name, blocks)) {
                    rc = ig_buf_addc(out, '\n');
                    if (rc < 0) {
                        return rc;
                    }
                }
                descend = n->children != NULL && depth < XML_SAFE_MAX_DEPTH;
            }
        }
        if (descend) {
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
            if (n->type == XML_ELEMENT_NODE && in_list(n->name, blocks)) {
                rc = ig_buf_addc(out, '\n');
                if (rc < 0) {
                    return rc;
                }
            }
        }
        if (n->type == XML_ELEMENT_NODE && in_list(n->name, blocks) &&
            n->children != NULL) {
            rc = ig_buf_addc(out, '\n');
            if (rc < 0) {
                return rc;
            }
        }
        n = n->next;
    }
    return IG_OK;
}

/* Length of a whitespace character at s, 0 if none. */
static size_t ws_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
        c == '\v') {
        return 1;
    }
    if (c == 0xC2 && n >= 2 && (unsigned char)s[1] == 0xA0) {
        return 2;
    }
    if (c == 0xE3 && n >= 3 && (unsigned char)s[1] == 0x80 &&
        (unsigned char)s[2] == 0x80) {
        return 3;
    }
    /* U+2000..U+200B: en/em/thin spaces and the zero-width space. */
    if (c == 0xE2 && n >= 3 && (unsigned char)s[1] == 0x80 &&
        (unsigned char)s[2] >= 0x80 && (unsigned char)s[2] <= 0x8B) {
        return 3;
    }
    return 0;
}

int html_text_collapse(const char *s, size_t n, struct ig_buf *out)
{
    bool pending = false;
    bool any = false;
    size_t i = 0;
    while (i < n) {
        size_t w = ws_len(s + i, n - i);
        if (w > 0) {
            pending = any;
            i += w;
            continue;
        }
        size_t j = i + 1;
        while (j < n && ws_len(s + j, n - j) == 0) {
            j++;
        }
        if (pending) {
            if (ig_buf_addc(out, ' ') < 0) {
                return IG_E2BIG;
            }
            pending = false;
        }
        /* Keep the copy on a character boundary if the cap is hit. */
        if (ig_buf_add(out, s + i, j - i) < 0) {
            size_t room = out->max_len > out->len ? out->max_len - out->len : 0;
            size_t k = ig_utf8_trim_len(s + i, j - i, room);
            if (k > 0) {
                ig_buf_add(out, s + i, k);
            }
            return IG_E2BIG;
        }
        any = true;
        i = j;
    }
    return IG_OK;
}

int html_node_to_text(const xmlNode *node, struct ig_buf *out)
{
    struct ig_buf raw;
    int rc;
    int rc2;
    /* The raw text may exceed the output cap only by its whitespace. */
    ig_buf_init(&raw, out->max_len ? out->max_len * 2 + 64 : 0);
    rc = collect(node, &raw);
    rc2 = html_text_collapse(raw.data != NULL ? raw.data : "", raw.len, out);
    ig_buf_fini(&raw);
    return rc < 0 ? rc : rc2;
}

int html_to_text(const char *html, size_t n, struct ig_buf *out)
{
    if (!html_text_has_markup(html, n)) {
        return html_text_collapse(html, n, out);
    }
    xmlDoc *d = xml_safe_read_html_fragment(html, n);
    if (d == NULL) {
        return html_text_collapse(html, n, out);
    }
    int rc = html_node_to_text((const xmlNode *)d, out);
    xmlFreeDoc(d);
    return rc;
}

bool html_text_has_markup(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '<') {
            char c = s[i + 1];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' ||
                c == '!') {
                return true;
            }
        }
    }
    return false;
}
