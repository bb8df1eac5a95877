/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace name rules (DESIGN.md §3) and mode strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/name.h"

static void test_valid_names(void **state)
{
    const char *ok[] = { "a", "tenant1", "A-b_c.d", "0", "x.", "a..b",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(ns_name_check(ok[i]), NAME_OK);
        assert_true(ns_name_is_valid(ok[i]));
    }
}

static void test_invalid_names(void **state)
{
    static const struct {
        const char *name;
        NameProblem why;
    } bad[] = {
        { "", NAME_EMPTY },
        { NULL, NAME_EMPTY },
        { ".", NAME_DOT },
        { "..", NAME_DOT },
        { ".host", NAME_LEADING_DOT },
        { ".x", NAME_LEADING_DOT },
        { "a/b", NAME_BAD_CHAR },
        { "a b", NAME_BAD_CHAR },
        { "a\tb", NAME_BAD_CHAR },
        { "a\nb", NAME_BAD_CHAR },
        { "tenant-\xc3\xa9", NAME_BAD_CHAR },
        { "a\x01", NAME_BAD_CHAR },
        { "x:y", NAME_BAD_CHAR },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */, NAME_TOO_LONG },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ns_name_check(bad[i].name), bad[i].why);
        assert_false(ns_name_is_valid(bad[i].name));
        assert_non_null(name_problem_to_string(bad[i].why));
    }
}

static void test_modes(void **state)
{
    assert_int_equal(vsock_mode_from_string("local"), VSOCK_MODE_LOCAL);
    assert_int_equal(vsock_mode_from_string("global"), VSOCK_MODE_GLOBAL);
    assert_int_equal(vsock_mode_from_string("LOCAL"), VSOCK_MODE_INVALID);
    assert_int_equal(vsock_mode_from_string(""), VSOCK_MODE_INVALID);
    assert_int_equal(vsock_mode_from_string("local "), VSOCK_MODE_INVALID);
    assert_int_equal(vsock_mode_from_string(NULL), VSOCK_MODE_INVALID);
    assert_string_equal(vsock_mode_to_string(VSOCK_MODE_LOCAL), "local");
    assert_string_equal(vsock_mode_to_string(VSOCK_MODE_GLOBAL), "global");
    assert_null(vsock_mode_to_string(VSOCK_MODE_INVALID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_modes),
    };
    return cmocka_run_group_tests_name("name", tests, NULL, NULL);
}
