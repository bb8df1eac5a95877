/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Units joining a namespace: the drop-in that puts a unit into
 * /run/netns/NAME (NetworkNamespacePath=) and ties it to
 * vsockns-namespace@NAME.service. Written by vsocknsd for `vsocknsctl
 * attach` and, for /etc/vsockns/namespaces.d, by vsockns-generator.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ATTACH_DROPIN_NAME "50-vsockns.conf"
#define ATTACH_DROPIN_MARK "# Written by vsockns"

/* NULL if unit can join a namespace (a .service or .socket unit name of
 * [A-Za-z0-9:_.@\-], at most 255 bytes, not a template), else why not. */
const char *attach_unit_problem(const char *unit);

/* NULL if vsockns may attach a unit of this name (one of the unit's names:
 * the caller checks each of its aliases), else why not: the units that the
 * system, and vsockns itself, need in the host's network namespace
 * (vsocknsd, the system bus, polkit, logind, journald, the gettys). For
 * root too. */
const char *attach_unit_forbidden(const char *name);

/* The drop-in text for unit joining namespace ns. */
int attach_dropin_text(const char *unit, const char *ns, const char *netns_dir, char *buf, size_t size);

/* Writes UNIT.d/50-vsockns.conf below unit_dir (e.g. /etc/systemd/system),
 * atomically; -EEXIST if a file of that name is there that vsockns did not
 * write (it is left alone). */
int attach_write(const char *unit_dir, const char *unit, const char *ns, const char *netns_dir);
/* Removes it, only if it is one of ours (-EPERM if not); -ENOENT if there
 * is none. */
int attach_remove(const char *unit_dir, const char *unit);
/* The namespace that UNIT.d/50-vsockns.conf below unit_dir joins: 1 with
 * its name in ns, 0 if there is no such file, -EPERM if it is not ours. */
int attach_read(const char *unit_dir, const char *unit, char *ns, size_t size);
