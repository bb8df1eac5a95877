/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Need to know: what a non-root caller may see of other users' leases and
 * of a namespace's sockets.
 *
 * A caller sees every lease and socket of a namespace it may manage, and
 * its own leases everywhere; of the rest it sees counts only (the
 * LeaseCount properties). Root sees everything. "May manage" is polkit's
 * manage-leases for that namespace, asked without interaction, with the
 * details verb "list", namespace, mode and space: the rule that lets a
 * tenant lease in a namespace also lets it see that namespace.
 *
 * Answers are kept NEED_TO_KNOW_KEEP_USEC per (uid, namespace), the
 * namespace known by its nsfs inode too, so that one made again under the
 * same name is asked about anew. A method call about one namespace
 * (ListLeases or ListSockets naming it) asks polkit when no answer is
 * kept, and waits for it as polkit_check() does. What cannot wait uses the
 * kept answers only and shows the caller's own leases where none is kept:
 * property reads (Leases, GetManagedObjects) and ListLeases of every
 * namespace at once, which would otherwise ask polkit about each. Callers
 * of unknown uid are never kept: they are asked each time.
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
/* Answers kept at most, over all callers: a full table drops the oldest. */
#define NEED_TO_KNOW_MAX 256

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

/* Whether a kept, unexpired answer lets uid see all of ns (NULL:
 * ".host"). Root: always. Changes nothing. */
bool need_to_know_kept(const NeedToKnow *k, uid_t uid, const Namespace *ns);
/* Whether uid may see lease l: its own, or one in a namespace a kept
 * answer lets it see. Changes nothing. */
bool need_to_know_lease(const NeedToKnow *k, Manager *m, uid_t uid, const Lease *l);
