/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Process facts from /proc: start times (against pid reuse) and pidfds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared/process.h"

static void test_start_time(void **state)
{
    /* The same number as field 22 read by another program. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "awk '{ print $22 }' /proc/%d/stat", (int) getpid());
    FILE *p = popen(cmd, "r");
    unsigned long long want = 0;
    assert_int_equal(fscanf(p, "%llu", &want), 1);
    pclose(p);
    assert_true(want > 0);
    assert_true(process_start_time(getpid()) == want);
    assert_true(process_start_time(0x7ffffff0) == 0);
}

static void test_start_time_survives_exec(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", fds[0]);
        execlp("sh", "sh", "-c", "read x <&$0", arg, NULL);
        _exit(127);
    }
    uint64_t before = process_start_time(pid);
    usleep(100000); /* the exec has happened */
    assert_true(before > 0);
    assert_true(process_start_time(pid) == before);

    int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    assert_true(pidfd >= 0);
    assert_int_equal(pidfd_get_pid(pidfd), pid);
    close(fds[1]);
    waitpid(pid, NULL, 0);
    assert_true(pidfd_get_pid(pidfd) <= 0); /* exited */
    close(pidfd);
    close(fds[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_time),
        cmocka_unit_test(test_start_time_survives_exec),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
