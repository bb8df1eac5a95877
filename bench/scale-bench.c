/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scale-bench fill|drop NAMESPACES LEASES: sizes vsocknsd up to NAMESPACES
 * local namespaces (scb-0, scb-1, ...) with LEASES reserved leases each
 * (automatic CIDs, held by vsocknsd alone, as a long-running host would
 * have them), or deletes them again. Prints the time and the CPU time per
 * operation (client, vsocknsd, PID 1), and vsocknsd's RSS at the end; a
 * progress line every 50 namespaces so a slow run shows it is moving.
 * tests/vm/bench/scale-bench.sh does the restarts around it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bench-util.h"

static void call(sd_bus *bus, const char *method, int r, sd_bus_error *error)
{
    if (r < 0) {
        fprintf(stderr, "scale-bench: %s: %s\n", method, error->message ? error->message : strerror(-r));
        exit(1);
    }
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "fill") != 0 && strcmp(argv[1], "drop") != 0)) {
        fprintf(stderr, "usage: %s fill|drop NAMESPACES LEASES\n", argv[0]);
        return 2;
    }
    bool fill = strcmp(argv[1], "fill") == 0;
    int namespaces = atoi(argv[2]), leases = atoi(argv[3]);
    if (namespaces < 1 || leases < 0)
        return fprintf(stderr, "scale-bench: bad size\n"), 2;
    sd_bus *bus = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd_bus_open_system(&bus);
    call(bus, "system bus", r, &error);
    int daemon = bench_daemon_pid(bus);

    BenchCpu start = bench_cpu_now(daemon);
    for (int i = 0; i < namespaces; i++) {
        char name[32];
        snprintf(name, sizeof(name), "scb-%d", i);
        if (!fill) {
            r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "DeleteNamespace",
                                   &error, NULL, "sb", name, 1);
            call(bus, "DeleteNamespace", r, &error);
            continue;
        }
        r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "CreateNamespace",
                               &error, NULL, "ssa{sv}", name, "local", 0);
        call(bus, "CreateNamespace", r, &error);
        for (int k = 0; k < leases; k++) {
            r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "AcquireLease",
                                   &error, NULL, "susa{sv}", name, 0, "scale-bench", 1, "HandOut", "b", 0);
            call(bus, "AcquireLease", r, &error);
        }
        if ((i + 1) % 50 == 0) {
            printf("filling: %d of %d namespaces, %.1f s\n", i + 1, namespaces,
                   (bench_now_ns() - start.wall_ns) / 1e9);
            fflush(stdout);
        }
    }
    BenchCpu cost = bench_cpu_since(start, daemon);
    char what[96];
    snprintf(what, sizeof(what), "%s %d namespaces (%d leases each):", fill ? "filling" : "deleting", namespaces,
             leases);
    printf("%s %.1f s\n", what, cost.wall_ns / 1e9);
    bench_cpu_print("  per namespace (with its leases):", cost, namespaces);
    printf("vsocknsd RSS: %ld kB\n", rss_kb(daemon));
    sd_bus_flush_close_unref(bus);
    return 0;
}
