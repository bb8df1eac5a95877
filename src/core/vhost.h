/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vhost-vsock reservations: a CID held in the kernel for as long as an fd
 * to an open /dev/vhost-vsock with that guest CID exists.
 *
 * The device binds to the network namespace it is opened in, so for a
 * namespace other than our own a namespace worker (ns-worker.h) opens it
 * and passes it back; no thread of vsocknsd leaves the host namespace. The
 * round trip waits in poll() (the loop with it): the worker's open of a
 * device is one quick system call; a worker the kernel stalls there is
 * killed at NETNS_OPEN_TIMEOUT_MS and waited for a few seconds more
 * (ns_workers_run()), and a batch of reservations (CheckLeases, the
 * minute's recheck) stops at the first such failure. On a machine loaded
 * far past its cores that round trip can itself pass 2 s: the caller is
 * then told the worker did not answer in time, and nothing is leased.
 * Known limit: an asynchronous reservation (a request on the loop, as
 * ConnectVsock's socket is made) would free the loop of even that wait.
 */
#pragma once

#include <stdint.h>

#define VHOST_VSOCK_DEVICE "/dev/vhost-vsock"
#define NETNS_OPEN_TIMEOUT_MS 2000

typedef struct NsWorkers NsWorkers;

/* Opens path from inside the network namespace netns_fd (< 0: our own). */
int netns_open_file(NsWorkers *w, int netns_fd, const char *path, int flags);
/* A socket that belongs to netns_fd (a netlink socket there sees only that
 * namespace). */
int netns_socket(NsWorkers *w, int netns_fd, int domain, int type, int protocol);

/* Opens the device in netns_fd and sets the guest CID. Returns the fd, or
 * -EADDRINUSE (held in that CID space), -EINVAL (not a usable CID), -ENOENT
 * (no vhost_vsock), ... A device opened whose CID could not be set is left
 * in *ret_unused (else -1) for the caller to close: its close waits for
 * the kernel's RCU grace period, which is not for the loop to wait. */
int vhost_reserve_cid(NsWorkers *w, int netns_fd, uint32_t cid, int *ret_unused);
