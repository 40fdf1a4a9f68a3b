/* clock.h — the monotonic clock in milliseconds.
 *
 * Deadlines, watchdogs and back-off delays measure intervals, which must
 * not jump when the wall clock is set: CLOCK_MONOTONIC. One definition for
 * the modules that keep time without an event loop at hand (a connection,
 * a forwarder, the spool); the loop's own loop_now_ms() is this as well.
 */
#ifndef IG_CORE_CLOCK_H
#define IG_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds (since an unspecified start). */
static inline int64_t ig_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
