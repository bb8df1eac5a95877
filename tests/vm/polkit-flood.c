/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit-flood PREFIX COUNT: on one system-bus connection, sends COUNT
 * CreateNamespace calls (namespaces PREFIX-1 ... PREFIX-COUNT, local),
 * all at once, each allowing interactive authorization, and prints a line
 * per reply as it comes, "reply N ERROR-NAME MESSAGE" ("reply N ok" for a
 * success), then "all answered" once every call has its reply. It runs
 * until then, or until it is killed: the calls that polkit holds (an agent
 * that never answers) keep it waiting, which is the point.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

typedef struct Flood {
    unsigned answered;
} Flood;

typedef struct Pending {
    Flood *flood;
    unsigned n;
} Pending;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Pending *p = userdata;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    printf("reply %u %s %s\n", p->n, e ? e->name : "ok", e && e->message ? e->message : "");
    fflush(stdout);
    p->flood->answered++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: polkit-flood PREFIX COUNT\n");
        return 2;
    }
    unsigned count = (unsigned) strtoul(argv[2], NULL, 10);
    sd_bus *bus = NULL;
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        fprintf(stderr, "polkit-flood: cannot connect to the system bus: %s\n", strerror(-r));
        return 1;
    }
    Flood flood = { 0 };
    Pending *pending = calloc(count, sizeof(Pending));
    if (!pending)
        return 1;
    for (unsigned i = 0; i < count; i++) {
        char name[64];
        sd_bus_message *call = NULL;
        snprintf(name, sizeof(name), "%s-%u", argv[1], i + 1);
        pending[i] = (Pending) { &flood, i + 1 };
        r = sd_bus_message_new_method_call(bus, &call, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager",
                                           "CreateNamespace");
        if (r >= 0)
            r = sd_bus_message_append(call, "ssa{sv}", name, "local", 0);
        if (r >= 0)
            r = sd_bus_message_set_allow_interactive_authorization(call, 1);
        if (r >= 0)
            r = sd_bus_call_async(bus, NULL, call, on_reply, &pending[i], 600 * 1000000ULL);
        sd_bus_message_unref(call);
        if (r < 0) {
            fprintf(stderr, "polkit-flood: cannot send call %u: %s\n", i + 1, strerror(-r));
            return 1;
        }
    }
    printf("sent %u\n", count);
    fflush(stdout);
    while (flood.answered < count) {
        r = sd_bus_process(bus, NULL);
        if (r < 0) {
            fprintf(stderr, "polkit-flood: %s\n", strerror(-r));
            return 1;
        }
        if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR) {
            fprintf(stderr, "polkit-flood: %s\n", strerror(-r));
            return 1;
        }
    }
    printf("all answered\n");
    sd_bus_flush_close_unref(bus);
    free(pending);
    return 0;
}
