/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What each isolation path should do per mode, and how outcomes read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

#include <cmocka.h>

#include "core/isolation.h"
#include "core/vsock-diag.h"

static void test_expected(void **state)
{
    /* local: only itself */
    assert_true(isolation_expected(VSOCK_MODE_LOCAL, ISOLATION_INSIDE));
    assert_false(isolation_expected(VSOCK_MODE_LOCAL, ISOLATION_FROM_HOST));
    assert_false(isolation_expected(VSOCK_MODE_LOCAL, ISOLATION_FROM_SIBLING));
    assert_false(isolation_expected(VSOCK_MODE_LOCAL, ISOLATION_TO_HOST));
    /* global: the host and other global namespaces */
    for (int p = 0; p < _ISOLATION_PATH_MAX; p++)
        assert_true(isolation_expected(VSOCK_MODE_GLOBAL, p));
}

static void test_names(void **state)
{
    const char *want[] = { "inside", "from-host", "from-sibling", "to-host" };
    for (int p = 0; p < _ISOLATION_PATH_MAX; p++) {
        assert_string_equal(isolation_path_to_string(p), want[p]);
        assert_non_null(isolation_path_description(p));
    }
    assert_null(isolation_path_to_string(_ISOLATION_PATH_MAX));
}

static void test_describe(void **state)
{
    char buf[128];
    IsolationOutcome reached = { .reached = true };
    isolation_outcome_describe(&reached, buf, sizeof(buf));
    assert_string_equal(buf, "reached");
    IsolationOutcome reset = { .error = ECONNRESET };
    isolation_outcome_describe(&reset, buf, sizeof(buf));
    assert_string_equal(buf, "refused: ECONNRESET (Connection reset by peer)");
    IsolationOutcome other = { .other_listener = true };
    isolation_outcome_describe(&other, buf, sizeof(buf));
    assert_non_null(strstr(buf, "not to the probe's listener"));
}

static void test_socket_names(void **state)
{
    assert_string_equal(vsock_socket_type_to_string(SOCK_STREAM), "stream");
    assert_string_equal(vsock_socket_type_to_string(SOCK_SEQPACKET), "seqpacket");
    assert_string_equal(vsock_socket_state_to_string(TCP_LISTEN), "listening");
    assert_string_equal(vsock_socket_state_to_string(TCP_ESTABLISHED), "established");
    assert_string_equal(vsock_socket_state_to_string(200), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_socket_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
