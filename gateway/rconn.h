/* rconn.h — one managed, pipelined Redis connection on the loop (internal
 * to gateway/: dedup.c, review.c and forward_stream.c).
 *
 * What every Redis user of the gateway needs: connect over TCP or a unix
 * socket, AUTH (ACL user + password, or password only), SELECT, SCRIPT
 * LOAD of the caller's Lua scripts, and all of that again after every
 * reconnect, with exponential backoff (retry_ms doubling up to 30 s). A
 * watchdog disconnects when a command stays unanswered for timeout_ms,
 * which fails the commands in flight with IG_EAGAIN. The socket and the
 * pipelining are rconn's own; replies are parsed by hiredis's reader.
 *
 * Scripts run with EVALSHA once SCRIPT LOAD has answered, with EVAL
 * before that; a NOSCRIPT answer (someone ran SCRIPT FLUSH) reloads the
 * script and reports IG_EAGAIN so the caller simply retries.
 *
 * Replies are handed over as `const void *` (a redisReply *): hiredis types
 * stay out of headers. Loop thread only. Writes never raise SIGPIPE.
 */
#ifndef IG_GATEWAY_RCONN_H
#define IG_GATEWAY_RCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct redis_cfg;
struct rconn;

/* Completion of one command: called exactly once per accepted command, on
 * the loop thread, never from inside the call that issued it. status IG_OK
 * (reply is a redisReply * that is not an error; borrowed for the
 * callback), IG_EIO (Redis answered an error; reply holds it), IG_EAGAIN
 * (connection lost, timed out, shutting down, NOSCRIPT; reply NULL). */
typedef void (*rconn_cb)(void *ud, int status, const void *reply);

/* Creates the connection and starts connecting. scripts (NULL-terminated
 * Lua sources, borrowed: must outlive rc) are loaded on every connect.
 * comp is the log prefix ("dedup", "forward:stream:x"). cfg is copied.
 * Never fails for a well-formed cfg; returns NULL for a bad one. */
struct rconn *rconn_new(struct event_base *base, const struct redis_cfg *cfg,
                        const char *comp, const char *const *scripts);

/* Fails every command in flight with IG_EAGAIN (callbacks run inside this
 * call), closes and frees. NULL is a no-op. Not from inside a callback. */
void rconn_free(struct rconn *rc);

/* Sends one command (argv form, binary safe; argvlen NULL: every argument
 * is a NUL-terminated string). Returns IG_OK (cb will be called), or
 * IG_EAGAIN when there is no connection right now (cb not called). */
int rconn_cmd(struct rconn *rc, rconn_cb cb, void *ud, int argc,
              const char **argv, const size_t *argvlen);

/* The callback for the commands inside MULTI ... EXEC (MULTI's OK, each
 * QUEUED): it does nothing, because an error there (OOM, an ACL refusal)
 * makes EXEC fail, and EXEC's callback reports it. */
void rconn_queued(void *ud, int status, const void *reply);

/* For EXEC's callback: NULL when the transaction ran and none of its
 * commands failed; otherwise why (borrowed from reply, or a constant):
 * the first failed command's error, "transaction aborted" (EXEC answered
 * nil), Redis's refusal of EXEC itself (IG_EIO), or "redis unreachable"
 * (IG_EAGAIN). */
const char *rconn_exec_failed(int status, const void *reply);

/* Runs script number idx with nkeys keys first in argv. As rconn_cmd. */
int rconn_script(struct rconn *rc, size_t idx, rconn_cb cb, void *ud, int nkeys,
                 int argc, const char **argv, const size_t *argvlen);

/* True when connected, authenticated and the database selected. */
bool rconn_up(const struct rconn *rc);
/* True when rconn_cmd() and rconn_script() would accept a command now
 * (connected or connecting: commands queue behind the handshake). */
bool rconn_accepting(const struct rconn *rc);
/* Commands sent and not answered yet. */
size_t rconn_pending(const struct rconn *rc);
/* Connections established since creation (the first counts). */
uint64_t rconn_connects(const struct rconn *rc);

#endif
