/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "connect-dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "core/vsock-connect.h"
#include "manager-dbus.h"
#include "shared/events.h"
#include "shared/log.h"
#include "shared/macro.h"

struct ConnectCall {
    BusContext *ctx;
    sd_bus_message *call;
    uid_t uid;
    char ns[NS_NAME_MAX + 1];
    uint32_t cid, port;
    VsockConnect *op;        /* NULL once answered */
    ConnectCall *next;
};

static void connect_call_free(ConnectCall *c)
{
    for (ConnectCall **p = &c->ctx->connects; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            c->ctx->n_connects--;
            break;
        }
    vsock_connect_free(c->op);
    sd_bus_message_unref(c->call);
    free(c);
}

/* The kernel's answer, named. */
static int reply_error(ConnectCall *c, int r)
{
    const char *name = BUS_ERROR_KERNEL, *what;
    switch (r) {
    case -ECONNREFUSED:
    case -ECONNRESET: /* what vsock answers when nothing listens */
        name = BUS_ERROR_CONNECTION_REFUSED;
        what = "refused: nothing listens on that port";
        break;
    case -ENODEV:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
        name = BUS_ERROR_NO_DEVICE;
        what = "no device with that CID runs in the namespace's CID space (no VM has it, or its guest has not "
               "started its vsock device yet)";
        break;
    case -ETIMEDOUT:
        name = BUS_ERROR_TIMED_OUT;
        what = "no answer in time (a paused VM, or a peer that never accepts)";
        break;
    case -ESHUTDOWN:
        name = SD_BUS_ERROR_NO_REPLY;
        what = "vsocknsd is stopping; ask again once it is back";
        break;
    default:
        what = "the kernel said no";
    }
    return sd_bus_reply_method_errorf(c->call, name, "Cannot connect to CID %u port %u in '%s': %s (%s).", c->cid,
                                      c->port, c->ns, what, strerror(-r));
}

static void on_connected(int r, int fd, void *userdata)
{
    ConnectCall *c = userdata;
    c->op = NULL; /* freed by vsock-connect */
    if (r == 0) {
        /* The caller's now: blocking, as a socket it made itself would be. */
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0)
            (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        r = sd_bus_reply_method_return(c->call, "h", fd);
        close(fd);
        if (r >= 0)
            log_event(LOG_INFO, EVENT_VSOCK_CONNECTED,
                      (EventFields) { .ns = c->ns, .cid = c->cid, .has_uid = c->uid != (uid_t) -1, .uid = c->uid },
                      "Connected uid %d to CID %u port %u in '%s'", (int) c->uid, c->cid, c->port, c->ns);
        else
            log_warning_errno(r, "Cannot hand the socket to CID %u port %u in '%s' to its caller: %m", c->cid,
                              c->port, c->ns);
    } else if (reply_error(c, r) < 0)
        log_warning("Cannot answer ConnectVsock");
    connect_call_free(c);
}

static int read_connect_option(sd_bus_message *m, const char *key, void *userdata)
{
    int b, r = sd_bus_message_read(m, "v", "b", &b);
    if (r >= 0)
        *(int *) userdata = b ? SOCK_SEQPACKET : SOCK_STREAM;
    return r;
}

/* 1: the caller holds the lease of cid in ns (no polkit question needed). */
static bool holds_lease(Manager *manager, const char *ns, uint32_t cid, uid_t uid)
{
    Lease *l = manager_find_lease(manager, ns, cid);
    return l && uid != (uid_t) -1 && l->rec.uid == uid;
}

