/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "idle-trim.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>

#include "shared/log.h"

struct IdleTrim {
    sd_event_source *post;  /* runs after every iteration that did something */
    sd_event_source *timer; /* armed while busy; off while idle */
    uint64_t delay_usec;
    size_t min_free;
    bool busy;       /* something happened since the timer was armed */
    bool just_fired; /* the post source's next run is the timer's own */
    unsigned n_trims, n_quiet;
};

static int arm(IdleTrim *t)
{
    int r = sd_event_source_set_time_relative(t->timer, t->delay_usec);
    if (r >= 0)
        r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
    return r;
}

static int on_post(sd_event_source *source, void *userdata)
{
    (void) source;
    IdleTrim *t = userdata;
    if (t->just_fired) {
        t->just_fired = false;
        return 0;
    }
    int enabled = SD_EVENT_OFF;
    (void) sd_event_source_get_enabled(t->timer, &enabled);
    if (enabled == SD_EVENT_OFF)
        (void) arm(t);
    else
        t->busy = true;
    return 0;
}

static void trim(IdleTrim *t)
{
    t->n_quiet++;
    struct mallinfo2 before = mallinfo2();
    if (before.fordblks < t->min_free)
        return;
    int gave = malloc_trim(0);
    t->n_trims++;
    log_debug("Quiet again: %s the heap's free memory to the kernel (%zu kB of %zu kB free)",
              gave ? "gave back" : "could not give back", before.fordblks / 1024, before.arena / 1024);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata)
{
    (void) source;
    (void) usec;
    IdleTrim *t = userdata;
    t->just_fired = true;
    if (t->busy) {
        /* Still busy: look again once it has been quiet for a while. */
        t->busy = false;
        (void) arm(t);
        return 0;
    }
    trim(t);
    return 0;
}

int idle_trim_attach(sd_event *event, uint64_t delay_usec, size_t min_free, IdleTrim **ret)
{
    IdleTrim *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->delay_usec = delay_usec;
    t->min_free = min_free;
    /* No need to be punctual: a quarter of the delay lets the kernel
     * batch the wake-up with others. */
    int r = sd_event_add_time_relative(event, &t->timer, CLOCK_MONOTONIC, delay_usec, delay_usec / 4 ?: 1,
                                       on_timer, t);
    if (r >= 0)
        r = sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
    if (r >= 0)
        r = sd_event_add_post(event, &t->post, on_post, t);
    if (r < 0) {
        idle_trim_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

unsigned idle_trim_count(const IdleTrim *t, unsigned *ret_quiet)
{
    if (ret_quiet)
        *ret_quiet = t->n_quiet;
    return t->n_trims;
}

IdleTrim *idle_trim_free(IdleTrim *t)
{
    if (!t)
        return NULL;
    sd_event_source_disable_unref(t->post);
    sd_event_source_disable_unref(t->timer);
    free(t);
    return NULL;
}
