/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hook.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/parse-util.h"

static const struct {
    const char *op, *subop;
    HookOp what;
} hook_ops[] = {
    { "prepare", "begin", HOOK_OP_CHECK },
    { "migrate", "begin", HOOK_OP_CHECK },
    { "restore", "begin", HOOK_OP_CHECK },
    { "started", "begin", HOOK_OP_REGISTER },
    { "reconnect", "begin", HOOK_OP_RECONNECT },
    { "stopped", "end", HOOK_OP_RELEASE },
    { "release", "end", HOOK_OP_RELEASE },
};

HookOp hook_op_from_args(const char *op, const char *subop)
{
    for (size_t i = 0; i < ELEMENTSOF(hook_ops); i++)
        if (streq(op, hook_ops[i].op) && streq(subop, hook_ops[i].subop))
            return hook_ops[i].what;
    return HOOK_OP_PASS;
}

const char *hook_op_to_string(HookOp op)
{
    static const char *const names[] = {
        [HOOK_OP_PASS] = "pass", [HOOK_OP_CHECK] = "check", [HOOK_OP_REGISTER] = "register",
        [HOOK_OP_RECONNECT] = "reconnect", [HOOK_OP_RELEASE] = "release",
    };
    return (unsigned) op < ELEMENTSOF(names) ? names[op] : "?";
}

static char *strip(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void config_set(HookConfig *c, const char *path, unsigned line, const char *key, const char *value, FILE *log)
{
    if (streq(key, "RefuseStartWhenUnreachable")) {
        int b = parse_boolean(value);
        if (b >= 0)
            c->refuse_when_unreachable = b;
        else
            fprintf(log, "vsockns: %s:%u: RefuseStartWhenUnreachable='%s' is not yes or no, keeping %s\n", path,
                    line, value, c->refuse_when_unreachable ? "yes" : "no");
    } else if (streq(key, "TimeoutSec")) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (!*value || *end || errno || v < 1 || v > 120)
            fprintf(log, "vsockns: %s:%u: TimeoutSec='%s' is not 1 to 120 seconds, keeping %u\n", path, line, value,
                    c->timeout_ms / 1000);
        else
            c->timeout_ms = (unsigned) v * 1000;
    } else
        fprintf(log, "vsockns: %s:%u: unknown setting '%s', ignoring it\n", path, line, key);
}

void hook_config_load(const char *path, HookConfig *ret, FILE *log)
{
    *ret = (HookConfig) { .refuse_when_unreachable = false, .timeout_ms = HOOK_TIMEOUT_MS_DEFAULT };
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f) {
        if (errno != ENOENT)
            fprintf(log, "vsockns: cannot read %s (%s); using the defaults\n", path, strerror(errno));
        return;
    }
    hook_config_parse(f, path, ret, log);
}

void hook_config_parse(FILE *f, const char *path, HookConfig *ret, FILE *log)
{
    char buf[512];
    for (unsigned line = 1; fgets(buf, sizeof(buf), f); line++) {
        char *p = strip(buf);
        if (!*p || *p == '#' || *p == ';' || *p == '[')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(log, "vsockns: %s:%u: not KEY=VALUE, ignoring it\n", path, line);
            continue;
        }
        *eq = '\0';
        config_set(ret, path, line, strip(p), strip(eq + 1), log);
    }
}

void hook_owner_label(const HookDomain *d, char *buf, size_t size)
{
    snprintf(buf, size, HOOK_OWNER_PREFIX "%s:%s", d->uuid, d->name);
}

int hook_unreachable_status(HookOp op, const HookDomain *d, const HookConfig *cfg)
{
    bool fixed = d && d->has_vsock && !d->cid_auto && d->cid != 0;
    return op == HOOK_OP_CHECK && fixed && cfg->refuse_when_unreachable ? 1 : 0;
}

static void say_unreachable(FILE *log, const HookDomain *d, const HookBusError *e, const char *consequence)
{
    fprintf(log, "vsockns: cannot reach vsockns (%s) for domain '%s': %s\n", e->message[0] ? e->message : "no answer",
            d->name, consequence);
}

