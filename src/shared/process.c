/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t pidfd_get_pid(int fd)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    pid_t pid = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "Pid:", 4) == 0) {
            pid = (pid_t) strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return pid;
}

uint64_t process_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces and ')': skip past the
     * last ')'. Then p is at the space before field 3; walk to field 22. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

int process_uid(pid_t pid, uid_t *ret)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -ESRCH;
    int r = -EIO;
    unsigned long uid;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Uid: %lu", &uid) == 1) {
            *ret = (uid_t) uid;
            r = 0;
            break;
        }
    fclose(f);
    return r;
}

void close_all_fds_but(const int *keep, size_t n)
{
    unsigned from = 3;
    for (;;) {
        /* The lowest fd to keep at or above from: close up to it. */
        int next = -1;
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= 0 && (unsigned) keep[i] >= from && (next < 0 || keep[i] < next))
                next = keep[i];
        if (next < 0)
            break;
        if ((unsigned) next > from)
            close_range(from, next - 1, 0);
        from = next + 1;
    }
    close_range(from, ~0u, 0);
}
