/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit_check_all() (daemon/polkit.c) against an authority played by the
 * peer of a direct connection, which answers when the test says: several
 * actions asked one after the other for one method call, the answers kept
 * until the last is in; a denial ends it at once; an answer about details
 * that changed before the call came back is not used, polkit is asked
 * anew, a bounded number of times; questions out at once are capped per
 * uid (interactive ones apart) and in all; a question that times out is
 * cancelled in polkit by its cancellation id. And what need-to-know.h
 * builds on it: polkit_test(), where a no is an answer, asked without
 * interaction; answers kept per (uid, namespace and its inode) for a
 * while, never for callers of unknown uid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus-pair.h"
#include "daemon/bus-errors.h"
#include "daemon/need-to-know.h"
#include "daemon/polkit.h"
#include "shared/macro.h"

#define CALLER ":1.42"
#define TIMEOUT_USEC (10 * 1000000ULL)
#define ACTION_A POLKIT_ACTION_MANAGE_NAMESPACES
#define ACTION_B POLKIT_ACTION_MANAGE_FOREIGN_LEASES

/* The authority: the questions it was asked, in order. */
typedef struct Question {
    sd_bus_message *call;
    char action[64];
    char owner[64]; /* the "owner" detail */
    char verb[16], ns[64]; /* the "verb" and "namespace" details */
    char cancel_id[64];
    bool interactive;
} Question;

typedef struct Authority {
    Question asked[16];
    size_t n;
    char cancelled[4][64]; /* CancelCheckAuthorization's ids, in order */
    size_t n_cancelled;
} Authority;

static int method_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Authority *a = userdata;
    const char *action, *key, *value;
    assert_true(a->n < ELEMENTSOF(a->asked));
    Question *q = &a->asked[a->n++];
    *q = (Question) { .call = sd_bus_message_ref(m) };
    assert_true(sd_bus_message_skip(m, "(sa{sv})") >= 0);
    assert_true(sd_bus_message_read(m, "s", &action) >= 0);
    snprintf(q->action, sizeof(q->action), "%s", action);
    assert_true(sd_bus_message_enter_container(m, 'a', "{ss}") >= 0);
    while (sd_bus_message_read(m, "{ss}", &key, &value) > 0)
        if (streq(key, "owner"))
            snprintf(q->owner, sizeof(q->owner), "%s", value);
        else if (streq(key, "verb"))
            snprintf(q->verb, sizeof(q->verb), "%s", value);
        else if (streq(key, "namespace"))
            snprintf(q->ns, sizeof(q->ns), "%s", value);
    assert_true(sd_bus_message_exit_container(m) >= 0);
    uint32_t flags;
    const char *cancel_id;
    assert_true(sd_bus_message_read(m, "us", &flags, &cancel_id) >= 0);
    q->interactive = flags & 1;
    snprintf(q->cancel_id, sizeof(q->cancel_id), "%s", cancel_id);
    return 1;
}

static int method_cancel_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Authority *a = userdata;
    const char *id;
    assert_true(sd_bus_message_read(m, "s", &id) >= 0);
    assert_true(a->n_cancelled < ELEMENTSOF(a->cancelled));
    snprintf(a->cancelled[a->n_cancelled++], sizeof(a->cancelled[0]), "%s", id);
    return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable authority_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check_authorization, 0),
    SD_BUS_METHOD("CancelCheckAuthorization", "s", "", method_cancel_check_authorization, 0),
    SD_BUS_VTABLE_END,
};

/* The daemon's end: Guarded needs ACTION_A then ACTION_B, both about the
 * object's current owner. */
typedef struct Daemon {
    PolkitRegistry *polkit;
    NeedToKnow *need_to_know;
    char owner[64];
    unsigned handled; /* times Guarded's handler ran */
} Daemon;

