/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model of vsocknsd: the managed parents, the namespaces created on
 * request, their state on disk and their reconciliation with the kernel and
 * /run/netns. Knows nothing of D-Bus: failures come back as a negative errno
 * plus, for failures a caller can expect, an error name and a sentence.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lease.h"
#include "namespace.h"

#define MANAGER_NAMESPACES_MAX 4096

typedef enum KernelSupport {
    KERNEL_SUPPORT_NONE,       /* no vsock namespaces (< 7.0), or no vsock */
    KERNEL_SUPPORT_NAMESPACES, /* ns_mode/child_ns_mode (>= 7.0) */
} KernelSupport;

typedef struct ManagerError {
    const char *name;   /* org.vsockns1.Error.*, NULL: not one a caller expects */
    char message[512];
} ManagerError;

typedef struct ManagerConfig {
    char netns_dir[256];       /* /run/netns */
    char state_dir[256];       /* /run/vsockns */
    char config_file[256];     /* /etc/vsockns/vsocknsd.conf */
} ManagerConfig;

/* A parent namespace the daemon created and whose child_ns_mode it locked. */
typedef struct Parent {
    VsockMode mode;
    char path[PATH_MAX];
    int status;          /* 0: usable; else why not (-EBUSY: locked wrongly) */
    char problem[256];   /* for the error a caller gets when status != 0 */
} Parent;

typedef struct Manager Manager;
typedef void (*manager_ns_callback)(Manager *m, const Namespace *ns, void *userdata);
typedef void (*manager_lease_callback)(Manager *m, Lease *l, const char *why, void *userdata);

/* The kernel calls leases need, behind a table so unit tests can run the
 * lease logic against a fake kernel. */
typedef struct LeaseKernelOps {
    /* Opens vhost-vsock in the namespace pinned at pin_path (NULL: the host)
     * and sets the guest CID: the fd, or -EADDRINUSE, -EINVAL, ... */
    int (*reserve_cid)(void *userdata, const char *pin_path, uint32_t cid);
} LeaseKernelOps;

extern const LeaseKernelOps lease_kernel_ops_real;

/* An fd handed back by the systemd fd store, with its FDNAME. */
typedef struct StoredFd {
    char name[256];
    int fd;
} StoredFd;

struct Manager {
    char version[32];
    ManagerConfig config;
    Namespace *namespaces;
    size_t n_namespaces;
    Parent parents[2];   /* indexed by VsockMode */

    KernelSupport kernel_support;
    bool g2h_fallback_supported; /* 7.2+ */
    bool guest_transport;        /* we run in a guest with a G2H vsock device */
    char host_child_mode[16];
    VsockMode configured_host_child_mode; /* from the config file, or INVALID */

    manager_ns_callback on_added, on_removed;
    void *userdata;

    CidSpace *global_space;      /* the host and every global namespace */
    LeaseSet host_leases;        /* the leases of ".host" */
    size_t n_leases;
    size_t leases_max;
    const LeaseKernelOps *kernel;
    void *kernel_userdata;
    manager_lease_callback on_lease_added, on_lease_removed;
    /* Set while many leases end at once; on_leases_flushed follows. */
    bool dropping_many;
    void (*on_leases_flushed)(Manager *m, void *userdata);
    StoredFd *stored_fds;        /* from the fd store, consumed at startup */
    size_t n_stored_fds;
    bool have_fd_store;
};

typedef struct LeaseRequest {
    const char *ns;              /* a managed namespace or ".host" */
    uint32_t cid;                /* 0: pick one */
    const char *owner;
    const char *strategy;        /* NULL: lowest */
    bool reserve;
    uid_t uid;                   /* the caller */
    pid_t pid;
    pid_t bind_pid;              /* 0: none */
    int bind_pidfd;              /* -1: none (not owned: duplicated if used) */
} LeaseRequest;

/* What CreateNamespace asked for, already parsed from the bus. */
typedef struct CreateRequest {
    const char *name;
    const char *mode;
    const char *parent;  /* NULL or "" */
    int g2h_fallback;    /* -1: not given */
} CreateRequest;

/* Fills e (if not NULL) and returns r: "return manager_error_set(e, -EINVAL, ...)". */
int manager_error_set(ManagerError *e, int r, const char *name, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

void manager_config_default(ManagerConfig *c);
int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);

/* Loads vsock, applies the config file, sets up the parents, re-adopts the
 * namespaces of an earlier run. Failures of single parts are logged and
 * shown later; only what makes the daemon useless is returned. */
int manager_startup(Manager *m);

const char *kernel_support_to_string(KernelSupport s);
Namespace *manager_find(Manager *m, const char *name);

/* Checks a request without touching anything; on success *ret_parent_path
 * is the namespace to create the child from (NULL: the host). */
int manager_check_create(Manager *m, const CreateRequest *req, const char **ret_parent_path, ManagerError *e);
int manager_create_namespace(Manager *m, const CreateRequest *req, Namespace **ret, ManagerError *e);
int manager_delete_namespace(Manager *m, const char *name, bool force, ManagerError *e);

size_t manager_namespace_lease_count(Manager *m, const Namespace *ns);

/* Leases (core/manager-lease.c). The check validates without touching
 * anything, so callers can run it before asking for authorisation. */
int manager_check_lease_request(Manager *m, const LeaseRequest *req, ManagerError *e);
int manager_acquire_lease(Manager *m, const LeaseRequest *req, Lease **ret, ManagerError *e);
Lease *manager_find_lease(Manager *m, const char *ns, uint32_t cid);
/* Releasing someone else's lease needs root (polkit: a later step). */
int manager_release_lease(Manager *m, const char *ns, uint32_t cid, uid_t caller, ManagerError *e);
/* Ends a lease for a reason of ours (its process exited, its namespace went). */
void manager_drop_lease(Manager *m, Lease *l, const char *why);
/* Calls fn for the leases of ns (NULL or "": all, the host's first, then
 * each namespace's), in CID order per namespace. Costs O(k log k) for the k
 * leases visited, whatever else exists; fn may drop the lease it is given. */
int manager_foreach_lease(Manager *m, const char *ns, int (*fn)(Lease *l, void *userdata), void *userdata);
/* Drops every lease of a namespace (deleted, or gone behind our back). */
void manager_drop_namespace_leases(Manager *m, const char *ns, const char *why);
/* Adopts the leases of an earlier run (state + fd store + kernel). */
int manager_reconcile_leases(Manager *m, const LeaseRecord *records, size_t n);
/* Asks the kernel again about every CID marked held outside vsockns and
 * forgets those it has let go. Returns how many were freed. */
size_t manager_recheck_held_outside(Manager *m);
/* The FDNAME of a lease's fd in the systemd fd store. */
void lease_fd_name(const Lease *l, char *buf, size_t size);

/* Something removed NAME from the netns directory (inotify): drop it if it
 * was ours and is really gone. Returns true if it was dropped. */
bool manager_handle_pin_removed(Manager *m, const char *name);

int manager_save(Manager *m);
