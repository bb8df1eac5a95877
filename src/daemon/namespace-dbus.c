/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "namespace-dbus.h"
#include "inspect-dbus.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-util.h"
#include "core/netns.h"
#include "manager-dbus.h"

static int property_get_mode(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    return sd_bus_message_append(reply, "s", vsock_mode_to_string(ns->mode));
}

static int property_get_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    char p[PATH_MAX];
    manager_pin_path(ns->manager, ns->name, p, sizeof(p));
    return sd_bus_message_append(reply, "s", p);
}

static int property_get_g2h_fallback(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    /* Unknown (kernels before 7.2) behaves like the default: fallback on. */
    return sd_bus_message_append(reply, "b", ns->g2h_fallback != 0);
}

/* The caller's uid, (uid_t) -1 if unknown: a property has no arguments,
 * but it is read for a method call (Get, GetAll, GetManagedObjects). */
static uid_t property_reader(sd_bus *bus)
{
    sd_bus_message *m = sd_bus_get_current_message(bus);
    uid_t uid;
    return m && bus_caller_euid(m, &uid) >= 0 ? uid : (uid_t) -1;
}

/* Need to know (need-to-know.h): a property read cannot wait for polkit,
 * so it shows the caller's own leases (root: all); LeaseCount counts all. */
static int property_get_leases(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    uid_t uid = property_reader(bus);
    Lease **sorted;
    size_t n;
    /* From the namespace's own set: costs what it returns, whatever else exists. */
    int r = lease_set_sorted(&ns->leases, &sorted, &n);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(usbt)");
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (need_to_know_own(uid, sorted[i]))
            r = sd_bus_message_append(reply, "(usbt)", sorted[i]->rec.cid, sorted[i]->rec.owner,
                                      (int) sorted[i]->rec.reserved, sorted[i]->rec.acquired_usec);
    free(sorted);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return r;
}

static int property_get_lease_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    return sd_bus_message_append(reply, "u", (uint32_t) ns->leases.n);
}

static const sd_bus_vtable namespace_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", bus_property_get_inline_string, offsetof(Namespace, name), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Mode", "s", property_get_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Path", "s", property_get_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Parent", "s", bus_property_get_inline_string, offsetof(Namespace, parent), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("G2HFallback", "b", property_get_g2h_fallback, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Inode", "t", NULL, offsetof(Namespace, inode), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("CreatedTimestamp", "t", NULL, offsetof(Namespace, created_usec), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Leases", "a(usbt)", property_get_leases, 0, 0),
    SD_BUS_PROPERTY("LeaseCount", "u", property_get_lease_count, 0, 0),
    SD_BUS_METHOD_WITH_ARGS("ListSockets",
                            SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(ssuuuut)", sockets),
                            bus_namespace_list_sockets, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

static int namespace_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                                 void **found, sd_bus_error *error)
{
    Manager *m = userdata;
    char *name = NULL;

    int r = sd_bus_path_decode(path, VSOCKNS_NAMESPACE_PREFIX, &name);
    if (r <= 0)
        return r;
    Namespace *ns = manager_find(m, name);
    free(name);
    if (!ns)
        return 0;
    *found = ns;
    return 1;
}

static int namespace_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                     sd_bus_error *error)
{
    Manager *m = userdata;
    char **list = calloc(m->namespaces.n + 1, sizeof(char *));
    if (!list)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->namespaces.n; i++) {
        if (m->namespaces.items[i]->pending)
            continue; /* still being created */
        list[n] = namespace_object_path(m->namespaces.items[i]->name);
        if (!list[n]) {
            for (size_t j = 0; j < n; j++)
                free(list[j]);
            free(list);
            return -ENOMEM;
        }
        n++;
    }
    *nodes = list;
    return 1;
}

int namespace_dbus_register(sd_bus *bus, Manager *m)
{
    int r = sd_bus_add_fallback_vtable(bus, NULL, VSOCKNS_NAMESPACE_PREFIX, VSOCKNS_NAMESPACE_IFACE,
                                       namespace_vtable, namespace_object_find, m);
    if (r < 0)
        return r;
    return sd_bus_add_node_enumerator(bus, NULL, VSOCKNS_NAMESPACE_PREFIX, namespace_node_enumerator, m);
}
