/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fair-queue.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/log.h"
#include "shared/macro.h"

typedef struct Sender {
    char *name;                                   /* unique bus name */
    sd_bus_message *calls[FAIR_QUEUE_PER_SENDER]; /* a ring */
    uint32_t weights[FAIR_QUEUE_PER_SENDER];      /* what each weighs (weigh()) */
    unsigned head, n;
    size_t bytes;      /* the sum of their weights */
    unsigned refused;  /* calls refused since its backlog filled up */
    bool warned, silenced;
} Sender;

struct FairQueue {
    sd_bus *bus;
    PolkitRegistry *polkit;   /* its answered calls are not queued again */
    sd_bus_slot *filter;
    sd_event_source *idle;
    sd_event_source *retry; /* while replies wait to be written */
    Sender *senders;        /* those with calls waiting */
    size_t n_senders, allocated;
    size_t next;            /* round-robin position */
    sd_bus_message *passing; /* the call handed on: the filter lets it through */
    unsigned reads_since_pump;
};

static Sender *sender_find(FairQueue *q, const char *name)
{
    for (size_t i = 0; i < q->n_senders; i++)
        if (streq(q->senders[i].name, name))
            return &q->senders[i];
    return NULL;
}

static Sender *sender_add(FairQueue *q, const char *name)
{
    if (q->n_senders == q->allocated) {
        size_t want = q->allocated ? q->allocated * 2 : 16;
        Sender *grown = realloc(q->senders, want * sizeof(Sender));
        if (!grown)
            return NULL;
        q->senders = grown;
        q->allocated = want;
    }
    Sender *s = &q->senders[q->n_senders];
    *s = (Sender) { .name = strdup(name) };
    if (!s->name)
        return NULL;
    q->n_senders++;
    return s;
}

/* A sender with nothing left waiting is forgotten (the last one moves in). */
static void sender_drop(FairQueue *q, size_t i)
{
    free(q->senders[i].name);
    q->senders[i] = q->senders[--q->n_senders];
    if (q->next >= q->n_senders)
        q->next = 0;
}

/* The warnings about a caller that does not read are said at most once
 * per WARN_INTERVAL_SEC (its queue may empty and fill again many times). */
#define WARN_INTERVAL_SEC 10

static bool warn_now(time_t *last)
{
    time_t now = (time_t) (clock_usec(CLOCK_MONOTONIC) / 1000000);
    if (*last != 0 && now - *last < WARN_INTERVAL_SEC)
        return false;
    *last = now;
    return true;
}

/* Hands the next call (round-robin over the senders) back to the bus, to
 * be dispatched past the filter; one at a time. */
static void pump(FairQueue *q)
{
    if (q->passing || q->n_senders == 0)
        return;
    /* Replies still waiting to be written mean the bus reads them slower
     * than we make them (a caller that never reads its replies, say):
     * serve the next call once they are out, or they would pile up here. */
    if (sd_bus_get_events(q->bus) & POLLOUT) {
        (void) sd_event_source_set_time_relative(q->retry, FAIR_QUEUE_RETRY_USEC);
        (void) sd_event_source_set_enabled(q->retry, SD_EVENT_ONESHOT);
        return;
    }
    size_t i = q->next % q->n_senders;
    Sender *s = &q->senders[i];
    sd_bus_message *m = s->calls[s->head];
    s->bytes -= s->weights[s->head];
    s->head = (s->head + 1) % FAIR_QUEUE_PER_SENDER;
    s->n--;
    q->next = i + 1;
    if (s->n == 0)
        sender_drop(q, i);
    q->reads_since_pump = 0;
    q->passing = m;
    int r = sd_bus_enqueue_for_read(q->bus, m);
    if (r < 0) {
        q->passing = NULL;
        log_warning_errno(r, "Cannot hand a method call on: %m");
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_FAILED, "vsocknsd could not take this call: %s",
                                          strerror(-r));
    }
    sd_bus_message_unref(m);
}

/* Runs when the bus has nothing else pending (it has a lower priority than
 * the bus's sources): the socket is drained, so serve what is queued. */
