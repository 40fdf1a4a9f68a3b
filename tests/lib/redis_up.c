/* redis_up.c — a throwaway redis-server for tests (see redis_up.h).
 *
 * The server is exec'd directly (no shell, no daemonize) so its PID is our
 * child's PID and stopping it never depends on a pid file or on a process
 * name. Readiness is a real PING over the unix socket with hiredis.
 */
#include "tests/lib/redis_up.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tests/lib/test_dirs.h"

struct redis_up {
    char dir[256];
    char sock[300];
    char conf[300];
    char user[64];
    char password[128];
    int port;
    pid_t pid;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Binds 127.0.0.1:0 to learn a free port. The port is released before the
 * server binds it; another process could take it in between, which a test
 * machine makes unlikely enough. */
static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

static int write_conf(struct redis_up *r, const struct redis_up_opts *o)
{
    FILE *f = fopen(r->conf, "w");

    if (!f) {
        return -1;
    }
    fprintf(f, "daemonize no\n");
    fprintf(f, "dir %s\n", r->dir);
    fprintf(f, "unixsocket %s\nunixsocketperm 700\n", r->sock);
    fprintf(f, "port %d\n", r->port);
    if (r->port) {
        fprintf(f, "bind 127.0.0.1\n");
    }
    fprintf(f, "save \"\"\n");
    fprintf(f, "logfile %s/redis.log\n", r->dir);
    fprintf(f, "databases 16\n");
    if (o && o->aof) {
        fprintf(f, "appendonly yes\nappendfsync everysec\n");
    }
    if (r->user[0]) {
        fprintf(f, "user default off\n");
        /* The readiness check needs PING and AUTH whatever the rules. */
        fprintf(f, "user %s on >%s %s +ping +auth\n", r->user, r->password,
                o && o->acl ? o->acl : "~* &* +@all");
    }
    if (o && o->extra) {
        fprintf(f, "%s\n", o->extra);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* True once the server answers PING (after AUTH when an ACL user is set). */
static int ping(const struct redis_up *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
    redisReply *rep;
    int ok = 0;

    if (!c || c->err) {
        goto out;
    }
    if (r->user[0]) {
        rep = redisCommand(c, "AUTH %s %s", r->user, r->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            freeReplyObject(rep);
            goto out;
        }
        freeReplyObject(rep);
    }
    rep = redisCommand(c, "PING");
    ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
out:
    if (c) {
        redisFree(c);
    }
    return ok;
}

static int spawn(struct redis_up *r)
{
    const char *bin = getenv("REDIS_SERVER");
    pid_t parent = getpid();
    pid_t pid;
    int i;

    if (!bin || !*bin) {
        bin = "redis-server";
    }
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);

        /* The server dies with the test, even when the test is killed or
         * an assertion skipped its redis_up_stop(). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(127);
        }

        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        execlp(bin, bin, r->conf, (char *)NULL);
        fprintf(stderr, "redis_up: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    r->pid = pid;
    /* Poll for up to 10 s: a cold start with AOF replay is well under. */
    for (i = 0; i < 1000; i++) {
        int st;

        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr,
                    "redis_up: redis-server exited (see %s/redis.log)"
                    "\n",
                    r->dir);
            r->pid = 0;
            return -1;
        }
        if (ping(r)) {
            return 0;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "redis_up: redis-server did not answer in 10 s\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    r->pid = 0;
    return -1;
}

struct redis_up *redis_up_start(const struct redis_up_opts *o)
{
    struct redis_up *r = calloc(1, sizeof(*r));
    const char *tmp = getenv("TMPDIR");

    if (!r) {
        return NULL;
    }
    if (!tmp || !*tmp) {
        tmp = "/tmp";
    }
    snprintf(r->dir, sizeof(r->dir), "%s/redis-up-XXXXXX", tmp);
    if (!mkdtemp(r->dir)) {
        fprintf(stderr, "redis_up: mkdtemp: %s\n", strerror(errno));
        free(r);
        return NULL;
    }
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    snprintf(r->conf, sizeof(r->conf), "%s/redis.conf", r->dir);
    if (o && o->user) {
        snprintf(r->user, sizeof(r->user), "%s", o->user);
        snprintf(r->password, sizeof(r->password), "%s",
                 o->password ? o->password : "");
    }
    if (o && o->tcp) {
        r->port = free_port();
        if (r->port <= 0) {
            goto fail;
        }
    }
    if (write_conf(r, o) < 0 || spawn(r) < 0) {
        goto fail;
    }
    return r;
fail:
    redis_up_stop(r);
    return NULL;
}

int redis_up_halt(struct redis_up *r, bool kill9)
{
    int i;

    if (!r || r->pid <= 0) {
        return -1;
    }
    kill(r->pid, kill9 ? SIGKILL : SIGTERM);
    for (i = 0; i < 500; i++) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return 0;
        }
        sleep_ms(10);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
    return 0;
}

int redis_up_restart(struct redis_up *r)
{
    if (!r) {
        return -1;
    }
    if (r->pid > 0) {
        redis_up_halt(r, false);
    }
    return spawn(r);
}

void redis_up_stop(struct redis_up *r)
{
    if (!r) {
        return;
    }
    if (r->pid > 0) {
        redis_up_halt(r, false);
    }
    if (r->dir[0]) {
        /* A tree: Redis 7 keeps its AOF as a directory of parts plus a
         * manifest. */
        test_rm_tree(r->dir);
    }
    free(r);
}

const char *redis_up_socket(const struct redis_up *r)
{
    return r->sock;
}

int redis_up_port(const struct redis_up *r)
{
    return r->port;
}

const char *redis_up_dir(const struct redis_up *r)
{
    return r->dir;
}

pid_t redis_up_pid(const struct redis_up *r)
{
    return r->pid;
}
