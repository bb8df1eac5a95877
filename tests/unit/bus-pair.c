/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-pair.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "shared/macro.h"

#define CALL_TIMEOUT_USEC (10 * 1000000ULL)

static sd_bus *open_end(sd_event *event, int fd, bool server, const char *sender)
{
    sd_bus *bus = NULL;
    assert_int_equal(sd_bus_new(&bus), 0);
    assert_int_equal(sd_bus_set_fd(bus, fd, fd), 0);
    if (server) {
        sd_id128_t id;
        assert_int_equal(sd_id128_randomize(&id), 0);
        assert_int_equal(sd_bus_set_server(bus, 1, id), 0);
    }
    if (sender)
        assert_true(sd_bus_set_sender(bus, sender) >= 0);
    assert_true(sd_bus_start(bus) >= 0);
    assert_true(sd_bus_attach_event(bus, event, 0) >= 0);
    return bus;
}

void bus_pair_open(BusPair *p, const char *sender)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    assert_int_equal(sd_event_new(&p->event), 0);
    p->daemon = open_end(p->event, fds[0], true, NULL);
    p->peer = open_end(p->event, fds[1], false, sender);
    /* Authenticated both ways: only then can the peer send fds. */
    uint64_t end = clock_usec(CLOCK_MONOTONIC) + CALL_TIMEOUT_USEC;
    while (sd_bus_is_ready(p->daemon) <= 0 || sd_bus_is_ready(p->peer) <= 0) {
        assert_true(clock_usec(CLOCK_MONOTONIC) < end);
        assert_true(sd_event_run(p->event, 100 * 1000) >= 0);
    }
}

void bus_pair_close(BusPair *p)
{
    p->peer = sd_bus_flush_close_unref(p->peer);
    p->daemon = sd_bus_flush_close_unref(p->daemon);
    p->event = sd_event_unref(p->event);
}

bool bus_pair_run_until(BusPair *p, const bool *done, uint64_t timeout_usec)
{
    uint64_t end = clock_usec(CLOCK_MONOTONIC) + timeout_usec;
    while (!*done) {
        uint64_t now = clock_usec(CLOCK_MONOTONIC);
        if (now >= end)
            break;
        assert_true(sd_event_run(p->event, end - now) >= 0);
    }
    return *done;
}

void bus_pair_run_for(BusPair *p, uint64_t usec)
{
    bool never = false;
    (void) bus_pair_run_until(p, &never, usec);
}

typedef struct PendingCall {
    sd_bus_message *reply;
    bool done;
} PendingCall;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    PendingCall *c = userdata;
    c->reply = sd_bus_message_ref(reply);
    c->done = true;
    return 0;
}

sd_bus_message *bus_pair_call(BusPair *p, sd_bus_message *call)
{
    PendingCall c = {};
    sd_bus_slot *slot = NULL;
    assert_true(sd_bus_call_async(p->peer, &slot, call, on_reply, &c, CALL_TIMEOUT_USEC) >= 0);
    bool answered = bus_pair_run_until(p, &c.done, CALL_TIMEOUT_USEC + 1000000);
    sd_bus_slot_unref(slot);
    return answered ? c.reply : NULL;
}
