/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CID leases: which CIDs of which CID space vsockns hands out, to whom, and
 * whether the kernel holds them for us (a reserved lease keeps an open
 * vhost-vsock fd with that guest CID; an advisory one only records a CID
 * someone else holds). The host and all global namespaces share one CID
 * space; each local namespace has its own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cid-map.h"
#include "lease-fds.h"
#include "namespace.h"

#define LEASES_MAX 16384
/* How many CIDs held outside vsockns one automatic pick may skip. */
#define LEASE_BUSY_SKIP_MAX 4096

/* At most this many CIDs held outside vsockns are remembered per space:
 * past it, a busy CID is simply asked about again next time. */
#define LEASE_HELD_OUTSIDE_MAX 4096
/* A recheck of those asks the kernel about at most this many per space. */
#define LEASE_RECHECK_BATCH 64

struct CidSpace {
    char key[NS_NAME_MAX + 1]; /* "" for the global space, else the local namespace */
    CidMap map;                /* cid -> Lease *, CID_HELD_OUTSIDE or CID_RELEASING */
    size_t n_held_outside;
    uint32_t recheck_from;     /* where the next recheck goes on */
};

/* Marks a CID the kernel reported busy that no lease of ours holds. */
extern char cid_held_outside_marker;
#define CID_HELD_OUTSIDE ((void *) &cid_held_outside_marker)
/* Marks a CID whose lease has ended while a copy of its device that
 * vsockns controls may still be open (in the fd store, or queued for the
 * closing thread): automatic picks skip it until its ticket is done
 * (lease-fds.h). */
extern char cid_releasing_marker;
#define CID_RELEASING ((void *) &cid_releasing_marker)

/* The lease a CidMap value is, or NULL for a free CID or a marker. */
static inline struct Lease *cid_map_value_lease(void *v)
{
    return v == CID_HELD_OUTSIDE || v == CID_RELEASING ? NULL : v;
}

struct Lease {
    LeaseRecord rec;
    uint64_t id;      /* unique in this run of the manager, never reused */
    CidSpace *space;
    int fd;           /* our vhost-vsock fd (lease-fds.h owns it); -1 if advisory, or
                       * if after a restart only the client's copy still holds the CID */
    LeaseFdSlot slot; /* lease-fds's: where the fd store's copy of fd is */
    uint64_t retake_ticket; /* persistent, its process gone: the ticket it waits for (0: none) */
    int bind_pidfd;   /* -1 unless bound to a process */
    sd_event_source *watch; /* on bind_pidfd, while the manager has a loop */
    struct Manager *manager; /* that keeps it */
    size_t set_slot;  /* its index in its namespace's LeaseSet */
    uint64_t checked_round; /* manager_check_leases(): last round it was checked in */
};

typedef enum LeaseStrategy {
    LEASE_STRATEGY_INVALID = -1,
    LEASE_STRATEGY_LOWEST,
    LEASE_STRATEGY_RANDOM,
    LEASE_STRATEGY_STABLE,
} LeaseStrategy;

LeaseStrategy lease_strategy_from_string(const char *s);

/* The FDNAME of a lease's fd in the systemd fd store (also its name in a
 * vault): "lease-CID-NAMESPACE". */
void lease_fd_name(const Lease *l, char *buf, size_t size);

/* Where an automatic pick starts: CID_MIN, a random CID, or one derived
 * from the owner label (so the same VM tends to get the same CID). */
uint32_t lease_pick_start(LeaseStrategy s, const char *owner);

/* NULL, or a sentence on why the owner label is refused. */
const char *lease_owner_problem(const char *owner);

/* Owner labels that vsockns's own tools give their leases, as root: the
 * libvirt hook's "libvirt:UUID:NAME" (libvirt-hook/hook.h). Nobody else may
 * use them, so a label that begins so is always root's. */
#define LEASE_OWNER_ROOT_PREFIX "libvirt:"
bool lease_owner_root_only(const char *owner);

int lease_set_add(LeaseSet *set, Lease *l);
void lease_set_remove(LeaseSet *set, Lease *l);
void lease_set_clear(LeaseSet *set);
/* A copy of the set's leases in CID order (caller frees; NULL when empty
 * or out of memory, with *ret_n 0 only when empty). */
int lease_set_sorted(const LeaseSet *set, Lease ***ret, size_t *ret_n);

CidSpace *cid_space_new(const char *key);
CidSpace *cid_space_free(CidSpace *space);
