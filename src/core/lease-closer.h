/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Closing vhost-vsock fds off the event loop: every ended lease's without
 * the systemd fd store (started by hand), and in both modes the devices
 * that never held a lease's CID (lease_fds_discard()). Private to
 * lease-fds.c, which owns it.
 *
 * Closing the last reference to a /dev/vhost-vsock fd waits for an RCU
 * grace period in the kernel: ~8 ms under emulation, so deleting a
 * namespace with 10,000 reserved leases would stall the loop for over a
 * minute. Under systemd the fd store's vault holds the last reference and
 * PID 1 pays that; without it, this thread does. Each fd is queued with its
 * ticket; the thread closes them in order and wakes the loop (an eventfd),
 * which is told every ticket up to the last one closed.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct LeaseCloser LeaseCloser;
/* Every fd queued with a ticket <= upto is closed. */
typedef void (*lease_closer_closed_fn)(void *userdata, uint64_t upto);

int lease_closer_new(sd_event *event, lease_closer_closed_fn closed, void *userdata, LeaseCloser **ret);
/* Hands fd over to the thread (closed in place when out of memory); ticket
 * 0 for one no ticket waits for. */
void lease_closer_queue(LeaseCloser *c, int fd, uint64_t ticket);
/* Closes what is still queued (in the thread), stops it, frees it all. */
LeaseCloser *lease_closer_free(LeaseCloser *c);
