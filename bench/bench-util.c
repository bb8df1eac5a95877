/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench-util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

int bench_env_int(const char *prog, const char *name, int def, int min, int max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max) {
        fprintf(stderr, "%s: %s=%s: want a number from %d to %d\n", prog, name, v, min, max);
        exit(2);
    }
    return (int) n;
}

uint64_t bench_proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command may hold spaces and parentheses: fields count from the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return (utime + stime) * 1000000ULL / (uint64_t) sysconf(_SC_CLK_TCK);
}

int bench_daemon_pid(void *bus)
{
    uint32_t pid = 0;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionUnixProcessID", NULL, &reply, "s", "org.vsockns1");
    if (r < 0 || sd_bus_message_read(reply, "u", &pid) < 0 || pid == 0) {
        fprintf(stderr, "bench: no vsocknsd on the system bus\n");
        exit(1);
    }
    sd_bus_message_unref(reply);
    return (int) pid;
}

static uint64_t tv_us(struct timeval tv)
{
    return (uint64_t) tv.tv_sec * 1000000ULL + (uint64_t) tv.tv_usec;
}

BenchCpu bench_cpu_now(int daemon_pid)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    return (BenchCpu) {
        .client_us = tv_us(self.ru_utime) + tv_us(self.ru_stime) + tv_us(children.ru_utime) +
                     tv_us(children.ru_stime),
        .daemon_us = bench_proc_cpu_us(daemon_pid),
        .pid1_us = bench_proc_cpu_us(1),
        .wall_ns = bench_now_ns(),
    };
}

BenchCpu bench_cpu_since(BenchCpu start, int daemon_pid)
{
    BenchCpu now = bench_cpu_now(daemon_pid);
    return (BenchCpu) {
        .client_us = now.client_us - start.client_us,
        .daemon_us = now.daemon_us - start.daemon_us,
        .pid1_us = now.pid1_us - start.pid1_us,
        .wall_ns = now.wall_ns - start.wall_ns,
    };
}

void bench_cpu_print(const char *what, BenchCpu c, int n)
{
    printf("%-44s wall %9.1f us/op   CPU per op: client %8.1f us, vsocknsd %8.1f us, PID 1 %8.1f us\n", what,
           c.wall_ns / 1000.0 / n, (double) c.client_us / n, (double) c.daemon_us / n, (double) c.pid1_us / n);
}
