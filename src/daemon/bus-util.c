/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/bus-errors.h"
#include "shared/macro.h"

int bus_reply_manager_error(sd_bus_error *error, int r, const ManagerError *e)
{
    if (e && e->kind != ERROR_NONE)
        return sd_bus_error_set(error, bus_error_name(e->kind), e->message);
    if (e && e->message[0])
        return sd_bus_error_set_errnof(error, -r, "%s", e->message);
    return sd_bus_error_set_errno(error, r);
}

int bus_get_namespace(Manager *m, const char *name, bool all_too, Namespace **ret, sd_bus_error *error)
{
    ManagerError e = {};
    Namespace *ns = NULL;
    if (!all_too || (name[0] && !streq(name, NS_NAME_HOST))) {
        ns = manager_get(m, name, all_too, &e);
        if (!ns)
            return bus_reply_manager_error(error, -ENOENT, &e);
    }
    if (ret)
        *ret = ns;
    return 0;
}

/*
 * On a message bus the sender's credentials are not in the message: sd-bus
 * asks the bus for them with a synchronous call, during which every message
 * that arrives meanwhile is read and queued (thousands, when a client
 * floods us). A unique name belongs to one connection for the bus's whole
 * life and is never reused, and a connection's uid and pid are those it
 * had when it connected, so the answer is kept: direct-mapped by a hash of
 * the name, a colliding name just asks again.
 */
typedef struct SenderIdentity {
    char sender[64];
    uid_t uid;
    pid_t pid;
} SenderIdentity;

#define IDENTITY_SLOTS 256
static SenderIdentity identities[IDENTITY_SLOTS];

static size_t sender_slot(const char *s)
{
    size_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char) *s;
    return h % IDENTITY_SLOTS;
}

int bus_caller_identity(sd_bus_message *m, uid_t *ret_uid, pid_t *ret_pid)
{
    const char *sender = sd_bus_message_get_sender(m);
    SenderIdentity *id = NULL;
    if (sender && sender[0] == ':' && strlen(sender) < sizeof(id->sender)) {
        id = &identities[sender_slot(sender)];
        if (streq(id->sender, sender)) {
            *ret_uid = id->uid;
            if (ret_pid)
                *ret_pid = id->pid;
            return 0;
        }
    }
    sd_bus_creds *creds = NULL;
    uid_t uid;
    pid_t pid = 0;
    int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
    if (r >= 0)
        r = sd_bus_creds_get_euid(creds, &uid);
    if (r >= 0 && sd_bus_creds_get_pid(creds, &pid) < 0)
        pid = 0;
    sd_bus_creds_unref(creds);
    if (r < 0)
        return r;
    if (id) {
        snprintf(id->sender, sizeof(id->sender), "%s", sender);
        id->uid = uid;
        id->pid = pid;
    }
    *ret_uid = uid;
    if (ret_pid)
        *ret_pid = pid;
    return 0;
}

int bus_caller_euid(sd_bus_message *m, uid_t *ret)
{
    return bus_caller_identity(m, ret, NULL);
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

static const BusOption *find_option(const BusOption *known, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (streq(known[i].key, key))
            return &known[i];
    return NULL;
}

/* Each known option at most once: a dictionary is then never longer than
 * the list of known options, however big the message. */
int bus_read_options(sd_bus_message *m, const BusOption *known, size_t n_known, const char *known_text,
                     bus_option_reader read_value, void *userdata, sd_bus_error *error)
{
    uint64_t seen = 0;
    assert(n_known <= 64);
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key, *contents;
        char type;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0 || (r = sd_bus_message_peek_type(m, &type, &contents)) < 0)
            return r;
        const BusOption *option = find_option(known, n_known, key);
        if (!option)
            return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION, "Unknown option '%.64s'; known options are %s.",
                                     key, known_text);
        uint64_t bit = UINT64_C(1) << (option - known);
        if (seen & bit)
            return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION, "Option '%s' is given more than once.", key);
        seen |= bit;
        if (!streq(contents, option->type))
            return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION, "Option '%s' must be of type '%s', not '%.16s'.",
                                     key, option->type, contents);
        r = read_value(m, key, userdata);
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
            return r;
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(m);
}