/* A lease the hook took for this domain: its label, and root's (the
 * hook runs as root; labels beginning "libvirt:" are root's alone, and a
 * vsockns too old to say who took a lease is trusted on the label). */
bool hook_lease_is_own(const HookLease *l, const char *owner)
{
    return streq(l->owner, owner) && (l->uid == 0 || l->uid == HOOK_UID_UNKNOWN);
}

/* prepare/migrate/restore: a fixed CID that vsockns leased to anyone else
 * in the global space would fail in the kernel later, or worse, succeed
 * while a vsockns client expects that CID to be its own. */
static int run_check(const HookDomain *d, const HookConfig *cfg, const HookBusOps *ops, void *u, FILE *log)
{
    if (d->cid_auto || d->cid == 0)
        return 0; /* libvirt picks in the kernel, which skips CIDs vsockns holds */

    char owner[320];
    hook_owner_label(d, owner, sizeof(owner));
    HookLease *leases = NULL;
    size_t n = 0;
    HookBusError e = { .unreachable = false };
    if (ops->list_global_leases(u, &leases, &n, &e) < 0) {
        int status = hook_unreachable_status(HOOK_OP_CHECK, d, cfg);
        if (e.unreachable)
            say_unreachable(log, d, &e,
                            status ? "refusing to start it with fixed CID as configured "
                                     "(RefuseStartWhenUnreachable=yes in " HOOK_CONFIG_FILE ")"
                                   : "starting it without checking its fixed CID");
        else
            fprintf(log, "vsockns: cannot list leases for domain '%s': %s: %s; starting it without the check\n",
                    d->name, e.name, e.message);
        return e.unreachable ? status : 0;
    }
    int status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        if (leases[i].cid != d->cid || hook_lease_is_own(&leases[i], owner))
            continue;
        if (!leases[i].reserved && leases[i].uid != 0 && leases[i].uid != HOOK_UID_UNKNOWN) {
            /* Another user's note that it uses the CID: it holds nothing
             * in the kernel, and it does not stop root's domain. */
            fprintf(log,
                    "vsockns: CID %u of domain '%s' has an advisory lease by uid %u ('%s', %s); a user's "
                    "advisory lease does not stop a domain, starting it\n",
                    d->cid, d->name, (unsigned) leases[i].uid, leases[i].owner, leases[i].ns);
            continue;
        }
        fprintf(log,
                "vsockns: CID %u of domain '%s' is leased to '%s' in the global CID space (%s, %s lease in vsockns); "
                "release it (vsocknsctl release %s %u) or give the domain another CID\n",
                d->cid, d->name, leases[i].owner, leases[i].ns, leases[i].reserved ? "reserved" : "advisory",
                leases[i].ns, d->cid);
        status = 1;
    }
    free(leases);
    return status;
}

