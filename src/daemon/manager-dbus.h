/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vsockns1.Manager at /org/vsockns1: thin marshalling over core/manager. */
#pragma once

#include <systemd/sd-bus.h>

#include "core/manager.h"
#include "need-to-know.h"
#include "polkit.h"

typedef struct CreateCall CreateCall;
typedef struct IsolationCheck IsolationCheck;
typedef struct UnitChanges UnitChanges;
typedef struct ConnectCall ConnectCall;

/* What the bus layer keeps beside the manager (the manager's userdata). */
struct BusContext {
    Manager *manager;
    sd_bus *bus;
    PolkitRegistry *polkit;
    NeedToKnow *need_to_know; /* what non-root callers may see */
    CreateCall *creates;     /* CreateNamespace calls under way or waiting, in order */
    size_t n_creates_running; /* of them, those under way */
    bool stopping;           /* the loop ends: no waiting creation starts */
    sd_event_source *exit_source; /* stops them when the loop ends */
    IsolationCheck *checks;  /* CheckIsolation calls whose probe runs (inspect-dbus.c) */
    unsigned n_checks;
    UnitChanges *unit_changes; /* AttachUnit and DetachUnit calls under way (attach-dbus.c) */
    ConnectCall *connects;   /* ConnectVsock calls under way (connect-dbus.c) */
    unsigned n_connects;
};
typedef struct BusContext BusContext;

PolkitRegistry *bus_polkit_of(Manager *m);
NeedToKnow *bus_need_to_know_of(Manager *m);

/* The a{sv} options of CreateNamespace and AcquireLease, read into a
 * request (m at the array): InvalidOption for an unknown key or a wrong
 * type. Public for the fuzzer (fuzz/fuzz-options.c). */
int bus_read_create_options(sd_bus_message *m, CreateRequest *req, sd_bus_error *error);
int bus_read_lease_options(sd_bus_message *m, LeaseRequest *req, sd_bus_error *error);

int manager_dbus_register(sd_bus *bus, Manager *m);
/* Hooks the manager's callbacks up to the bus (signals, fd store, process
 * watches) and sets up the polkit registry: the manager's userdata. */
int manager_dbus_connect_signals(sd_bus *bus, Manager *m);
/* Undoes that, before the bus goes. */
void manager_dbus_disconnect(Manager *m);
