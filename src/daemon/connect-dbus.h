/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ConnectVsock: a tenant reaches its VM. The socket is made inside the
 * namespace and connected by vsocknsd on its loop (core/vsock-connect.h);
 * the caller gets the connected socket.
 *
 * Who may: root; the holder of the lease of that CID in that namespace;
 * anyone polkit allows org.vsockns1.connect (details verb, namespace, mode,
 * space, cid, port), and in the host's CID space (a global namespace) also
 * manage-global-leases. The host's own netns (.host) is root's only. At
 * most CONNECTS_MAX connects are under way, CONNECTS_PER_UID of one user
 * but root; more get LimitReached.
 */
#pragma once

#include <systemd/sd-bus.h>

#define CONNECTS_MAX 32
#define CONNECTS_PER_UID 4
/* How long a connect may take: a VM that does not answer (paused, or no
 * listener that ever accepts) gets TimedOut. */
#define CONNECT_TIMEOUT_USEC (10 * 1000000ULL)

/* org.vsockns1.Manager.ConnectVsock(s namespace, u cid, u port, a{sv} options) -> h */
int bus_method_connect_vsock(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* Answers every connect under way (vsocknsd stops). */
struct BusContext;
void connect_dbus_stop(struct BusContext *ctx);
