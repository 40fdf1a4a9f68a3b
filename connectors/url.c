/* url.c — link clean-up and resolution (libxml2's RFC 3986 resolver).
 *
 * Design: escaping happens before resolution, because xmlBuildURI()
 * refuses raw non-ASCII and spaces; '%' is left alone so that already
 * escaped links are not escaped twice. Only the scheme decides whether a
 * link is unsafe: anything that is not a navigable web or mail link is
 * dropped rather than stored, so no later consumer can be tricked into
 * running or opening it.
 */
#include "connectors/url.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <libxml/uri.h>
#include <libxml/xmlmemory.h>

#include "core/err.h"

static bool unsafe_scheme(const char *s)
{
    static const char *const bad[] = {
        "javascript:", "vbscript:", "data:", "file:", "about:", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        if (strncasecmp(s, bad[i], strlen(bad[i])) == 0) {
            return true;
        }
    }
    return false;
}

int url_resolve(const char *base, const char *ref, size_t ref_len,
                struct ig_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    struct ig_buf esc;
    int rc = IG_EINVAL;
    xmlChar *u = NULL;

    if (ref == NULL) {
        return IG_EINVAL;
    }
    while (ref_len > 0 && isspace((unsigned char)*ref)) {
        ref++;
        ref_len--;
    }
    while (ref_len > 0 && isspace((unsigned char)ref[ref_len - 1])) {
        ref_len--;
    }
    if (ref_len == 0 || ref_len > 8192) {
        return IG_EINVAL;
    }
    ig_buf_init(&esc, 3 * ref_len + 1);
    for (size_t i = 0; i < ref_len; i++) {
        unsigned char c = (unsigned char)ref[i];
        if (c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' ||
            c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' ||
            c == '}' || c < 0x20) {
            if (c == '\n' || c == '\r' || c == '\t') {
                continue;
            }
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            ig_buf_add(&esc, e, 3);
        } else {
            ig_buf_addc(&esc, (char)c);
        }
    }
    if (esc.data == NULL || unsafe_scheme(esc.data)) {
        goto out;
    }
    u = xmlBuildURI((const xmlChar *)esc.data, (const xmlChar *)base);
    if (u == NULL || unsafe_scheme((const char *)u)) {
        goto out;
    }
    rc = ig_buf_adds(out, (const char *)u);
out:
    xmlFree(u);
    ig_buf_fini(&esc);
    return rc;
}
