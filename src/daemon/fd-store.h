/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The systemd fd store: where reserved CIDs' fds outlive a restart of vsocknsd. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/manager.h"

/* Hands a copy of the lease's fd to the store (FDSTORE=1, FDNAME=lease-...). */
void fd_store_add(const Lease *l);
/* Asks systemd to close its copy (FDSTOREREMOVE=1). Until it has, the CID
 * stays busy in the kernel: see fd_store_settle(). */
void fd_store_remove(const Lease *l);

/*
 * Once systemd has processed every FDSTOREREMOVE sent so far, marks the
 * CIDs released up to now free (manager_releases_settled()) and, if
 * reply_to is not NULL, sends its (empty) method return: a released CID is
 * free when ReleaseLease or DeleteNamespace returns.
 *
 * Never blocks: it sends BARRIER=1 with the write end of a pipe, which
 * systemd closes after handling what came before, and waits for that on
 * the event loop, for at most 5 s. Without anything to wait for, it
 * replies at once. Returns < 0 only if the reply could not be sent.
 */
int fd_store_settle(sd_event *event, Manager *m, sd_bus_message *reply_to);
