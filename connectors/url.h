/* url.h — link clean-up and resolution for the parsing kinds.
 *
 * Internal to connectors/. Links in feeds and pages come with surrounding
 * whitespace, raw non-ASCII path segments, relative forms of every kind
 * and the occasional javascript: pseudo-link; this turns them into
 * absolute, ASCII-only URLs or nothing.
 */
#ifndef IG_CONNECTORS_URL_H
#define IG_CONNECTORS_URL_H

#include <stddef.h>

#include "core/buf.h"

/* Resolves ref against base (RFC 3986; base may be NULL) after trimming
 * whitespace and percent-encoding non-ASCII bytes, spaces and quotes as
 * UTF-8. Appends the result to out and returns IG_OK; returns IG_EINVAL
 * (out untouched) for empty refs, unsafe schemes (javascript:, vbscript:,
 * data:, file:) and unresolvable input. A relative ref with no base is
 * kept relative. Any thread. */
int url_resolve(const char *base, const char *ref, size_t ref_len,
                struct ig_buf *out);

#endif
