/* connector.c — helpers shared by every connector kind's callers. */
#include "connectors/connector.h"

#include "core/mem.h"

void connector_req_fini(struct connector_req *r)
{
    if (!r) {
        return;
    }
    ig_free(r->url);
    for (size_t i = 0; i < r->nheaders; i++) {
        ig_free(r->headers[i]);
    }
    ig_free(r->headers);
    r->url = NULL;
    r->headers = NULL;
    r->nheaders = 0;
}
