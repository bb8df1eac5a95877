/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "polkit.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/bus-errors.h"
#include "daemon/bus-util.h"
#include "shared/events.h"
#include "shared/log.h"
#include "shared/macro.h"

#define POLKIT_TIMEOUT_USEC (25 * 1000000ULL)
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (300 * 1000000ULL) /* a person is typing a password */
#define POLKIT_ANSWER_KEEP_USEC (60 * 1000000ULL) /* an answer nobody picked up is dropped after this */
#define POLKIT_REASK_MAX 3 /* questions asked anew for one call because what they were about changed */
#define POLKIT_PENDING_MAX 256    /* questions out at once; more are denied */

typedef struct PolkitQuery {
    PolkitRegistry *registry;
    sd_bus_message *request;   /* the method call to dispatch again */
    sd_bus_slot *slot;         /* the CheckAuthorization call, while out */
    char action[64];
    char *details;             /* what it was asked with (details_text()) */
    bool answered, allowed;
    sd_bus_error denial;
    uint64_t answered_at;      /* CLOCK_MONOTONIC, usec */
    unsigned reasked;          /* how many times this action was asked anew for this call */
    struct PolkitQuery *next;
} PolkitQuery;

struct PolkitRegistry {
    PolkitQuery *queries;
    size_t n;
};

PolkitRegistry *polkit_registry_new(void)
{
    return calloc(1, sizeof(PolkitRegistry));
}

static void query_free(PolkitQuery *q)
{
    sd_bus_slot_unref(q->slot);
    sd_bus_message_unref(q->request);
    free(q->details);
    sd_bus_error_free(&q->denial);
    free(q);
}

static void query_unlink(PolkitRegistry *reg, PolkitQuery *q)
{
    for (PolkitQuery **p = &reg->queries; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            reg->n--;
            return;
        }
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *reg)
{
    if (!reg)
        return NULL;
    while (reg->queries) {
        PolkitQuery *q = reg->queries;
        query_unlink(reg, q);
        query_free(q);
    }
    free(reg);
    return NULL;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* Whether the answers about m are stale: m came back for none of them in
 * POLKIT_ANSWER_KEEP_USEC since the last one, and no question about it is
 * out. Judged per call, so the answers a call keeps while it waits for
 * another go with it. */
static bool call_is_stale(PolkitRegistry *reg, sd_bus_message *m, uint64_t now)
{
    uint64_t newest = 0;
    for (PolkitQuery *q = reg->queries; q; q = q->next)
        if (q->request == m) {
            if (!q->answered)
                return false;
            newest = q->answered_at > newest ? q->answered_at : newest;
        }
    return now - newest > POLKIT_ANSWER_KEEP_USEC;
}

/* Answers whose method call never came back (the caller's request failed
 * validation the second time, say) must not pile up. current (the call
 * being handled) is never stale. */
static void drop_stale_answers(PolkitRegistry *reg, sd_bus_message *current)
{
    uint64_t now = now_usec();
    for (PolkitQuery *q = reg->queries, *next; q; q = next) {
        next = q->next;
        if (q->answered && q->request != current && call_is_stale(reg, q->request, now)) {
            query_unlink(reg, q);
            query_free(q);
        }
    }
}

/* Every answer and question about m, once its handler is done with them. */
static void drop_queries_of(PolkitRegistry *reg, sd_bus_message *m)
{
    for (PolkitQuery *q = reg->queries, *next; q; q = next) {
        next = q->next;
        if (q->request == m) {
            query_unlink(reg, q);
            query_free(q);
        }
    }
}

/* details as one string (key US value RS ...), to compare what was asked
 * with what would be asked now. */
static char *details_text(const char *const *details)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    for (size_t i = 0; details && details[i] && details[i + 1]; i += 2)
        fprintf(f, "%s\x1f%s\x1e", details[i], details[i + 1]);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static PolkitQuery *find_query(PolkitRegistry *reg, sd_bus_message *m, const char *action)
{
    for (PolkitQuery *q = reg->queries; q; q = q->next)
        if (q->request == m && streq(q->action, action))
            return q;
    return NULL;
}

static void deny(PolkitQuery *q, const char *name, const char *why)
{
    sd_bus_error_setf(&q->denial, name, "Not authorized for %s: %s.", q->action, why);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    PolkitQuery *q = userdata;
    int authorized = 0, challenge = 0;

    q->slot = sd_bus_slot_unref(q->slot);
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    char why[512];
    if (e) {
        snprintf(why, sizeof(why), "polkit could not be asked (%s)", e->message ? e->message : e->name);
        deny(q, BUS_ERROR_ACCESS_DENIED, why);
    } else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
               sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0)
        deny(q, BUS_ERROR_ACCESS_DENIED, "polkit's answer was not understood");
    else if (authorized)
        q->allowed = true;
    else if (challenge && !sd_bus_message_get_allow_interactive_authorization(q->request))
        deny(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
             "authentication is required; ask again allowing interactive authorization");
    else
        deny(q, BUS_ERROR_ACCESS_DENIED, "polkit said no");
    if (!q->allowed) {
        uid_t uid = (uid_t) -1;
        sd_bus_creds *creds = sd_bus_message_get_creds(q->request);
        if (!creds || sd_bus_creds_get_euid(creds, &uid) < 0)
            uid = (uid_t) -1;
        log_event(LOG_NOTICE, EVENT_AUTH_DENIED, (EventFields) { .has_uid = uid != (uid_t) -1, .uid = uid },
                  "Denied %s to %s: %s", q->action, sd_bus_message_get_sender(q->request), q->denial.message);
    }
    q->answered = true;
    q->answered_at = now_usec();
    /* The same method call once more: polkit_check() finds the answer. */
    int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
    if (r < 0) {
        log_warning_errno(r, "Cannot dispatch a method call again after polkit answered: %m");
        (void) sd_bus_reply_method_errorf(q->request, BUS_ERROR_ACCESS_DENIED,
                                          "Not authorized for %s: the call could not be handled again (%s).",
                                          q->action, strerror(-r));
        PolkitRegistry *reg = q->registry;
        drop_queries_of(reg, q->request); /* q among them */
    }
    return 0;
}

