/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vsock sockets of one network namespace, as the kernel's vsock_diag
 * reports them (NETLINK_SOCK_DIAG, family AF_VSOCK): it lists only the
 * sockets of the namespace its netlink socket belongs to, so the netlink
 * socket is made inside the namespace, by a namespace worker (vhost.h:
 * netns_socket).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct NsWorkers NsWorkers;

typedef struct VsockSocket {
    uint8_t type;                 /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
    uint8_t state;                /* TCP_LISTEN, TCP_ESTABLISHED, ... (sk_state) */
    uint32_t local_cid, local_port;
    uint32_t remote_cid, remote_port;
    uint64_t inode;
} VsockSocket;

/* All vsock sockets of the namespace netns_fd (< 0: ours). 0 and a
 * malloc'd array; -EPROTONOSUPPORT if the kernel has no vsock_diag. */
int vsock_diag_list(NsWorkers *w, int netns_fd, VsockSocket **ret, size_t *ret_n);

const char *vsock_socket_type_to_string(uint8_t type);
const char *vsock_socket_state_to_string(uint8_t state);