static int on_idle(sd_event_source *source, void *userdata)
{
    FairQueue *q = userdata;
    pump(q);
    if (q->passing || q->n_senders == 0)
        (void) sd_event_source_set_enabled(source, SD_EVENT_OFF);
    return 0;
}

static int on_retry(sd_event_source *source, uint64_t usec, void *userdata)
{
    (void) source;
    (void) usec;
    pump(userdata);
    return 0;
}

/* Adds what the values from m's read position to the end of their
 * container weigh to *bytes, taking one of *values for each: -E2BIG once
 * either runs out. */
static int weigh_values(sd_bus_message *m, unsigned *values, size_t *bytes)
{
    for (;;) {
        char type;
        const char *contents;
        int r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
            return r;
        if (*values == 0)
            return -E2BIG;
        (*values)--;
        *bytes += 8;
        if (type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_VARIANT || type == SD_BUS_TYPE_STRUCT ||
            type == SD_BUS_TYPE_DICT_ENTRY) {
            r = sd_bus_message_enter_container(m, type, contents);
            if (r >= 0)
                r = weigh_values(m, values, bytes);
            if (r >= 0)
                r = sd_bus_message_exit_container(m);
        } else if (type == SD_BUS_TYPE_STRING || type == SD_BUS_TYPE_OBJECT_PATH || type == SD_BUS_TYPE_SIGNATURE) {
            const char *str;
            r = sd_bus_message_read_basic(m, type, &str);
            if (r >= 0)
                *bytes += strlen(str);
        } else {
            uint64_t any; /* big enough for every other basic type */
            r = sd_bus_message_read_basic(m, type, &any);
            /* An fd is one of vsocknsd's while the call waits: weighed so
             * that a sender's backlog holds at most a few dozen. */
            if (type == SD_BUS_TYPE_UNIX_FD)
                *bytes += FAIR_QUEUE_FD_WEIGHT;
        }
        if (r < 0)
            return r;
        if (*bytes > FAIR_QUEUE_CALL_BYTES)
            return -E2BIG;
    }
}

/* What m weighs, or -E2BIG if more than FAIR_QUEUE_CALL_BYTES or
 * FAIR_QUEUE_CALL_VALUES values; its read position is back at the start. */