static int method_guarded(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Daemon *d = userdata;
    d->handled++;
    const char *details[] = { "owner", d->owner, NULL };
    const PolkitAsk asks[] = { { ACTION_A, details, NULL }, { ACTION_B, details, NULL } };
    int r = polkit_check_all(d->polkit, m, asks, ELEMENTSOF(asks), error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return sd_bus_reply_method_return(m, "s", "done");
}

/* Peek(u uid, s namespace, t inode, t created, b global) -> b: whether uid
 * may see all of a namespace of that name, inode, creation time and mode
 * (need_to_know_check()). The uid
 * is the test's: on the pair the caller's cannot be asked for. */
static int method_peek(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Daemon *d = userdata;
    uint32_t uid;
    const char *name;
    Namespace ns = { .mode = VSOCK_MODE_LOCAL };
    int global;
    assert_true(sd_bus_message_read(m, "usttb", &uid, &name, &ns.inode, &ns.created_usec, &global) >= 0);
    if (global)
        ns.mode = VSOCK_MODE_GLOBAL;
    snprintf(ns.name, sizeof(ns.name), "%s", name);
    bool allowed;
    int r = need_to_know_check(d->need_to_know, d->polkit, m, (uid_t) uid, &ns, &allowed, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return sd_bus_reply_method_return(m, "b", (int) allowed);
}

static const sd_bus_vtable test_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Guarded", "", "s", method_guarded, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Peek", "usttb", "b", method_peek, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* One call of Guarded and its reply. */
typedef struct Call {
    sd_bus_message *reply;
    bool answered;
} Call;

typedef struct Test {
    BusPair p;
    Authority a;
    Daemon d;
    sd_bus_message *reply; /* the first call's */
    bool answered;
    Call more[8];          /* calls made by call_guarded() */
} Test;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Test *t = userdata;
    t->reply = sd_bus_message_ref(reply);
    t->answered = true;
    return 0;
}

static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Call *c = userdata;
    c->reply = sd_bus_message_ref(reply);
    c->answered = true;
    return 0;
}

/* Another call of Guarded, interactive or not; its reply in *c. */
static void call_guarded(Test *t, Call *c, bool interactive)
{
    sd_bus_message *call = NULL;
    assert_true(sd_bus_message_new_method_call(t->p.peer, &call, NULL, "/test", "org.vsockns1.Test", "Guarded") >= 0);
    assert_true(sd_bus_message_set_allow_interactive_authorization(call, interactive) >= 0);
    assert_true(sd_bus_call_async(t->p.peer, NULL, call, on_call_reply, c, 0) >= 0);
    sd_bus_message_unref(call);
}

