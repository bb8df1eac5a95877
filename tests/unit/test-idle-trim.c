/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The heap trim once the loop goes quiet (daemon/idle-trim.c), on a real
 * sd-event loop: once per busy spell, never while busy, never while idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/idle-trim.h"
#include "shared/macro.h"

#define DELAY_USEC (300 * 1000ULL)

typedef struct Activity {
    IdleTrim *trim;
    unsigned ticks_left;
    uint64_t last, max_gap;  /* between ticks, as the loop really ran */
    unsigned trims_while_busy;
} Activity;

/* Work arriving every 10 ms, as callers would make it. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
    (void) usec;
    Activity *a = userdata;
    uint64_t now = clock_usec(CLOCK_MONOTONIC);
    if (a->last && now - a->last > a->max_gap)
        a->max_gap = now - a->last;
    a->last = now;
    if (--a->ticks_left == 0) {
        a->trims_while_busy = idle_trim_count(a->trim, NULL);
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
    }
    (void) sd_event_source_set_time_relative(s, 10 * 1000);
    return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Runs the loop for usec (no source of its own: that would be activity). */
static void run_for(sd_event *e, uint64_t usec)
{
    uint64_t end = clock_usec(CLOCK_MONOTONIC) + usec;
    for (uint64_t now; (now = clock_usec(CLOCK_MONOTONIC)) < end;)
        assert_true(sd_event_run(e, end - now) >= 0);
}

/* Runs the loop until the trim has looked at `want` quiet spells and the
 * work is done (at most a minute: a slow machine only makes it wait). */
static void run_until_quiet(sd_event *e, Activity *a, unsigned want)
{
    uint64_t end = clock_usec(CLOCK_MONOTONIC) + 60 * 1000 * 1000;
    unsigned quiet = 0;
    while ((idle_trim_count(a->trim, &quiet), quiet < want) || a->ticks_left > 0) {
        assert_true(clock_usec(CLOCK_MONOTONIC) < end);
        assert_true(sd_event_run(e, 100 * 1000) >= 0);
    }
}

static void test_once_per_busy_spell(void **state)
{
    (void) state;
    sd_event *e = NULL;
    assert_int_equal(sd_event_new(&e), 0);
    Activity a = { .ticks_left = 100 }; /* about a second of work */
    assert_int_equal(idle_trim_attach(e, DELAY_USEC, 0, &a.trim), 0);
    sd_event_source *tick = NULL;
    assert_int_equal(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 10 * 1000, 1, on_tick, &a), 0);

    /* Busy for ~1 s, then quiet until the trim has looked. */
    run_until_quiet(e, &a, 1);
    /* No trim while the work went on, unless the loop itself stalled for
     * a whole delay between two ticks (then it was quiet, rightly). */
    if (a.max_gap < DELAY_USEC)
        assert_int_equal(a.trims_while_busy, 0);
    unsigned quiet = 0;
    assert_int_equal(idle_trim_count(a.trim, &quiet), a.trims_while_busy + 1);
    assert_int_equal(quiet, a.trims_while_busy + 1);

    /* Idle: the timer stays off, nothing more happens. */
    unsigned trims = idle_trim_count(a.trim, &quiet);
    run_for(e, 4 * DELAY_USEC);
    unsigned quiet_after = 0;
    assert_int_equal(idle_trim_count(a.trim, &quiet_after), trims);
    assert_int_equal(quiet_after, quiet);

    /* A new spell of work: one more trim after it. */
    a.ticks_left = 5;
    a.last = 0;
    assert_int_equal(sd_event_source_set_time_relative(tick, 10 * 1000), 0);
    assert_int_equal(sd_event_source_set_enabled(tick, SD_EVENT_ONESHOT), 0);
    a.max_gap = 0;
    trims = idle_trim_count(a.trim, &quiet);
    run_until_quiet(e, &a, quiet + 1);
    if (a.max_gap < DELAY_USEC)
        assert_int_equal(idle_trim_count(a.trim, NULL), trims + 1);
    assert_true(idle_trim_count(a.trim, NULL) >= trims + 1);

    sd_event_source_unref(tick);
    idle_trim_free(a.trim);
    sd_event_unref(e);
}

static void test_not_worth_it(void **state)
{
    (void) state;
    sd_event *e = NULL;
    assert_int_equal(sd_event_new(&e), 0);
    Activity a = { .ticks_left = 3 };
    /* More free heap than there could be: it looks, but never trims. */
    assert_int_equal(idle_trim_attach(e, DELAY_USEC, SIZE_MAX, &a.trim), 0);
    sd_event_source *tick = NULL;
    assert_int_equal(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 10 * 1000, 1, on_tick, &a), 0);
    run_until_quiet(e, &a, 1);
    assert_int_equal(idle_trim_count(a.trim, NULL), 0);
    sd_event_source_unref(tick);
    idle_trim_free(a.trim);
    sd_event_unref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_per_busy_spell),
        cmocka_unit_test(test_not_worth_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
