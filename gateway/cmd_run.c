/* cmd_run.c — `intake run`: the gateway daemon (and its one-shot mode).
 *
 * Reads gateway.conf, sets up logging as the config says (JSON lines on
 * stderr by default: journald and log collectors read them as they are),
 * builds the engine and runs it until SIGTERM/SIGINT or, with --once, until
 * every source was polled once and drained. --check-config builds nothing:
 * it reads the config, the rules and the sources, reports every problem as
 * file:line:col and exits 0 or 2.
 */
#include "gateway/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/conf.h"
#include "gateway/dedup.h"
#include "gateway/forward.h"
#include "gateway/gateway.h"
#include "gateway/spool.h"

/* Every section's keys, from the same tables that parse them: the
 * reference in docs/gateway.md is this output. */
static void print_reference(FILE *out)
{
    static const char *const kinds[] = {"stream", "webhook", "file"};
    gw_conf_print_reference(out);
    fprintf(out, "\n[dedup]\n");
    ig_cfg_print_schema(dedup_cfg_schema, out);
    fprintf(out, "\n[spool]\n");
    ig_cfg_print_schema(spool_cfg_schema, out);
    fprintf(out, "\n[forward NAME]  (every kind)\n");
    ig_cfg_print_schema(forwarder_cfg_schema, out);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const struct forwarder_ops *ops = forwarder_kind(kinds[i]);
        if (ops && ops->schema && ops->schema[0].name) {
            fprintf(out, "\n[forward NAME]  kind = %s\n", kinds[i]);
            ig_cfg_print_schema(ops->schema, out);
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: intake run -c gateway.conf [options]\n"
            "\n"
            "Runs the gateway: polls every configured source, classifies\n"
            "each new item, deduplicates it in Redis and forwards hazard\n"
            "candidates (Redis Stream, webhook, file). A source's cursor\n"
            "advances only after its items are forwarded or spooled.\n"
            "\n"
            "options:\n"
            "  -c, --config FILE   gateway.conf (default: $INTAKE_CONFIG,\n"
            "                      else /etc/intake/gateway.conf)\n"
            "  -r, --rules DIR     rules directory (overrides the config)\n"
            "      --once          poll every source once, drain, exit\n"
            "      --check-config  check config, rules and sources; exit\n"
            "      --help-config   print every config key with its default\n"
            "      --log-level L   debug|info|warn|error (overrides config)\n"
            "      --log-text      plain-text logs instead of JSON\n"
            "  -h, --help          this text\n"
            "\n"
            "signals: SIGHUP reloads rules and sources (build, then swap;\n"
            "a broken set is rejected and the old one stays); SIGTERM and\n"
            "SIGINT drain in-flight items and exit.\n"
            "exit status: 0 ok, 2 usage/config error, 3 runtime failure\n"
            "(with --once: some poll could not be committed, its items\n"
            "neither forwarded nor spooled in time; it is fetched again\n"
            "next run. Spooled items are safe: exit 0).\n");
}

int cmd_run(int argc, char **argv)
{
    enum { OPT_ONCE = 256, OPT_CHECK, OPT_HELPCFG, OPT_LEVEL, OPT_TEXT };
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"rules", required_argument, NULL, 'r'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"help-config", no_argument, NULL, OPT_HELPCFG},
        {"log-level", required_argument, NULL, OPT_LEVEL},
        {"log-text", no_argument, NULL, OPT_TEXT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = getenv("INTAKE_CONFIG");
    const char *level = NULL;
    bool check = false, text_logs = false;
    struct gw_opts o = {.default_rules_dir = cmd_default_rules_dir()};
    int ch;

    /* getopt names the program by argv[0], here "run": say which. */
    static char prog[] = "intake run";
    argv[0] = prog;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:r:h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'r':
            o.rules_dir = optarg;
            break;
        case OPT_ONCE:
            o.once = true;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_HELPCFG:
            print_reference(stdout);
            return IG_EXIT_OK;
        case OPT_LEVEL:
            level = optarg;
            break;
        case OPT_TEXT:
            text_logs = true;
            break;
        case 'h':
            usage(stdout);
            return IG_EXIT_OK;
        default:
            usage(stderr);
            return IG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "intake run: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return IG_EXIT_USAGE;
    }
    if (!config || !*config) {
        config = "/etc/intake/gateway.conf";
    }
    /* Checked before the config: --check-config (systemd's ExecStartPre)
     * said "ok" to a --log-level the start after it then refused. */
    enum ig_log_level lvl = IG_LOG_INFO;
    if (level && ig_log_parse_level(level, &lvl) < 0) {
        fprintf(stderr,
                "intake run: bad --log-level '%s' (debug, info, warn or "
                "error)\n",
                level);
        return IG_EXIT_USAGE;
    }

    /* Config problems are for a human at a terminal: plain text. */
    ig_log_set_format(IG_LOG_FMT_TEXT);
    struct ig_diags d;
    ig_diags_init(&d);
    struct gw_conf *conf = NULL;
    struct gw *g = NULL;
    int status = IG_EXIT_OK;
    int rc = gw_conf_load(config, &conf, &d);
    if (rc == IG_OK) {
        rc = gw_check(conf, &o, &d);
    }
    ig_diags_print(&d, stderr);
    if (rc < 0) {
        fprintf(stderr,
                "intake run: %s: configuration rejected (%zu "
                "error%s)\n",
                config, d.nerrors, d.nerrors == 1 ? "" : "s");
        status = IG_EXIT_USAGE;
        goto out;
    }
    if (check) {
        printf("%s: configuration ok\n", config);
        goto out;
    }

    /* Logging as configured; command-line flags win. */
    if (!level && ig_log_parse_level(conf->gw.log_level, &lvl) < 0) {
        fprintf(stderr, "intake run: %s: bad log_level '%s'\n", config,
                conf->gw.log_level);
        status = IG_EXIT_USAGE;
        goto out;
    }
    ig_log_set_level(lvl);
    bool json = !text_logs && strcmp(conf->gw.log_format, "json") == 0;
    ig_log_set_format(json ? IG_LOG_FMT_JSON : IG_LOG_FMT_TEXT);

    ig_diags_fini(&d);
    ig_diags_init(&d);
    rc = gw_new(conf, &o, &g, &d);
    conf = NULL;
    if (rc < 0) {
        /* The check above already printed the warnings; these are the
         * errors of building for real (bind, state dir, spool). */
        ig_diags_print(&d, stderr);
        ig_error("gateway", "cannot start: %s", ig_strerror(rc));
        status = rc == IG_EINVAL ? IG_EXIT_USAGE : IG_EXIT_RUNTIME;
        goto out;
    }
    rc = gw_run(g);
    if (rc < 0) {
        status = IG_EXIT_RUNTIME;
    }
out:
    gw_free(g);
    gw_conf_free(conf);
    ig_diags_fini(&d);
    return status;
}
