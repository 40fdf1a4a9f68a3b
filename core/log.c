/* log.c — leveled logging to stderr (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/jsonw.h"

static enum ig_log_level g_level = IG_LOG_INFO;
static enum ig_log_format g_format = IG_LOG_FMT_TEXT;
static int g_fd = 2;

void ig_log_set_level(enum ig_log_level lvl)
{
    g_level = lvl;
}

enum ig_log_level ig_log_get_level(void)
{
    return g_level;
}

void ig_log_set_format(enum ig_log_format fmt)
{
    g_format = fmt;
}

void ig_log_set_fd(int fd)
{
    g_fd = fd;
}

int ig_log_parse_level(const char *s, enum ig_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum ig_log_level)i;
            return IG_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = IG_LOG_WARN;
        return IG_OK;
    }
    return IG_EINVAL;
}

static const char *level_name(enum ig_log_level lvl)
{
    switch (lvl) {
    case IG_LOG_DEBUG: return "debug";
    case IG_LOG_INFO:  return "info";
    case IG_LOG_WARN:  return "warn";
    case IG_LOG_ERROR: return "error";
    default:           return "off";
    }
}

void ig_log_write(enum ig_log_level lvl, const char *comp, const char *fmt,
                  ...)
{
    struct ig_buf msg;
    ig_buf_init(&msg, 64 * 1024);
    va_list ap;
    va_start(ap, fmt);
    /* A message over the cap is dropped to its prefix rather than lost. */
    if (ig_buf_vaddf(&msg, fmt, ap) < 0) {
        ig_buf_adds(&msg, "(log message too long)");
    }
    va_end(ap);

    struct ig_buf line;
    ig_buf_init(&line, 0);
    if (g_format == IG_LOG_FMT_JSON) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char tbuf[128];
        snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
        struct ig_jsonw w;
        ig_jsonw_init(&w, &line);
        ig_jsonw_obj_open(&w);
        ig_jsonw_kstr(&w, "ts", tbuf);
        ig_jsonw_kstr(&w, "level", level_name(lvl));
        if (comp) {
            ig_jsonw_kstr(&w, "comp", comp);
        }
        ig_jsonw_key(&w, "msg");
        ig_jsonw_strn(&w, msg.data ? msg.data : "", msg.len);
        ig_jsonw_obj_close(&w);
        ig_buf_addc(&line, '\n');
    } else {
        ig_buf_addf(&line, "intake: %s%s%s%s\n",
                    lvl >= IG_LOG_WARN ? level_name(lvl) : "",
                    lvl >= IG_LOG_WARN ? ": " : "",
                    comp ? comp : "", comp ? ": " : "");
        line.len--; /* drop the newline, re-added after the message */
        ig_buf_add(&line, msg.data ? msg.data : "", msg.len);
        ig_buf_addc(&line, '\n');
    }
    ssize_t off = 0;
    while ((size_t)off < line.len) {
        ssize_t n = write(g_fd, line.data + off, line.len - (size_t)off);
        if (n <= 0) {
            break;
        }
        off += n;
    }
    ig_buf_fini(&line);
    ig_buf_fini(&msg);
}
