/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * load-client NAMESPACE CLIENTS CALLS: CLIENTS processes, each with its own
 * bus connection, make CALLS mixed calls between them (one in five an
 * AcquireLease of an automatic, reserved CID kept by vsocknsd; the rest
 * ListLeases, GetNamespace, ListNamespaces, a property), while one more
 * process floods the daemon with calls and never reads a reply (unless
 * --no-flood). Prints p50/p99 of the others' calls (whole run and per call
 * kind) and the CIDs they got, one per line after "CIDS", for the caller
 * to check; progress every 1,000 calls on stderr.
 * Exit status 1 if any call of theirs failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define BUS_NAME "org.vsockns1"
#define PATH "/org/vsockns1"
#define MANAGER "org.vsockns1.Manager"

typedef struct Sample {
    uint32_t usec;
    uint8_t kind;      /* 0 acquire, 1 reads */
    uint8_t ok;
    uint32_t cid;      /* acquire: the CID */
} Sample;

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int one_call(sd_bus *bus, const char *ns, int i, Sample *s)
{
    sd_bus_message *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r;
    uint64_t t0 = now_usec();
    s->kind = i % 5 == 0 ? 0 : 1;
    switch (i % 5) {
    case 0:
        r = sd_bus_call_method(bus, BUS_NAME, PATH, MANAGER, "AcquireLease", &error, &reply, "susa{sv}", ns, 0,
                               "load", 1, "HandOut", "b", 0);
        if (r >= 0) {
            int fd;
            r = sd_bus_message_read(reply, "uh", &s->cid, &fd);
        }
        break;
    case 1: r = sd_bus_call_method(bus, BUS_NAME, PATH, MANAGER, "ListLeases", &error, &reply, "s", ns); break;
    case 2: r = sd_bus_call_method(bus, BUS_NAME, PATH, MANAGER, "GetNamespace", &error, &reply, "s", ns); break;
    case 3: r = sd_bus_call_method(bus, BUS_NAME, PATH, MANAGER, "ListNamespaces", &error, &reply, ""); break;
    default:
        r = sd_bus_call_method(bus, BUS_NAME, PATH, "org.freedesktop.DBus.Properties", "Get", &error, &reply, "ss",
                               MANAGER, "KernelSupport");
    }
    s->usec = (uint32_t) (now_usec() - t0);
    s->ok = r >= 0;
    if (r < 0)
        fprintf(stderr, "call %d failed: %s\n", i % 5, error.message ? error.message : strerror(-r));
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    return r;
}

static void client(const char *ns, int calls, int out_fd)
{
    sd_bus *bus = NULL;
    if (sd_bus_open_system(&bus) < 0)
        _exit(2);
    /* During the flood a call waits up to 25 s on one emulated CPU (the
     * bus's time goes to the flooder): the default timeout would end calls
     * that are being served. */
    (void) sd_bus_set_method_call_timeout(bus, 120 * 1000000ULL);
    for (int i = 0; i < calls; i++) {
        Sample s = { 0 };
        one_call(bus, ns, i, &s);
        if (write(out_fd, &s, sizeof(s)) != sizeof(s))
            _exit(2);
    }
    sd_bus_flush_close_unref(bus);
    _exit(0);
}

/* Sends calls as fast as it can and never reads: its replies pile up. It
 * runs at nice 19: in the test VM every process shares one emulated CPU,
 * and a flooder at full priority would take half of it from the bus and
 * the clients (on a real host it has a core of its own); it still sends
 * tens of thousands of calls in a round, which the caller prints. */
static void flooder(const char *ns, uint64_t *sent)
{
    sd_bus *bus = NULL;
    (void) setpriority(PRIO_PROCESS, 0, 19);
    if (sd_bus_open_system(&bus) < 0)
        _exit(2);
    for (;;) {
        sd_bus_message *m = NULL;
        if (sd_bus_message_new_method_call(bus, &m, BUS_NAME, PATH, MANAGER, "ListLeases") < 0 ||
            sd_bus_message_append(m, "s", ns) < 0)
            _exit(2);
        if (sd_bus_send(bus, m, NULL) < 0)
            _exit(0); /* the bus gave up on us: that is the point */
        sd_bus_message_unref(m);
        (*sent)++;
        (void) sd_bus_flush(bus);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static void percentiles(const char *what, uint32_t *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_u32);
    printf("%-8s n=%-6zu p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, n, v[n / 2] / 1000.0,
           v[(n * 99) / 100] / 1000.0, v[n - 1] / 1000.0);
}

int main(int argc, char **argv)
{
    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "--no-flood") == 0))
        return fprintf(stderr, "usage: load-client NAMESPACE CLIENTS CALLS [--no-flood]\n"), 2;
    bool flooding = argc == 4;
    const char *ns = argv[1];
    int clients = atoi(argv[2]), calls = atoi(argv[3]);
    int fds[2];
    if (clients <= 0 || calls < clients || pipe(fds) < 0)
        return 2;
    /* The flooder's count of calls sent, shared with us. */
    uint64_t *flood_sent = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (flood_sent == MAP_FAILED)
        return 2;
    pid_t flood = flooding ? fork() : -1;
    if (flood == 0) {
        close(fds[0]);
        close(fds[1]); /* the others' samples end with their pipe */
        flooder(ns, flood_sent);
    }
    for (int c = 0; c < clients; c++)
        if (fork() == 0) {
            close(fds[0]);
            client(ns, calls / clients + (c < calls % clients), fds[1]);
        }
    close(fds[1]);
    uint32_t *all = calloc(calls, sizeof(uint32_t)), *acq = calloc(calls, sizeof(uint32_t)),
             *reads = calloc(calls, sizeof(uint32_t)), *cids = calloc(calls, sizeof(uint32_t));
    size_t n = 0, na = 0, nr = 0, nc = 0, failed = 0;
    Sample s;
    while (n < (size_t) calls && read(fds[0], &s, sizeof(s)) == sizeof(s)) {
        all[n++] = s.usec;
        if (s.kind == 0) {
            acq[na++] = s.usec;
            if (s.ok)
                cids[nc++] = s.cid;
        } else
            reads[nr++] = s.usec;
        failed += !s.ok;
        if (n % 1000 == 0)
            fprintf(stderr, "progress: %zu of %d calls answered\n", n, calls);
    }
    if (flood > 0)
        kill(flood, SIGKILL);
    int status, bad = 0;
    while (wait(&status) > 0)
        bad += WIFEXITED(status) && WEXITSTATUS(status) == 2;
    printf("%zu calls from %d clients, %zu failed\n", n, clients, failed);
    if (flooding)
        printf("+1 client flooding, never reading: %llu calls sent\n", (unsigned long long) *flood_sent);
    percentiles("all", all, n);
    percentiles("acquire", acq, na);
    percentiles("reads", reads, nr);
    printf("CIDS\n");
    for (size_t i = 0; i < nc; i++)
        printf("%u\n", cids[i]);
    return failed || bad || n != (size_t) calls ? 1 : 0;
}
