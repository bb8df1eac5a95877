/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsock-diag.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets_diag.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/macro.h"
#include "vhost.h"

/* A namespace with more sockets than this is listed up to here. */
#define VSOCK_DIAG_MAX 65536

typedef struct DumpState {
    VsockSocket *items;
    size_t n, allocated;
    int error;
} DumpState;

static int on_message(struct nl_msg *msg, void *userdata)
{
    DumpState *st = userdata;
    struct nlmsghdr *h = nlmsg_hdr(msg);
    if (nlmsg_datalen(h) < (int) sizeof(struct vsock_diag_msg))
        return NL_SKIP;
    const struct vsock_diag_msg *m = nlmsg_data(h);
    if (st->n == st->allocated) {
        if (st->n >= VSOCK_DIAG_MAX)
            return NL_SKIP;
        size_t want = st->allocated ? st->allocated * 2 : 16;
        VsockSocket *grown = realloc(st->items, want * sizeof(VsockSocket));
        if (!grown) {
            st->error = -ENOMEM;
            return NL_STOP;
        }
        st->items = grown;
        st->allocated = want;
    }
    st->items[st->n++] = (VsockSocket) {
        .type = m->vdiag_type, .state = m->vdiag_state,
        .local_cid = m->vdiag_src_cid, .local_port = m->vdiag_src_port,
        .remote_cid = m->vdiag_dst_cid, .remote_port = m->vdiag_dst_port,
        .inode = m->vdiag_ino,
    };
    return NL_OK;
}

static int dump(struct nl_sock *sk, DumpState *st)
{
    struct vsock_diag_req req = {
        .sdiag_family = AF_VSOCK,
        .vdiag_states = ~0u,
    };
    int r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
    if (r < 0)
        return -EIO;
    r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_message, st);
    if (r < 0)
        return -ENOMEM;
    r = nl_recvmsgs_default(sk);
    if (st->error)
        return st->error;
    /* The kernel answers ENOENT when no module handles AF_VSOCK dumps. */
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_OPNOTSUPP || r == -NLE_PROTO_MISMATCH)
        return -EPROTONOSUPPORT;
    return r < 0 ? -EIO : 0;
}

int vsock_diag_list(NsWorkers *w, int netns_fd, VsockSocket **ret, size_t *ret_n)
{
    int fd = netns_socket(w, netns_fd, AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return fd;
    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        close(fd);
        return -ENOMEM;
    }
    int r = nl_socket_set_fd(sk, NETLINK_SOCK_DIAG, fd);
    if (r < 0) {
        close(fd);
        nl_socket_free(sk);
        return -EIO;
    }
    DumpState st = { .items = NULL };
    r = dump(sk, &st);
    nl_socket_free(sk); /* closes fd */
    if (r < 0) {
        free(st.items);
        return r;
    }
    *ret = st.items;
    *ret_n = st.n;
    return 0;
}

const char *vsock_socket_type_to_string(uint8_t type)
{
    switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    default: return "unknown";
    }
}

/* vsock keeps its socket state in sk_state with TCP's names. */
const char *vsock_socket_state_to_string(uint8_t state)
{
    switch (state) {
    case TCP_ESTABLISHED: return "established";
    case TCP_SYN_SENT: return "connecting";
    case TCP_CLOSE: return "unconnected";
    case TCP_CLOSING: return "closing";
    case TCP_LISTEN: return "listening";
    default: return "unknown";
    }
}
