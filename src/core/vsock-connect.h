/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connecting to a vsock port as seen from inside a namespace, for a caller
 * who cannot enter it (a tenant without CAP_SYS_ADMIN). A socket belongs
 * to the network namespace it was made in, whoever uses it later, so only
 * socket() needs the namespace: a namespace worker makes it there
 * (NS_OP_SOCKET, ns-worker.h), and vsocknsd connects it on its loop,
 * without blocking, within a deadline. The connected socket is then the
 * caller's; vsocknsd keeps no copy.
 *
 * A VsockConnect owns its socket, the worker request, its io watch and its
 * timer until it answers: done is called exactly once, from the loop
 * (never from within vsock_connect_start()), with 0 and the socket (the
 * callee's to keep) or a negative errno and -1: the kernel's (-ECONNREFUSED,
 * -ECONNRESET, -ENODEV when no device has that CID in the namespace's CID
 * space, ...), -ETIMEDOUT past the deadline, -ESHUTDOWN when stopped.
 * vsock_connect_free() before that forgets it: done is not called.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "ns-worker.h"

typedef struct VsockConnect VsockConnect;
typedef void (*vsock_connect_fn)(int r, int fd, void *userdata);

/* ns_fd: the namespace (-1: the host's, where vsocknsd is: no worker is
 * needed); type: SOCK_STREAM or SOCK_SEQPACKET. */
int vsock_connect_start(NsWorkers *w, sd_event *event, int ns_fd, uint32_t cid, uint32_t port, int type,
                        uint64_t timeout_usec, vsock_connect_fn done, void *userdata, VsockConnect **ret);
VsockConnect *vsock_connect_free(VsockConnect *c);
/* Answers it now, -ESHUTDOWN (vsocknsd stops), and frees it. */
void vsock_connect_stop(VsockConnect *c);
