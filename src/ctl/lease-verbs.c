/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsocknsctl leases, acquire, release, exec: CID leases from vsocknsd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "shared/macro.h"

/* How many leases ns ("" all) has, whoever may see them; -1 if unknown. */
static int64_t lease_count(sd_bus *bus, const char *ns)
{
    uint32_t count;
    int r;
    if (!ns[0])
        r = sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "LeaseCount", NULL, 'u', &count);
    else if (streq(ns, ".host"))
        return -1;
    else {
        sd_bus_message *reply = NULL;
        const char *path;
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetNamespace", NULL, &reply, "s", ns);
        if (r >= 0)
            r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
            r = sd_bus_get_property_trivial(bus, BUS_NAME, path, NAMESPACE_IFACE, "LeaseCount", NULL, 'u', &count);
        sd_bus_message_unref(reply);
    }
    return r < 0 ? -1 : (int64_t) count;
}

int verb_leases(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListLeases", &error, &reply, "s",
                               argc > 1 ? argv[1] : "");
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    const char *ns, *owner;
    uint32_t cid;
    int reserved;
    uint64_t usec;
    size_t n = 0;
    json_object *arr = json_object_new_array();
    if (!arg_json)
        printf("%-24s %10s %-8s %-19s %s\n", "NAMESPACE", "CID", "RESERVED", "ACQUIRED", "OWNER");
    r = sd_bus_message_enter_container(reply, 'a', "(susbt)");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(susbt)", &ns, &cid, &owner, &reserved, &usec)) > 0) {
        n++;
        if (arg_json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "namespace", json_object_new_string(ns));
            json_object_object_add(o, "cid", json_object_new_int64(cid));
            json_object_object_add(o, "owner", json_object_new_string(owner));
            json_object_object_add(o, "reserved", json_object_new_boolean(reserved));
            json_object_object_add(o, "acquired_usec", json_object_new_uint64(usec));
            json_object_array_add(arr, o);
        } else {
            char ts[64];
            format_timestamp(usec, ts, sizeof(ts));
            ts[19] = '\0'; /* date and time, no zone: the table stays narrow */
            printf("%-24s %10" PRIu32 " %-8s %-19s %s\n", ns, cid, reserved ? "yes" : "advisory", ts, owner);
        }
    }
    sd_bus_message_unref(reply);
    r = finish_list(arr, r, n, "lease");
    /* Others' leases in namespaces the caller may not manage are counted,
     * not shown (vsocknsd.8, AUTHORIZATION). */
    int64_t all = r == 0 && !arg_json && geteuid() != 0 ? lease_count(bus, argc > 1 ? argv[1] : "") : -1;
    if (all > (int64_t) n)
        printf("%" PRId64 " more not shown: other users' leases in namespaces you may not manage%s.\n",
               all - (int64_t) n, argc > 1 ? "" : " (name a namespace to ask for all of its leases)");
    return r;
}

static int parse_cid(uint32_t *ret)
{
    if (!arg_cid || streq(arg_cid, "auto")) {
        *ret = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg_cid, &end, 10);
    if (errno || *end || end == arg_cid || v > UINT32_MAX || v == 0) {
        fprintf(stderr, "--cid wants a number or 'auto', not '%s'.\n", arg_cid);
        return -EINVAL;
    }
    *ret = (uint32_t) v;
    return 0;
}

/* Calls AcquireLease; *ret_fd is our own copy of the vhost-vsock fd. */
static int acquire(sd_bus *bus, const char *ns, const char *owner, int bind_pidfd, bool persist, uint32_t *ret_cid,
                   int *ret_fd)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL, *reply = NULL;
    uint32_t cid;
    int fd, r = parse_cid(&cid);
    if (r < 0)
        return EXIT_USAGE;

    r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "AcquireLease");
    if (r >= 0)
        r = sd_bus_message_append(m, "sus", ns, cid, owner);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && arg_strategy)
        r = sd_bus_message_append(m, "{sv}", "Strategy", "s", arg_strategy);
    if (r >= 0 && arg_no_reserve)
        r = sd_bus_message_append(m, "{sv}", "Reserve", "b", 0);
    if (r >= 0 && bind_pidfd >= 0)
        r = sd_bus_message_append(m, "{sv}", "BindPIDFD", "h", bind_pidfd);
    if (r >= 0 && persist && !arg_no_reserve)
        r = sd_bus_message_append(m, "{sv}", "Persist", "b", 1);
    /* acquire needs no copy of the device: vsocknsd keeps the only one. */
    if (r >= 0 && !ret_fd)
        r = sd_bus_message_append(m, "{sv}", "HandOut", "b", 0);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_call(bus, m, 0, &error, &reply);
    sd_bus_message_unref(m);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    r = sd_bus_message_read(reply, "uh", ret_cid, &fd);
    if (r >= 0 && ret_fd)
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    sd_bus_message_unref(reply);
    return r < 0 ? EXIT_FAILED : 0;
}

int verb_acquire(sd_bus *bus, int argc, char **argv)
{
    char label[64];
    struct passwd *pw = getpwuid(getuid());
    snprintf(label, sizeof(label), "user:%s", pw ? pw->pw_name : "?");
    uint32_t cid;
    /* No copy of the device for us (we would only close it): vsocknsd holds
     * the CID alone, bound to no process, until it is released. */
    int r = acquire(bus, argv[1], arg_owner ? arg_owner : label, -1, false, &cid, NULL);
    if (r != 0)
        return r;
    if (arg_json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "namespace", json_object_new_string(argv[1]));
        json_object_object_add(o, "cid", json_object_new_int64(cid));
        print_json(o);
    } else
        printf("%" PRIu32 "\n", cid);
    return 0;
}

