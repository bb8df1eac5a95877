/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Looking at managed namespaces: their vsock sockets (vsock_diag) and a
 * live check of their isolation (isolation.h). Nothing is changed, with
 * one exception decided here on purpose: a namespace whose pin was removed
 * or replaced behind our back is forgotten first (its leases end), as the
 * pin watch would a moment later, rather than looked into.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "isolation.h"
#include "manager.h"
#include "ns-worker.h"
#include "shared/macro.h"
#include "vsock-diag.h"

/* The namespace fd to look into: -1 for ".host", else the one we hold. */
static int inspect_target(Manager *m, const char *name, Namespace **ret, ManagerError *e)
{
    *ret = NULL;
    if (streq(name, NS_NAME_HOST))
        return -1;
    Namespace *ns = manager_get(m, name, true, e);
    if (!ns)
        return -ENOENT;
    int r = manager_forget_if_unpinned(m, ns, e);
    if (r < 0)
        return r;
    if (ns->fd < 0)
        return manager_error_set(e, -EBUSY, ERROR_NAMESPACE_BUSY, "Namespace '%.64s' is still being set up.", name);
    *ret = ns;
    return ns->fd;
}

int manager_list_sockets(Manager *m, const char *name, VsockSocket **ret, size_t *ret_n, ManagerError *e)
{
    Namespace *ns;
    int fd = inspect_target(m, name, &ns, e);
    if (fd < -1)
        return fd;
    int r = vsock_diag_list(m->workers, fd, ret, ret_n);
    if (r == -EPROTONOSUPPORT)
        return manager_error_set(e, r, ERROR_NOT_SUPPORTED,
                                 "This kernel cannot list vsock sockets: it has no vsock_diag (modprobe vsock_diag).");
    if (r < 0)
        return manager_error_set(e, r, ERROR_KERNEL, "Cannot list the vsock sockets of %s: %s.", name, strerror(-r));
    return 0;
}

/* Where vsockns makes siblings of ns: its parent namespace, or the
 * managed parent of its mode. A new fd (the caller closes it). */
static int sibling_parent_fd(Manager *m, const Namespace *ns, ManagerError *e)
{
    if (ns->parent[0]) {
        /* Deciding here that a parent whose pin went is gone frees that
         * parent only: ns is an object of its own. */
        Namespace *parent = manager_find(m, ns->parent);
        if (parent && manager_forget_if_unpinned(m, parent, NULL) < 0)
            parent = NULL;
        if (!parent || parent->fd < 0)
            return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE,
                                     "The parent '%s' of '%s' is gone: no sibling can be made.", ns->parent, ns->name);
        int fd = fcntl(parent->fd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? manager_error_set(e, -errno, ERROR_NONE, "Cannot duplicate an fd: %m.") : fd;
    }
    const Parent *p = &m->parents[ns->mode];
    int fd = p->status == 0 ? netns_open(p->path) : -ENOENT;
    if (fd < 0)
        return manager_error_set(e, fd, ERROR_NOT_SUPPORTED,
                                 "The managed %s parent is not usable, so no sibling of '%s' can be made.",
                                 vsock_mode_to_string(ns->mode), ns->name);
    return fd;
}

int manager_check_isolation_start(Manager *m, const char *name, ns_answer_fn done, void *userdata,
                                  VsockMode *ret_mode, NsCall **ret_call, ManagerError *e)
{
    if (streq(name, NS_NAME_HOST))
        return manager_error_set(e, -EINVAL, ERROR_INVALID_NAME,
                                 "The host is not isolated from anything: name a managed namespace.");
    if (m->kernel_support == KERNEL_SUPPORT_NONE)
        return manager_error_set(e, -EOPNOTSUPP, ERROR_NOT_SUPPORTED,
                                 "This kernel has no vsock namespaces (Linux >= 7.0 needed): nothing is isolated.");
    Namespace *ns;
    int fd = inspect_target(m, name, &ns, e);
    if (fd < 0)
        return fd;
    _cleanup_close_ int parent_fd = sibling_parent_fd(m, ns, e);
    if (parent_fd < 0)
        return parent_fd;
    NsRequest q = ns_request(NS_OP_PROBE, ns->fd);
    q.fds[1] = parent_fd;
    int r = ns_workers_submit(m->workers, &q, m->probe_deadline_ms, done, userdata, ret_call);
    if (r < 0)
        return manager_error_set(e, r, ERROR_NONE, "Cannot start the isolation probe: %s.", strerror(-r));
    *ret_mode = ns->mode;
    return 0;
}
