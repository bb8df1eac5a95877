/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ns-bench VSOCKNSCTL: what making and removing a namespace costs through
 * vsockns, against what people would do instead, in one run:
 *   - `vsocknsctl create NAME local` / `vsocknsctl delete NAME`, N commands
 *     each, against `ip netns add NAME` / `ip netns del NAME`, N commands;
 *   - `vsocknsctl list` N times: a command that makes one call to vsocknsd
 *     and has it make nothing, the floor under any `vsocknsctl` command (a
 *     new process, its libraries, a bus connection, one round trip): what
 *     the create and delete ratios can at best come down to;
 *   - CreateNamespace / DeleteNamespace from one persistent bus client
 *     (local and global), against the floor: unshare(CLONE_NEWNET) and a
 *     bind mount onto /run/netns/NAME in this process, then umount + unlink.
 * Each figure is wall time per operation with the CPU time per operation
 * of the client (this process and the commands it ran), of vsocknsd and of
 * PID 1, which vary less than wall time between emulated runs. Prints
 * figures and ratios, never pass/fail.
 *
 * NS_BENCH_COUNT (default 200) sets N. Runs as root in the host namespace
 * with vsocknsd on the system bus; its namespaces are named nsb-*.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench-util.h"

static int N = 200;
static int daemon_pid;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "ns-bench: %s: %s\n", what, why);
    exit(1);
}

/* Runs argv, its output discarded; ends the program unless it exits 0. */
static void run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die(argv[0], "failed");
}

static void name_of(char *buf, size_t size, const char *prefix, int i)
{
    snprintf(buf, size, "nsb-%s%d", prefix, i);
}

typedef enum Way { WAY_IP, WAY_CTL, WAY_BUS_LOCAL, WAY_BUS_GLOBAL, WAY_FLOOR, N_WAYS } Way;

static const char *way_name[N_WAYS] = {
    [WAY_IP] = "ip netns add / del",
    [WAY_CTL] = "vsocknsctl create (local) / delete",
    [WAY_BUS_LOCAL] = "CreateNamespace local / Delete, one client",
    [WAY_BUS_GLOBAL] = "CreateNamespace global / Delete, one client",
    [WAY_FLOOR] = "floor: unshare + bind mount / umount",
};

static const char *ctl;
static sd_bus *bus;
static int host_netns = -1;

static void bus_call(const char *method, const char *types, const char *name, const char *arg)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = strcmp(method, "CreateNamespace") == 0
                    ? sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", method, &error,
                                         NULL, types, name, arg, 0)
                    : sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", method, &error,
                                         NULL, types, name, 0);
    if (r < 0)
        die(method, error.message ? error.message : strerror(-r));
}

static void floor_create(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0)
        die(path, strerror(errno));
    close(fd);
    if (unshare(CLONE_NEWNET) < 0)
        die("unshare", strerror(errno));
    if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
        die("bind mount", strerror(errno));
    if (setns(host_netns, CLONE_NEWNET) < 0)
        die("setns", strerror(errno));
}

static void floor_delete(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    if (umount2(path, MNT_DETACH) < 0 || unlink(path) < 0)
        die(path, strerror(errno));
}

