/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsocknsctl sockets and check: looking into namespaces through vsocknsd. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "shared/macro.h"

#define CID_ANY UINT32_MAX
#define PORT_ANY UINT32_MAX

/* ---- sockets ---- */

/* Who holds which socket inode: read from /proc as far as we may look
 * (our own processes; all of them as root), like ss -p. */
typedef struct SocketOwner {
    uint64_t inode;
    pid_t pid;
    char comm[32];
} SocketOwner;

typedef struct OwnerTable {
    SocketOwner *items;
    size_t n, allocated;
} OwnerTable;

static void owners_add(OwnerTable *t, uint64_t inode, pid_t pid, const char *comm)
{
    if (t->n == t->allocated) {
        size_t want = t->allocated ? t->allocated * 2 : 64;
        SocketOwner *grown = realloc(t->items, want * sizeof(SocketOwner));
        if (!grown)
            return;
        t->items = grown;
        t->allocated = want;
    }
    t->items[t->n] = (SocketOwner) { .inode = inode, .pid = pid };
    snprintf(t->items[t->n].comm, sizeof(t->items[t->n].comm), "%s", comm);
    t->n++;
}

static void read_comm(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, (int) size, f))
        snprintf(buf, size, "?");
    else
        buf[strcspn(buf, "\n")] = '\0';
    if (f)
        fclose(f);
}

static void owners_scan_process(OwnerTable *t, pid_t pid)
{
    char path[64], link[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
    DIR *d = opendir(path);
    if (!d)
        return; /* not ours to look at, or gone */
    struct dirent *de;
    while ((de = readdir(d))) {
        char fdpath[384];
        snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
        ssize_t n = readlink(fdpath, link, sizeof(link) - 1);
        unsigned long long inode;
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (sscanf(link, "socket:[%llu]", &inode) != 1)
            continue;
        if (!comm[0])
            read_comm(pid, comm, sizeof(comm));
        owners_add(t, inode, pid, comm);
    }
    closedir(d);
}

static void owners_scan(OwnerTable *t)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end == '\0' && pid > 0)
            owners_scan_process(t, (pid_t) pid);
    }
    closedir(d);
}

static void format_address(uint32_t cid, uint32_t port, char *buf, size_t size)
{
    char c[16], p[16];
    snprintf(c, sizeof(c), cid == CID_ANY ? "*" : "%" PRIu32, cid);
    snprintf(p, sizeof(p), port == PORT_ANY ? "*" : "%" PRIu32, port);
    snprintf(buf, size, "%s:%s", c, p);
}

/* Lists the sockets of one namespace (".host" too): a table under a heading,
 * or an object appended to arr. */
