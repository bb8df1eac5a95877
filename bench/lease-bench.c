/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-bench NAMESPACE: how AcquireLease costs compare, in one run, with
 *   - the floor: open /dev/vhost-vsock + VHOST_VSOCK_SET_GUEST_CID in C,
 *   - a D-Bus round trip to vsocknsd (org.freedesktop.DBus.Peer.Ping),
 * at 10 and at FILL existing leases, and with a libvirt-style search that
 * probes CIDs one by one from 3 while FILL are held; then what deleting the
 * namespace with its FILL leases costs against closing FILL vhost fds.
 * Next to the wall times it prints CPU time per operation of this client,
 * of vsocknsd and of PID 1 (which keeps the fd store), and while filling,
 * PID 1's CPU time per lease as the store grows. Prints figures and ratios,
 * not pass/fail: timings in a VM are only meaningful as ratios.
 *
 * LEASE_BENCH_FILL (default 10000) and LEASE_BENCH_SAMPLES (default 300) set
 * the size; the CI run uses a short mode (see tests/vm/bench/lease-bench.sh).
 * While filling it prints a progress line every 500 leases, so the VM
 * harness can tell a slow run from a stalled one.
 *
 * Runs inside NAMESPACE's network namespace (for the floor), as root, with
 * vsocknsd on the system bus.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define SAMPLES_MAX 1000
static int FILL = 10000;
static int SAMPLES = 300;
static int daemon_pid;

typedef struct Stats {
    double p50_us, p99_us;
} Stats;

static Stats stats(uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(uint64_t), bench_cmp_u64);
    return (Stats) { ns[n / 2] / 1000.0, ns[(n * 99) / 100] / 1000.0 };
}

static void print_stats(const char *what, Stats s)
{
    printf("%-44s p50 %9.1f us   p99 %9.1f us\n", what, s.p50_us, s.p99_us);
}

static int die(const char *what, int r)
{
    fprintf(stderr, "lease-bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
    exit(1);
}

/* open + SET_GUEST_CID + close: what any reservation costs at least. */
static Stats bench_floor(void)
{
    uint64_t t[SAMPLES_MAX];
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t cid = 3000000000ULL + i, start = bench_now_ns();
        int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid) < 0)
            die("floor", errno);
        close(fd);
        t[i] = bench_now_ns() - start;
    }
    return stats(t, SAMPLES);
}

static Stats bench_ping(sd_bus *bus)
{
    uint64_t t[SAMPLES_MAX];
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t start = bench_now_ns();
        int r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.freedesktop.DBus.Peer", "Ping", NULL,
                                   NULL, NULL);
        if (r < 0)
            die("Ping", r);
        t[i] = bench_now_ns() - start;
    }
    return stats(t, SAMPLES);
}

/* hand_out: the fd comes to us (and the lease is bound to us), as for QEMU;
 * the fill leases are held by vsocknsd alone, so they outlive this run. */
static uint32_t acquire(sd_bus *bus, const char *ns, const char *owner, bool hand_out)
{
    sd_bus_message *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    uint32_t cid;
    int fd;
    int r = hand_out ? sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "AcquireLease",
                                          &error, &reply, "susa{sv}", ns, 0, owner, 0)
                     : sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "AcquireLease",
                                          &error, &reply, "susa{sv}", ns, 0, owner, 1, "HandOut", "b", 0);
    if (r < 0) {
        fprintf(stderr, "lease-bench: AcquireLease: %s\n", error.message);
        exit(1);
    }
    if (sd_bus_message_read(reply, "uh", &cid, &fd) < 0)
        die("AcquireLease reply", EBADMSG);
    sd_bus_message_unref(reply);
    return cid;
}

static void release(sd_bus *bus, const char *ns, uint32_t cid)
{
    int r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "ReleaseLease", NULL,
                               NULL, "su", ns, cid);
    if (r < 0)
        die("ReleaseLease", r);
}

/* Acquire (timed) and release again, so the number of leases stays put. */
static Stats bench_acquire(sd_bus *bus, const char *ns, BenchCpu *cpu)
{
    uint64_t t[SAMPLES_MAX];
    BenchCpu begin = bench_cpu_now(daemon_pid);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t start = bench_now_ns();
        uint32_t cid = acquire(bus, ns, "bench", true);
        t[i] = bench_now_ns() - start;
        release(bus, ns, cid);
    }
    *cpu = bench_cpu_since(begin, daemon_pid);
    return stats(t, SAMPLES);
}

