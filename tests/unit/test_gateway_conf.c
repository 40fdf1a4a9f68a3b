/* test_gateway_conf.c — gateway.conf reading, the example config against
 * the schema tables, secret references and the metrics text.
 *
 * The example test is what keeps gateway/gateway.conf.example honest:
 * every key of every schema table ([gateway], [redis], [api], [dedup],
 * [spool], the generic forwarder keys and each built-in forwarder kind's
 * keys) must appear in it, and it must load without a single error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "gateway/conf.h"
#include "gateway/metrics.h"
#if IG_TEST_EXAMPLE
#include "gateway/dedup.h"
#include "gateway/forward.h"
#include "gateway/spool.h"
#include "tests/lib/test_dirs.h"
#endif

#if IG_TEST_EXAMPLE
static char *example_path(void)
{
    const char *src = test_source_dir();
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/gateway/gateway.conf.example", src);
    return p;
}

static bool section_has(const struct gw_conf *c, const char *type,
                        const char *kind, const char *key)
{
    for (size_t i = 0; i < c->doc.n; i++) {
        const struct ig_cfg_section *s = &c->doc.s[i];
        if (strcmp(s->type, type) != 0) {
            continue;
        }
        if (kind) {
            const char *k = ig_cfg_get(s, "kind");
            if (!k || strcmp(k, kind) != 0) {
                continue;
            }
        }
        for (size_t j = 0; j < s->n; j++) {
            const char *e = s->e[j].key;
            size_t kl = strlen(key);
            if (strcmp(e, key) == 0 ||
                (strncmp(e, key, kl) == 0 && e[kl] == '.')) {
                return true;
            }
        }
    }
    return false;
}

static int missing_keys(const struct gw_conf *c, const char *type,
                        const char *kind, const struct ig_cfg_field *schema)
{
    int n = 0;
    for (const struct ig_cfg_field *f = schema; f->name; f++) {
        if (!section_has(c, type, kind, f->name)) {
            fprintf(stderr, "gateway.conf.example: [%s%s%s] lacks key '%s'\n",
                    type, kind ? " kind=" : "", kind ? kind : "", f->name);
            n++;
        }
    }
    return n;
}

static void test_example_matches_schema(void **state)
{
    (void)state;
    char *path = example_path();
    struct ig_diags d;
    ig_diags_init(&d);
    struct gw_conf *c = NULL;
    int rc = gw_conf_load(path, &c, &d);
    ig_diags_print(&d, stderr);
    assert_int_equal(rc, IG_OK);
    assert_non_null(c);

    /* The sections owned by other modules load cleanly too. */
    struct dedup_cfg dc;
    dedup_cfg_defaults(&dc);
    assert_non_null(c->dedup);
    assert_int_equal(ig_cfg_apply(c->dedup, dedup_cfg_schema, &dc, &d), IG_OK);
    ig_cfg_free(dedup_cfg_schema, &dc);
    struct spool_cfg sc;
    memset(&sc, 0, sizeof(sc));
    assert_non_null(c->spool);
    assert_int_equal(ig_cfg_apply(c->spool, spool_cfg_schema, &sc, &d), IG_OK);
    ig_cfg_free(spool_cfg_schema, &sc);
    for (size_t i = 0; i < c->nfwd; i++) {
        assert_int_equal(forwarder_check(c->fwd[i].sec, &d), IG_OK);
    }
    ig_diags_print(&d, stderr);
    assert_int_equal(d.nerrors, 0);

    /* Every key of every table is documented in the example. */
    int miss = 0;
    miss += missing_keys(c, "gateway", NULL, gw_conf_main_schema);
    miss += missing_keys(c, "redis", NULL, gw_conf_redis_schema);
    miss += missing_keys(c, "api", NULL, gw_conf_api_schema);
    miss += missing_keys(c, "dedup", NULL, dedup_cfg_schema);
    miss += missing_keys(c, "spool", NULL, spool_cfg_schema);
    miss += missing_keys(c, "forward", NULL, forwarder_cfg_schema);
    static const char *kinds[] = {"stream", "webhook", "file"};
    for (size_t k = 0; k < 3; k++) {
        const struct forwarder_ops *ops = forwarder_kind(kinds[k]);
        assert_non_null(ops);
        if (ops->schema) {
            miss += missing_keys(c, "forward", kinds[k], ops->schema);
        }
    }
    assert_int_equal(miss, 0);
    gw_conf_free(c);
    ig_diags_fini(&d);
    free(path);
}

#endif

static const char bad_conf[] = "[gateway]\n"
                               "state_dir = /tmp/x\n"
                               "max_infligt = 3\n"
                               "[redis]\n"
                               "port = 70000\n"
                               "password_ref = s3cret\n"
                               "[apii]\n"
                               "[forward]\n"
                               "kind = file\n";

static void test_errors_all_collected(void **state)
{
    (void)state;
    struct ig_diags d;
    ig_diags_init(&d);
    struct gw_conf *c = NULL;
    int rc = gw_conf_load_mem("bad.conf", bad_conf, sizeof(bad_conf) - 1,
                              "/tmp", &c, &d);
    assert_int_equal(rc, IG_EINVAL);
    assert_null(c);
    /* unknown key (with suggestion), port range, secret written inline,
     * unknown section, unnamed forwarder: all five, not just the first. */
    assert_int_equal(d.nerrors, 5);
    bool suggested = false, secret_hidden = true;
    for (size_t i = 0; i < d.n; i++) {
        if (strstr(d.v[i].msg, "did you mean 'max_inflight'")) {
            suggested = true;
        }
        if (strstr(d.v[i].msg, "s3cret")) {
            secret_hidden = false;
        }
    }
    assert_true(suggested);
    assert_true(secret_hidden);
    ig_diags_fini(&d);
}

