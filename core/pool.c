/* pool.c — finished blocks of one size kept for reuse (see pool.h). */
#include "core/pool.h"

#include <string.h>

#include "core/mem.h"

void ig_pool_init(struct ig_pool *p, size_t size, size_t max)
{
    p->head = NULL;
    p->n = 0;
    p->max = max;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
}

void ig_pool_fini(struct ig_pool *p)
{
    while (p->head) {
        void *b = p->head;

        IG_UNPOISON(b, p->size);
        memcpy(&p->head, b, sizeof(void *));
        ig_free(b);
    }
    p->n = 0;
}

void *ig_pool_get(struct ig_pool *p)
{
    void *b = p->head;

    if (!b) {
        return ig_calloc(1, p->size);
    }
    memcpy(&p->head, b, sizeof(void *));
    p->n--;
    IG_UNPOISON(b, p->size);
    memset(b, 0, p->size);
    return b;
}

void ig_pool_put(struct ig_pool *p, void *b)
{
    if (!b) {
        return;
    }
    if (p->n >= p->max) {
        ig_free(b);
        return;
    }
    memcpy(b, &p->head, sizeof(void *));
    p->head = b;
    p->n++;
    /* All but the link: a use after giving back is reported. */
    IG_POISON((char *)b + sizeof(void *), p->size - sizeof(void *));
}