/* The CIDs of this domain's own leases in .host, the ones the hook records. */
static int own_host_cids(const HookDomain *d, const HookBusOps *ops, void *u, uint32_t **ret, size_t *ret_n,
                         HookBusError *e)
{
    char owner[320];
    hook_owner_label(d, owner, sizeof(owner));
    HookLease *leases = NULL;
    size_t n = 0, found = 0;
    int r = ops->list_global_leases(u, &leases, &n, e);
    if (r < 0)
        return r;
    uint32_t *cids = calloc(n ? n : 1, sizeof(uint32_t));
    if (!cids) {
        free(leases);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (hook_lease_is_own(&leases[i], owner) && streq(leases[i].ns, ".host"))
            cids[found++] = leases[i].cid;
    free(leases);
    *ret = cids;
    *ret_n = found;
    return 0;
}

/* started/reconnect: one advisory lease in .host with the live CID. Stale
 * leases of this domain (another CID) are released first. Never fails. */
/* Another user's advisory lease of the domain's CID in the global space
 * gives way to the running domain (it did not stop it: run_check()): it is
 * released, and said. 1 if one was, 0 if there was none, < 0 on failure. */
static int give_way(const HookDomain *d, const HookBusOps *ops, void *u, FILE *log)
{
    HookLease *leases = NULL;
    size_t n = 0;
    HookBusError e = { .unreachable = false };
    int r = ops->list_global_leases(u, &leases, &n, &e);
    if (r < 0)
        return r;
    int released = 0;
    for (size_t i = 0; i < n && released == 0; i++) {
        HookLease *l = &leases[i];
        if (l->cid != d->cid || l->reserved || l->uid == 0 || l->uid == HOOK_UID_UNKNOWN)
            continue;
        r = ops->release(u, l->ns, l->cid, &e);
        if (r < 0) {
            fprintf(log, "vsockns: cannot release uid %u's advisory lease of CID %u ('%s', %s): %s\n",
                    (unsigned) l->uid, l->cid, l->owner, l->ns, e.message);
            released = r;
        } else {
            fprintf(log, "vsockns: released uid %u's advisory lease of CID %u ('%s', %s): domain '%s' runs with "
                    "that CID\n", (unsigned) l->uid, l->cid, l->owner, l->ns, d->name);
            released = 1;
        }
    }
    free(leases);
    return released;
}

static int run_register(const HookDomain *d, const HookBusOps *ops, void *u, FILE *log)
{
    if (d->cid == 0) {
        fprintf(log, "vsockns: domain '%s' has a vsock device but no CID in its live XML; nothing to record\n",
                d->name);
        return 0;
    }
    uint32_t *cids = NULL;
    size_t n = 0;
    HookBusError e = { .unreachable = false };
    int r = own_host_cids(d, ops, u, &cids, &n, &e);
    bool have = false;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        if (cids[i] == d->cid) {
            have = true;
            continue;
        }
        HookBusError re = { .unreachable = false };
        if (ops->release(u, ".host", cids[i], &re) < 0 && !re.unreachable)
            fprintf(log, "vsockns: cannot release stale CID %u of domain '%s': %s\n", cids[i], d->name, re.message);
    }
    free(cids);
    if (r >= 0 && !have) {
        char owner[320];
        hook_owner_label(d, owner, sizeof(owner));
        r = ops->acquire_advisory(u, d->cid, owner, &e);
        if (r < 0 && !e.unreachable && give_way(d, ops, u, log) > 0)
            r = ops->acquire_advisory(u, d->cid, owner, &e);
    }
    if (r >= 0)
        return 0;
    if (e.unreachable)
        say_unreachable(log, d, &e, "its CID is not recorded; the next reconnect or start will record it");
    else
        fprintf(log, "vsockns: cannot record CID %u of domain '%s': %s: %s\n", d->cid, d->name, e.name, e.message);
    return 0;
}

/* stopped/release: every lease of this domain, whatever its CID. */
static int run_release(const HookDomain *d, const HookBusOps *ops, void *u, FILE *log)
{
    uint32_t *cids = NULL;
    size_t n = 0;
    HookBusError e = { .unreachable = false };
    int r = own_host_cids(d, ops, u, &cids, &n, &e);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        r = ops->release(u, ".host", cids[i], &e);
        if (r < 0 && !e.unreachable && strstr(e.name, "NoSuchLease"))
            r = 0; /* released meanwhile: what we wanted */
    }
    free(cids);
    if (r >= 0)
        return 0;
    if (e.unreachable)
        say_unreachable(log, d, &e, "its lease stays recorded until the domain starts again");
    else
        fprintf(log, "vsockns: cannot release the lease of domain '%s': %s: %s\n", d->name, e.name, e.message);
    return 0;
}

int hook_run(HookOp op, const HookDomain *d, const HookConfig *cfg, const HookBusOps *ops, void *userdata,
             FILE *log)
{
    if (op == HOOK_OP_PASS || !d->has_vsock)
        return 0;
    switch (op) {
    case HOOK_OP_CHECK:
        return run_check(d, cfg, ops, userdata, log);
    case HOOK_OP_REGISTER:
    case HOOK_OP_RECONNECT:
        return run_register(d, ops, userdata, log);
    case HOOK_OP_RELEASE:
        return run_release(d, ops, userdata, log);
    default:
        return 0;
    }
}