static void test_defaults_and_paths(void **state)
{
    (void)state;
    static const char text[] = "[gateway]\nsources = s.d\n";
    struct ig_diags d;
    ig_diags_init(&d);
    struct gw_conf *c = NULL;
    assert_int_equal(gw_conf_load_mem("t.conf", text, sizeof(text) - 1,
                                      "/etc/intake", &c, &d),
                     IG_OK);
    assert_int_equal(c->gw.max_inflight, 1024);
    assert_int_equal(c->redis.retention_ms, (int64_t)30 * 86400 * 1000);
    assert_string_equal(c->redis.prefix, "intake");
    assert_false(c->has_redis);
    char *p = gw_conf_path(c, c->gw.sources);
    assert_string_equal(p, "/etc/intake/s.d");
    free(p);
    p = gw_conf_path(c, "/abs");
    assert_string_equal(p, "/abs");
    free(p);
    gw_conf_free(c);
    ig_diags_fini(&d);
}

static void test_secret_refs(void **state)
{
    (void)state;
    char *s = NULL;
    setenv("IG_TEST_SECRET", "tok-123", 1);
    assert_int_equal(gw_secret_read("env:IG_TEST_SECRET", NULL, &s), IG_OK);
    assert_string_equal(s, "tok-123");
    free(s);
    assert_int_equal(gw_secret_read("env:IG_TEST_UNSET_X", NULL, &s),
                     IG_ENOENT);
    assert_null(s);
    assert_int_equal(gw_secret_read("plain", NULL, &s), IG_EINVAL);
    assert_int_equal(gw_secret_read(NULL, NULL, &s), IG_OK);
    assert_null(s);
    char tmpl[] = "/tmp/ig-secret-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("file-token\nsecond line\n", f);
    fclose(f);
    char ref[64];
    snprintf(ref, sizeof(ref), "file:%s", tmpl);
    assert_int_equal(gw_secret_read(ref, NULL, &s), IG_OK);
    assert_string_equal(s, "file-token");
    free(s);
    remove(tmpl);
}

static void test_metrics_text(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    static const double b[] = {0.001, 0.01};
    assert_int_equal(
        metrics_declare(m, "t_total", METRICS_COUNTER, "t", NULL, 0), IG_OK);
    assert_int_equal(
        metrics_declare(m, "t_total", METRICS_COUNTER, "t", NULL, 0),
        IG_EINVAL);
    assert_int_equal(metrics_declare(m, "lat", METRICS_HISTOGRAM, "l", b, 2),
                     IG_OK);
    struct ig_buf l;
    ig_buf_init(&l, 0);
    metrics_label(&l, "source", "a\"b");
    metrics_inc(m, "t_total", l.data);
    metrics_inc(m, "t_total", l.data);
    metrics_observe(m, "lat", NULL, 0.0005);
    /* Handles, taken before the table grows, stay valid after it. */
    struct metrics_series *h = metrics_series(m, "t_total", l.data);
    struct metrics_series *hl = metrics_series(m, "lat", NULL);
    assert_non_null(h);
    assert_non_null(hl);
    assert_null(metrics_series(m, "no_such_total", NULL));
    metrics_series_add(NULL, 1); /* ignored, like an unknown name */
    metrics_series_observe(h, 1); /* wrong type: ignored */
    metrics_series_add(hl, 1);    /* wrong type: ignored */
    /* Many series: the table grows and keeps every one. */
    for (int i = 0; i < 1000; i++) {
        char v[16];
        ig_buf_reset(&l);
        snprintf(v, sizeof(v), "%d", i);
        metrics_label(&l, "i", v);
        metrics_inc(m, "t_total", l.data);
    }
    assert_true(metrics_get(m, "t_total", "i=\"999\"") == 1.0);
    assert_true(metrics_get(m, "t_total", "source=\"a\\\"b\"") == 2.0);
    metrics_series_add(h, 3);
    metrics_series_observe(hl, 0.5);
    assert_true(metrics_get(m, "t_total", "source=\"a\\\"b\"") == 5.0);
    struct ig_buf out;
    ig_buf_init(&out, 0);
    assert_int_equal(metrics_render(m, &out), IG_OK);
    assert_non_null(strstr(out.data, "# TYPE t_total counter\n"));
    assert_non_null(strstr(out.data, "t_total{source=\"a\\\"b\"} 5\n"));
    assert_non_null(strstr(out.data, "lat_bucket{le=\"0.001\"} 1\n"));
    assert_non_null(strstr(out.data, "lat_bucket{le=\"0.01\"} 1\n"));
    assert_non_null(strstr(out.data, "lat_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(out.data, "lat_count 2\n"));
    ig_buf_fini(&out);
    ig_buf_fini(&l);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#if IG_TEST_EXAMPLE
        cmocka_unit_test(test_example_matches_schema),
#endif
        cmocka_unit_test(test_errors_all_collected),
        cmocka_unit_test(test_defaults_and_paths),
        cmocka_unit_test(test_secret_refs),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
