/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AttachUnit and DetachUnit: a unit joins a namespace by a drop-in
 * (core/attach.h) and systemd reloads. This module owns the calls under
 * way, their questions to systemd and the Reloads.
 *
 * A call, in order: its arguments; the names vsockns never attaches (as
 * given); for a non-root caller, the administrator's list
 * (AttachableUnits= in vsocknsd.conf) for the namespace it joins and the
 * one it leaves; the drop-in there now (one vsockns did not write is left
 * alone); polkit (org.vsockns1.attach-units); then, for an attach,
 * systemd's names for the unit (its aliases, each checked against the
 * never list again); the drop-in written or removed; a systemd Reload;
 * the answer once it is done. Reloads are coalesced: the changes made
 * while one Reload is under way all wait for the next one, so a burst of
 * them costs two at most. At most ATTACH_CALLS_MAX calls are under way at
 * once, ATTACH_CALLS_PER_UID of one user but root; more get
 * LimitsExceeded, so one tenant cannot keep systemd reloading for all.
 */
#pragma once

#include <systemd/sd-bus.h>

#define ATTACH_CALLS_MAX 16
#define ATTACH_CALLS_PER_UID 2

typedef struct UnitChanges UnitChanges;
struct BusContext;

UnitChanges *unit_changes_new(struct BusContext *ctx);
/* Answers every call still under way (vsocknsd is stopping) and frees. */
UnitChanges *unit_changes_free(UnitChanges *u);

/* org.vsockns1.Manager.AttachUnit(s unit, s namespace, b runtime) and
 * DetachUnit(s unit, b runtime); userdata: the Manager. */
int bus_method_attach_unit(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_method_detach_unit(sd_bus_message *m, void *userdata, sd_bus_error *error);
