/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ListSockets and CheckIsolation: looking at namespaces over D-Bus. */
#pragma once

#include <systemd/sd-bus.h>

#include "core/manager.h"

/* org.vsockns1.Manager.ListSockets(s namespace) -> a(ssuuuut); open to all,
 * like ss(8). */
int bus_method_list_sockets(sd_bus_message *m, void *userdata, sd_bus_error *error);
/* org.vsockns1.Namespace.ListSockets() -> a(ssuuuut); userdata: the Namespace. */
int bus_namespace_list_sockets(sd_bus_message *m, void *userdata, sd_bus_error *error);
/* org.vsockns1.Manager.CheckIsolation(s namespace, a{sv} options)
 *   -> (s mode, s kernel_mode, a(ssbbs) paths); polkit manage-namespaces. */
int bus_method_check_isolation(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* Stops every prober still running (killed, reaped, its call answered):
 * when vsocknsd stops. */
struct BusContext;
void inspect_dbus_stop(struct BusContext *ctx);
