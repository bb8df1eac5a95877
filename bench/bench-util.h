/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the benchmark programs share: a clock, sorting, sizes from the environment. */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);
/* qsort() comparison for uint64_t. */
int bench_cmp_u64(const void *a, const void *b);
/* $name as a number within [min, max], def if unset; anything else ends the
 * program (exit 2) with a message naming prog. */
int bench_env_int(const char *prog, const char *name, int def, int min, int max);

/* CPU time (user + system) in microseconds of what a figure covers: this
 * process and its waited-for children, vsocknsd and PID 1. */
typedef struct BenchCpu {
    uint64_t client_us, daemon_us, pid1_us, wall_ns;
} BenchCpu;

/* user + system time of PID from /proc/PID/stat, in microseconds; 0 if it
 * cannot be read. */
uint64_t bench_proc_cpu_us(int pid);
/* vsocknsd's PID, asked of the bus (org.vsockns1's owner); ends the program
 * if there is none. */
int bench_daemon_pid(void *bus);
/* A snapshot now; bench_cpu_since(start, pid) the difference since. */
BenchCpu bench_cpu_now(int daemon_pid);
BenchCpu bench_cpu_since(BenchCpu start, int daemon_pid);
/* "client X us, vsocknsd Y us, PID 1 Z us per op" for n operations. */
void bench_cpu_print(const char *what, BenchCpu c, int n);
