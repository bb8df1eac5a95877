/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit_check_all() (daemon/polkit.c) against an authority played by the
 * peer of a direct connection, which answers when the test says: several
 * actions asked one after the other for one method call, the answers kept
 * until the last is in; a denial ends it at once; an answer about details
 * that changed before the call came back is not used, polkit is asked
 * anew, a bounded number of times.
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
} Question;

typedef struct Authority {
    Question asked[16];
    size_t n;
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
    return 1;
}

static const sd_bus_vtable authority_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check_authorization, 0),
    SD_BUS_VTABLE_END,
};

/* The daemon's end: Guarded needs ACTION_A then ACTION_B, both about the
 * object's current owner. */
typedef struct Daemon {
    PolkitRegistry *polkit;
    char owner[64];
    unsigned handled; /* times Guarded's handler ran */
} Daemon;

static int method_guarded(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Daemon *d = userdata;
    d->handled++;
    const char *details[] = { "owner", d->owner, NULL };
    const PolkitAsk asks[] = { { ACTION_A, details }, { ACTION_B, details } };
    int r = polkit_check_all(d->polkit, m, asks, ELEMENTSOF(asks), error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return sd_bus_reply_method_return(m, "s", "done");
}

static const sd_bus_vtable test_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Guarded", "", "s", method_guarded, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

typedef struct Test {
    BusPair p;
    Authority a;
    Daemon d;
    sd_bus_message *reply;
    bool answered;
} Test;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Test *t = userdata;
    t->reply = sd_bus_message_ref(reply);
    t->answered = true;
    return 0;
}

static void start(Test *t)
{
    *t = (Test) { .d = { .owner = "alice" } };
    t->d.polkit = polkit_registry_new();
    assert_non_null(t->d.polkit);
    bus_pair_open(&t->p, CALLER);
    assert_true(sd_bus_add_object_vtable(t->p.daemon, NULL, "/test", "org.vsockns1.Test", test_vtable, &t->d) >= 0);
    assert_true(sd_bus_add_object_vtable(t->p.peer, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", authority_vtable, &t->a) >= 0);
    assert_true(sd_bus_call_method_async(t->p.peer, NULL, NULL, "/test", "org.vsockns1.Test", "Guarded", on_reply, t,
                                         NULL) >= 0);
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
    sd_bus_message_unref(t->reply);
    polkit_registry_free(t->d.polkit);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_allowed),
        cmocka_unit_test(test_second_denied),
        cmocka_unit_test(test_first_denied),
        cmocka_unit_test(test_changed_details_asked_again),
        cmocka_unit_test(test_changing_details_bounded),
    };
    return cmocka_run_group_tests_name("polkit", tests, NULL, NULL);
}
