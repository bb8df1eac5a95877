/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "polkit.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
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
/* A person reads a prompt and types a password: 90 s is ample for that,
 * and bounds what an agent that never answers holds. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (90 * 1000000ULL)
#define POLKIT_ANSWER_KEEP_USEC (60 * 1000000ULL) /* an answer nobody picked up is dropped after this */
#define POLKIT_REASK_MAX 3 /* questions asked anew for one call because what they were about changed */

/* Questions out at once. Each is one of our pending calls on the bus,
 * which allows 128 per connection (dbus-daemon's and dbus-broker's
 * default): 64 leaves room for our own calls to systemd. Interactive
 * questions may wait for a person, so they get at most 48 of the 64; the
 * rest are for questions that polkit answers at once. One uid may have 4
 * out, 1 of them interactive: whoever registers an agent that never
 * answers stalls only their own calls. */
static const PolkitLimits default_limits = {
    .timeout_usec = POLKIT_TIMEOUT_USEC,
    .interactive_timeout_usec = POLKIT_INTERACTIVE_TIMEOUT_USEC,
    .out = 64,
    .interactive = 48,
    .per_uid = 4,
    .interactive_per_uid = 1,
};

typedef struct PolkitQuery {
    PolkitRegistry *registry;
    sd_bus_message *request;   /* the method call to dispatch again */
    sd_bus_slot *slot;         /* the CheckAuthorization call, while out */
    sd_bus_slot *gone;         /* the match on the caller leaving the bus, while out */
    sd_bus_slot *owner_check;  /* GetNameOwner of the caller, once that match is in place */
    uid_t uid;                 /* the caller's, (uid_t) -1 if unknown: all unknown count as one */
    bool interactive;
    bool test;                 /* polkit_test()'s: a no is an answer, logged at debug only */
    bool caller_gone;          /* the caller left the bus while it was out: a yes is not acted on */
    char cancel_id[32];        /* CheckAuthorization's cancellation id */
    char action[64];
    char label[16];            /* PolkitAsk's label, "" for none */
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
    uint64_t next_id;          /* for cancellation ids */
    PolkitLimits limits;
};

PolkitRegistry *polkit_registry_new(void)
{
    PolkitRegistry *reg = calloc(1, sizeof(PolkitRegistry));
    if (reg)
        reg->limits = default_limits;
    return reg;
}

void polkit_registry_set_limits(PolkitRegistry *reg, const PolkitLimits *limits)
{
    reg->limits = *limits;
}

