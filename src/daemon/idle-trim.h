/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Giving freed heap memory back to the kernel once vsocknsd goes quiet.
 *
 * A burst of work (a caller flooding the bus, thousands of leases taken and
 * ended) grows the heap, and freeing it all does not shrink it: glibc only
 * gives back free memory at the top of the heap, and what a burst frees is
 * spread through the middle. malloc_trim() returns those free pages too.
 * It costs a walk over the free chunks, so it runs once per busy spell, not
 * per call: a post source notes that the loop did something, and a timer
 * that runs IDLE_TRIM_USEC after the last activity trims if at least
 * IDLE_TRIM_MIN_FREE bytes of the heap are free. An idle daemon never wakes
 * up for it.
 */
#include <stdint.h>
#include <systemd/sd-event.h>

#define IDLE_TRIM_USEC (3 * 1000000ULL)
#define IDLE_TRIM_MIN_FREE (128 * 1024)

typedef struct IdleTrim IdleTrim;

/* delay_usec: how long the loop must be quiet; min_free: the free heap
 * bytes worth a trim (0: always trim). */
int idle_trim_attach(sd_event *event, uint64_t delay_usec, size_t min_free, IdleTrim **ret);
/* How many times it trimmed, and how many quiet spells it looked at. */
unsigned idle_trim_count(const IdleTrim *t, unsigned *ret_quiet);
IdleTrim *idle_trim_free(IdleTrim *t);
