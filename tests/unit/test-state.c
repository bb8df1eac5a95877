/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* State serialisation: round trip, validation of what is read back, atomic files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/state.h"

static Namespace make_ns(const char *name, VsockMode mode, const char *parent, int g2h, uint64_t inode)
{
    Namespace ns = { .mode = mode, .g2h_fallback = g2h, .inode = inode, .created_usec = 1700000000000000ULL };
    snprintf(ns.name, sizeof(ns.name), "%s", name);
    snprintf(ns.parent, sizeof(ns.parent), "%s", parent);
    return ns;
}

static void test_round_trip(void **state)
{
    Namespace in[] = {
        make_ns("a", VSOCK_MODE_LOCAL, "", 1, 4026532001ULL),
        make_ns("g", VSOCK_MODE_GLOBAL, "", -1, 4026532002ULL),
        make_ns("a.child", VSOCK_MODE_LOCAL, "a", 0, UINT64_MAX),
    };
    char *text = state_to_json(in, 3);
    assert_non_null(text);

    Namespace *out;
    size_t n, dropped;
    assert_int_equal(state_from_json(text, &out, &n, &dropped), 0);
    assert_int_equal(n, 3);
    assert_int_equal(dropped, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out[i].name, in[i].name);
        assert_int_equal(out[i].mode, in[i].mode);
        assert_string_equal(out[i].parent, in[i].parent);
        assert_int_equal(out[i].g2h_fallback, in[i].g2h_fallback);
        assert_true(out[i].inode == in[i].inode);
        assert_true(out[i].created_usec == in[i].created_usec);
    }
    free(out);
    free(text);
}

static void test_empty(void **state)
{
    char *text = state_to_json(NULL, 0);
    Namespace *out;
    size_t n;
    assert_int_equal(state_from_json(text, &out, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(out);
    free(text);
}

static void test_bad_entries_dropped(void **state)
{
    const char *text = "{\"version\":1,\"namespaces\":["
                       "{\"name\":\"ok\",\"mode\":\"local\",\"inode\":5},"
                       "{\"name\":\"../etc\",\"mode\":\"local\",\"inode\":6},"
                       "{\"name\":\"m\",\"mode\":\"LOCAL\",\"inode\":7},"
                       "{\"name\":\"noinode\",\"mode\":\"global\"},"
                       "{\"name\":\"p\",\"mode\":\"local\",\"parent\":\".host\",\"inode\":8},"
                       "{\"name\":\"ok\",\"mode\":\"global\",\"inode\":9},"
                       "42]}";
    Namespace *out;
    size_t n, dropped;
    assert_int_equal(state_from_json(text, &out, &n, &dropped), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dropped, 6);
    assert_string_equal(out[0].name, "ok");
    assert_true(out[0].inode == 5);
    free(out);
}

static void test_garbage(void **state)
{
    Namespace *out;
    size_t n;
    assert_int_equal(state_from_json("", &out, &n, NULL), -EBADMSG);
    assert_int_equal(state_from_json("{\"namespaces\": 3}", &out, &n, NULL), -EBADMSG);
    assert_int_equal(state_from_json("[1,2", &out, &n, NULL), -EBADMSG);
}

static void test_save_load(void **state)
{
    char dir[] = "/tmp/vsockns-test-state.XXXXXX";
    assert_non_null(mkdtemp(dir));

    Namespace *out;
    size_t n;
    assert_int_equal(state_load(dir, &out, &n, NULL), -ENOENT);

    Namespace in = make_ns("t", VSOCK_MODE_GLOBAL, "", 1, 99);
    assert_int_equal(state_save(dir, &in, 1), 0);
    assert_int_equal(state_save(dir, &in, 1), 0); /* replaces, leaves no temp file */
    assert_int_equal(state_load(dir, &out, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "t");
    free(out);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) = 1", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_entries_dropped),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
