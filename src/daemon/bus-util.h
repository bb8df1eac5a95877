/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small sd-bus helpers shared by the daemon's D-Bus files. */
#pragma once

#include <systemd/sd-bus.h>

#include "core/manager.h"

#define VSOCKNS_BUS_NAME "org.vsockns1"
#define VSOCKNS_PATH "/org/vsockns1"
#define VSOCKNS_MANAGER_IFACE "org.vsockns1.Manager"
#define VSOCKNS_NAMESPACE_IFACE "org.vsockns1.Namespace"
#define VSOCKNS_NAMESPACE_PREFIX "/org/vsockns1/namespace"

/* Turns a ManagerError (or a bare errno) into the method's error reply. */
int bus_reply_manager_error(sd_bus_error *error, int r, const ManagerError *e);

/* The effective uid (and pid, 0 if unknown; ret_pid may be NULL) of a
 * method call's sender; asked of the bus once per sender. */
int bus_caller_identity(sd_bus_message *m, uid_t *ret_uid, pid_t *ret_pid);
/* The effective uid of a method call's sender. */
int bus_caller_euid(sd_bus_message *m, uid_t *ret);

/* Object path of a namespace; free() it. */
char *namespace_object_path(const char *name);

/* Getter for a C bool field (sd-bus's default "b" getter reads an int). */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* Getter for an inline char array field (the default "s" getter wants char *). */
int bus_property_get_inline_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error);

typedef struct BusOption {
    const char *key;
    const char *type; /* the variant's signature, e.g. "b" */
} BusOption;

typedef int (*bus_option_reader)(sd_bus_message *m, const char *key, void *userdata);

/* Reads an a{sv} of options: an unknown key, a key given twice or a value of
 * the wrong type is InvalidOption (known_text lists the known ones for that
 * sentence); for the others read_value is called with the message at the
 * variant. At most 64 known options. */
int bus_read_options(sd_bus_message *m, const BusOption *known, size_t n_known, const char *known_text,
                     bus_option_reader read_value, void *userdata, sd_bus_error *error);

/* The managed namespace a call names, in *ret (may be NULL); or, if
 * all_too, also "" (every namespace) and ".host" (*ret NULL). Otherwise
 * NoSuchNamespace in error, in the core's one sentence (manager_get()),
 * and its negative errno. */
int bus_get_namespace(Manager *m, const char *name, bool all_too, Namespace **ret, sd_bus_error *error);
