/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit-flood PREFIX COUNT [WINDOW [OPTIONS]]: on one system-bus connection, sends
 * COUNT CreateNamespace calls (namespaces PREFIX-1 ... PREFIX-COUNT,
 * local), each allowing interactive authorization, at most WINDOW
 * (default COUNT) unanswered at a time: a reply lets the next call go.
 * It prints a line per reply as it comes, "reply N ERROR-NAME MESSAGE"
 * ("reply N ok" for a success), then "all answered" once every call has
 * its reply. It runs until then, or until it is killed: the calls that
 * polkit holds (an agent that never answers) keep it waiting, which is
 * the point. With OPTIONS, each call's options carry that many "Parent"
 * entries (big messages: 100,000 make about 3 MB).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

typedef struct Pending Pending;

typedef struct Flood {
    sd_bus *bus;
    const char *prefix;
    unsigned count, sent, answered;
    unsigned options;   /* "Parent" entries per call */
    Pending *pending;
    int error;          /* of a call that could not be sent */
} Flood;

struct Pending {
    Flood *flood;
    unsigned n;
};

static int send_next(Flood *flood);

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Pending *p = userdata;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    printf("reply %u %s %s\n", p->n, e ? e->name : "ok", e && e->message ? e->message : "");
    fflush(stdout);
    p->flood->answered++;
    if (p->flood->sent < p->flood->count)
        p->flood->error = send_next(p->flood);
    return 0;
}

static int send_next(Flood *flood)
{
    unsigned i = flood->sent++;
    char name[64];
    sd_bus_message *call = NULL;
    snprintf(name, sizeof(name), "%s-%u", flood->prefix, i + 1);
    flood->pending[i] = (Pending) { flood, i + 1 };
    int r = sd_bus_message_new_method_call(flood->bus, &call, "org.vsockns1", "/org/vsockns1",
                                           "org.vsockns1.Manager", "CreateNamespace");
    if (r >= 0)
        r = sd_bus_message_append(call, "ss", name, "local");
    if (r >= 0)
        r = sd_bus_message_open_container(call, 'a', "{sv}");
    for (unsigned j = 0; r >= 0 && j < flood->options; j++)
        r = sd_bus_message_append(call, "{sv}", "Parent", "s", "x");
    if (r >= 0)
        r = sd_bus_message_close_container(call);
    if (r >= 0)
        r = sd_bus_message_set_allow_interactive_authorization(call, 1);
    if (r >= 0)
        r = sd_bus_call_async(flood->bus, NULL, call, on_reply, &flood->pending[i], 600 * 1000000ULL);
    sd_bus_message_unref(call);
    if (r < 0)
        fprintf(stderr, "polkit-flood: cannot send call %u: %s\n", i + 1, strerror(-r));
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: polkit-flood PREFIX COUNT [WINDOW [OPTIONS]]\n");
        return 2;
    }
    Flood flood = { .prefix = argv[1], .count = (unsigned) strtoul(argv[2], NULL, 10),
                    .options = argc == 5 ? (unsigned) strtoul(argv[4], NULL, 10) : 0 };
    unsigned window = argc >= 4 ? (unsigned) strtoul(argv[3], NULL, 10) : flood.count;
    if (flood.count == 0 || window == 0) {
        fprintf(stderr, "polkit-flood: COUNT and WINDOW must be positive\n");
        return 2;
    }
    int r = sd_bus_open_system(&flood.bus);
    if (r < 0) {
        fprintf(stderr, "polkit-flood: cannot connect to the system bus: %s\n", strerror(-r));
        return 1;
    }
    flood.pending = calloc(flood.count, sizeof(Pending));
    if (!flood.pending)
        return 1;
    while (flood.sent < flood.count && flood.sent < window)
        if (send_next(&flood) < 0)
            return 1;
    printf("sent %u\n", flood.sent);
    fflush(stdout);
    while (flood.answered < flood.count) {
        if (flood.error < 0)
            return 1;
        r = sd_bus_process(flood.bus, NULL);
        if (r < 0) {
            fprintf(stderr, "polkit-flood: %s\n", strerror(-r));
            return 1;
        }
        if (r == 0 && (r = sd_bus_wait(flood.bus, UINT64_MAX)) < 0 && r != -EINTR) {
            fprintf(stderr, "polkit-flood: %s\n", strerror(-r));
            return 1;
        }
    }
    printf("all answered\n");
    sd_bus_flush_close_unref(flood.bus);
    free(flood.pending);
    return 0;
}