static void query_free(PolkitQuery *q)
{
    sd_bus_slot_unref(q->owner_check);
    sd_bus_slot_unref(q->gone);
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

static const char *ask_label(const PolkitAsk *a)
{
    return a->label ? a->label : "";
}

static PolkitQuery *find_query(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *a)
{
    for (PolkitQuery *q = reg->queries; q; q = q->next)
        if (q->request == m && streq(q->action, a->action) && streq(q->label, ask_label(a)))
            return q;
    return NULL;
}

static void deny(PolkitQuery *q, const char *name, const char *why)
{
    sd_bus_error_setf(&q->denial, name, "Not authorized for %s: %s.", q->action, why);
}

static void send_cancel(PolkitQuery *q);

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    PolkitQuery *q = userdata;
    int authorized = 0, challenge = 0;

    q->slot = sd_bus_slot_unref(q->slot);
    q->gone = sd_bus_slot_unref(q->gone);
    q->owner_check = sd_bus_slot_unref(q->owner_check);
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    char why[512];
    /* Our own timeout: polkitd may still be waiting for an agent. */
    if (e && sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY))
        send_cancel(q);
    if (e) {
        snprintf(why, sizeof(why), "polkit could not be asked (%s)", e->message ? e->message : e->name);
        deny(q, BUS_ERROR_ACCESS_DENIED, why);
    } else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
               sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0)
        deny(q, BUS_ERROR_ACCESS_DENIED, "polkit's answer was not understood");
    else if (q->caller_gone)
        deny(q, BUS_ERROR_ACCESS_DENIED, "the caller left the bus while it was being asked");
    else if (authorized)
        q->allowed = true;
    else if (challenge && !sd_bus_message_get_allow_interactive_authorization(q->request))
        deny(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
             "authentication is required; ask again allowing interactive authorization");
    else
        deny(q, BUS_ERROR_ACCESS_DENIED, "polkit said no");
    if (!q->allowed && q->test)
        log_debug("polkit said no to %s for %s (what it may see)", q->action, sd_bus_message_get_sender(q->request));
    else if (!q->allowed) {
        uid_t uid = q->uid;
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

/* CancelCheckAuthorization: polkitd stops waiting for an agent and drops
 * the question. Nothing waits for its reply. */
static void send_cancel(PolkitQuery *q)
{
    sd_bus *bus = sd_bus_message_get_bus(q->request);
    sd_bus_message *call = NULL;
    int r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CancelCheckAuthorization");
    if (r >= 0)
        r = sd_bus_message_append(call, "s", q->cancel_id);
    if (r >= 0)
        r = sd_bus_message_set_expect_reply(call, 0);
    if (r >= 0)
        r = sd_bus_send(bus, call, NULL);
    sd_bus_message_unref(call);
    if (r < 0)
        log_debug("Cannot cancel polkit question %s: %s", q->cancel_id, strerror(-r));
    else
        log_debug("Cancelled polkit question %s about %s for %s", q->cancel_id, q->action,
                  sd_bus_message_get_sender(q->request));
}

/* The caller left the bus while its question was out: polkit need not go
 * on asking its agent. The question's slot stays until polkit answers
 * (it says "cancelled"), or the timeout. */
static void caller_left(PolkitQuery *q)
{
    q->gone = sd_bus_slot_unref(q->gone);
    q->owner_check = sd_bus_slot_unref(q->owner_check);
    q->caller_gone = true;
    if (q->slot)
        send_cancel(q);
}

static int on_caller_gone(sd_bus_message *signal, void *userdata, sd_bus_error *ret_error)
{
    PolkitQuery *q = userdata;
    const char *name, *old_owner, *new_owner;
    const char *sender = sd_bus_message_get_sender(q->request);
    if (sd_bus_message_read(signal, "sss", &name, &old_owner, &new_owner) < 0 || new_owner[0] != '\0' ||
        !sender || !streq(name, sender))
        return 0;
    caller_left(q);
    return 0;
}

/* Asked once the match is in place: a caller that left before has no
 * owner (unique names are never given out again), one that leaves after
 * is the match's. Between the two, nothing is missed. */
static int on_owner_checked(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    PolkitQuery *q = userdata;
    q->owner_check = sd_bus_slot_unref(q->owner_check);
    if (sd_bus_message_is_method_error(reply, "org.freedesktop.DBus.Error.NameHasNoOwner"))
        caller_left(q);
    return 0;
}

/* The bus could not take the match (its limits): the question goes on
 * unwatched, and the timeout bounds it. Without this callback sd-bus
 * would close our connection on such a failure. */
static int on_watch_installed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    PolkitQuery *q = userdata;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    if (e) {
        log_debug("Cannot watch %s for leaving the bus: %s", sd_bus_message_get_sender(q->request),
                  e->message ? e->message : e->name);
        q->gone = sd_bus_slot_unref(q->gone);
        return 0;
    }
    int r = sd_bus_call_method_async(sd_bus_message_get_bus(reply), &q->owner_check, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                     on_owner_checked, q, "s", sd_bus_message_get_sender(q->request));
    if (r < 0)
        log_debug("Cannot ask whether %s is still there: %s", sd_bus_message_get_sender(q->request), strerror(-r));
    return 0;
}

/* The match first, then (on_watch_installed) whether the caller is still
 * there: see on_owner_checked. */
static void watch_caller(PolkitQuery *q)
{
    sd_bus *bus = sd_bus_message_get_bus(q->request);
    const char *sender = sd_bus_message_get_sender(q->request);
    char match[256];
    if (!sender || !sd_bus_is_bus_client(bus))
        return;
    snprintf(match, sizeof(match),
             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
             sender);
    int r = sd_bus_add_match_async(bus, &q->gone, match, on_caller_gone, on_watch_installed, q);
    if (r < 0)
        log_debug("Cannot watch %s for leaving the bus: %s", sender, strerror(-r));
}

static int send_question(PolkitQuery *q, const char *const *details)
{
    sd_bus *bus = sd_bus_message_get_bus(q->request);
    sd_bus_message *call = NULL;
    bool interactive = q->interactive;
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
        r = sd_bus_message_append(call, "us", (uint32_t) (interactive ? 1 : 0), q->cancel_id);
    if (r >= 0)
        r = sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q,
                              interactive ? q->registry->limits.interactive_timeout_usec : q->registry->limits.timeout_usec);
    sd_bus_message_unref(call);
    if (r >= 0)
        watch_caller(q);
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
/* Whether one more question, from uid, fits under the caps; if not, the
 * refusal in error. */