static int64_t weigh(sd_bus_message *m)
{
    unsigned values = FAIR_QUEUE_CALL_VALUES;
    const char *header[] = { sd_bus_message_get_path(m), sd_bus_message_get_interface(m),
                             sd_bus_message_get_member(m) };
    size_t bytes = 0;
    for (size_t i = 0; i < ELEMENTSOF(header); i++)
        bytes += header[i] ? strlen(header[i]) : 0;
    int r = weigh_values(m, &values, &bytes);
    (void) sd_bus_message_rewind(m, true);
    return r < 0 ? r : (int64_t) bytes;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    FairQueue *q = userdata;
    uint8_t type;
    if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_CALL)
        return 0;
    if (m == q->passing) {
        /* Its turn: on to the handlers. The next one goes once the bus has
         * read what is waiting (on_idle), or after a few more reads. */
        q->passing = NULL;
        if (q->n_senders > 0)
            (void) sd_event_source_set_enabled(q->idle, SD_EVENT_ON);
        return 0;
    }
    /* Back from polkit with its answer: this call was queued and counted
     * when it arrived; refusing it now would fail a caller who has been
     * authorized already. */
    if (q->polkit && polkit_is_answered(q->polkit, m))
        return 0;
    const char *sender = sd_bus_message_get_sender(m);
    if (!sender)
        return 0;
    int64_t weight = weigh(m);
    if (weight == -E2BIG) {
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                          "This call is too large for vsocknsd: more than %d values or %d bytes "
                                          "(no method of org.vsockns1 takes that much).",
                                          FAIR_QUEUE_CALL_VALUES, FAIR_QUEUE_CALL_BYTES);
        return 1;
    }
    if (weight < 0) {
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_INVALID_ARGS, "This call cannot be read: %s.",
                                          strerror((int) -weight));
        return 1;
    }
    Sender *s = sender_find(q, sender);
    if (!s)
        s = sender_add(q, sender);
    if (!s)
        return 0; /* out of memory: serve it in arrival order */
    /* Full by number, or by weight (a burst of heavy calls would reach
     * the number only after far more memory): refused the same way. */
    bool heavy = s->bytes + (size_t) weight > FAIR_QUEUE_SENDER_BYTES;
    if (s->n == FAIR_QUEUE_PER_SENDER || heavy) {
        if (s->refused >= FAIR_QUEUE_PER_SENDER || (sd_bus_get_events(q->bus) & POLLOUT)) {
            /* It is not reading its replies (or it would have stopped), or
             * the bus is not reading ours: answering would only pile up
             * refusals in our memory. Unanswered calls count against its
             * pending replies on the bus, which refuses its further calls
             * itself once they reach its limit. */
            static time_t last_silenced;
            if (!s->silenced && warn_now(&last_silenced))
                log_warning("%s keeps calling with %d calls waiting and %d refused; its further calls go "
                            "unanswered until it catches up",
                            sender, FAIR_QUEUE_PER_SENDER, FAIR_QUEUE_PER_SENDER);
            s->silenced = true;
            return 1;
        }
        static time_t last_refused;
        if (!s->warned && warn_now(&last_refused))
            log_warning("%s has %d calls waiting; refusing its further calls until it catches up", sender,
                        FAIR_QUEUE_PER_SENDER);
        s->warned = true;
        s->refused++;
        if (heavy)
            (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                              "%s has %zu bytes of calls waiting already; wait for their replies.",
                                              sender, s->bytes);
        else
            (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                              "%s has %d calls waiting already; wait for their replies.", sender,
                                              FAIR_QUEUE_PER_SENDER);
        return 1;
    }
    unsigned slot = (s->head + s->n) % FAIR_QUEUE_PER_SENDER;
    s->calls[slot] = sd_bus_message_ref(m);
    s->weights[slot] = (uint32_t) weight;
    s->bytes += (size_t) weight;
    s->n++;
    /* Read ahead to see who else is waiting, but never only read. */
    if (++q->reads_since_pump >= FAIR_QUEUE_READ_AHEAD)
        pump(q);
    if (!q->passing)
        (void) sd_event_source_set_enabled(q->idle, SD_EVENT_ON);
    return 1;
}

int fair_queue_attach(sd_bus *bus, sd_event *event, PolkitRegistry *polkit, FairQueue **ret)
{
    FairQueue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->bus = bus;
    q->polkit = polkit;
    int r = sd_event_add_defer(event, &q->idle, on_idle, q);
    if (r >= 0)
        r = sd_event_source_set_priority(q->idle, SD_EVENT_PRIORITY_NORMAL + 1);
    if (r >= 0)
        r = sd_event_source_set_enabled(q->idle, SD_EVENT_OFF);
    if (r >= 0)
        r = sd_event_add_time_relative(event, &q->retry, CLOCK_MONOTONIC, FAIR_QUEUE_RETRY_USEC, 0, on_retry, q);
    if (r >= 0)
        r = sd_event_source_set_enabled(q->retry, SD_EVENT_OFF);
    if (r >= 0)
        r = sd_bus_add_filter(bus, &q->filter, on_message, q);
    if (r < 0) {
        fair_queue_free(q);
        return r;
    }
    *ret = q;
    return 0;
}

FairQueue *fair_queue_free(FairQueue *q)
{
    if (!q)
        return NULL;
    sd_bus_slot_unref(q->filter);
    sd_event_source_disable_unref(q->idle);
    sd_event_source_disable_unref(q->retry);
    for (size_t i = 0; i < q->n_senders; i++) {
        Sender *s = &q->senders[i];
        for (unsigned j = 0; j < s->n; j++)
            sd_bus_message_unref(s->calls[(s->head + j) % FAIR_QUEUE_PER_SENDER]);
        free(s->name);
    }
    free(q->senders);
    free(q);
    return NULL;
}
