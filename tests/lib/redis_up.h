/* redis_up.h — a throwaway redis-server for tests.
 *
 * Starts the Debian redis-server (or $REDIS_SERVER) in a fresh temporary
 * directory with a generated redis.conf: a unix socket always, a loopback
 * TCP port when asked (a free port picked by binding port 0), no RDB
 * snapshots, optional AOF (appendfsync everysec) and an optional ACL user.
 * The server runs in the foreground as our child; it is stopped by its PID
 * (SIGTERM, then SIGKILL after 5 s) and the directory is removed; if the
 * test process dies first, the kernel sends the server SIGTERM
 * (PR_SET_PDEATHSIG of the thread that started it). Startup
 * waits until the server answers PING (authenticated when an ACL user is
 * set), so a test can connect right away.
 *
 * A missing redis-server is a failure, not a skip: a Redis test skipped in
 * CI would pass without testing anything.
 */
#ifndef IG_TESTS_LIB_REDIS_UP_H
#define IG_TESTS_LIB_REDIS_UP_H

#include <stdbool.h>
#include <sys/types.h>

struct redis_up;

struct redis_up_opts {
    bool tcp;             /* also listen on 127.0.0.1:<free port> */
    bool aof;             /* appendonly yes, appendfsync everysec */
    const char *user;     /* ACL user with all rights ("on >password ~*
                             &* +@all"); the default user is disabled */
    const char *password; /* the user's password (required with user) */
    const char *acl;      /* the user's rules instead of "~* &* +@all"
                             (e.g. "~intake:* +get +set"), or NULL */
    const char *extra;    /* more redis.conf lines, or NULL */
};

/* Starts a server. opts may be NULL (unix socket only). Returns NULL and
 * prints why on stderr when it cannot start within 10 s. */
struct redis_up *redis_up_start(const struct redis_up_opts *opts);

/* Stops the server (SIGTERM, SIGKILL after 5 s), removes its directory,
 * frees r. NULL is a no-op. */
void redis_up_stop(struct redis_up *r);

/* Stops the server process only (SIGTERM; kill9: SIGKILL), keeping the
 * directory, port and socket path so redis_up_restart() can bring it back.
 * Returns 0 or -1. */
int redis_up_halt(struct redis_up *r, bool kill9);

/* Starts the server again on the same socket, port and directory (an AOF
 * is replayed). Returns 0 or -1. */
int redis_up_restart(struct redis_up *r);

const char *redis_up_socket(const struct redis_up *r); /* unix socket */
int redis_up_port(const struct redis_up *r);           /* 0: no TCP */
const char *redis_up_dir(const struct redis_up *r);    /* temp dir */
pid_t redis_up_pid(const struct redis_up *r);          /* 0: halted */

#endif
