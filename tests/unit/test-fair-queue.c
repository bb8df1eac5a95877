/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fair queue (daemon/fair-queue.c) and polkit's second dispatch of a
 * method call (daemon/polkit.c), on a direct connection whose peer is both
 * the caller and polkit's authority: a call polkit has answered reaches
 * its handler even when its caller filled its queue while polkit thought,
 * and the caller's other calls are still refused past the limit. And
 * what calls weigh: one too large is refused before it is kept, and a
 * burst of heavy ones stops at the bytes a sender may have waiting.
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
#include "daemon/fair-queue.h"
#include "daemon/polkit.h"
#include "shared/macro.h"

#define CALLER ":1.42"
/* Past FAIR_QUEUE_PER_SENDER waiting, but not so far past that the caller
 * is taken for one that never reads its replies (then it hears nothing). */
#define FLOOD (FAIR_QUEUE_PER_SENDER + FAIR_QUEUE_PER_SENDER / 2)
#define TIMEOUT_USEC (10 * 1000000ULL)

/* polkit's authority, as the peer: it answers when the test says. */
typedef struct Authority {
    sd_bus_message *question;
    bool asked;
} Authority;

static int method_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Authority *a = userdata;
    a->question = sd_bus_message_ref(m);
    a->asked = true;
    return 1;
}

static const sd_bus_vtable authority_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check_authorization, 0),
    SD_BUS_VTABLE_END,
};

/* The daemon's end: a method that asks polkit, and one that does not. */
static int method_guarded(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    int r = polkit_check(userdata, m, POLKIT_ACTION_MANAGE_NAMESPACES, NULL, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return sd_bus_reply_method_return(m, "s", "done");
}

static int method_ping(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    return sd_bus_reply_method_return(m, NULL);
}

static int method_take(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    unsigned *taken = userdata;
    (*taken)++;
    return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable test_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Guarded", "", "s", method_guarded, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Ping", "", "", method_ping, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* Take(as) counts the calls that reach it; its userdata is that count. */
static const sd_bus_vtable take_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Take", "as", "", method_take, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

typedef struct Caller {
    sd_bus_message *guarded; /* the reply to Guarded */
    bool answered;
    unsigned pings_ok, pings_refused, pings_other;
} Caller;

static int on_guarded_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Caller *c = userdata;
    c->guarded = sd_bus_message_ref(reply);
    c->answered = true;
    return 0;
}

static int on_ping_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Caller *c = userdata;
    if (!sd_bus_message_is_method_error(reply, NULL))
        c->pings_ok++;
    else if (sd_bus_message_is_method_error(reply, SD_BUS_ERROR_LIMITS_EXCEEDED))
        c->pings_refused++;
    else
        c->pings_other++;
    return 0;
}

/* The caller asks for Guarded; while polkit is out, it sends FLOOD pings;
 * then polkit answers. The pings and the answer reach the daemon's end in
 * that order, before it has read any of them: its queue for the caller is
 * full when polkit's answer dispatches Guarded again. */
