/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vhost-vsock reservations: a CID held in the kernel for as long as an fd
 * to an open /dev/vhost-vsock with that guest CID exists.
 *
 * The device binds to the network namespace of the thread that opens it, so
 * the open happens on a short-lived thread that joins the target namespace;
 * the daemon's main thread never leaves the host namespace.
 */
#pragma once

#include <stdint.h>

#define VHOST_VSOCK_DEVICE "/dev/vhost-vsock"

/* Opens path from inside the network namespace netns_fd (< 0: our own). */
int netns_open_file(int netns_fd, const char *path, int flags);
/* A socket that belongs to netns_fd (a netlink socket there sees only that
 * namespace), made on the same kind of thread. */
int netns_socket(int netns_fd, int domain, int type, int protocol);

/* Opens the device in netns_fd and sets the guest CID. Returns the fd, or
 * -EADDRINUSE (held in that CID space), -EINVAL (not a usable CID), -ENOENT
 * (no vhost_vsock), ... */
int vhost_reserve_cid(int netns_fd, uint32_t cid);
