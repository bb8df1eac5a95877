/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hook-bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "shared/macro.h"

#define VSOCKNS_SERVICE "org.vsockns1"
#define VSOCKNS_PATH "/org/vsockns1"
#define VSOCKNS_MANAGER "org.vsockns1.Manager"
#define VSOCKNS_ERROR_PREFIX "org.vsockns1.Error."

struct HookBus {
    sd_bus *bus;
    unsigned timeout_ms;
    int connect_error;
};

HookBus *hook_bus_new(unsigned timeout_ms)
{
    HookBus *b = calloc(1, sizeof(*b));
    if (b)
        b->timeout_ms = timeout_ms;
    return b;
}

HookBus *hook_bus_free(HookBus *b)
{
    if (b) {
        sd_bus_flush_close_unref(b->bus);
        free(b);
    }
    return NULL;
}

/* Anything but an answer from vsocknsd itself (no bus, no such name,
 * activation refused because the unit is masked, no reply in time) means
 * vsockns could not be asked. */
static int bus_fail(HookBusError *e, int r, const sd_bus_error *error)
{
    bool ours = error && sd_bus_error_is_set(error) && strncmp(error->name, VSOCKNS_ERROR_PREFIX,
                                                               STRLEN(VSOCKNS_ERROR_PREFIX)) == 0;
    e->unreachable = !ours;
    snprintf(e->name, sizeof(e->name), "%s",
             error && sd_bus_error_is_set(error) ? error->name : "org.vsockns1.Hook.NoConnection");
    if (error && error->message)
        snprintf(e->message, sizeof(e->message), "%s", error->message);
    else
        snprintf(e->message, sizeof(e->message), "%s", strerror(r < 0 ? -r : EIO));
    return r < 0 ? r : -EIO;
}

static int connect_fail(HookBusError *e, int r)
{
    bus_fail(e, r, NULL);
    snprintf(e->message, sizeof(e->message), "cannot connect to the system bus: %s", strerror(-r));
    return r;
}

static int connect_bus(HookBus *b, HookBusError *e)
{
    if (b->bus)
        return 0;
    if (b->connect_error)
        return connect_fail(e, b->connect_error);
    int r = sd_bus_open_system(&b->bus);
    if (r >= 0)
        r = sd_bus_set_method_call_timeout(b->bus, (uint64_t) b->timeout_ms * 1000);
    if (r < 0) {
        b->bus = sd_bus_flush_close_unref(b->bus);
        b->connect_error = r;
    }
    return r < 0 ? connect_fail(e, r) : 0;
}

static int call(HookBus *b, const char *member, sd_bus_message **reply, HookBusError *e, const char *types, ...)
{
    int r = connect_bus(b, e);
    if (r < 0)
        return r;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    r = sd_bus_message_new_method_call(b->bus, &m, VSOCKNS_SERVICE, VSOCKNS_PATH, VSOCKNS_MANAGER, member);
    if (r >= 0 && types) {
        va_list ap;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
    }
    if (r >= 0)
        r = sd_bus_call(b->bus, m, 0, &error, reply);
    if (r < 0)
        r = bus_fail(e, r, &error);
    sd_bus_error_free(&error);
    return r;
}

/* Names of the global namespaces: their leases share the host's CID space. */
static int global_namespaces(HookBus *b, char ***ret, HookBusError *e)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = call(b, "ListNamespaces", &reply, e, NULL);
    if (r < 0)
        return r;
    char **names = NULL;
    size_t n = 0;
    r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
    while (r >= 0) {
        const char *name, *mode, *path, *object;
        r = sd_bus_message_read(reply, "(ssso)", &name, &mode, &path, &object);
        if (r <= 0)
            break;
        if (!streq(mode, "global"))
            continue;
        char **grown = realloc(names, (n + 2) * sizeof(char *));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        names = grown;
        names[n] = strdup(name);
        names[++n] = NULL;
    }
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return bus_fail(e, r, NULL);
    }
    *ret = names;
    return 0;
}

static bool in_list(char **list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (streq(list[i], s))
            return true;
    return false;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

/* records: the reply is ListLeaseRecords' (with each lease's uid), else
 * ListLeases'. */
static int read_leases(sd_bus_message *reply, bool records, char **globals, HookLease **ret, size_t *ret_n)
{
    HookLease *leases = NULL;
    size_t n = 0;
    int r = sd_bus_message_enter_container(reply, 'a', records ? "(susbtu)" : "(susbt)");
    while (r >= 0) {
        const char *ns, *owner;
        uint32_t cid, uid = HOOK_UID_UNKNOWN;
        int reserved;
        uint64_t usec;
        if (records)
            r = sd_bus_message_read(reply, "(susbtu)", &ns, &cid, &owner, &reserved, &usec, &uid);
        else
            r = sd_bus_message_read(reply, "(susbt)", &ns, &cid, &owner, &reserved, &usec);
        if (r <= 0)
            break;
        if (!streq(ns, ".host") && !in_list(globals, ns))
            continue;
        HookLease *grown = realloc(leases, (n + 1) * sizeof(HookLease));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        leases = grown;
        leases[n] = (HookLease) { .cid = cid, .reserved = reserved, .uid = (uid_t) uid };
        snprintf(leases[n].ns, sizeof(leases[n].ns), "%s", ns);
        snprintf(leases[n].owner, sizeof(leases[n].owner), "%s", owner);
        n++;
    }
    if (r < 0) {
        free(leases);
        return r;
    }
    *ret = leases;
    *ret_n = n;
    return 0;
}

static int bus_list_global_leases(void *userdata, HookLease **ret, size_t *ret_n, HookBusError *e)
{
    HookBus *b = userdata;
    char **globals = NULL;
    int r = global_namespaces(b, &globals, e);
    if (r < 0)
        return r;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    /* With the uid of each lease; a vsocknsd from before ListLeaseRecords
     * does not say it. */
    bool records = true;
    r = call(b, "ListLeaseRecords", &reply, e, "s", "");
    if (r < 0 && streq(e->name, "org.freedesktop.DBus.Error.UnknownMethod")) {
        records = false;
        r = call(b, "ListLeases", &reply, e, "s", "");
    }
    if (r >= 0) {
        r = read_leases(reply, records, globals, ret, ret_n);
        if (r < 0)
            bus_fail(e, r, NULL);
    }
    free_list(globals);
    return r;
}

static int bus_acquire_advisory(void *userdata, uint32_t cid, const char *owner, HookBusError *e)
{
    /* Advisory: libvirt holds the device; HandOut=false: nothing to pass us. */
    return call(userdata, "AcquireLease", NULL, e, "susa{sv}", ".host", cid, owner, 2, "Reserve", "b", 0,
                "HandOut", "b", 0);
}

static int bus_release(void *userdata, const char *ns, uint32_t cid, HookBusError *e)
{
    return call(userdata, "ReleaseLease", NULL, e, "su", ns, cid);
}

const HookBusOps hook_bus_ops = {
    .list_global_leases = bus_list_global_leases,
    .acquire_advisory = bus_acquire_advisory,
    .release = bus_release,
};