static int send_question(PolkitQuery *q, const char *const *details)
{
    sd_bus *bus = sd_bus_message_get_bus(q->request);
    sd_bus_message *call = NULL;
    bool interactive = sd_bus_message_get_allow_interactive_authorization(q->request);
    int r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
    if (r >= 0)
        r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                  sd_bus_message_get_sender(q->request), q->action);
    if (r >= 0)
        r = sd_bus_message_open_container(call, 'a', "{ss}");
    for (size_t i = 0; r >= 0 && details && details[i] && details[i + 1]; i += 2)
        r = sd_bus_message_append(call, "{ss}", details[i], details[i + 1]);
    if (r >= 0)
        r = sd_bus_message_close_container(call);
    if (r >= 0)
        r = sd_bus_message_append(call, "us", (uint32_t) (interactive ? 1 : 0), "");
    if (r >= 0)
        r = sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q,
                              interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : POLKIT_TIMEOUT_USEC);
    sd_bus_message_unref(call);
    return r;
}

bool polkit_is_answered(PolkitRegistry *reg, sd_bus_message *m)
{
    for (PolkitQuery *q = reg->queries; q; q = q->next)
        if (q->request == m && q->answered)
            return true;
    return false;
}

/* Sends the question about one action for m; takes details (its text).
 * On failure every answer kept for m goes too: the call is answered now. */
static int ask(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *a, char *details, unsigned reasked,
               sd_bus_error *error)
{
    drop_stale_answers(reg, m);
    if (reg->n >= POLKIT_PENDING_MAX) {
        free(details);
        drop_queries_of(reg, m);
        return sd_bus_error_set(error, BUS_ERROR_ACCESS_DENIED,
                                "Too many authorization questions are open; try again in a moment.");
    }
    PolkitQuery *q = calloc(1, sizeof(PolkitQuery));
    if (!q) {
        free(details);
        drop_queries_of(reg, m);
        return -ENOMEM;
    }
    *q = (PolkitQuery) { .registry = reg, .request = sd_bus_message_ref(m), .details = details,
                         .reasked = reasked, .denial = SD_BUS_ERROR_NULL };
    snprintf(q->action, sizeof(q->action), "%s", a->action);
    int r = send_question(q, a->details);
    if (r < 0) {
        query_free(q);
        drop_queries_of(reg, m);
        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                 "Not authorized for %s: polkit could not be asked (%s).", a->action, strerror(-r));
    }
    q->next = reg->queries;
    reg->queries = q;
    reg->n++;
    return 0;
}

int polkit_check_all(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *asks, size_t n_asks,
                     sd_bus_error *error)
{
    uid_t uid;
    if (bus_caller_euid(m, &uid) >= 0 && uid == 0)
        return 1;
    for (size_t i = 0; i < n_asks; i++)
        for (size_t j = 0; j < i; j++)
            assert(!streq(asks[i].action, asks[j].action)); /* answers are kept per action */

    for (size_t i = 0; i < n_asks; i++) {
        char *details = details_text(asks[i].details);
        if (!details) {
            drop_queries_of(reg, m);
            return -ENOMEM;
        }
        PolkitQuery *q = find_query(reg, m, asks[i].action);
        if (q && !q->answered) {
            free(details);
            return 0; /* still out */
        }
        unsigned reasked = 0;
        if (q && !streq(q->details, details)) {
            /* Answered about something that has changed since: ask anew,
             * a few times at most (someone else may keep changing it). */
            reasked = q->reasked + 1;
            query_unlink(reg, q);
            query_free(q);
            q = NULL;
            if (reasked > POLKIT_REASK_MAX) {
                free(details);
                drop_queries_of(reg, m);
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                         "Not authorized for %s: what it is about changed %u times while it was "
                                         "being authorized; try again.",
                                         asks[i].action, POLKIT_REASK_MAX + 1);
            }
            log_debug("Asking polkit again about %s for %s: what it answered about has changed", asks[i].action,
                      sd_bus_message_get_sender(m));
        }
        if (!q)
            return ask(reg, m, &asks[i], details, reasked, error);
        free(details);
        if (!q->allowed) {
            sd_bus_error_copy(error, &q->denial);
            drop_queries_of(reg, m);
            return -EACCES;
        }
    }
    drop_queries_of(reg, m);
    return 1;
}

int polkit_check(PolkitRegistry *reg, sd_bus_message *m, const char *action, const char *const *details,
                 sd_bus_error *error)
{
    return polkit_check_all(reg, m, &(PolkitAsk) { action, details }, 1, error);
}
