/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Process facts from /proc: start times (against pid reuse) and pidfds. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
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
    /* hold: the child waits on it; ready: the child writes to it only from
     * the new program, so once we read a byte the exec has happened. */
    int hold[2], ready[2];
    assert_int_equal(pipe(hold), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(hold[1]);
        close(ready[0]);
        char in[16], out[16];
        snprintf(in, sizeof(in), "%d", hold[0]);
        snprintf(out, sizeof(out), "%d", ready[1]);
        execlp("sh", "sh", "-c", "echo x >&$1; read x <&$0", in, out, NULL);
        _exit(127);
    }
    close(hold[0]);
    close(ready[1]);
    uint64_t before = process_start_time(pid);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1); /* the exec has happened */
    assert_true(before > 0);
    assert_true(process_start_time(pid) == before);

    int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    assert_true(pidfd >= 0);
    assert_int_equal(pidfd_get_pid(pidfd), pid);
    close(hold[1]);
    waitpid(pid, NULL, 0);
    assert_true(pidfd_get_pid(pidfd) <= 0); /* exited */
    close(pidfd);
    close(ready[0]);
}

/* A helper keeps exactly the fds it names (any order, gaps, duplicates
 * and negatives ignored) and 0-2; everything else from 3 up is closed. */
static void test_close_all_fds_but(void **state)
{
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = dup(2);
        assert_true(fds[i] > 2);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int keep[] = { fds[6], -1, fds[1], fds[3], fds[1] };
        close_all_fds_but(keep, sizeof(keep) / sizeof(keep[0]));
        int bad = 0;
        for (int fd = 0; fd < 3; fd++)
            bad += fcntl(fd, F_GETFD) < 0;
        for (int i = 0; i < 8; i++) {
            bool kept = i == 1 || i == 3 || i == 6;
            bad += (fcntl(fds[i], F_GETFD) >= 0) != kept;
        }
        bad += fcntl(fds[7] + 1, F_GETFD) >= 0; /* nothing above either */
        _exit(bad);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_time),
        cmocka_unit_test(test_start_time_survives_exec),
        cmocka_unit_test(test_close_all_fds_but),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
