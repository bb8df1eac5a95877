/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A namespace vsockns manages: what it is and where it came from. No D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "name.h"

#define LEASE_OWNER_MAX 255

typedef struct CidSpace CidSpace;
typedef struct Lease Lease;

/* The leases of one namespace (or of the host), so that listing or counting
 * them costs O(their number), not O(every lease of the CID space). In no
 * particular order; each lease knows its slot (lease.h). */
typedef struct LeaseSet {
    Lease **items;
    size_t n, allocated;
} LeaseSet;

typedef struct Namespace {
    char name[NS_NAME_MAX + 1];
    VsockMode mode;
    char parent[NS_NAME_MAX + 1]; /* "" unless nested in a managed namespace */
    int g2h_fallback;             /* -1 unknown (pre-7.2 kernel), 0, 1 */
    uint64_t inode;               /* of the netns, to recognise it after restarts */
    uint64_t dev;                 /* its nsfs device (0: not recorded) */
    uint64_t created_usec;        /* CLOCK_REALTIME */
    /* While pending: the placeholder file it is being pinned onto (0: not
     * made yet), so that a restart only ever removes its own placeholder. */
    uint64_t placeholder_dev, placeholder_ino;
    int fd;                       /* the namespace, held while managed (-1:
                                   * none); how vsockns finds it, never by path */
    CidSpace *space;              /* local namespaces: their own CID space */
    LeaseSet leases;              /* its leases, whatever their CID space */
    bool pending;                 /* recorded, creation not finished (see manager.c) */
    uid_t uid;                    /* who created it (quotas) */
    struct Manager *manager;      /* that keeps it (set when it is added) */
} Namespace;

/* What is kept of a lease across restarts (the fd goes to the fd store). */
typedef struct LeaseRecord {
    char ns[NS_NAME_MAX + 1];     /* namespace name, or ".host" */
    uint32_t cid;
    char owner[LEASE_OWNER_MAX + 1];
    uid_t uid;                    /* who acquired it */
    pid_t pid;
    uint64_t acquired_usec;       /* CLOCK_REALTIME */
    bool reserved;                /* held in the kernel by our vhost fd */
    pid_t bind_pid;               /* released when this process exits; 0: none */
    uint64_t bind_start_time;     /* its start time (clock ticks), against pid reuse */
    bool persist;                 /* when that process exits, re-take the CID on a
                                   * fresh device instead of ending the lease */
    uint64_t file_ino;            /* not in the file: the inode of the file that holds
                                   * exactly this record (0: unknown) */
} LeaseRecord;
