/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The a{sv} options of CreateNamespace and AcquireLease. The input is read
 * as a list of entries, each [type byte][key length][key][value length]
 * [value], built into a real sd-bus message (known keys are likely: a key
 * byte below 8 picks one), sealed, and read by the daemon's own option
 * readers. Values of every type sd-bus can carry reach them, nested
 * variants and arrays included.
 */
#include <errno.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "daemon/manager-dbus.h"
#include "fuzz-util.h"

static const char *const known_keys[8] = {
    "Strategy", "Reserve", "HandOut", "BindPID", "BindPIDFD", "Persist", "G2HFallback", "Parent",
};

/* A bus that can make messages: sd-bus wants one past its setup state. */
static sd_bus *message_factory(void)
{
    static sd_bus *bus;
    int fds[2];
    if (bus)
        return bus;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
        sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
        abort();
    return bus;
}

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static bool take(Input *in, size_t n, const uint8_t **ret)
{
    if (in->left < n)
        return false;
    *ret = in->p;
    in->p += n;
    in->left -= n;
    return true;
}

/* A string of the input, or false at its end. */
static bool take_string(Input *in, char *buf, size_t size)
{
    const uint8_t *len, *bytes;
    if (!take(in, 1, &len) || !take(in, *len % size, &bytes))
        return false;
    memcpy(buf, bytes, *len % size);
    buf[*len % size] = '\0';
    return true;
}

static int append_value(sd_bus_message *m, uint8_t type, Input *in)
{
    char s[256];
    const uint8_t *v;
    if (!take_string(in, s, sizeof(s)))
        return -ENODATA;
    uint64_t n = 0;
    memcpy(&n, s, strlen(s) < 8 ? strlen(s) : 8);
    switch (type % 9) {
    case 0: return sd_bus_message_append(m, "v", "b", (int) (n & 1));
    case 1: return sd_bus_message_append(m, "v", "s", s);
    case 2: return sd_bus_message_append(m, "v", "u", (uint32_t) n);
    case 3: return sd_bus_message_append(m, "v", "h", STDIN_FILENO);
    case 4: return sd_bus_message_append(m, "v", "t", n);
    case 5: return sd_bus_message_append(m, "v", "as", 2, s, s);
    case 6: return sd_bus_message_append(m, "v", "v", "s", s);
    case 7: return sd_bus_message_append(m, "v", "a{sv}", 1, s, "i", (int32_t) n);
    default: return take(in, 1, &v) ? sd_bus_message_append(m, "v", "y", *v) : -ENODATA;
    }
}

static sd_bus_message *build(const uint8_t *data, size_t size)
{
    sd_bus_message *m = NULL;
    Input in = { data, size };
    if (sd_bus_message_new_method_call(message_factory(), &m, "org.vsockns1", "/org/vsockns1",
                                       "org.vsockns1.Manager", "Fuzz") < 0 ||
        sd_bus_message_open_container(m, 'a', "{sv}") < 0)
        abort();
    const uint8_t *type;
    while (take(&in, 1, &type)) {
        char key[64];
        if (!take_string(&in, key, sizeof(key)))
            break;
        const char *k = key[0] && (uint8_t) key[0] < 8 ? known_keys[(uint8_t) key[0]] : key;
        /* sd-bus refuses what D-Bus forbids (bad UTF-8): then stop there. */
        if (sd_bus_message_open_container(m, 'e', "sv") < 0 || sd_bus_message_append(m, "s", k) < 0 ||
            append_value(m, *type, &in) < 0 || sd_bus_message_close_container(m) < 0) {
            sd_bus_message_unref(m);
            return NULL;
        }
    }
    if (sd_bus_message_close_container(m) < 0 || sd_bus_message_seal(m, 1, 0) < 0) {
        sd_bus_message_unref(m);
        return NULL;
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_bus_message *m = build(data, size);
    if (!m)
        return 0;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    LeaseRequest lease = { .bind_pidfd = -1, .reserve = true, .hand_out = true };
    if (sd_bus_message_rewind(m, true) < 0)
        abort();
    (void) bus_read_lease_options(m, &lease, &error);
    sd_bus_error_free(&error);
    CreateRequest create = { .g2h_fallback = -1 };
    if (sd_bus_message_rewind(m, true) < 0)
        abort();
    (void) bus_read_create_options(m, &create, &error);
    sd_bus_error_free(&error);
    sd_bus_message_unref(m);
    return 0;
}
