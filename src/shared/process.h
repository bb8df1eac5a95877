/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Facts about processes from /proc: pids behind pidfds, start times; and
 * what a forked helper lets go of. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The pid a pidfd refers to; <= 0 if it exited or fd is no pidfd. */
pid_t pidfd_get_pid(int fd);
/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat);
 * 0 if there is no such process. Same pid + same start time = same process. */
uint64_t process_start_time(pid_t pid);
/* The real uid of a process (from /proc/PID/status): 0, or -ESRCH. */
int process_uid(pid_t pid, uid_t *ret);

/* In a forked child: closes every fd from 3 up but the n in keep (negative
 * ones are ignored). The daemon's copies of lease devices must not live on
 * in a helper: they would hold their CIDs, and a VM's memory, after release. */
void close_all_fds_but(const int *keep, size_t n);