static int show_sockets(sd_bus *bus, const char *ns, const OwnerTable *owners, json_object *arr, size_t *count)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListSockets", &error, &reply, "s", ns);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    json_object *list = json_object_new_array();
    if (!arg_json)
        printf("%s:\n  %-9s %-12s %-16s %-16s %-10s %s\n", ns, "TYPE", "STATE", "LOCAL", "REMOTE", "INODE", "PROCESS");
    const char *type, *state;
    uint32_t lcid, lport, rcid, rport;
    uint64_t inode;
    size_t n = 0;
    r = sd_bus_message_enter_container(reply, 'a', "(ssuuuut)");
    while (r >= 0 &&
           (r = sd_bus_message_read(reply, "(ssuuuut)", &type, &state, &lcid, &lport, &rcid, &rport, &inode)) > 0) {
        n++;
        char local[32], remote[32], procs[256] = "";
        format_address(lcid, lport, local, sizeof(local));
        format_address(rcid, rport, remote, sizeof(remote));
        json_object *o = json_object_new_object(), *pl = json_object_new_array();
        for (size_t i = 0; i < owners->n; i++) {
            if (owners->items[i].inode != inode)
                continue;
            size_t len = strlen(procs);
            snprintf(procs + len, sizeof(procs) - len, "%s%s[%d]", len ? "," : "", owners->items[i].comm,
                     (int) owners->items[i].pid);
            json_object *p = json_object_new_object();
            json_object_object_add(p, "pid", json_object_new_int(owners->items[i].pid));
            json_object_object_add(p, "comm", json_object_new_string(owners->items[i].comm));
            json_object_array_add(pl, p);
        }
        if (arg_json) {
            json_object_object_add(o, "type", json_object_new_string(type));
            json_object_object_add(o, "state", json_object_new_string(state));
            json_object_object_add(o, "local_cid", json_object_new_int64(lcid));
            json_object_object_add(o, "local_port", json_object_new_int64(lport));
            json_object_object_add(o, "remote_cid", json_object_new_int64(rcid));
            json_object_object_add(o, "remote_port", json_object_new_int64(rport));
            json_object_object_add(o, "inode", json_object_new_uint64(inode));
            json_object_object_add(o, "processes", pl);
            json_object_array_add(list, o);
        } else {
            json_object_put(o);
            json_object_put(pl);
            printf("  %-9s %-12s %-16s %-16s %-10" PRIu64 " %s\n", type, state, local, remote, inode, procs);
        }
    }
    sd_bus_message_unref(reply);
    if (r < 0) {
        json_object_put(list);
        fprintf(stderr, "Cannot read the answer of vsocknsd: %s\n", strerror(-r));
        return EXIT_FAILED;
    }
    if (arg_json) {
        json_object *g = json_object_new_object();
        json_object_object_add(g, "namespace", json_object_new_string(ns));
        json_object_object_add(g, "sockets", list);
        json_object_array_add(arr, g);
    } else {
        json_object_put(list);
        if (n == 0)
            printf("  (no vsock sockets)\n");
    }
    *count += n;
    return 0;
}

/* The names of every managed namespace, in vsocknsd's order. */
static int namespace_names(sd_bus *bus, char ***ret, size_t *ret_n)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListNamespaces", &error, &reply, NULL);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    char **names = NULL;
    size_t n = 0;
    const char *name, *mode, *path, *object;
    r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &name, &mode, &path, &object)) > 0) {
        char **grown = realloc(names, (n + 1) * sizeof(char *));
        if (!grown)
            break;
        names = grown;
        names[n++] = strdup(name);
    }
    sd_bus_message_unref(reply);
    *ret = names;
    *ret_n = n;
    return 0;
}

