/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The children of the test process (the namespace workers it has): their
 * pids, at most max, from /proc. */
#pragma once

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

static inline size_t test_children(pid_t *pids, size_t max)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
    FILE *f = fopen(path, "re");
    size_t n = 0;
    int pid;
    while (f && n < max && fscanf(f, "%d", &pid) == 1)
        pids[n++] = pid;
    if (f)
        fclose(f);
    return n;
}
