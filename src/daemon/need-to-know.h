/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Need to know: what a non-root caller may see of other users' leases and
 * of a namespace's sockets.
 *
 * A caller sees its own leases everywhere. It sees every lease and socket
 * of a namespace it may manage, when it names that namespace (ListLeases,
 * ListLeaseRecords and ListSockets of one namespace). Of the rest it sees
 * counts only (the LeaseCount properties). Root sees everything. "May
 * manage" is polkit's manage-leases for that namespace, asked without
 * interaction, with the details verb "list", namespace, mode and space: the
 * rule that lets a tenant lease in a namespace also lets it see that
 * namespace.
 *
 * What cannot wait for polkit shows the caller's own leases only, always:
 * property reads (Leases, GetManagedObjects) and ListLeases of every
 * namespace at once, which would otherwise ask polkit about each. So what
 * one call shows never depends on what another asked before.
 *
 * Answers are kept NEED_TO_KNOW_KEEP_USEC per (uid, namespace), the
 * namespace known by its name, mode, nsfs inode and creation time, so that
 * one deleted and made again is asked about anew even if the kernel gives
 * it the same inode. At most NEED_TO_KNOW_PER_UID answers per uid: a user
 * who asks about many namespaces replaces its own oldest answers, never
 * another user's. Callers of unknown uid are never kept: they are asked
 * each time.
 *
 * The lease signals, which the bus lets anyone receive, carry no owner
 * label (manager-dbus.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "core/manager.h"
#include "polkit.h"

#define NEED_TO_KNOW_KEEP_USEC (30 * 1000000ULL)
/* Answers kept at most, over all callers, and per uid. */
#define NEED_TO_KNOW_MAX 256
#define NEED_TO_KNOW_PER_UID 32

typedef struct NeedToKnow NeedToKnow;

/* keep_usec: how long an answer is kept (NEED_TO_KNOW_KEEP_USEC; tests
 * pass less). */
NeedToKnow *need_to_know_new(uint64_t keep_usec);
NeedToKnow *need_to_know_free(NeedToKnow *k);

/*
 * Whether uid (the caller of m, (uid_t) -1 if unknown) may see all of
 * namespace ns (NULL: ".host"). Returns 1 with *ret set once known (kept,
 * or polkit's answer, which is then kept); 0 while polkit is asked (the
 * handler returns 1 at once and runs again with the answer); < 0 with
 * error set if polkit cannot be asked now (LimitsExceeded).
 */
int need_to_know_check(NeedToKnow *k, PolkitRegistry *reg, sd_bus_message *m, uid_t uid, const Namespace *ns,
                       bool *ret, sd_bus_error *error);

/* Whether uid may see lease l without naming its namespace: root, and
 * the lease's own user. */
bool need_to_know_own(uid_t uid, const Lease *l);
