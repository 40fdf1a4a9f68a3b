/* push.h — items pushed over HTTP (POST /v1/items), parsed from JSON.
 *
 * Kept beside connector.h rather than in it while that header is being
 * extended by the connector engineers; it could move into connector.h as
 * one declaration. The JSON format is described in push.c and
 * docs/gateway.md.
 */
#ifndef IG_CONNECTORS_PUSH_H
#define IG_CONNECTORS_PUSH_H

#include <stddef.h>

#include "connectors/connector.h"

/* Parses body (one JSON object or an array of objects) into items handed
 * to sink->emit in order (ownership transferred), stamped with source_id
 * and channel unless an item names its own. An item that is not usable
 * (no id, no title and no text, bad channel) is skipped: sink->nskipped
 * grows and, when sink->diags is set, an error whose line is the item's
 * 1-based index in the batch says why. Returns IG_OK, IG_EPARSE (not
 * JSON, or neither object nor array), IG_E2BIG (more than max_items
 * items; nothing emitted; 0 = no cap) or the emit callback's error. Any
 * thread. */
int connector_push_parse(const char *body, size_t len, const char *source_id,
                         const char *channel, size_t max_items,
                         struct connector_sink *sink);

#endif
