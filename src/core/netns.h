/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network namespaces the way ip-netns(8) keeps them: created from inside a
 * chosen parent namespace, pinned by a bind mount of the nsfs file onto a
 * placeholder in a shared-mount directory, removed with a lazy unmount.
 *
 * setns()/unshare() change only the calling thread. The daemon never calls
 * them itself: every namespace switch happens in a short-lived forked helper
 * (netns_helper_run), so the daemon's own thread never leaves the host netns.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETNS_RUN_DIR "/run/netns"

/* A function run inside the helper, after it joined the target namespace.
 * It returns 0 or a negative errno and may leave a short answer in out. */
typedef int (*netns_helper_fn)(void *userdata, char *out, size_t out_size);

/* Runs fn in a forked helper whose network namespace is netns_fd (or the
 * caller's when netns_fd < 0). Returns fn's result; out gets its answer. */
int netns_helper_run(int netns_fd, netns_helper_fn fn, void *userdata, char *out, size_t out_size);

/* Reads /proc/sys/net/vsock/KEY as seen from netns_fd (< 0: our own). */
int vsock_sysctl_read(int netns_fd, const char *key, char *buf, size_t size);
/* Writes it: 0, or the kernel's -EBUSY/-EPERM/... for child_ns_mode. */
int vsock_sysctl_write(int netns_fd, const char *key, const char *value);

typedef struct NetnsSetup {
    const char *pin_path;        /* where to bind-mount the new namespace */
    const char *child_ns_mode;   /* NULL, or write (and so lock) this */
    int g2h_fallback;            /* -1: leave alone, else write 0/1 */
} NetnsSetup;

typedef struct NetnsCreated {
    char ns_mode[16];            /* what the kernel gave the new namespace */
    uint64_t inode;
} NetnsCreated;

/* Makes dir a shared mount point (once) so pins propagate everywhere, holding
 * flock() on it while doing so, as ip netns does against parallel setup. */
int netns_dir_prepare(const char *dir);

/* Creates a namespace from inside parent_fd (< 0: the host) and pins it.
 * The pin path must not exist (-EEXIST). On failure nothing is left. */
int netns_create_pinned(int parent_fd, const NetnsSetup *setup, NetnsCreated *ret);

/* Lazy unmount and unlink; -ENOENT if there was nothing. */
int netns_unpin(const char *path);

/* 0 and the namespace inode if path is a pinned namespace; -ENOENT if it
 * does not exist, -ENOTCONN if it is a file but no namespace is mounted. */
int netns_pin_inode(const char *path, uint64_t *ret_inode);

/* Opens a pinned namespace for setns(). */
int netns_open(const char *path);
