/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Closing lease fds off the event loop, for a vsocknsd without the systemd
 * fd store (started by hand).
 *
 * Closing the last reference to a /dev/vhost-vsock fd waits for an RCU
 * grace period in the kernel: ~8 ms under emulation, so deleting a
 * namespace with 10,000 reserved leases would stall the loop for over a
 * minute. Under systemd the fd store's vault holds the last reference and
 * PID 1 pays that; without it, this thread does.
 *
 * An ended lease keeps its CID marked CID_RELEASING (manager.h: releasing)
 * until its fd is really closed: each fd is queued with the release_seq of
 * its marker, the thread closes them in order, and the loop is woken (an
 * eventfd) to settle the markers up to the last one closed. A call that
 * ended leases answers once they are closed, or after FD_CLOSER_REPLY_USEC
 * at the latest (the markers stay until the close is done: an AcquireLease
 * of such a CID meanwhile gets a clear "try again").
 */
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/manager.h"

#define FD_CLOSER_REPLY_USEC (20 * 1000000ULL)

/* Starts the thread and hooks it into event and m (m->close_later). */
int fd_closer_attach(sd_event *event, Manager *m);

/* Answers reply_to (if any) once every release made so far has its fd
 * closed, or after FD_CLOSER_REPLY_USEC. */
int fd_closer_settle(sd_event *event, Manager *m, sd_bus_message *reply_to);

/* Closes what is still queued (in the thread), stops it, frees it all. */
void fd_closer_free(Manager *m);
