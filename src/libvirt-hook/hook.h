/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt qemu hook's decisions: which libvirt operations it acts on,
 * what it asks vsockns, and what it answers libvirt (the exit status). The
 * bus is behind HookBusOps so that every path, vsockns unreachable or slow
 * included, runs in unit tests.
 *
 * libvirt aborts prepare, start, migrate and restore when a hook fails, and
 * kills the running QEMU when reconnect fails; started, stopped and release
 * cannot be undone. So the hook refuses only at prepare, migrate and restore,
 * only for a CID vsockns has leased to someone else (or, if configured, when
 * vsockns cannot be asked), and exits 0 everywhere else, saying on stderr
 * (which libvirt logs) what it could not do.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#include "hook-domain.h"

#define HOOK_CONFIG_FILE "/etc/vsockns/libvirt-hook.conf"
#define HOOK_TIMEOUT_MS_DEFAULT 5000
/* core/lease.h's LEASE_OWNER_ROOT_PREFIX: vsocknsd lets only root lease
 * under it, so a lease with the hook's label is the hook's. */
#define HOOK_OWNER_PREFIX "libvirt:"

typedef enum HookOp {
    HOOK_OP_PASS,       /* not ours: exit 0 at once */
    HOOK_OP_CHECK,      /* prepare, migrate, restore: refuse a conflicting fixed CID */
    HOOK_OP_REGISTER,   /* started: record the domain's CID as an advisory lease */
    HOOK_OP_RECONNECT,  /* libvirtd restarted: record it again if missing; never fail */
    HOOK_OP_RELEASE,    /* stopped, release: drop the domain's leases */
} HookOp;

/* From libvirt's argv: OBJECT OPERATION SUB-OPERATION [EXTRA]. */
HookOp hook_op_from_args(const char *op, const char *subop);
const char *hook_op_to_string(HookOp op);

typedef struct HookConfig {
    bool refuse_when_unreachable; /* RefuseStartWhenUnreachable= */
    unsigned timeout_ms;          /* TimeoutSec=, for each bus call */
} HookConfig;

/* Reads path (missing: defaults); bad lines are reported on log and skipped. */
void hook_config_load(const char *path, HookConfig *ret, FILE *log);
/* The settings in f on top of *ret (path only names it in reports). */
void hook_config_parse(FILE *f, const char *path, HookConfig *ret, FILE *log);

typedef struct HookLease {
    char ns[65];
    uint32_t cid;
    char owner[256];
    bool reserved;
    uid_t uid;       /* who took it; HOOK_UID_UNKNOWN from a vsockns too old to say */
} HookLease;
#define HOOK_UID_UNKNOWN ((uid_t) -1)

/* Whether l is a lease the hook took for the domain labelled owner. */
bool hook_lease_is_own(const HookLease *l, const char *owner);

/* How a bus call failed: vsockns answered with an error (name, message),
 * or could not be asked at all (unreachable: no bus, not running, masked,
 * timed out). */
typedef struct HookBusError {
    bool unreachable;
    char name[128];
    char message[512];
} HookBusError;

typedef struct HookBusOps {
    /* Every lease in the global CID space: the host's and those of global namespaces. */
    int (*list_global_leases)(void *userdata, HookLease **ret, size_t *ret_n, HookBusError *e);
    /* An advisory lease (Reserve=false) in ".host". */
    int (*acquire_advisory)(void *userdata, uint32_t cid, const char *owner, HookBusError *e);
    int (*release)(void *userdata, const char *ns, uint32_t cid, HookBusError *e);
} HookBusOps;

/* libvirt:<uuid>:<name>, the owner label of a domain's lease. */
void hook_owner_label(const HookDomain *d, char *buf, size_t size);

/* Acts on op for domain d; returns the exit status for libvirt. */
int hook_run(HookOp op, const HookDomain *d, const HookConfig *cfg, const HookBusOps *ops, void *userdata,
             FILE *log);

/* The exit status when vsockns cannot be asked (also when the hard
 * deadline passes): refuse a fixed CID at a check only if configured to. */
int hook_unreachable_status(HookOp op, const HookDomain *d, const HookConfig *cfg);
