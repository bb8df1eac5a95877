/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-fuzz: calls every method of vsocknsd, and reads and writes every
 * property, with what a hostile or broken client sends: wrong types, 1 MiB
 * strings, 16 fds, unknown option keys, deeply nested variants, and random
 * values in the right signature. Then checks that the daemon still answers,
 * that its state files still parse, and that its fd count and RSS are back
 * to what they were after a warm-up (within 5%) once the namespaces the
 * calls made are gone.
 *
 *   bus-fuzz --pid PID --state-dir DIR [--calls N] [--seed S]
 *
 * Namespaces it may create are named fz*; it deletes them before measuring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define BUS_NAME "org.vsockns1"
#define MANAGER_PATH "/org/vsockns1"
#define MANAGER "org.vsockns1.Manager"
#define NAMESPACE "org.vsockns1.Namespace"
#define BIG (1024 * 1024)

typedef struct Method {
    const char *path, *interface, *member, *signature;
} Method;

static const Method methods[] = {
    { MANAGER_PATH, MANAGER, "CreateNamespace", "ssa{sv}" },
    { MANAGER_PATH, MANAGER, "DeleteNamespace", "sb" },
    { MANAGER_PATH, MANAGER, "GetNamespace", "s" },
    { MANAGER_PATH, MANAGER, "ListNamespaces", "" },
    { MANAGER_PATH, MANAGER, "AcquireLease", "susa{sv}" },
    { MANAGER_PATH, MANAGER, "ReleaseLease", "su" },
    { MANAGER_PATH, MANAGER, "ListLeases", "s" },
    { MANAGER_PATH, MANAGER, "ListSockets", "s" },
    { MANAGER_PATH, MANAGER, "CheckIsolation", "sa{sv}" },
    { MANAGER_PATH, MANAGER, "BindLease", "sua{sv}" },
    { MANAGER_PATH, MANAGER, "AttachUnit", "ssb" },
    { MANAGER_PATH, MANAGER, "DetachUnit", "sb" },
    { MANAGER_PATH, MANAGER, "CheckLeases", "s" },
    { MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", "ss" },
    { MANAGER_PATH, "org.freedesktop.DBus.Properties", "GetAll", "s" },
    { MANAGER_PATH, "org.freedesktop.DBus.Properties", "Set", "ssv" },
    { "/org/vsockns1/namespace/fz0", NAMESPACE, "ListSockets", "" },
    { "/org/vsockns1/namespace/fz0", "org.freedesktop.DBus.Properties", "GetAll", "s" },
    { "/org/vsockns1/namespace/fz0", "org.freedesktop.DBus.Properties", "Set", "ssv" },
};

static const char *const option_keys[] = {
    "Strategy", "Reserve", "HandOut", "BindPID", "BindPIDFD", "Persist", "G2HFallback", "Parent",
};

static unsigned rnd(unsigned n)
{
    return (unsigned) random() % n;
}

static char *big_string;

/* A string a caller might send: a plausible name, a random one, or 1 MiB. */
static const char *some_string(int class, char *buf, size_t size)
{
    static const char *const names[] = { "fz0", "fz1", "fz2", ".host", "", "..", "tenant1", "fz0.service",
                                         "local", "global", "Version", "org.vsockns1.Manager" };
    if (class == 1)
        return big_string;
    if (rnd(2))
        return names[rnd(sizeof(names) / sizeof(names[0]))];
    size_t len = rnd(80);
    for (size_t i = 0; i < len && i + 1 < size; i++)
        buf[i] = (char) (0x20 + rnd(0x5f));
    buf[len < size ? len : size - 1] = '\0';
    return buf;
}

static int append_nested_variant(sd_bus_message *m, int depth)
{
    int r = sd_bus_message_open_container(m, 'v', depth > 0 ? "v" : "s");
    if (r >= 0)
        r = depth > 0 ? append_nested_variant(m, depth - 1) : sd_bus_message_append(m, "s", "deep");
    return r >= 0 ? sd_bus_message_close_container(m) : r;
}

/* An a{sv} for class: unknown keys (3), nested variants (4), 16 fds (2),
 * or known keys with random values of the right or a wrong type. */
static int append_options(sd_bus_message *m, int class, int devnull)
{
    char buf[128];
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    unsigned n = class == 2 ? 16 : rnd(4);
    for (unsigned i = 0; r >= 0 && i < n; i++) {
        const char *key = class == 3 ? some_string(0, buf, sizeof(buf)) : option_keys[rnd(8)];
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
            r = sd_bus_message_append(m, "s", class == 2 ? "BindPIDFD" : key);
        if (r < 0)
            break;
        if (class == 2)
            r = sd_bus_message_append(m, "v", "h", devnull);
        else if (class == 4)
            r = append_nested_variant(m, 30);
        else
            switch (rnd(5)) {
            case 0: r = sd_bus_message_append(m, "v", "b", rnd(2)); break;
            case 1: r = sd_bus_message_append(m, "v", "s", some_string(class, buf, sizeof(buf))); break;
            case 2: r = sd_bus_message_append(m, "v", "u", (uint32_t) random()); break;
            case 3: r = sd_bus_message_append(m, "v", "h", devnull); break;
            default: r = sd_bus_message_append(m, "v", "as", 1, "x"); break;
            }
        if (r >= 0)
            r = sd_bus_message_close_container(m);
    }
    return r >= 0 ? sd_bus_message_close_container(m) : r;
}

static int append_args(sd_bus_message *m, const char *sig, int class, int devnull)
{
    char buf[128];
    int r = 0;
    if (class == 0) {
        /* wrong types: a signature of its own, or nothing at all */
        static const char *const wrong[] = { "u", "ii", "as", "hhhh", "a{ss}", "v", "sssssss", "(su)" };
        const char *w = wrong[rnd(8)];
        if (strcmp(w, "u") == 0) return sd_bus_message_append(m, "u", 7);
        if (strcmp(w, "ii") == 0) return sd_bus_message_append(m, "ii", -1, 5);
        if (strcmp(w, "as") == 0) return sd_bus_message_append(m, "as", 2, "a", "b");
        if (strcmp(w, "hhhh") == 0) return sd_bus_message_append(m, "hhhh", devnull, devnull, devnull, devnull);
        if (strcmp(w, "a{ss}") == 0) return sd_bus_message_append(m, "a{ss}", 1, "Reserve", "no");
        if (strcmp(w, "v") == 0) return sd_bus_message_append(m, "v", "s", "x");
        if (strcmp(w, "(su)") == 0) return sd_bus_message_append(m, "(su)", "fz0", 3);
        return sd_bus_message_append(m, "sssssss", "a", "b", "c", "d", "e", "f", "g");
    }
    for (const char *c = sig; r >= 0 && *c; c++) {
        switch (*c) {
        case 's': r = sd_bus_message_append(m, "s", some_string(class, buf, sizeof(buf))); break;
        case 'u': {
            static const uint32_t cids[] = { 0, 1, 2, 3, 42, 0xffffffffu, 0xfffffffeu };
            r = sd_bus_message_append(m, "u", rnd(2) ? cids[rnd(7)] : (uint32_t) random());
            break;
        }
        case 'b': r = sd_bus_message_append(m, "b", rnd(2)); break;
        case 'v':
            r = class == 4 ? append_nested_variant(m, 30) : sd_bus_message_append(m, "v", "s", "x");
            break;
        case 'a': r = append_options(m, class, devnull); c += 4; break; /* a{sv} */
        }
    }
    if (r >= 0 && class == 2 && !strstr(sig, "a{sv}")) /* 16 fds where none belong */
        for (int i = 0; r >= 0 && i < 16; i++)
            r = sd_bus_message_append(m, "h", devnull);
    return r;
}

static unsigned long proc_status(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    unsigned long v = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtoul(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static unsigned fd_count(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    unsigned n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Deletes every namespace the calls made (fz*), with force. */
static void cleanup(sd_bus *bus)
{
    sd_bus_message *reply = NULL;
    if (sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER, "ListNamespaces", NULL, &reply, "") < 0)
        return;
    const char *name, *mode, *path, *object;
    char names[64][65];
    int n = 0;
    if (sd_bus_message_enter_container(reply, 'a', "(ssso)") >= 0)
        while (n < 64 && sd_bus_message_read(reply, "(ssso)", &name, &mode, &path, &object) > 0)
            if (strncmp(name, "fz", 2) == 0)
                snprintf(names[n++], sizeof(names[0]), "%s", name);
    sd_bus_message_unref(reply);
    for (int i = n - 1; i >= 0; i--) /* children first */
        sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER, "DeleteNamespace", NULL, NULL, "sb", names[i], 1);
}

static int check_state(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/namespaces.json", dir);
    json_object *o = json_object_from_file(path);
    if (!o && access(path, F_OK) == 0) {
        fprintf(stderr, "FAIL: %s does not parse\n", path);
        return -1;
    }
    json_object_put(o);
    snprintf(path, sizeof(path), "%s/leases", dir);
    DIR *d = opendir(path);
    struct dirent *de;
    int bad = 0;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char file[1024];
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        json_object *l = json_object_from_file(file);
        if (!l) {
            fprintf(stderr, "FAIL: %s does not parse\n", file);
            bad = -1;
        }
        json_object_put(l);
    }
    if (d)
        closedir(d);
    return bad;
}

static unsigned run_calls(sd_bus *bus, unsigned n, int devnull, unsigned *per_class)
{
    unsigned answered = 0;
    for (unsigned i = 0; i < n; i++) {
        const Method *me = &methods[rnd(sizeof(methods) / sizeof(methods[0]))];
        int class = (int) rnd(6);
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (sd_bus_message_new_method_call(bus, &m, BUS_NAME, me->path, me->interface, me->member) < 0)
            abort();
        sd_bus_message_set_allow_interactive_authorization(m, 0);
        if (append_args(m, me->signature, class, devnull) >= 0 && sd_bus_call(bus, m, 30 * 1000000ULL, &error, &reply) >= 0)
            answered++;
        else if (sd_bus_error_is_set(&error))
            answered++; /* an error reply is an answer */
        per_class[class]++;
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
    }
    return answered;
}

int main(int argc, char **argv)
{
    int pid = 0, calls = 2000;
    bool baseline = true;
    unsigned seed = 1;
    const char *state_dir = "/run/vsockns";
    static const struct option options[] = {
        { "pid", required_argument, NULL, 'p' }, { "calls", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' }, { "state-dir", required_argument, NULL, 'd' },
        /* under valgrind or ASan, RSS is mostly the tool's own: do not compare it */
        { "no-rss-check", no_argument, NULL, 'b' }, {},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
        switch (c) {
        case 'p': pid = atoi(optarg); break;
        case 'n': calls = atoi(optarg); break;
        case 's': seed = (unsigned) atoi(optarg); break;
        case 'd': state_dir = optarg; break;
        case 'b': baseline = false; break;
        default: return 2;
        }
    if (pid <= 0 || calls <= 0)
        return fprintf(stderr, "usage: bus-fuzz --pid PID [--calls N] [--seed S] [--state-dir DIR]\n"), 2;
    srandom(seed);
    big_string = malloc(BIG + 1);
    memset(big_string, 'a', BIG);
    big_string[BIG] = '\0';
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    sd_bus *bus = NULL;
    if (sd_bus_open_system(&bus) < 0)
        return fprintf(stderr, "no bus\n"), 1;

    unsigned per_class[6] = { 0 };
    run_calls(bus, calls / 10, devnull, per_class); /* warm-up: caches, allocator */
    cleanup(bus);
    /* The baseline once vsocknsd is idle and has trimmed (after 3 s
     * quiet): the least RSS seen in 6 s. */
    unsigned long rss0 = proc_status(pid, "VmRSS:");
    for (unsigned i = 0; baseline && i < 60; i++) {
        usleep(100 * 1000);
        unsigned long now = proc_status(pid, "VmRSS:");
        rss0 = now < rss0 ? now : rss0;
    }
    unsigned fds0 = fd_count(pid);
    unsigned answered = run_calls(bus, calls, devnull, per_class);
    cleanup(bus);
    unsigned long rss_now = proc_status(pid, "VmRSS:"), rss1 = rss_now;
    /* Memory the calls freed goes back to the kernel once vsocknsd has
     * been quiet for a moment (its idle trim, idle-trim.h): until then
     * its RSS includes free heap in the middle of the arena. Wait for
     * that, a while at most (20 s: many times the trim's delay). */
    for (unsigned i = 0; baseline && rss1 > rss0 + rss0 / 20 && i < 200; i++) {
        usleep(100 * 1000);
        rss1 = proc_status(pid, "VmRSS:");
    }
    unsigned fds1 = fd_count(pid);

    int failures = 0;
    if (sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, "") < 0) {
        fprintf(stderr, "FAIL: vsocknsd does not answer Ping after the calls\n");
        failures++;
    }
    if (check_state(state_dir) < 0)
        failures++;
    printf("%d calls (wrong types %u, 1 MiB strings %u, 16 fds %u, unknown keys %u, nested variants %u, "
           "random values %u), %u answered\n", calls, per_class[0], per_class[1], per_class[2], per_class[3],
           per_class[4], per_class[5], answered);
    printf("vsocknsd fds %u -> %u, RSS %lu -> %lu kB (%.3f) right after the calls, %lu kB (%.3f) once it was "
           "idle\n",
           fds0, fds1, rss0, rss_now, rss0 ? (double) rss_now / rss0 : 0.0, rss1, rss0 ? (double) rss1 / rss0 : 0.0);
    if (fds1 > fds0 + fds0 / 20 || (baseline && rss1 > rss0 + rss0 / 20)) {
        fprintf(stderr, "FAIL: fds or RSS did not return to baseline (within 5%%)\n");
        failures++;
    }
    if (proc_status(pid, "VmRSS:") == 0) {
        fprintf(stderr, "FAIL: vsocknsd is gone\n");
        failures++;
    }
    sd_bus_flush_close_unref(bus);
    free(big_string);
    return failures ? 1 : 0;
}
