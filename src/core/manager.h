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
};

/* What CreateNamespace asked for, already parsed from the bus. */
typedef struct CreateRequest {
    const char *name;
    const char *mode;
    const char *parent;  /* NULL or "" */
    int g2h_fallback;    /* -1: not given */
} CreateRequest;

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

/* Leases arrive with their own module; until then no namespace has any. */
size_t manager_namespace_lease_count(Manager *m, const Namespace *ns);

/* Something removed NAME from the netns directory (inotify): drop it if it
 * was ours and is really gone. Returns true if it was dropped. */
bool manager_handle_pin_removed(Manager *m, const char *name);

int manager_save(Manager *m);