/* The floor of deleting a namespace with FILL leases: closing FILL vhost
 * fds that hold a CID each. Returns the time in seconds. */
static double bench_close_floor(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) FILL + 256) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) FILL + 256;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            die("setrlimit", errno);
    }
    int *fds = calloc(FILL, sizeof(int));
    if (!fds)
        die("calloc", ENOMEM);
    for (int i = 0; i < FILL; i++) {
        uint64_t cid = 3500000000ULL + i;
        fds[i] = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
        if (fds[i] < 0 || ioctl(fds[i], VHOST_VSOCK_SET_GUEST_CID, &cid) < 0)
            die("close floor", errno);
    }
    uint64_t start = bench_now_ns();
    for (int i = 0; i < FILL; i++)
        close(fds[i]);
    double secs = (bench_now_ns() - start) / 1e9;
    free(fds);
    return secs;
}

/* libvirt's way: one fd, SET_GUEST_CID from 3 upward until one is free. */
static double bench_sequential_probe(void)
{
    uint64_t t[5];
    for (int round = 0; round < 5; round++) {
        uint64_t start = bench_now_ns();
        int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            die("open", errno);
        uint64_t cid;
        for (cid = 3; cid < 0xffffffffULL; cid++)
            if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid) == 0)
                break;
        close(fd);
        t[round] = bench_now_ns() - start;
        if (round == 0)
            printf("%-44s found CID %llu after %llu busy ones\n", "libvirt-style sequential probe:",
                   (unsigned long long) cid, (unsigned long long) cid - 3);
    }
    return stats(t, 5).p50_us;
}