/* A CID operand: 0 and the CID, or -EINVAL after saying why. */
static int parse_cid_operand(const char *arg, unsigned long *ret)
{
    char *end;
    errno = 0;
    *ret = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || *ret > UINT32_MAX) {
        fprintf(stderr, "'%s' is not a CID.\n", arg);
        return -EINVAL;
    }
    return 0;
}

int verb_release(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    unsigned long cid;
    if (parse_cid_operand(argv[2], &cid) < 0)
        return EXIT_USAGE;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ReleaseLease", &error, NULL, "su",
                               argv[1], (uint32_t) cid);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    if (!arg_json)
        printf("Released CID %lu in %s.\n", cid, argv[1]);
    return 0;
}

/* Replaces every {cid} and {fd} in arg; returns a malloc'd string. */
static char *expand_arg(const char *arg, uint32_t cid, int fd)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        return NULL;
    for (const char *p = arg; *p;) {
        if (strncmp(p, "{cid}", 5) == 0) {
            fprintf(f, "%" PRIu32, cid);
            p += 5;
        } else if (strncmp(p, "{fd}", 4) == 0) {
            fprintf(f, "%d", fd);
            p += 4;
        } else
            fputc(*p++, f);
    }
    fclose(f);
    return out;
}

/*
 * The seed's `ip netns exec NS qemu ... guest-cid=42` made safe: the CID is
 * reserved by vsocknsd before COMMAND starts (a clash fails here, not in
 * QEMU), COMMAND inherits the vhost-vsock fd as fd 3 (sd_listen_fds style),
 * and the lease is bound to this process, which becomes COMMAND: it ends
 * when COMMAND exits.
 */
int verb_exec(sd_bus *bus, int argc, char **argv)
{
    const char *ns = argv[1];
    int pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0) {
        fprintf(stderr, "pidfd_open: %s\n", strerror(errno));
        return EXIT_FAILED;
    }
    char label[256];
    const char *base = strrchr(argv[2], '/');
    snprintf(label, sizeof(label), "exec:%s", base ? base + 1 : argv[2]);

    uint32_t cid;
    int fd = -1;
    int r = acquire(bus, ns, arg_owner ? arg_owner : label, pidfd, arg_persist, &cid, &fd);
    if (r != 0)
        return r;
    if (fd < 0) {
        fprintf(stderr, "Cannot keep the vhost-vsock fd: %s\n", strerror(errno));
        return EXIT_FAILED;
    }

    if (!streq(ns, ".host")) {
        char *path = namespace_pin_path(bus, ns);
        if (!path)
            return EXIT_FAILED;
        int nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
            fprintf(stderr, "Cannot enter %s: %s\n", path, strerror(errno));
            free(path);
            return EXIT_FAILED;
        }
        free(path);
        close(nsfd);
    }

    /* fd 3, not close-on-exec: the first fd of the sd_listen_fds protocol. */
    if (fd != 3 && dup2(fd, 3) < 0) {
        fprintf(stderr, "dup2: %s\n", strerror(errno));
        return EXIT_FAILED;
    }
    if (fd == 3)
        fcntl(3, F_SETFD, 0);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDNAMES", "vhost-vsock", 1);

    char **args = calloc(argc - 1, sizeof(char *));
    for (int i = 2; args && i < argc; i++)
        if (!(args[i - 2] = expand_arg(argv[i], cid, 3)))
            return EXIT_FAILED;
    if (!args)
        return EXIT_FAILED;
    fflush(stdout);
    polkit_agent_close(); /* our pid becomes COMMAND's: no agent for it */
    execvp(args[0], args);
    fprintf(stderr, "Cannot run %s: %s\n", args[0], strerror(errno));
    return 127;
}

int verb_check_leases(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    uint32_t checked, retaken;
    const char *ns = argc > 1 ? argv[1] : "";
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "CheckLeases", &error, &reply, "s", ns);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    r = sd_bus_message_read(reply, "uu", &checked, &retaken);
    sd_bus_message_unref(reply);
    if (r < 0)
        return EXIT_FAILED;
    if (arg_json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "checked", json_object_new_int64(checked));
        json_object_object_add(o, "retaken", json_object_new_int64(retaken));
        print_json(o);
    } else
        printf("%" PRIu32 " reserved CIDs checked, %" PRIu32 " taken back after being moved away.\n", checked,
               retaken);
    return 0;
}

int verb_bind(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    unsigned long cid;
    char *end;
    if (parse_cid_operand(argv[2], &cid) < 0)
        return EXIT_USAGE;
    long pid = strtol(argv[3], &end, 10);
    if (*end || end == argv[3] || pid <= 0 || pid > INT32_MAX) {
        fprintf(stderr, "'%s' is not a process ID.\n", argv[3]);
        return EXIT_USAGE;
    }
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "BindLease", &error, NULL, "sua{sv}",
                               argv[1], (uint32_t) cid, 1, "BindPID", "u", (uint32_t) pid);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    if (!arg_json)
        printf("CID %lu in %s is now bound to process %ld.\n", cid, argv[1], pid);
    return 0;
}