static void call_while_flooding(bool allow, Caller *c)
{
    BusPair p;
    Authority a = {};
    FairQueue *queue = NULL;
    PolkitRegistry *polkit = polkit_registry_new();
    assert_non_null(polkit);
    bus_pair_open(&p, CALLER);
    assert_int_equal(fair_queue_attach(p.daemon, p.event, polkit, &queue), 0);
    assert_true(sd_bus_add_object_vtable(p.daemon, NULL, "/test", "org.vsockns1.Test", test_vtable, polkit) >= 0);
    assert_true(sd_bus_add_object_vtable(p.peer, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", authority_vtable, &a) >= 0);

    assert_true(sd_bus_call_method_async(p.peer, NULL, NULL, "/test", "org.vsockns1.Test", "Guarded",
                                         on_guarded_reply, c, NULL) >= 0);
    assert_true(bus_pair_run_until(&p, &a.asked, TIMEOUT_USEC));
    assert_false(c->answered);
    for (unsigned i = 0; i < FLOOD; i++)
        assert_true(sd_bus_call_method_async(p.peer, NULL, NULL, "/test", "org.vsockns1.Test", "Ping",
                                             on_ping_reply, c, NULL) >= 0);
    assert_true(sd_bus_reply_method_return(a.question, "(bba{ss})", (int) allow, 0, 0) >= 0);
    assert_true(sd_bus_flush(p.peer) >= 0);

    (void) bus_pair_run_until(&p, &c->answered, TIMEOUT_USEC);
    bus_pair_run_for(&p, 100 * 1000); /* the last pings' replies */
    sd_bus_message_unref(a.question);
    fair_queue_free(queue);
    polkit_registry_free(polkit);
    bus_pair_close(&p);
}

static void test_allowed_call_passes_full_queue(void **state)
{
    Caller c = {};
    call_while_flooding(true, &c);
    assert_true(c.answered);
    const sd_bus_error *e = sd_bus_message_get_error(c.guarded);
    if (e)
        fail_msg("Guarded was answered %s: %s", e->name, e->message);
    const char *s = NULL;
    assert_int_equal(sd_bus_message_read(c.guarded, "s", &s), 1);
    assert_string_equal(s, "done");
    /* The caller's own calls past its limit are still refused. */
    assert_true(c.pings_refused > 0);
    assert_int_equal(c.pings_ok + c.pings_refused, FLOOD);
    assert_int_equal(c.pings_other, 0);
    sd_bus_message_unref(c.guarded);
}

/* A denial goes past as well: the caller hears polkit's no, not the
 * queue's. */
static void test_denied_call_passes_full_queue(void **state)
{
    Caller c = {};
    call_while_flooding(false, &c);
    assert_true(c.answered);
    assert_true(sd_bus_message_is_method_error(c.guarded, BUS_ERROR_ACCESS_DENIED));
    assert_true(c.pings_refused > 0);
    assert_int_equal(c.pings_ok + c.pings_refused, FLOOD);
    sd_bus_message_unref(c.guarded);
}

typedef struct Takes {
    unsigned ok, refused, other;
    char refusal[256]; /* the last refusal's sentence */
} Takes;

static int on_take_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Takes *t = userdata;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    if (!e)
        t->ok++;
    else if (sd_bus_error_has_name(e, SD_BUS_ERROR_LIMITS_EXCEEDED)) {
        t->refused++;
        snprintf(t->refusal, sizeof(t->refusal), "%s", e->message);
    } else
        t->other++;
    return 0;
}

/* Sends Take with n strings of len bytes each. */
static void send_take(BusPair *p, Takes *t, unsigned n, size_t len)
{
    sd_bus_message *call = NULL;
    char *str = malloc(len + 1);
    assert_non_null(str);
    memset(str, 'x', len);
    str[len] = '\0';
    assert_true(sd_bus_message_new_method_call(p->peer, &call, NULL, "/take", "org.vsockns1.Test", "Take") >= 0);
    assert_true(sd_bus_message_open_container(call, 'a', "s") >= 0);
    for (unsigned i = 0; i < n; i++)
        assert_true(sd_bus_message_append(call, "s", str) >= 0);
    assert_true(sd_bus_message_close_container(call) >= 0);
    assert_true(sd_bus_call_async(p->peer, NULL, call, on_take_reply, t, 0) >= 0);
    sd_bus_message_unref(call);
    free(str);
}

static void open_take(BusPair *p, FairQueue **queue, unsigned *taken)
{
    bus_pair_open(p, CALLER);
    assert_int_equal(fair_queue_attach(p->daemon, p->event, NULL, queue), 0);
    assert_true(sd_bus_add_object_vtable(p->daemon, NULL, "/take", "org.vsockns1.Test", take_vtable, taken) >= 0);
}

static void close_take(BusPair *p, FairQueue *queue)
{
    fair_queue_free(queue);
    bus_pair_close(p);
}

static void wait_replies(BusPair *p, const Takes *t, unsigned n)
{
    for (unsigned i = 0; t->ok + t->refused + t->other < n && i < TIMEOUT_USEC / 10000; i++)
        bus_pair_run_for(p, 10000);
}

/* Sends Take with n fds (an "ah": the handler refuses that signature, the
 * queue weighs it first). */
static void send_fds(BusPair *p, Takes *t, unsigned n)
{
    sd_bus_message *call = NULL;
    assert_true(sd_bus_message_new_method_call(p->peer, &call, NULL, "/take", "org.vsockns1.Test", "Take") >= 0);
    assert_true(sd_bus_message_open_container(call, 'a', "h") >= 0);
    for (unsigned i = 0; i < n; i++)
        assert_true(sd_bus_message_append(call, "h", 0) >= 0);
    assert_true(sd_bus_message_close_container(call) >= 0);
    assert_true(sd_bus_call_async(p->peer, NULL, call, on_take_reply, t, 0) >= 0);
    sd_bus_message_unref(call);
}

/* fds weigh FAIR_QUEUE_FD_WEIGHT each: a call with more than a call may
 * weigh is refused by the queue; one with fewer reaches the handlers
 * (which refuse its signature). */
static void test_fds_weigh(void **state)
{
    BusPair p;
    FairQueue *queue;
    unsigned taken = 0;
    Takes t = {};
    open_take(&p, &queue, &taken);
    send_fds(&p, &t, FAIR_QUEUE_CALL_BYTES / FAIR_QUEUE_FD_WEIGHT + 1);
    wait_replies(&p, &t, 1);
    assert_int_equal(t.refused, 1);
    assert_non_null(strstr(t.refusal, "This call is too large for vsocknsd"));
    send_fds(&p, &t, 2);
    wait_replies(&p, &t, 2);
    assert_int_equal(t.refused, 1);
    assert_int_equal(t.other, 1);
    assert_int_equal(taken, 0);
    close_take(&p, queue);
}

/* Too many values, or too many bytes, in one call: refused, never handed
 * on; the calls around it are served. */
static void test_call_too_large(void **state)
{
    BusPair p;
    FairQueue *queue;
    unsigned taken = 0;
    Takes t = {};
    open_take(&p, &queue, &taken);
    send_take(&p, &t, 4, 16);
    send_take(&p, &t, FAIR_QUEUE_CALL_VALUES + 1, 1);
    send_take(&p, &t, 1, FAIR_QUEUE_CALL_BYTES + 1);
    send_take(&p, &t, FAIR_QUEUE_CALL_VALUES / 2, 16);
    wait_replies(&p, &t, 4);
    assert_int_equal(t.ok, 2);
    assert_int_equal(t.refused, 2);
    assert_int_equal(t.other, 0);
    assert_int_equal(taken, 2);
    assert_non_null(strstr(t.refusal, "This call is too large for vsocknsd"));
    close_take(&p, queue);
}

/* A burst of heavy calls, all read before any is served: those past the
 * bytes a sender may have waiting are refused at once, far below the
 * count's limit; once served, the sender may send as many again. */
static void test_sender_bytes(void **state)
{
    enum { BURST = 24, LEN = FAIR_QUEUE_CALL_BYTES / 2 };
    assert_true(BURST < FAIR_QUEUE_PER_SENDER);
    assert_true(BURST * LEN > 2 * FAIR_QUEUE_SENDER_BYTES);
    BusPair p;
    FairQueue *queue;
    unsigned taken = 0;
    Takes t = {};
    open_take(&p, &queue, &taken);
    for (unsigned i = 0; i < BURST; i++)
        send_take(&p, &t, 1, LEN);
    assert_true(sd_bus_flush(p.peer) >= 0);
    wait_replies(&p, &t, BURST);
    assert_int_equal(t.ok + t.refused, BURST);
    assert_int_equal(t.other, 0);
    assert_true(t.refused > 0);
    assert_non_null(strstr(t.refusal, "bytes of calls waiting already"));
    assert_int_equal(taken, t.ok);
    /* Served meanwhile: its queue is empty, and a call is taken again. */
    send_take(&p, &t, 1, LEN);
    wait_replies(&p, &t, BURST + 1);
    assert_int_equal(taken, t.ok);
    assert_int_equal(t.ok + t.refused, BURST + 1);
    assert_int_equal(taken, BURST + 1 - t.refused);
    close_take(&p, queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_call_passes_full_queue),
        cmocka_unit_test(test_denied_call_passes_full_queue),
        cmocka_unit_test(test_call_too_large),
        cmocka_unit_test(test_sender_bytes),
        cmocka_unit_test(test_fds_weigh),
    };
    return cmocka_run_group_tests_name("fair queue", tests, NULL, NULL);
}
