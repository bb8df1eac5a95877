/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-bench NAMESPACE: how AcquireLease costs compare, in one run, with
 *   - the floor: open /dev/vhost-vsock + VHOST_VSOCK_SET_GUEST_CID in C,
 *   - a D-Bus round trip to vsocknsd (org.freedesktop.DBus.Peer.Ping),
 * at 10 and at FILL existing leases, and with a libvirt-style search that
 * probes CIDs one by one from 3 while FILL are held. Prints figures and
 * ratios, not pass/fail: timings in a VM are only meaningful as ratios.
 *
 * LEASE_BENCH_FILL (default 10000) and LEASE_BENCH_SAMPLES (default 300) set
 * the size; the CI run uses a short mode (see tests/vm/bench/lease-bench.sh).
 * While filling it prints a progress line every 500 leases, so the VM
 * harness can tell a slow run from a stalled one.
 *
 * Runs inside NAMESPACE's network namespace (for the floor), as root, with
 * vsocknsd on the system bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define SAMPLES_MAX 1000
static int FILL = 10000;
static int SAMPLES = 300;

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
static Stats bench_acquire(sd_bus *bus, const char *ns)
{
    uint64_t t[SAMPLES_MAX];
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t start = bench_now_ns();
        uint32_t cid = acquire(bus, ns, "bench", true);
        t[i] = bench_now_ns() - start;
        release(bus, ns, cid);
    }
    return stats(t, SAMPLES);
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

    for (int i = 0; i < 10; i++)
        acquire(bus, ns, "fill", false);
    Stats floor_s = bench_floor(), ping = bench_ping(bus), at10 = bench_acquire(bus, ns);

    uint64_t fill_start = bench_now_ns();
    for (int i = 10; i < FILL; i++) {
        acquire(bus, ns, "fill", false);
        if ((i + 1) % 500 == 0) {
            printf("filling: %d of %d leases, %.1f s\n", i + 1, FILL, (bench_now_ns() - fill_start) / 1e9);
            fflush(stdout);
        }
    }
    double fill_s = (bench_now_ns() - fill_start) / 1e9;
    Stats at_full = bench_acquire(bus, ns);
    Stats floor2 = bench_floor();
    double probe_us = bench_sequential_probe();

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
    printf("\nratios (p50):\n");
    printf("  AcquireLease at %d / at 10 leases: %6.2f  (1.00 = cost independent of the count)\n", FILL,
           at_full.p50_us / at10.p50_us);
    printf("  AcquireLease / floor: %6.2f\n", at10.p50_us / floor_s.p50_us);
    printf("  AcquireLease / D-Bus Ping: %6.2f\n", at10.p50_us / ping.p50_us);
    printf("  libvirt-style probe / AcquireLease at %d: %6.2f\n", FILL, probe_us / at_full.p50_us);
    sd_bus_flush_close_unref(bus);
    return 0;
}