int bus_method_connect_vsock(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const BusOption known[] = { { "SeqPacket", "b" } };
    Manager *manager = userdata;
    BusContext *ctx = manager->userdata;
    const char *name;
    uint32_t cid, port;
    int type = SOCK_STREAM;

    int r = sd_bus_message_read(m, "suu", &name, &cid, &port);
    if (r < 0)
        return r;
    r = bus_read_options(m, known, ELEMENTSOF(known), "SeqPacket (b)", read_connect_option, &type, error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;
    if (cid == VMADDR_CID_ANY || cid == VMADDR_CID_HYPERVISOR)
        return sd_bus_error_setf(error, BUS_ERROR_INVALID_CID, "CID %u cannot be connected to: name a VM's CID, "
                                 "1 (local) or 2 (the host).", cid);
    if (port == VMADDR_PORT_ANY)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Port %u (any) cannot be connected to.", port);
    uid_t uid;
    if (bus_caller_euid(m, &uid) < 0)
        uid = (uid_t) -1;
    Namespace *ns = NULL;
    if (streq(name, NS_NAME_HOST)) {
        if (uid != 0)
            return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                     "Only root may connect from the host's own network namespace (.host); name a "
                                     "managed namespace.");
    } else if ((r = bus_get_namespace(manager, name, false, &ns, error)) < 0)
        return r;

    if (uid != 0 && !holds_lease(manager, name, cid, uid)) {
        bool global = ns->mode != VSOCK_MODE_LOCAL;
        char cid_str[16], port_str[16];
        snprintf(cid_str, sizeof(cid_str), "%u", cid);
        snprintf(port_str, sizeof(port_str), "%u", port);
        const char *details[] = { "verb", "connect", "namespace", name, "mode", global ? "global" : "local",
                                  "space", global ? "host" : name, "cid", cid_str, "port", port_str, NULL };
        const PolkitAsk asks[] = { { POLKIT_ACTION_CONNECT, details, NULL },
                                   { POLKIT_ACTION_MANAGE_GLOBAL_LEASES, details, NULL } };
        r = polkit_check_all(bus_polkit_of(manager), m, asks, global ? 2 : 1, error);
        if (r <= 0)
            return r < 0 ? r : 1;
        /* Back from polkit: the namespace may be gone meanwhile. */
        if ((r = bus_get_namespace(manager, name, false, &ns, error)) < 0)
            return r;
    }
    if (ns && ns->fd < 0)
        return sd_bus_error_setf(error, BUS_ERROR_NAMESPACE_BUSY, "Namespace '%s' is still being set up.", name);
    if (ctx->n_connects >= CONNECTS_MAX)
        return sd_bus_error_setf(error, BUS_ERROR_LIMIT_REACHED,
                                 "%d connects are under way, the most at once; try again in a moment.", CONNECTS_MAX);
    unsigned mine = 0;
    for (ConnectCall *o = ctx->connects; o; o = o->next)
        mine += o->uid == uid;
    if (uid != 0 && mine >= CONNECTS_PER_UID)
        return sd_bus_error_setf(error, BUS_ERROR_LIMIT_REACHED,
                                 "This user has %u connects under way, the most one user may have at once; try "
                                 "again once one has finished.", mine);

    ConnectCall *c = calloc(1, sizeof(ConnectCall));
    if (!c)
        return -ENOMEM;
    *c = (ConnectCall) { .ctx = ctx, .uid = uid, .cid = cid, .port = port };
    snprintf(c->ns, sizeof(c->ns), "%s", name);
    r = vsock_connect_start(manager->workers, sd_bus_get_event(ctx->bus), ns ? ns->fd : -1, cid, port, type,
                            CONNECT_TIMEOUT_USEC, on_connected, c, &c->op);
    if (r < 0) {
        free(c);
        return sd_bus_error_setf(error, BUS_ERROR_KERNEL, "Cannot start connecting to CID %u port %u in '%s': %s.",
                                 cid, port, name, strerror(-r));
    }
    c->call = sd_bus_message_ref(m);
    c->next = ctx->connects;
    ctx->connects = c;
    ctx->n_connects++;
    return 1;
}

void connect_dbus_stop(BusContext *ctx)
{
    while (ctx && ctx->connects) {
        ConnectCall *c = ctx->connects;
        if (!c->op) {
            /* Answered already, never left in the list: but a loop that
             * cannot end must not rest on that. */
            connect_call_free(c);
            continue;
        }
        vsock_connect_stop(c->op); /* answers it: on_connected frees c */
    }
}
