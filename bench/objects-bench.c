/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * objects-bench: what reading vsocknsd's objects costs as namespaces and
 * leases grow. Any caller may call GetManagedObjects or read a namespace's
 * Leases property, so neither may cost more than what it returns.
 *
 * With 1 namespace of K leases, then with N namespaces of K leases each
 * (advisory leases, so only vsocknsd's own bookkeeping is measured), it
 * times:
 *   - GetManagedObjects (returns N times as much),
 *   - Get of one namespace's Leases property (returns the same K leases),
 *   - ListLeases of one namespace (the same K leases).
 * "data ratio" is how much more the call returns: a ratio at or below it
 * means the cost follows what is returned, not what else exists.
 * Prints figures and ratios, never pass/fail. Namespaces are named
 * objb-<i> and deleted (with their leases) at the end.
 *
 * OBJECTS_BENCH_NAMESPACES (default 100), OBJECTS_BENCH_LEASES (default
 * 100) and OBJECTS_BENCH_SAMPLES (default 50) set the size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bench-util.h"

#define SAMPLES_MAX 1000

typedef struct Bench {
    sd_bus *bus;
    int namespaces, leases, samples;
} Bench;

static void call_or_die(Bench *b, const char *what, int r, const sd_bus_error *error)
{
    if (r >= 0)
        return;
    fprintf(stderr, "objects-bench: %s: %s\n", what, error && error->message ? error->message : strerror(-r));
    exit(1);
}

static void create_namespace(Bench *b, int i)
{
    char name[32];
    sd_bus_error error = SD_BUS_ERROR_NULL;
    snprintf(name, sizeof(name), "objb-%d", i);
    int r = sd_bus_call_method(b->bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "CreateNamespace",
                               &error, NULL, "ssa{sv}", name, "global", 0);
    call_or_die(b, "CreateNamespace", r, &error);
    for (int k = 0; k < b->leases; k++) {
        r = sd_bus_call_method(b->bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "AcquireLease", &error,
                               NULL, "susa{sv}", name, 0, "objects-bench", 1, "Reserve", "b", 0);
        call_or_die(b, "AcquireLease", r, &error);
    }
}

static void delete_namespace(Bench *b, int i)
{
    char name[32];
    sd_bus_error error = SD_BUS_ERROR_NULL;
    snprintf(name, sizeof(name), "objb-%d", i);
    int r = sd_bus_call_method(b->bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "DeleteNamespace",
                               &error, NULL, "sb", name, 1);
    call_or_die(b, "DeleteNamespace", r, &error);
}

typedef enum Probe { PROBE_MANAGED_OBJECTS, PROBE_LEASES_PROPERTY, PROBE_LIST_LEASES } Probe;

/* p50 in microseconds of one kind of read, against namespace objb-0. */
static double time_probe(Bench *b, Probe what)
{
    uint64_t t[SAMPLES_MAX];
    for (int i = 0; i < b->samples; i++) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint64_t start = bench_now_ns();
        int r;
        switch (what) {
        case PROBE_MANAGED_OBJECTS:
            r = sd_bus_call_method(b->bus, "org.vsockns1", "/org/vsockns1", "org.freedesktop.DBus.ObjectManager",
                                   "GetManagedObjects", &error, &reply, NULL);
            break;
        case PROBE_LEASES_PROPERTY:
            r = sd_bus_get_property(b->bus, "org.vsockns1", "/org/vsockns1/namespace/objb_2d0",
                                    "org.vsockns1.Namespace", "Leases", &error, &reply, "a(usbt)");
            break;
        default:
            r = sd_bus_call_method(b->bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "ListLeases",
                                   &error, &reply, "s", "objb-0");
            break;
        }
        call_or_die(b, "read", r, &error);
        t[i] = bench_now_ns() - start;
        sd_bus_message_unref(reply);
    }
    qsort(t, b->samples, sizeof(uint64_t), bench_cmp_u64);
    return t[b->samples / 2] / 1000.0;
}

int main(void)
{
    Bench b = {
        .namespaces = bench_env_int("objects-bench", "OBJECTS_BENCH_NAMESPACES", 100, 2, 1000),
        .leases = bench_env_int("objects-bench", "OBJECTS_BENCH_LEASES", 100, 1, 1000),
        .samples = bench_env_int("objects-bench", "OBJECTS_BENCH_SAMPLES", 50, 5, SAMPLES_MAX),
    };
    int r = sd_bus_open_system(&b.bus);
    call_or_die(&b, "system bus", r, NULL);

    create_namespace(&b, 0);
    double small[3];
    for (int p = 0; p < 3; p++)
        small[p] = time_probe(&b, (Probe) p);

    uint64_t fill_start = bench_now_ns();
    for (int i = 1; i < b.namespaces; i++) {
        create_namespace(&b, i);
        if (i % 10 == 0) {
            printf("filling: %d of %d namespaces\n", i, b.namespaces);
            fflush(stdout);
        }
    }
    double fill_s = (bench_now_ns() - fill_start) / 1e9;
    double big[3];
    for (int p = 0; p < 3; p++)
        big[p] = time_probe(&b, (Probe) p);
    for (int i = 0; i < b.namespaces; i++)
        delete_namespace(&b, i);

    static const char *names[3] = { "GetManagedObjects", "Leases property of one namespace",
                                    "ListLeases of one namespace" };
    char many[32];
    snprintf(many, sizeof(many), "%d namespaces", b.namespaces);
    printf("\n%d samples per figure; %d advisory leases per namespace\n", b.samples, b.leases);
    printf("%-34s %14s %16s %8s %10s\n", "p50, us", "1 namespace", many, "ratio", "data ratio");
    for (int p = 0; p < 3; p++)
        printf("%-34s %14.1f %16.1f %8.2f %10.2f\n", names[p], small[p], big[p], big[p] / small[p],
               p == 0 ? (double) b.namespaces : 1.0);
    printf("(filling %d more namespaces took %.1f s)\n", b.namespaces - 1, fill_s);
    sd_bus_flush_close_unref(b.bus);
    return 0;
}
