/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager_check_create(): validation order and parent selection, on a
 * Manager set up in memory (no kernel calls: check only reads the netns
 * directory, a temporary one here).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/manager.h"

static char netns_dir[] = "/tmp/vsockns-test-netns.XXXXXX";

static void add_ns(Manager *m, const char *name, VsockMode mode)
{
    Namespace ns = { .mode = mode, .g2h_fallback = -1, .fd = -1 };
    snprintf(ns.name, sizeof(ns.name), "%s", name);
    Namespace *added = namespace_new(&ns);
    assert_non_null(added);
    assert_int_equal(ns_table_add(&m->namespaces, added), 0); /* manager_free() frees it */
}

static Manager *make_manager(KernelSupport support)
{
    ManagerConfig c;
    manager_config_default(&c);
    snprintf(c.netns_dir, sizeof(c.netns_dir), "%s", netns_dir);
    snprintf(c.state_dir, sizeof(c.state_dir), "/nonexistent/vsockns");
    Manager *m;
    assert_int_equal(manager_new(&c, &m), 0);
    m->kernel_support = support;
    m->g2h_fallback_supported = support == KERNEL_SUPPORT_NAMESPACES;
    for (int i = 0; i < 2; i++)
        m->parents[i].status = 0;
    add_ns(m, "loc", VSOCK_MODE_LOCAL);
    add_ns(m, "glob", VSOCK_MODE_GLOBAL);
    return m;
}

static ErrorKind check(Manager *m, const char *name, const char *mode, const char *parent, int g2h,
                         const char **ret_path)
{
    static ManagerError e;
    CreateRequest req = { .name = name, .mode = mode, .parent = parent, .g2h_fallback = g2h };
    const char *path = "unset";
    memset(&e, 0, sizeof(e));
    int r = manager_check_create(m, &req, &path, &e);
    if (ret_path)
        *ret_path = path;
    if (r == 0)
        return ERROR_NONE;
    assert_true(r < 0);
    assert_int_not_equal(e.kind, ERROR_NONE);
    assert_true(strlen(e.message) > 10);
    return e.kind;
}

static void test_parent_selection(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NAMESPACES);
    const char *path;
    assert_int_equal(ERROR_NONE, check(m, "x", "local", NULL, -1, &path));
    assert_string_equal(path, m->parents[VSOCK_MODE_LOCAL].path);
    assert_int_equal(ERROR_NONE, check(m, "x", "global", NULL, -1, &path));
    assert_string_equal(path, m->parents[VSOCK_MODE_GLOBAL].path);
    assert_non_null(strstr(m->parents[VSOCK_MODE_LOCAL].path, "/parents/local"));
    /* Nested: the caller resolves the parent's pin. */
    assert_int_equal(ERROR_NONE, check(m, "x", "local", "loc", -1, &path));
    assert_null(path);
    manager_free(m);
}

static void test_errors(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NAMESPACES);
    assert_int_equal(check(m, "a/b", "local", NULL, -1, NULL), ERROR_INVALID_NAME);
    assert_int_equal(check(m, ".host", "local", NULL, -1, NULL), ERROR_INVALID_NAME);
    /* The name is checked before the mode. */
    assert_int_equal(check(m, "", "bogus", NULL, -1, NULL), ERROR_INVALID_NAME);
    assert_int_equal(check(m, "x", "Local", NULL, -1, NULL), ERROR_INVALID_MODE);
    assert_int_equal(check(m, "loc", "local", NULL, -1, NULL), ERROR_NAMESPACE_EXISTS);
    assert_int_equal(check(m, "x", "local", "nope", -1, NULL), ERROR_NO_SUCH_NAMESPACE);
    assert_int_equal(check(m, "x", "local", "glob", -1, NULL), ERROR_INVALID_PARENT);
    assert_int_equal(check(m, "x", "global", "loc", -1, NULL), ERROR_INVALID_MODE);
    assert_int_equal(check(m, "x", "local", "../x", -1, NULL), ERROR_INVALID_NAME);

    /* A foreign pin of the same name in the netns directory. */
    char foreign[512];
    snprintf(foreign, sizeof(foreign), "%s/foreign", netns_dir);
    fclose(fopen(foreign, "w"));
    assert_int_equal(check(m, "foreign", "global", NULL, -1, NULL), ERROR_NAMESPACE_EXISTS);
    unlink(foreign);
    manager_free(m);
}

static void test_locked_parent(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NAMESPACES);
    m->parents[VSOCK_MODE_LOCAL].status = -EBUSY;
    snprintf(m->parents[VSOCK_MODE_LOCAL].problem, sizeof(m->parents[0].problem), "locked to 'global'");
    assert_int_equal(check(m, "x", "local", NULL, -1, NULL), ERROR_MODE_LOCKED);
    assert_int_equal(ERROR_NONE, check(m, "x", "global", NULL, -1, NULL));
    manager_free(m);
}

static void test_old_kernel(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NONE);
    const char *path;
    assert_int_equal(check(m, "x", "local", NULL, -1, NULL), ERROR_NOT_SUPPORTED);
    assert_int_equal(check(m, "x", "local", "loc", -1, NULL), ERROR_NOT_SUPPORTED);
    assert_int_equal(check(m, "x", "global", NULL, 0, NULL), ERROR_NOT_SUPPORTED);
    /* global: straight from the host, no parents on such a kernel. */
    assert_int_equal(ERROR_NONE, check(m, "x", "global", NULL, -1, &path));
    assert_null(path);
    manager_free(m);
}

static void test_limit(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NAMESPACES);
    char name[32];
    for (size_t i = m->namespaces.n; i < MANAGER_NAMESPACES_MAX; i++) {
        snprintf(name, sizeof(name), "n%zu", i);
        add_ns(m, name, VSOCK_MODE_LOCAL);
    }
    assert_int_equal(check(m, "x", "global", NULL, -1, NULL), ERROR_LIMIT_REACHED);
    manager_free(m);
}

/* AttachableUnits=: NAMESPACE:GLOB words, on one line or several; a word
 * that is not one is skipped, the others still count. */
static void test_attachable_units(void **state)
{
    Manager *m = make_manager(KERNEL_SUPPORT_NAMESPACES);
    assert_false(manager_unit_attachable(m, "t1", "web.service"));
    static const char conf[] = "AttachableUnits=t1:web-*.service t1:db.socket\n"
                               "AttachableUnits=t2:* bad-word .host:x.service t3:semi;colon.service\n";
    FILE *f = fmemopen((void *) conf, strlen(conf), "r");
    assert_non_null(f);
    manager_config_parse(m, f);
    fclose(f);
    assert_true(manager_unit_attachable(m, "t1", "web-1.service"));
    assert_true(manager_unit_attachable(m, "t1", "db.socket"));
    assert_false(manager_unit_attachable(m, "t1", "db.service"));
    assert_false(manager_unit_attachable(m, "t1", "sshd.service"));
    assert_false(manager_unit_attachable(m, "t3", "web-1.service"));
    assert_true(manager_unit_attachable(m, "t2", "anything.service"));
    assert_false(manager_unit_attachable(m, ".host", "x.service"));
    assert_false(manager_unit_attachable(m, "t3", "semi;colon.service"));
    assert_int_equal(m->n_attachable, 3);
    manager_free(m);
}

int main(void)
{
    if (!mkdtemp(netns_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parent_selection),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_locked_parent),
        cmocka_unit_test(test_old_kernel),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_attachable_units),
    };
    int r = cmocka_run_group_tests_name("manager_check_create", tests, NULL, NULL);
    rmdir(netns_dir);
    return r;
}
