/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The systemd fd store: where reserved CIDs' fds outlive a restart of
 * vsocknsd.
 *
 * systemd compares every fd added to a service's store with each fd already
 * there (to drop duplicates), and looks names up the same way: with one
 * entry per lease, adding or removing the n-th lease costs PID 1 O(n), and
 * 10,000 leases cost it O(n^2). So leases' fds are kept in vaults instead:
 * a vault is an AF_UNIX stream socket pair whose queue holds up to
 * VAULT_SIZE records in flight, each a lease's fd name (lease_fd_name())
 * with the fd attached. Both ends of the pair go into the store (as
 * vault-ID-r and vault-ID-w: with the writing end open in PID 1 the reading
 * end never hangs up), so PID 1 keeps 2 entries per VAULT_SIZE leases, and
 * the kernel keeps the fds. A vault holds the leases of one namespace (or of
 * the host), so deleting a namespace drops whole vaults.
 *
 * A vault's queue only grows: a lease that ends makes its vault stale, and
 * fd_store_settle() rebuilds a stale vault (a new pair with the records of
 * the leases still in it, stored before the old pair is removed, so every
 * live lease is in the store at every moment) or removes it when nothing
 * in it is left. At startup the records are read back with MSG_PEEK, which
 * leaves the vault as it was: a crash at any point loses nothing.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "core/manager.h"

#define VAULT_SIZE 64

/* Sets up m->fd_store (only when started by systemd: NOTIFY_SOCKET) and
 * turns what systemd handed back (sd_listen_fds_with_names()) into the
 * manager's stored fds: every record of every vault, and entries of their
 * own that earlier versions stored. Call before manager_startup(). */
int fd_store_take(sd_event *event, Manager *m);
/* After adoption: closes the stored fds no lease claimed, rebuilds the
 * vaults that held them and moves leases that came in entries of their own
 * into vaults; waits (at most 5 s) for systemd to have done it all. */
void fd_store_adopted(Manager *m);
void fd_store_free(Manager *m);

/* Puts a copy of the lease's fd into its namespace's vault (or attaches
 * an adopted lease to the vault it came back in). */
void fd_store_add(Lease *l);
/* The lease's copy is to go: its vault goes stale. Until the vault is
 * rebuilt and systemd has closed the old one, the CID stays busy in the
 * kernel; that settling runs by itself on the next iteration of the loop
 * (a deferred event this module arms), whoever made the change. */
void fd_store_remove(Lease *l);

/*
 * Settles now, for a caller that must answer only once the CIDs it ended
 * are free (reply_to), or that changed the store outside fd_store_remove().
 * Rebuilds or removes every stale vault, then, once systemd has processed
 * every store change sent so far, marks the CIDs released up to now free
 * (manager_releases_settled()) and, if reply_to is not NULL, sends its
 * (empty) method return: a released CID is free when ReleaseLease or
 * DeleteNamespace returns.
 *
 * Never blocks: it sends BARRIER=1 with the write end of a pipe, which
 * systemd closes after handling what came before, and waits for that on
 * the event loop, for at most 5 s. Without anything to wait for, it
 * replies at once. Returns < 0 only if the reply could not be sent.
 */
int fd_store_settle(sd_event *event, Manager *m, sd_bus_message *reply_to);