/* How many /dev/vhost-vsock fds vsocknsd holds. */
static int daemon_vhost_fds(void)
{
    char dir[64], link[PATH_MAX], target[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", daemon_pid);
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
        ssize_t k = readlink(link, target, sizeof(target) - 1);
        if (k > 0) {
            target[k] = 0;
            n += strcmp(target, "/dev/vhost-vsock") == 0;
        }
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s NAMESPACE (run inside that namespace)\n", argv[0]);
        return 2;
    }
    const char *ns = argv[1];
    FILL = bench_env_int("lease-bench", "LEASE_BENCH_FILL", FILL, 20, 1000000);
    SAMPLES = bench_env_int("lease-bench", "LEASE_BENCH_SAMPLES", SAMPLES, 10, SAMPLES_MAX);
    sd_bus *bus = NULL;
    int r = sd_bus_open_system(&bus);
    if (r < 0)
        die("system bus", r);
    /* Calls may wait behind a slow emulated machine: generous, as before
     * vsocknsd closed fds off its loop (it answers a delete within 20 s). */
    (void) sd_bus_set_method_call_timeout(bus, 900 * 1000000ULL);

    daemon_pid = bench_daemon_pid(bus);
    int vhost_fds_before = daemon_vhost_fds();
    for (int i = 0; i < 10; i++)
        acquire(bus, ns, "fill", false);
    BenchCpu cpu10, cpu_full;
    Stats floor_s = bench_floor(), ping = bench_ping(bus), at10 = bench_acquire(bus, ns, &cpu10);

    /* Each step of the fill: leases 500 at a time (fewer in a short run),
     * PID 1's CPU time per lease within it, to see it follow the store's size. */
    int step = FILL >= 5000 ? 500 : FILL >= 1000 ? 100 : 10;
    printf("filling (PID 1 CPU per lease: what systemd spends keeping each new fd in the store):\n");
    BenchCpu fill_start = bench_cpu_now(daemon_pid), step_start = fill_start;
    for (int i = 10; i < FILL; i++) {
        acquire(bus, ns, "fill", false);
        if ((i + 1) % step == 0) {
            BenchCpu c = bench_cpu_since(step_start, daemon_pid);
            printf("  leases %5d to %5d: %6.1f s so far; per lease: wall %8.1f us, vsocknsd CPU %7.1f us, PID 1 "
                   "CPU %7.1f us\n",
                   i + 2 - step, i + 1, (bench_now_ns() - fill_start.wall_ns) / 1e9, c.wall_ns / 1000.0 / step,
                   (double) c.daemon_us / step, (double) c.pid1_us / step);
            fflush(stdout);
            step_start = bench_cpu_now(daemon_pid);
        }
    }
    BenchCpu fill_cpu = bench_cpu_since(fill_start, daemon_pid);
    double fill_s = fill_cpu.wall_ns / 1e9;
    Stats at_full = bench_acquire(bus, ns, &cpu_full);
    Stats floor2 = bench_floor();
    double probe_us = bench_sequential_probe();
    double close_floor_s = bench_close_floor();

    /* Deleting the namespace drops its FILL leases (and their fds in the
     * store). Without the fd store vsocknsd closes the fds in a thread and
     * answers once they are closed, or after 20 s: the figure runs until
     * vsocknsd holds none of them any more. */
    BenchCpu del_start = bench_cpu_now(daemon_pid);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int dr = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "DeleteNamespace",
                                &error, NULL, "sb", ns, 1);
    if (dr < 0) {
        fprintf(stderr, "lease-bench: DeleteNamespace: %s\n", error.message);
        return 1;
    }
    double answered_s = (bench_now_ns() - del_start.wall_ns) / 1e9;
    /* Looking costs a readlink per fd: not more than 10 times a second. */
    while (daemon_vhost_fds() > vhost_fds_before)
        usleep(100000);
    BenchCpu del_cpu = bench_cpu_since(del_start, daemon_pid);

    char held[64], at_fill[64], probe[64], filling[64];
    snprintf(held, sizeof(held), "floor again, with %d CIDs held:", FILL);
    snprintf(at_fill, sizeof(at_fill), "AcquireLease with %d leases:", FILL);
    snprintf(probe, sizeof(probe), "libvirt-style probe, %d CIDs held:", FILL);
    snprintf(filling, sizeof(filling), "filling to %d leases:", FILL);
    printf("\n%d samples per figure\n", SAMPLES);
    print_stats("floor (open + SET_GUEST_CID, C loop):", floor_s);
    print_stats(held, floor2);
    print_stats("D-Bus Ping round trip to vsocknsd:", ping);
    print_stats("AcquireLease with 10 leases:", at10);
    print_stats(at_fill, at_full);
    printf("%-44s p50 %9.1f us\n", probe, probe_us);
    printf("%-44s %.1f s (%.0f acquisitions/s)\n", filling, fill_s, (FILL - 10) / fill_s);
    char del[64], closing[64];
    snprintf(del, sizeof(del), "DeleteNamespace with %d leases:", FILL);
    snprintf(closing, sizeof(closing), "closing %d vhost fds (floor):", FILL);
    printf("%-44s %.2f s (answered after %.2f s)\n", del, del_cpu.wall_ns / 1e9, answered_s);
    printf("%-44s %.2f s\n", closing, close_floor_s);
    printf("\nCPU time per operation:\n");
    bench_cpu_print("AcquireLease + ReleaseLease, 10 leases:", cpu10, SAMPLES);
    bench_cpu_print(at_fill, cpu_full, SAMPLES);
    bench_cpu_print(filling, fill_cpu, FILL - 10);
    bench_cpu_print("DeleteNamespace, per lease dropped:", del_cpu, FILL);
    printf("\nratios (p50):\n");
    printf("  AcquireLease / (floor + D-Bus Ping): %6.2f\n", at10.p50_us / (floor_s.p50_us + ping.p50_us));
    printf("  AcquireLease at %d / (floor + D-Bus Ping): %6.2f\n", FILL,
           at_full.p50_us / (floor2.p50_us + ping.p50_us));
    printf("  DeleteNamespace with %d leases / closing %d vhost fds: %6.2f\n", FILL, FILL,
           del_cpu.wall_ns / 1e9 / close_floor_s);
    printf("  AcquireLease at %d / at 10 leases: %6.2f  (1.00 = cost independent of the count)\n", FILL,
           at_full.p50_us / at10.p50_us);
    printf("  AcquireLease / floor: %6.2f\n", at10.p50_us / floor_s.p50_us);
    printf("  AcquireLease / D-Bus Ping: %6.2f\n", at10.p50_us / ping.p50_us);
    printf("  libvirt-style probe / AcquireLease at %d: %6.2f\n", FILL, probe_us / at_full.p50_us);
    sd_bus_flush_close_unref(bus);
    return 0;
}
