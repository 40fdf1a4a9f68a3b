/* sources.h — the configured sources: sources.d/NAME.conf -> connectors.
 *
 * A source set is loaded from one file or a folder of NAME.conf files
 * (sorted) through core/cfg.h. Each `[source ID]` section is one source: the common
 * keys (connector_common_schema: kind, url, interval, auth, ...) plus the
 * keys of its kind (ops->schema). Unknown keys, bad values, duplicate ids
 * and unknown kinds are all collected as file:line:col diagnostics before
 * the set is refused. Sections of other types are errors too (a sources
 * file holds sources only).
 *
 * Source ids are 1..64 characters of [A-Za-z0-9._-] and do not start with
 * a dot: they name the state files (gateway/state.h).
 *
 * A loaded set is immutable; a reload (SIGHUP) loads a new set and hands it
 * to sched_reload(), which keeps the state of sources whose configuration
 * did not change. Every function here runs on one thread; nothing blocks
 * except reading the files.
 */
#ifndef IG_GATEWAY_SOURCES_H
#define IG_GATEWAY_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/connector.h"

struct ig_diags;

struct source {
    struct connector conn;            /* the instance; conn.id is the id */
    const struct ig_cfg_section *sec; /* borrowed from the set's doc */
    char *fingerprint;                /* owned: canonical text of the
                                       * section, to detect changes */
};

struct source_set {
    struct source **v; /* owned */
    size_t n;
    struct ig_cfg_doc doc; /* owned: the parsed files */
};

/* Loads path (a file, or every .conf file of a folder). All problems go to d.
 * Returns IG_OK and a new set in *out, or IG_EINVAL/IG_EIO (*out = NULL)
 * when any error was found. Warnings (a disabled source with problems in
 * its kind keys is still an error) do not fail the load. */
int source_set_load(const char *path, struct source_set **out,
                    struct ig_diags *d);

/* Frees the set and its connectors. NULL is a no-op. */
void source_set_free(struct source_set *set);

/* Finds a source by id; NULL when absent. Borrowed from the set. */
struct source *source_set_find(const struct source_set *set, const char *id);

/* True when id is a valid source id (see above). */
bool source_id_valid(const char *id);

/* Resolves the source's auth reference into a header line
 * "Name: Scheme secret" in *out (ig_free). The secret is read from the
 * environment variable or the file (first line, trimmed) at each call, so
 * a rotated token is picked up without a reload. Returns IG_OK with
 * *out = NULL when auth is "none"/unset, IG_OK with the header, or
 * IG_ENOENT/IG_EINVAL (variable unset, file unreadable or empty) with a
 * message in *why (static text; never the secret). */
int source_auth_header(const struct source *s, char **out, const char **why);

/* The default sources path when -s is not given: $INTAKE_SOURCES, else
 * "sources.d". Static string. */
const char *source_default_path(void);

/* The built-in kind names, ", "-separated (malloc'd), and the one closest
 * to a mistyped kind (NULL when none is close), for "unknown kind"
 * messages. */
char *source_kind_list(void);
const char *source_kind_closest(const char *kind);

#endif