int verb_sockets(sd_bus *bus, int argc, char **argv)
{
    char **names = NULL;
    size_t n_names = 0;
    int r = 0;
    if (argc < 2) {
        r = namespace_names(bus, &names, &n_names);
        if (r != 0)
            return r;
    }
    OwnerTable owners = { .items = NULL };
    owners_scan(&owners);
    json_object *arr = json_object_new_array();
    size_t count = 0;
    if (argc >= 2)
        r = show_sockets(bus, argv[1], &owners, arr, &count);
    else {
        r = show_sockets(bus, ".host", &owners, arr, &count);
        for (size_t i = 0; r == 0 && i < n_names; i++) {
            if (!arg_json)
                printf("\n");
            r = show_sockets(bus, names[i], &owners, arr, &count);
        }
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    free(owners.items);
    if (r == 0 && arg_json)
        print_json(arr);
    else
        json_object_put(arr);
    return r;
}

/* ---- check ---- */

/* --expect PATH=reachable|unreachable: a stricter (or different) promise
 * than the mode's, e.g. for a namespace that must never reach the host. */
typedef struct Expectation {
    char path[32];
    bool reachable;
} Expectation;

static int parse_expectations(Expectation *ret, size_t max, size_t *ret_n)
{
    size_t n = 0;
    for (size_t i = 0; i < arg_n_expect; i++) {
        const char *eq = strchr(arg_expect[i], '=');
        if (!eq || eq == arg_expect[i] || (size_t) (eq - arg_expect[i]) >= sizeof(ret[0].path) || n == max ||
            (!streq(eq + 1, "reachable") && !streq(eq + 1, "unreachable"))) {
            fprintf(stderr, "--expect wants PATH=reachable or PATH=unreachable, not '%s'.\n", arg_expect[i]);
            return -EINVAL;
        }
        snprintf(ret[n].path, sizeof(ret[n].path), "%.*s", (int) (eq - arg_expect[i]), arg_expect[i]);
        ret[n++].reachable = streq(eq + 1, "reachable");
    }
    *ret_n = n;
    return 0;
}

static bool expected_for(const char *path, bool from_mode, const Expectation *ex, size_t n_ex, bool *used)
{
    for (size_t i = 0; i < n_ex; i++)
        if (streq(ex[i].path, path)) {
            used[i] = true;
            return ex[i].reachable;
        }
    return from_mode;
}

static int check_paths(sd_bus_message *reply, const Expectation *ex, size_t n_ex, bool *used, json_object *paths,
                       unsigned *surprises)
{
    const char *path, *description, *detail;
    int expected, reached;
    int r = sd_bus_message_enter_container(reply, 'a', "(ssbbs)");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(ssbbs)", &path, &description, &expected, &reached, &detail)) > 0) {
        bool want = expected_for(path, expected, ex, n_ex, used);
        bool ok = want == (bool) reached;
        *surprises += !ok;
        if (arg_json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "path", json_object_new_string(path));
            json_object_object_add(o, "description", json_object_new_string(description));
            json_object_object_add(o, "expected", json_object_new_string(want ? "reachable" : "unreachable"));
            json_object_object_add(o, "reached", json_object_new_boolean(reached));
            json_object_object_add(o, "detail", json_object_new_string(detail));
            json_object_object_add(o, "ok", json_object_new_boolean(ok));
            json_object_array_add(paths, o);
        } else
            printf("%-14s %-12s %-9s %s\n", path, want ? "reachable" : "unreachable", ok ? "ok" : "SURPRISE", detail);
    }
    return r;
}

int verb_check(sd_bus *bus, int argc, char **argv)
{
    Expectation ex[8];
    bool used[8] = { false };
    size_t n_ex;
    if (parse_expectations(ex, ELEMENTSOF(ex), &n_ex) < 0)
        return EXIT_USAGE;

    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "CheckIsolation", &error, &reply, "sa{sv}",
                               argv[1], 0);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    const char *mode, *kernel_mode;
    r = sd_bus_message_read(reply, "ss", &mode, &kernel_mode);
    unsigned surprises = r >= 0 && !streq(mode, kernel_mode);
    json_object *paths = json_object_new_array();
    if (r >= 0 && !arg_json)
        printf("Namespace %s: mode %s, the kernel says %s%s\n\n%-14s %-12s %-9s %s\n", argv[1], mode, kernel_mode,
               surprises ? " (SURPRISE)" : "", "PATH", "EXPECTED", "VERDICT", "OUTCOME");
    if (r >= 0)
        r = check_paths(reply, ex, n_ex, used, paths, &surprises);
    if (r < 0) {
        sd_bus_message_unref(reply);
        json_object_put(paths);
        fprintf(stderr, "Cannot read the answer of vsocknsd: %s\n", strerror(-r));
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < n_ex; i++)
        if (!used[i]) {
            fprintf(stderr, "--expect %s=...: no such path (inside, from-host, from-sibling, to-host).\n", ex[i].path);
            surprises++;
        }
    if (arg_json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "namespace", json_object_new_string(argv[1]));
        json_object_object_add(o, "mode", json_object_new_string(mode));
        json_object_object_add(o, "kernel_mode", json_object_new_string(kernel_mode));
        json_object_object_add(o, "ok", json_object_new_boolean(surprises == 0));
        json_object_object_add(o, "paths", paths);
        print_json(o);
    } else {
        json_object_put(paths);
        printf("\n%s\n", surprises ? "Isolation is NOT as expected." : "Isolation is as expected.");
    }
    sd_bus_message_unref(reply);
    return surprises ? EXIT_FAILED : 0;
}
