/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/errors.h"

int bus_reply_manager_error(sd_bus_error *error, int r, const ManagerError *e)
{
    if (e && e->name)
        return sd_bus_error_set(error, e->name, e->message);
    if (e && e->message[0])
        return sd_bus_error_set_errnof(error, -r, "%s", e->message);
    return sd_bus_error_set_errno(error, r);
}

int bus_check_caller_is_root(sd_bus_message *m, const char *action, sd_bus_error *error)
{
    sd_bus_creds *creds = NULL;
    uid_t uid = (uid_t) -1;

    int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
    if (r >= 0)
        r = sd_bus_creds_get_euid(creds, &uid);
    sd_bus_creds_unref(creds);
    if (r >= 0 && uid == 0)
        return 0;
    sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Only root may %s.", action);
    return -EACCES;
}

char *namespace_object_path(const char *name)
{
    char *path = NULL;
    if (sd_bus_path_encode(VSOCKNS_NAMESPACE_PREFIX, name, &path) < 0)
        return NULL;
    return path;
}

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    return sd_bus_message_append(reply, "b", (int) *(bool *) userdata);
}

int bus_property_get_inline_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    return sd_bus_message_append(reply, "s", (const char *) userdata);
}