static int check_room(PolkitRegistry *reg, uid_t uid, bool interactive, sd_bus_error *error)
{
    const PolkitLimits *l = &reg->limits;
    unsigned out = 0, out_interactive = 0, mine = 0, mine_interactive = 0;
    for (PolkitQuery *q = reg->queries; q; q = q->next) {
        if (q->answered)
            continue;
        out++;
        out_interactive += q->interactive;
        mine += q->uid == uid;
        /* A question whose caller left has been cancelled: nobody can
         * answer it for the user any more, so it does not stop the user's
         * next one. It still counts against the user's and the total caps
         * until polkit lets go of it. */
        mine_interactive += q->uid == uid && q->interactive && !q->caller_gone;
    }
    char who[32];
    if (uid == (uid_t) -1)
        snprintf(who, sizeof(who), "callers of unknown uid");
    else
        snprintf(who, sizeof(who), "uid %u", (unsigned) uid);
    if (interactive && mine_interactive >= l->interactive_per_uid)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%s has reached its limit of %u open interactive authorization questions; answer "
                                 "them, or ask without interactive authorization.",
                                 who, l->interactive_per_uid);
    if (mine >= l->per_uid)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%s has reached its limit of %u open authorization questions; wait for their "
                                 "answers.",
                                 who, l->per_uid);
    if (out >= l->out)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%u authorization questions are open, the most vsocknsd asks at once; try again "
                                 "in a moment.",
                                 out);
    if (interactive && out_interactive >= l->interactive)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%u interactive authorization questions are open, the most vsocknsd asks at once "
                                 "(the rest are kept for questions that need no person); try again in a moment, "
                                 "or without interactive authorization.",
                                 out_interactive);
    return 0;
}

static int ask(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *a, char *details, unsigned reasked,
               uid_t uid, bool test, sd_bus_error *error)
{
    drop_stale_answers(reg, m);
    bool interactive = !test && sd_bus_message_get_allow_interactive_authorization(m);
    int r = check_room(reg, uid, interactive, error);
    if (r < 0) {
        log_debug("Not asking polkit about %s for %s: %s", a->action, sd_bus_message_get_sender(m),
                  error->message);
        free(details);
        drop_queries_of(reg, m);
        return r;
    }
    PolkitQuery *q = calloc(1, sizeof(PolkitQuery));
    if (!q) {
        free(details);
        drop_queries_of(reg, m);
        return -ENOMEM;
    }
    *q = (PolkitQuery) { .registry = reg, .request = sd_bus_message_ref(m), .details = details,
                         .reasked = reasked, .uid = uid, .interactive = interactive, .test = test,
                         .denial = SD_BUS_ERROR_NULL };
    snprintf(q->action, sizeof(q->action), "%s", a->action);
    assert(strlen(ask_label(a)) < sizeof(q->label));
    snprintf(q->label, sizeof(q->label), "%s", ask_label(a));
    snprintf(q->cancel_id, sizeof(q->cancel_id), "vsocknsd-%" PRIu64, ++reg->next_id);
    r = send_question(q, a->details);
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

/* polkit_check_all(), and with test (one ask) polkit_test(): a no is then
 * *allowed false and 1, not an error. */
static int check(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *asks, size_t n_asks, bool test,
                 bool *allowed, sd_bus_error *error)
{
    assert(!test || n_asks == 1);
    if (allowed)
        *allowed = true;
    uid_t uid;
    if (bus_caller_euid(m, &uid) < 0)
        uid = (uid_t) -1;
    else if (uid == 0)
        return 1;
    for (size_t i = 0; i < n_asks; i++)
        for (size_t j = 0; j < i; j++) /* answers are kept per action and label */
            assert(!streq(asks[i].action, asks[j].action) || !streq(ask_label(&asks[i]), ask_label(&asks[j])));

    for (size_t i = 0; i < n_asks; i++) {
        char *details = details_text(asks[i].details);
        if (!details) {
            drop_queries_of(reg, m);
            return -ENOMEM;
        }
        PolkitQuery *q = find_query(reg, m, &asks[i]);
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
            return ask(reg, m, &asks[i], details, reasked, uid, test, error);
        free(details);
        if (!q->allowed && test) {
            *allowed = false;
            drop_queries_of(reg, m);
            return 1;
        }
        if (!q->allowed) {
            sd_bus_error_copy(error, &q->denial);
            drop_queries_of(reg, m);
            return -EACCES;
        }
    }
    drop_queries_of(reg, m);
    return 1;
}

int polkit_check_all(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *asks, size_t n_asks,
                     sd_bus_error *error)
{
    return check(reg, m, asks, n_asks, false, NULL, error);
}

int polkit_check(PolkitRegistry *reg, sd_bus_message *m, const char *action, const char *const *details,
                 sd_bus_error *error)
{
    return check(reg, m, &(PolkitAsk) { action, details, NULL }, 1, false, NULL, error);
}

int polkit_test(PolkitRegistry *reg, sd_bus_message *m, const char *action, const char *const *details,
                bool *allowed, sd_bus_error *error)
{
    return check(reg, m, &(PolkitAsk) { action, details, NULL }, 1, true, allowed, error);
}
