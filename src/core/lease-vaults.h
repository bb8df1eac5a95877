/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The systemd fd store's vaults: where reserved CIDs' fds outlive a restart
 * of vsocknsd. Private to lease-fds.c, which owns them.
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
 * lease_vaults_flush() rebuilds a stale vault (a new pair with the records of
 * the leases still in it, stored before the old pair is removed, so every
 * live lease is in the store at every moment) or removes it when nothing
 * in it is left. At startup the records are read back with MSG_PEEK, which
 * leaves the vault as it was: a crash at any point loses nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lease-fds.h"
#include "namespace.h"

#define VAULT_SIZE 64

typedef struct LeaseVaults LeaseVaults;

LeaseVaults *lease_vaults_new(void);
/* Closes our writing ends; the store keeps the vaults. */
LeaseVaults *lease_vaults_free(LeaseVaults *s);

/* Puts a copy of the lease's fd into its namespace's vault (or attaches
 * an adopted lease to the vault it came back in, l->slot.vault). */
void lease_vaults_add(LeaseVaults *s, Lease *l);
/* The lease's copy is to go: its vault goes stale. */
void lease_vaults_remove(LeaseVaults *s, Lease *l);
/* Rebuilds or removes every stale vault (the old one is removed only once
 * the new one is stored). Returns how many are still stale (could not be
 * rebuilt). */
size_t lease_vaults_flush(LeaseVaults *s);
/* Sends BARRIER=1 with the writing end of a new pipe: the reading end
 * (returned) hangs up once systemd has handled everything sent before. */
int lease_vaults_barrier(void);
/* FDSTOREREMOVE of an entry of that name. */
void lease_vaults_store_remove(const char *name);

/* Startup: what systemd handed back, each lease fd to found() with the
 * vault it came in (NULL: an entry of its own) and the record that came
 * with it; s NULL (no fd store): vaults are not taken. Returns how many fds
 * systemd passed, or < 0. */
typedef int (*lease_vaults_found_fn)(void *userdata, const char *name, int fd, struct Vault *v,
                                     const LeaseRecord *rec);
int lease_vaults_take(LeaseVaults *s, lease_vaults_found_fn found, void *userdata);
size_t lease_vaults_count(const LeaseVaults *s);
/* After adoption (changes: entries of their own already removed): marks
 * the vaults that hold what nobody claimed stale, rebuilds them, and waits
 * (at most LEASE_FDS_SETTLE_USEC) for systemd if anything changed. */
void lease_vaults_adopted(LeaseVaults *s, size_t changes);
