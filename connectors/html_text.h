/* html_text.h — HTML reduced to the text a reader sees (rss and web).
 *
 * Internal to connectors/. Script, style and similar elements are dropped,
 * block boundaries (p, br, div, li, td, ...) become spaces, entities are
 * decoded by the HTML parser, and whitespace runs (including U+00A0 and
 * U+3000) collapse to one space, trimmed.
 */
#ifndef IG_CONNECTORS_HTML_TEXT_H
#define IG_CONNECTORS_HTML_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/buf.h"

/* Parses the UTF-8 HTML fragment html[0..n) with the hardened HTML parser
 * and appends its visible text to out. Returns IG_OK, or IG_E2BIG when
 * out's cap was hit (the text up to the cap is kept: the caller flags the
 * field truncated). Any thread. */
int html_to_text(const char *html, size_t n, struct ig_buf *out);

/* Appends the visible text below node (an HTML or XHTML subtree: inline
 * XHTML content in Atom, a post in a web page). Iterative. Same return
 * values as html_to_text(). */
int html_node_to_text(const xmlNode *node, struct ig_buf *out);

/* Collapses whitespace runs (ASCII, U+00A0, U+3000, U+2000-U+200B) in
 * s[0..n) to one space and trims; appends to out. Same return values. */
int html_text_collapse(const char *s, size_t n, struct ig_buf *out);

/* True when s looks like markup worth an HTML parse: '<' followed by a
 * letter, '/' or '!'. Entities alone do not count: text such as "a &amp;
 * b" that was escaped once for XML is plain text, not HTML. */
bool html_text_has_markup(const char *s, size_t n);

#endif