/* Sets up the pair; with first, makes the first call (non-interactive). */
static void start_with(Test *t, const PolkitLimits *limits, bool first)
{
    *t = (Test) { .d = { .owner = "alice" } };
    t->d.polkit = polkit_registry_new();
    assert_non_null(t->d.polkit);
    t->d.need_to_know = need_to_know_new(NEED_TO_KNOW_KEEP_USEC);
    assert_non_null(t->d.need_to_know);
    if (limits)
        polkit_registry_set_limits(t->d.polkit, limits);
    bus_pair_open(&t->p, CALLER);
    assert_true(sd_bus_add_object_vtable(t->p.daemon, NULL, "/test", "org.vsockns1.Test", test_vtable, &t->d) >= 0);
    assert_true(sd_bus_add_object_vtable(t->p.peer, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", authority_vtable, &t->a) >= 0);
    if (first)
        assert_true(sd_bus_call_method_async(t->p.peer, NULL, NULL, "/test", "org.vsockns1.Test", "Guarded", on_reply,
                                             t, NULL) >= 0);
}

static void start(Test *t)
{
    start_with(t, NULL, true);
}

/* Waits until the authority has been asked n questions in all. */
static bool wait_questions(Test *t, size_t n)
{
    for (unsigned i = 0; t->a.n < n && i < TIMEOUT_USEC / 10000; i++)
        bus_pair_run_for(&t->p, 10000);
    return t->a.n >= n;
}

static void answer_last(Test *t, bool allow)
{
    Question *q = &t->a.asked[t->a.n - 1];
    assert_true(sd_bus_reply_method_return(q->call, "(bba{ss})", (int) allow, 0, 0) >= 0);
    assert_true(sd_bus_flush(t->p.peer) >= 0);
}

static void finish_test(Test *t)
{
    for (size_t i = 0; i < t->a.n; i++)
        sd_bus_message_unref(t->a.asked[i].call);
    for (size_t i = 0; i < ELEMENTSOF(t->more); i++)
        sd_bus_message_unref(t->more[i].reply);
    sd_bus_message_unref(t->reply);
    polkit_registry_free(t->d.polkit);
    need_to_know_free(t->d.need_to_know);
    bus_pair_close(&t->p);
}

static void test_both_allowed(void **state)
{
    Test t;
    start(&t);
    assert_true(wait_questions(&t, 1));
    assert_int_equal(t.a.n, 1);
    assert_string_equal(t.a.asked[0].action, ACTION_A);
    answer_last(&t, true);
    /* The second action is asked only once the first is allowed. */
    assert_true(wait_questions(&t, 2));
    assert_int_equal(t.a.n, 2);
    assert_string_equal(t.a.asked[1].action, ACTION_B);
    assert_false(t.answered);
    answer_last(&t, true);
    assert_true(bus_pair_run_until(&t.p, &t.answered, TIMEOUT_USEC));
    assert_false(sd_bus_message_is_method_error(t.reply, NULL));
    assert_int_equal(t.a.n, 2); /* the kept first answer was used, not asked again */
    assert_int_equal(t.d.handled, 3);
    finish_test(&t);
}

static void test_second_denied(void **state)
{
    Test t;
    start(&t);
    assert_true(wait_questions(&t, 1));
    answer_last(&t, true);
    assert_true(wait_questions(&t, 2));
    answer_last(&t, false);
    assert_true(bus_pair_run_until(&t.p, &t.answered, TIMEOUT_USEC));
    assert_true(sd_bus_message_is_method_error(t.reply, BUS_ERROR_ACCESS_DENIED));
    assert_non_null(strstr(sd_bus_message_get_error(t.reply)->message, ACTION_B));
    finish_test(&t);
}

static void test_first_denied(void **state)
{
    Test t;
    start(&t);
    assert_true(wait_questions(&t, 1));
    answer_last(&t, false);
    assert_true(bus_pair_run_until(&t.p, &t.answered, TIMEOUT_USEC));
    assert_true(sd_bus_message_is_method_error(t.reply, BUS_ERROR_ACCESS_DENIED));
    assert_int_equal(t.a.n, 1); /* the second action never asked */
    finish_test(&t);
}

/* The owner changes while polkit thinks about the first question: its yes
 * was about alice, so polkit is asked again, about bob. */
static void test_changed_details_asked_again(void **state)
{
    Test t;
    start(&t);
    assert_true(wait_questions(&t, 1));
    assert_string_equal(t.a.asked[0].owner, "alice");
    snprintf(t.d.owner, sizeof(t.d.owner), "bob");
    answer_last(&t, true);
    assert_true(wait_questions(&t, 2));
    assert_int_equal(t.a.n, 2);
    assert_string_equal(t.a.asked[1].action, ACTION_A);
    assert_string_equal(t.a.asked[1].owner, "bob");
    answer_last(&t, true);
    assert_true(wait_questions(&t, 3));
    assert_string_equal(t.a.asked[2].action, ACTION_B);
    assert_string_equal(t.a.asked[2].owner, "bob");
    answer_last(&t, true);
    assert_true(bus_pair_run_until(&t.p, &t.answered, TIMEOUT_USEC));
    assert_false(sd_bus_message_is_method_error(t.reply, NULL));
    finish_test(&t);
}

/* Details that change before every answer: a few questions anew, then a
 * named refusal rather than questions without end. */
static void test_changing_details_bounded(void **state)
{
    Test t;
    start(&t);
    for (unsigned i = 0; !t.answered && wait_questions(&t, i + 1); i++) {
        snprintf(t.d.owner, sizeof(t.d.owner), "owner-%u", i);
        answer_last(&t, true);
        /* until asked again, or answered */
        for (unsigned j = 0; !t.answered && t.a.n == i + 1 && j < 500; j++)
            bus_pair_run_for(&t.p, 10000);
    }
    assert_true(bus_pair_run_until(&t.p, &t.answered, TIMEOUT_USEC));
    assert_true(sd_bus_message_is_method_error(t.reply, BUS_ERROR_ACCESS_DENIED));
    assert_non_null(strstr(sd_bus_message_get_error(t.reply)->message, "changed"));
    assert_true(t.a.n >= 2 && t.a.n <= 5);
    finish_test(&t);
}

static bool refused_for_limits(const Call *c, const char *what)
{
    return c->answered && sd_bus_message_is_method_error(c->reply, SD_BUS_ERROR_LIMITS_EXCEEDED) &&
           strstr(sd_bus_message_get_error(c->reply)->message, what);
}

static void run_until_answered(Test *t, Call *c)
{
    assert_true(bus_pair_run_until(&t->p, &c->answered, TIMEOUT_USEC));
}

/* The default caps: 4 questions out per uid; the fifth call is refused
 * at once, and a freed slot is taken again. */
static void test_per_uid_cap(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    for (unsigned i = 0; i < 5; i++)
        call_guarded(&t, &t.more[i], false);
    run_until_answered(&t, &t.more[4]);
    assert_true(wait_questions(&t, 4));
    assert_int_equal(t.a.n, 4);
    assert_true(refused_for_limits(&t.more[4], "has reached its limit of 4 open authorization questions"));
    for (unsigned i = 0; i < 4; i++)
        assert_false(t.more[i].answered);
    /* A no for the first call frees its slot: the next call is asked. */
    assert_true(sd_bus_reply_method_return(t.a.asked[0].call, "(bba{ss})", 0, 0, 0) >= 0);
    assert_true(sd_bus_flush(t.p.peer) >= 0);
    run_until_answered(&t, &t.more[0]);
    call_guarded(&t, &t.more[5], false);
    assert_true(wait_questions(&t, 5));
    assert_false(t.more[5].answered);
    finish_test(&t);
}

/* One interactive question per uid: the second is refused, while a
 * non-interactive call of the same uid is still asked. */
static void test_interactive_per_uid(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    call_guarded(&t, &t.more[0], true);
    assert_true(wait_questions(&t, 1));
    assert_true(t.a.asked[0].interactive);
    call_guarded(&t, &t.more[1], true);
    run_until_answered(&t, &t.more[1]);
    assert_true(refused_for_limits(&t.more[1], "limit of 1 open interactive authorization questions"));
    call_guarded(&t, &t.more[2], false);
    assert_true(wait_questions(&t, 2));
    assert_false(t.a.asked[1].interactive);
    assert_false(t.more[0].answered);
    assert_false(t.more[2].answered);
    finish_test(&t);
}

/* The caps in all, with room per uid: interactive questions cannot take
 * the slots kept for the others. */
static void test_total_caps(void **state)
{
    const PolkitLimits limits = { .timeout_usec = TIMEOUT_USEC, .interactive_timeout_usec = TIMEOUT_USEC,
                                  .out = 3, .interactive = 2, .per_uid = 10, .interactive_per_uid = 10 };
    Test t;
    start_with(&t, &limits, false);
    for (unsigned i = 0; i < 3; i++)
        call_guarded(&t, &t.more[i], true);
    run_until_answered(&t, &t.more[2]);
    assert_true(refused_for_limits(&t.more[2], "2 interactive authorization questions are open"));
    call_guarded(&t, &t.more[3], false);
    assert_true(wait_questions(&t, 3));
    call_guarded(&t, &t.more[4], false);
    run_until_answered(&t, &t.more[4]);
    assert_true(refused_for_limits(&t.more[4], "3 authorization questions are open"));
    assert_int_equal(t.a.n, 3);
    finish_test(&t);
}

/* A question polkit does not answer in time is denied, and cancelled in
 * polkit under the id it was asked with. */
static void test_timeout_cancels(void **state)
{
    const PolkitLimits limits = { .timeout_usec = 200000, .interactive_timeout_usec = 200000,
                                  .out = 4, .interactive = 4, .per_uid = 4, .interactive_per_uid = 4 };
    Test t;
    start_with(&t, &limits, false);
    call_guarded(&t, &t.more[0], false);
    call_guarded(&t, &t.more[1], true);
    run_until_answered(&t, &t.more[0]);
    run_until_answered(&t, &t.more[1]);
    for (unsigned i = 0; i < 2; i++) {
        assert_true(sd_bus_message_is_method_error(t.more[i].reply, BUS_ERROR_ACCESS_DENIED));
        assert_non_null(strstr(sd_bus_message_get_error(t.more[i].reply)->message, "polkit could not be asked"));
    }
    for (unsigned i = 0; t.a.n_cancelled < 2 && i < 100; i++)
        bus_pair_run_for(&t.p, 10000);
    assert_int_equal(t.a.n, 2);
    assert_int_equal(t.a.n_cancelled, 2);
    assert_true(t.a.asked[0].cancel_id[0] != '\0');
    assert_string_not_equal(t.a.asked[0].cancel_id, t.a.asked[1].cancel_id);
    for (unsigned i = 0; i < 2; i++)
        assert_true(streq(t.a.cancelled[i], t.a.asked[0].cancel_id) ||
                    streq(t.a.cancelled[i], t.a.asked[1].cancel_id));
    assert_string_not_equal(t.a.cancelled[0], t.a.cancelled[1]);
    finish_test(&t);
}

/* The creation time and mode of the namespace the next Peeks are about. */
static uint64_t peek_created;
static bool peek_global;

/* A Peek call (interactive authorization allowed: need to know never
 * asks interactively), its reply in *c. */
static void call_peek(Test *t, Call *c, uid_t uid, const char *ns, uint64_t inode)
{
    sd_bus_message *call = NULL;
    *c = (Call) {};
    assert_true(sd_bus_message_new_method_call(t->p.peer, &call, NULL, "/test", "org.vsockns1.Test", "Peek") >= 0);
    assert_true(sd_bus_message_append(call, "usttb", (uint32_t) uid, ns, inode, peek_created, (int) peek_global) >= 0);
    assert_true(sd_bus_message_set_allow_interactive_authorization(call, true) >= 0);
    assert_true(sd_bus_call_async(t->p.peer, NULL, call, on_call_reply, c, 0) >= 0);
    sd_bus_message_unref(call);
}

/* Peek's answer; the call must have been answered, without error. */
static bool peeked(Test *t, Call *c)
{
    run_until_answered(t, c);
    assert_false(sd_bus_message_is_method_error(c->reply, NULL));
    int b;
    assert_true(sd_bus_message_read(c->reply, "b", &b) >= 0);
    c->reply = sd_bus_message_unref(c->reply);
    return b;
}

/* Peek once more, its answer from what is kept: polkit is not asked. */
static bool peek_kept(Test *t, uid_t uid, const char *ns, uint64_t inode)
{
    size_t asked = t->a.n;
    call_peek(t, &t->more[7], uid, ns, inode);
    bool b = peeked(t, &t->more[7]);
    assert_int_equal(t->a.n, asked);
    return b;
}

/* Peek, answered by the authority with allow: asked, and answered so. */
static bool peek_asked(Test *t, uid_t uid, const char *ns, uint64_t inode, bool allow)
{
    size_t asked = t->a.n;
    call_peek(t, &t->more[0], uid, ns, inode);
    assert_true(wait_questions(t, asked + 1));
    answer_last(t, allow);
    return peeked(t, &t->more[0]);
}

/* A no is an answer, not an error; yes and no are both kept, per uid and
 * per namespace, told apart by inode too. */
static void test_need_to_know_kept(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    call_peek(&t, &t.more[0], 1000, "t1", 7);
    assert_true(wait_questions(&t, 1));
    assert_string_equal(t.a.asked[0].action, POLKIT_ACTION_MANAGE_LEASES);
    assert_string_equal(t.a.asked[0].verb, "list");
    assert_string_equal(t.a.asked[0].ns, "t1");
    assert_false(t.a.asked[0].interactive);
    answer_last(&t, false);
    assert_false(peeked(&t, &t.more[0]));
    assert_false(peek_kept(&t, 1000, "t1", 7));

    assert_true(peek_asked(&t, 1000, "t2", 8, true));
    assert_true(peek_kept(&t, 1000, "t2", 8));
    assert_false(peek_kept(&t, 1000, "t1", 7));
    /* Another user is asked about itself. */
    assert_false(peek_asked(&t, 1001, "t2", 8, false));
    assert_true(peek_kept(&t, 1000, "t2", 8));
    /* The same name, made again: another namespace. */
    assert_false(peek_asked(&t, 1000, "t2", 9, false));
    /* Root: yes, without a question. */
    assert_true(peek_kept(&t, 0, "t1", 7));
    finish_test(&t);
}

/* A namespace deleted and made again can get the same inode from the
 * kernel: its creation time and mode still tell it apart. */
static void test_need_to_know_remade(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    peek_created = 100;
    assert_true(peek_asked(&t, 1000, "t1", 7, true));
    assert_true(peek_kept(&t, 1000, "t1", 7));
    peek_created = 200;
    assert_false(peek_asked(&t, 1000, "t1", 7, false));
    peek_global = true;
    assert_false(peek_asked(&t, 1000, "t1", 7, false));
    peek_created = 0;
    peek_global = false;
    finish_test(&t);
}

/* A kept answer expires: polkit is asked again after it. A caller of
 * unknown uid is asked each time. */
static void test_need_to_know_expires(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    need_to_know_free(t.d.need_to_know);
    t.d.need_to_know = need_to_know_new(100000);
    assert_true(peek_asked(&t, 1000, "t1", 7, true));
    assert_true(peek_kept(&t, 1000, "t1", 7));
    bus_pair_run_for(&t.p, 200000);
    assert_true(peek_asked(&t, 1000, "t1", 7, true));
    for (unsigned i = 0; i < 2; i++)
        assert_true(peek_asked(&t, (uid_t) -1, "t1", 7, true));
    finish_test(&t);
}

/* One user asking about many namespaces replaces its own oldest answers,
 * never another user's. */
static void test_need_to_know_per_uid(void **state)
{
    Test t;
    start_with(&t, NULL, false);
    assert_true(peek_asked(&t, 2000, "other", 1, true));
    char name[16];
    for (unsigned i = 0; i < NEED_TO_KNOW_MAX + 1; i++) {
        snprintf(name, sizeof(name), "n%u", i);
        assert_true(peek_asked(&t, 1000, name, i + 10, true));
        sd_bus_message_unref(t.a.asked[0].call);
        t.a.asked[0] = t.a.asked[--t.a.n]; /* the authority's list is short */
    }
    assert_true(peek_kept(&t, 2000, "other", 1));
    snprintf(name, sizeof(name), "n%u", NEED_TO_KNOW_MAX);
    assert_true(peek_kept(&t, 1000, name, NEED_TO_KNOW_MAX + 10));
    /* Its oldest went: asked again. */
    assert_true(peek_asked(&t, 1000, "n0", 10, true));
    finish_test(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_allowed),
        cmocka_unit_test(test_second_denied),
        cmocka_unit_test(test_first_denied),
        cmocka_unit_test(test_changed_details_asked_again),
        cmocka_unit_test(test_changing_details_bounded),
        cmocka_unit_test(test_per_uid_cap),
        cmocka_unit_test(test_interactive_per_uid),
        cmocka_unit_test(test_total_caps),
        cmocka_unit_test(test_timeout_cancels),
        cmocka_unit_test(test_need_to_know_kept),
        cmocka_unit_test(test_need_to_know_remade),
        cmocka_unit_test(test_need_to_know_expires),
        cmocka_unit_test(test_need_to_know_per_uid),
    };
    return cmocka_run_group_tests_name("polkit", tests, NULL, NULL);
}