static void one(Way way, bool create, int i)
{
    char name[64];
    name_of(name, sizeof(name), way == WAY_IP ? "ip" : way == WAY_FLOOR ? "fl" : way == WAY_CTL ? "ctl" : "bus", i);
    switch (way) {
    case WAY_IP:
        run(create ? (char *const[]) { "ip", "netns", "add", name, NULL }
                   : (char *const[]) { "ip", "netns", "del", name, NULL });
        break;
    case WAY_CTL:
        run(create ? (char *const[]) { (char *) ctl, "create", "--mode=local", name, NULL }
                   : (char *const[]) { (char *) ctl, "delete", name, NULL });
        break;
    case WAY_BUS_LOCAL:
    case WAY_BUS_GLOBAL:
        if (create)
            bus_call("CreateNamespace", "ssa{sv}", name, way == WAY_BUS_LOCAL ? "local" : "global");
        else
            bus_call("DeleteNamespace", "sb", name, NULL);
        break;
    default:
        if (create)
            floor_create(name);
        else
            floor_delete(name);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s VSOCKNSCTL (as root, in the host namespace)\n", argv[0]);
        return 2;
    }
    ctl = argv[1];
    N = bench_env_int("ns-bench", "NS_BENCH_COUNT", N, 5, 10000);
    int r = sd_bus_open_system(&bus);
    if (r < 0)
        die("system bus", strerror(-r));
    daemon_pid = bench_daemon_pid(bus);
    host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host_netns < 0)
        die("/proc/self/ns/net", strerror(errno));
    /* ip makes /run/netns its own shared mount the first time; do that
     * before timing anything, so no way pays for it. */
    run((char *const[]) { "ip", "netns", "add", "nsb-warmup", NULL });
    run((char *const[]) { "ip", "netns", "del", "nsb-warmup", NULL });

    /* The client floor first, while no nsb-* namespace exists: the list it
     * gets is what the others' is at their start. */
    BenchCpu start = bench_cpu_now(daemon_pid);
    for (int i = 0; i < N; i++)
        run((char *const[]) { (char *) ctl, "list", NULL });
    BenchCpu ctl_floor = bench_cpu_since(start, daemon_pid);
    printf("done: vsocknsctl list x %d\n", N);
    fflush(stdout);

    BenchCpu cost[N_WAYS][2];
    for (Way w = 0; w < N_WAYS; w++)
        for (int create = 1; create >= 0; create--) {
            start = bench_cpu_now(daemon_pid);
            for (int i = 0; i < N; i++)
                one(w, create, i);
            cost[w][!create] = bench_cpu_since(start, daemon_pid);
            printf("done: %s, %s x %d\n", way_name[w], create ? "create" : "delete", N);
            fflush(stdout);
        }

    printf("\n%d of each, one after another\n", N);
    for (Way w = 0; w < N_WAYS; w++)
        for (int d = 0; d < 2; d++) {
            char what[96];
            snprintf(what, sizeof(what), "%s: %s", way_name[w], d ? "delete" : "create");
            bench_cpu_print(what, cost[w][d], N);
        }
    bench_cpu_print("vsocknsctl list (one call that makes nothing)", ctl_floor, N);
#define RATIO(a, b, d) ((double) cost[a][d].wall_ns / (double) cost[b][d].wall_ns)
    printf("\nratios (wall time):\n");
    printf("  vsocknsctl create / ip netns add:           %6.2f\n", RATIO(WAY_CTL, WAY_IP, 0));
    printf("  vsocknsctl delete / ip netns del:           %6.2f\n", RATIO(WAY_CTL, WAY_IP, 1));
    /* What any vsocknsctl command costs before vsocknsd does anything. */
    printf("  vsocknsctl list / ip netns add:             %6.2f\n",
           (double) ctl_floor.wall_ns / (double) cost[WAY_IP][0].wall_ns);
    printf("  vsocknsctl list / ip netns del:             %6.2f\n",
           (double) ctl_floor.wall_ns / (double) cost[WAY_IP][1].wall_ns);
    printf("  vsocknsctl create / vsocknsctl list:        %6.2f\n",
           (double) cost[WAY_CTL][0].wall_ns / (double) ctl_floor.wall_ns);
    printf("  CreateNamespace local / floor:              %6.2f\n", RATIO(WAY_BUS_LOCAL, WAY_FLOOR, 0));
    printf("  CreateNamespace global / floor:             %6.2f\n", RATIO(WAY_BUS_GLOBAL, WAY_FLOOR, 0));
    printf("  DeleteNamespace local / floor (umount):     %6.2f\n", RATIO(WAY_BUS_LOCAL, WAY_FLOOR, 1));
    sd_bus_flush_close_unref(bus);
    return 0;
}
