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
