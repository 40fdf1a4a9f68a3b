/* forward_int.h — what the built-in forwarder kinds share (forward_*.c
 * only; the rest of the program includes forward.h). */
#ifndef IG_GATEWAY_FORWARD_INT_H
#define IG_GATEWAY_FORWARD_INT_H

#include "gateway/forward.h"

extern const struct forwarder_ops forwarder_stream_ops;
extern const struct forwarder_ops forwarder_webhook_ops;
extern const struct forwarder_ops forwarder_file_ops;

/* Seconds until the Retry-After value s (delta-seconds or an HTTP-date)
 * in milliseconds, or 0 when absent/unparseable. */
int64_t forwarder_retry_after_ms(const char *s);

#endif
