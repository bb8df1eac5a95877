/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one owner of every reserved lease's vhost-vsock fd, from the moment
 * the kernel gives it to vsocknsd until its CID is free again: the copies
 * kept in systemd's fd store (lease-vaults.c), the thread that closes the
 * last copy when there is no fd store (lease-closer.c), and the release
 * tickets in between.
 *
 * When is a CID free again? The kernel frees a CID when the last fd of its
 * device is closed. vsocknsd holds one copy (Lease.fd); under systemd, the
 * fd store holds another, in a vault, so that the device outlives a restart;
 * a client may hold more. lease_fds_let_go() closes vsocknsd's copy and
 * returns a ticket, and the CID stays marked CID_RELEASING in its space
 * until the ticket is done. With the fd store, a ticket is done once the
 * vault that held the copy has been rebuilt without it and PID 1 has
 * confirmed (BARRIER=1) that it closed the old vault, or after
 * LEASE_FDS_SETTLE_USEC if PID 1 does not confirm. By hand, it is done once
 * the closing thread has closed the fd (the last close waits for an RCU
 * grace period, which the event loop must not). Either way this module
 * finishes it by itself, from a deferred event that the change arms; no
 * caller has a follow-up step, and lease_fds_when_free() is only for those
 * that answer once the CID is free (ReleaseLease, DeleteNamespace). A copy
 * a client still holds (QEMU, or whoever the fd was handed to) is outside
 * vsockns: the ticket is done all the same, the lease is no longer listed
 * (ListLeases), and a new AcquireLease of that CID gets CidInUse, "held
 * outside vsockns", and marks it so until the kernel lets it go.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "namespace.h"

/* How long a release waits for PID 1 to confirm the fd store changes. */
#define LEASE_FDS_SETTLE_USEC (5 * 1000000ULL)
/* How long lease_fds_when_free() waits at most (the closing thread, or a
 * vault that cannot be rebuilt). */
#define LEASE_FDS_REPLY_USEC (20 * 1000000ULL)
/* A vault that could not be rebuilt is tried again after this long. */
#define LEASE_FDS_RETRY_USEC (1 * 1000000ULL)

typedef struct Lease Lease;
typedef struct LeaseFds LeaseFds;

typedef enum LeaseFdsMode {
    LEASE_FDS_BY_HAND,  /* no fd store: our copy is the last, the thread closes it */
    LEASE_FDS_FD_STORE, /* started by systemd: a copy of each fd in a vault */
} LeaseFdsMode;

/* lease-fds's own part of a Lease: where the fd store's copy of it is. */
typedef struct LeaseFdSlot {
    struct Vault *vault;   /* NULL: no copy in the store */
    size_t index;          /* its slot in that vault */
    bool record_current;   /* at startup: the vault's copy of the record is the file's */
} LeaseFdSlot;

/* A ticket is done: the CID of (space, cid) is free (space: the CidSpace's
 * key, "" for the global one), or, if retake is not 0, that lease (by
 * Lease.id) may take its CID again. Called in ticket order. */
typedef void (*lease_fds_released_fn)(void *userdata, const char *space, uint32_t cid, uint64_t retake);

int lease_fds_new(sd_event *event, LeaseFdsMode mode, lease_fds_released_fn released, void *userdata,
                  LeaseFds **ret);
/* Stops the closing thread once it has closed what is queued; the fd
 * store keeps its copies (that is what it is for). */
LeaseFds *lease_fds_free(LeaseFds *f);
/* The mode; a NULL f (a manager without a loop: tools and tests) closes
 * every fd at once and has no tickets. */
LeaseFdsMode lease_fds_mode(const LeaseFds *f);

/* l->fd is a device vsocknsd now holds (acquired, taken again, adopted):
 * with the fd store, a copy goes into a vault of l's namespace. */
void lease_fds_keep(LeaseFds *f, Lease *l);
/* Lets go of l's device: closes l->fd (now -1) and drops the store's copy.
 * Returns the ticket that frees its CID, or 0 when nothing is left to wait
 * for. retake: see lease_fds_released_fn. */
uint64_t lease_fds_let_go(LeaseFds *f, Lease *l, uint64_t retake);
/* A vhost-vsock device that holds no lease's CID, or none vsockns waits
 * for (a probe, one whose CID could not be set, one of an earlier run that
 * does not stand): closed by the closing thread, off the loop, as its last
 * close waits for an RCU grace period. At once with a NULL f or once
 * stopped. No ticket: its CID, if it had one, stays held until the thread
 * gets to it (behind what is queued, some 8 ms per device under
 * emulation); an AcquireLease of that CID meanwhile gets CidInUse and
 * marks it held outside until the next minute's recheck. */
void lease_fds_discard(LeaseFds *f, int fd);
/* Whether any ticket is not done yet. */
bool lease_fds_pending(const LeaseFds *f);
/* The lease the retake of that ticket was for has ended: the ticket only
 * frees the CID now. false if the ticket is done already. */
bool lease_fds_cancel_retake(LeaseFds *f, uint64_t ticket);
/* vsocknsd is stopping (its loop ends, the bus is still there): the
 * closing thread closes what is queued, and every lease_fds_when_free()
 * caller is answered (timed_out if PID 1 was still to confirm). From then
 * on fds are closed at once and nothing is waited for. */
void lease_fds_stop(LeaseFds *f);
/* Calls done once every ticket given out so far is done (at once, in this
 * call, if none is pending; timed_out: answered after LEASE_FDS_REPLY_USEC
 * with the closing thread still at work, the markers staying until it is
 * done). Only fails for lack of memory; done is then not called. */
int lease_fds_when_free(LeaseFds *f, void (*done)(void *userdata, bool timed_out), void *userdata);

/*
 * Startup, in this order: take what systemd handed back (every record of
 * every vault, and entries of their own that earlier versions stored); the
 * manager claims each lease's fd (and may use the copy of its record that
 * came with it); then lease_fds_adopted() closes what nobody claimed,
 * rebuilds the vaults that held it, moves entries of their own into vaults
 * and waits (at most LEASE_FDS_SETTLE_USEC) for systemd to have done it.
 */
int lease_fds_take_stored(LeaseFds *f);
/* One stored fd (by its fd name, lease_fd_name()), with the record that
 * came with it (or NULL): what take_stored() finds, and what tests plant. */
int lease_fds_add_stored(LeaseFds *f, const char *name, int fd, struct Vault *vault, const LeaseRecord *rec);
/* The stored fd for l (by its fd name): into l->fd. -ENOENT if none. */
int lease_fds_claim(LeaseFds *f, Lease *l);
/* The copy of the record of lease file (cid, ns) with inode ino that came
 * back with its fd, if any (lease_records_load_known()'s known()). */
bool lease_fds_stored_record(LeaseFds *f, uint32_t cid, const char *ns, uint64_t ino, LeaseRecord *ret);
/* How many stored fds no lease has claimed (yet). */
size_t lease_fds_unclaimed(const LeaseFds *f);
void lease_fds_adopted(LeaseFds *f);
