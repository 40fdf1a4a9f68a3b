/* log.h — leveled logging to stderr, as JSON lines or plain text.
 *
 * The daemon logs one JSON object per line ({"ts","level","comp","msg"});
 * CLI commands switch to plain text ("intake: comp: msg"). The level is
 * checked before the arguments are formatted, so a disabled debug line costs
 * one comparison. Log once, where the context is known; pass the component
 * as a prefix such as "connector:rss:city-news". Never log credentials.
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef IG_CORE_LOG_H
#define IG_CORE_LOG_H

#include <stdbool.h>

enum ig_log_level {
    IG_LOG_DEBUG = 0,
    IG_LOG_INFO = 1,
    IG_LOG_WARN = 2,
    IG_LOG_ERROR = 3,
    IG_LOG_OFF = 4,
};

enum ig_log_format {
    IG_LOG_FMT_TEXT = 0,
    IG_LOG_FMT_JSON = 1,
};

void ig_log_set_level(enum ig_log_level lvl);
enum ig_log_level ig_log_get_level(void);
void ig_log_set_format(enum ig_log_format fmt);
/* Parses "debug", "info", "warn", "error", "off". Returns IG_OK or
 * IG_EINVAL (out untouched). */
int ig_log_parse_level(const char *s, enum ig_log_level *out);
/* Redirects output to fd (default 2). For tests. */
void ig_log_set_fd(int fd);

static inline bool ig_log_enabled(enum ig_log_level lvl)
{
    return lvl >= ig_log_get_level();
}

void ig_log_write(enum ig_log_level lvl, const char *comp, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

#define ig_log(lvl, comp, ...)                                                 \
    do {                                                                       \
        if (ig_log_enabled(lvl)) {                                             \
            ig_log_write((lvl), (comp), __VA_ARGS__);                          \
        }                                                                      \
    } while (0)

#define ig_debug(comp, ...) ig_log(IG_LOG_DEBUG, comp, __VA_ARGS__)
#define ig_info(comp, ...) ig_log(IG_LOG_INFO, comp, __VA_ARGS__)
#define ig_warn(comp, ...) ig_log(IG_LOG_WARN, comp, __VA_ARGS__)
#define ig_error(comp, ...) ig_log(IG_LOG_ERROR, comp, __VA_ARGS__)

#endif
