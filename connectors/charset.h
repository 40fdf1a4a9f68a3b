/* charset.h — turns fetched bytes in any common charset into valid UTF-8.
 *
 * Used by the parsing kinds (rss, letters, web) before libxml2 sees a byte:
 * libxml2 is only ever handed UTF-8, so the charset decision is ours, the
 * same on every box, and tested. See charset.c for the precedence rules.
 */
#ifndef IG_CONNECTORS_CHARSET_H
#define IG_CONNECTORS_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* What kind of document the bytes are: decides where a declaration is
 * looked for (XML declaration or HTML <meta>). */
enum charset_doc {
    CHARSET_DOC_XML = 0,
    CHARSET_DOC_HTML = 1,
    CHARSET_DOC_TEXT = 2,
};

/* What charset_to_utf8() decided, for flags, logs and tests. */
struct charset_result {
    char used[32];     /* charset the bytes were decoded with */
    char declared[32]; /* first declaration found (BOM/HTTP/doc), or "" */
    bool bom;          /* a byte order mark was found and removed */
    bool mismatch;     /* the declaration was wrong or unknown */
    bool recoded;      /* decoded from a charset other than UTF-8 */
    bool repaired;     /* invalid sequences replaced by U+FFFD */
};

/* Returns the canonical name of a charset label ("gb2312" -> "GB18030",
 * "utf8" -> "UTF-8", "x-sjis" -> "SHIFT_JIS"), or NULL when the label is
 * unknown. The result is a static string. Any thread. */
const char *charset_canonical(const char *label, size_t len);

/* Extracts the charset parameter of a Content-Type header value into
 * out[outsz]. Returns true when one was found. */
bool charset_from_content_type(const char *ct, char *out, size_t outsz);

/* Decodes body[0..len) to UTF-8 and appends it to out (whose cap bounds
 * the output; IG_E2BIG when hit). The charset is chosen by: byte order
 * mark, then the Content-Type charset (content_type may be NULL), then the
 * XML declaration or HTML <meta> (per doc), then sniffing (UTF-16/32
 * without BOM from the first bytes). A declared charset is checked against
 * the bytes: when they do not decode strictly, UTF-8 and then GB18030 are
 * tried and res->mismatch is set; a declared legacy CJK charset whose bytes
 * are valid non-ASCII UTF-8 is read as UTF-8 (the common template lie).
 * gb2312/gbk/cp936/x-gbk are decoded as GB18030 (WHATWG); a lone 0x80 is
 * the euro sign. When nothing decodes cleanly, the best candidate is used
 * with U+FFFD replacements and res->repaired set. The BOM is dropped. NUL
 * and control characters are passed through (the callers decide).
 * Returns IG_OK, IG_E2BIG or IG_EINVAL. res is always filled. Any thread.
 */
int charset_to_utf8(const char *body, size_t len, const char *content_type,
                    enum charset_doc doc, struct ig_buf *out,
                    struct charset_result *res);

#endif
