/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsocknsd: manages network namespaces for AF_VSOCK isolation on D-Bus
 * (org.vsockns1). One sd-event loop; namespace switches happen in forked
 * namespace workers only (core/ns-worker.c), so this process stays in the
 * host netns.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "core/lease-fds.h"
#include "core/manager.h"
#include "core/netns.h"
#include "daemon/bus-util.h"
#include "daemon/fair-queue.h"
#include "daemon/idle-trim.h"
#include "daemon/manager-dbus.h"
#include "daemon/namespace-dbus.h"
#include "shared/log.h"
#include "shared/macro.h"

static void help(void)
{
    printf("%s [OPTIONS...]\n\n"
           "Manages network namespaces for AF_VSOCK isolation (D-Bus name %s).\n\n"
           "  -h --help            Show this help\n"
           "     --version         Show the version\n"
           "     --log-level=LEVEL debug, info, notice, warning or err (default info)\n"
           "     --config=FILE     Read FILE instead of /etc/vsockns/vsocknsd.conf\n"
#ifdef VSOCKNS_FAULT_INJECTION
           "     --worker-timeout=SECONDS\n"
           "                       How long a namespace worker may take (default 10)\n"
           "     --probe-timeout=SECONDS\n"
           "                       How long an isolation probe may take (default 20)\n"
#endif
           "\nSee vsocknsd(8).\n",
           program_invocation_short_name, VSOCKNS_BUS_NAME);
}

static int parse_log_level(const char *s)
{
    static const struct { const char *name; int level; } levels[] = {
        { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING }, { "err", LOG_ERR },
    };
    for (size_t i = 0; i < ELEMENTSOF(levels); i++)
        if (streq(s, levels[i].name))
            return levels[i].level;
    return -EINVAL;
}

static const char *arg_config;
static int arg_worker_timeout_ms; /* 0: the workers' default */
static int arg_probe_timeout_ms;  /* 0: ISOLATION_PROBE_DEADLINE_MS */

#ifdef VSOCKNS_FAULT_INJECTION
/* --worker-timeout and --probe-timeout: whole seconds, 1 to 3600. */
static int parse_timeout(const char *option, const char *s, int *ret_ms)
{
    char *end;
    errno = 0;
    long secs = strtol(s, &end, 10);
    if (errno || *end || end == s || secs < 1 || secs > 3600) {
        fprintf(stderr, "--%s wants seconds (1-3600), not '%s'.\n", option, s);
        return -EINVAL;
    }
    *ret_ms = (int) secs * 1000;
    return 0;
}
#endif

static int parse_argv(int argc, char **argv)
{
    enum { ARG_VERSION = 0x100, ARG_LOG_LEVEL, ARG_CONFIG, ARG_WORKER_TIMEOUT, ARG_PROBE_TIMEOUT };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
        { "config", required_argument, NULL, ARG_CONFIG },
#ifdef VSOCKNS_FAULT_INJECTION
        /* Tests that stall a worker choose how long it may stall. */
        { "worker-timeout", required_argument, NULL, ARG_WORKER_TIMEOUT },
        { "probe-timeout", required_argument, NULL, ARG_PROBE_TIMEOUT },
#endif
        {}
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case ARG_VERSION:
            printf("vsocknsd %s\n", VSOCKNS_VERSION);
            return 0;
        case ARG_LOG_LEVEL: {
            int level = parse_log_level(optarg);
            if (level < 0) {
                fprintf(stderr, "Unknown log level '%s'.\n", optarg);
                return -EINVAL;
            }
            log_set_max_level(level);
            break;
        }
        case ARG_CONFIG:
            arg_config = optarg;
            break;
#ifdef VSOCKNS_FAULT_INJECTION
        case ARG_WORKER_TIMEOUT:
            if (parse_timeout("worker-timeout", optarg, &arg_worker_timeout_ms) < 0)
                return -EINVAL;
            break;
        case ARG_PROBE_TIMEOUT:
            if (parse_timeout("probe-timeout", optarg, &arg_probe_timeout_ms) < 0)
                return -EINVAL;
            break;
#endif
        default:
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s takes no arguments.\n", program_invocation_short_name);
        return -EINVAL;
    }
    return 1;
}

/* An `ip netns del` (or rm) behind our back: drop the namespace, signal it
 * (its leases' devices are let go of by the fd store on its own). */
static int on_netns_dir_event(sd_event_source *s, const struct inotify_event *ev, void *userdata)
{
    Manager *m = userdata;
    if (ev->len > 0 && (ev->mask & (IN_DELETE | IN_MOVED_FROM)))
        (void) manager_handle_pin_removed(m, ev->name);
    return 0;
}

/* 10,000 reserved leases are 10,000 open fds. */
static void raise_fd_limit(Manager *m)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warning_errno(errno, "Cannot raise RLIMIT_NOFILE to %llu: %m", (unsigned long long) rl.rlim_max);
    }
    /* Keep room for the bus, workers and clients' fds. */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < LEASES_MAX + 256)
        m->leases_max = rl.rlim_cur > 512 ? rl.rlim_cur - 256 : rl.rlim_cur / 2;
    log_debug("RLIMIT_NOFILE %llu: at most %zu leases", (unsigned long long) rl.rlim_cur, m->leases_max);
}

/* CIDs once held outside vsockns may be free again: look every minute. */
#define RECHECK_USEC (60 * 1000000ULL)

static int on_recheck_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    manager_recheck_held_outside(userdata);
    /* And whether reserved CIDs are still held, a bounded number per tick
     * (opening a device costs ~8 ms under TCG: never a long stall). */
    manager_check_leases(userdata, NULL, LEASE_RECHECK_BATCH, NULL, NULL);
    sd_event_source_set_time_relative(s, RECHECK_USEC);
    return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int run(Manager *m)
{
    sd_event *event = NULL;
    sd_bus *bus = NULL;
    FairQueue *fair = NULL;
    IdleTrim *trim = NULL;
    int r;

    /* A helper that exited early must not take the daemon with it through
     * a write to its pipe (systemd's IgnoreSIGPIPE= does this for the unit;
     * vsocknsd run by hand needs it too). */
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    r = sd_event_default(&event);
    if (r < 0)
        goto finish;
    if ((r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL)) < 0 ||
        (r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL)) < 0)
        goto finish;
    /* WatchdogSec= in the unit: WATCHDOG=1 from the loop itself, so a loop
     * that stalls gets us restarted. */
    r = sd_event_set_watchdog(event, true);
    if (r < 0)
        log_warning_errno(r, "Cannot set up the watchdog: %m");

    r = sd_bus_open_system(&bus);
    if (r < 0) {
        log_error_errno(r, "Cannot connect to the system bus: %m");
        goto finish;
    }
    /* Losing the bus (dbus restarted) ends the loop with a failure: systemd
     * starts us again, and the fd store gives the leases back. */
    (void) sd_bus_set_exit_on_disconnect(bus, true);
    if ((r = sd_bus_attach_event(bus, event, 0)) < 0 || (r = manager_dbus_register(bus, m)) < 0 ||
        (r = namespace_dbus_register(bus, m)) < 0) {
        log_error_errno(r, "Cannot set up the bus objects: %m");
        goto finish;
    }
    /* The fair queue after the polkit registry: it lets the calls polkit
     * has answered pass. Nothing is dispatched before the loop runs. */
    if ((r = manager_dbus_connect_signals(bus, m)) < 0 ||
        (r = fair_queue_attach(bus, event, bus_polkit_of(m), &fair)) < 0) {
        log_error_errno(r, "Cannot set up the bus layer: %m");
        goto finish;
    }

    raise_fd_limit(m);
    uint64_t t_start = clock_usec(CLOCK_MONOTONIC);
    /* Under systemd, lease devices outlive a restart in its fd store;
     * started by hand, ended leases' fds are closed off the loop. */
    r = manager_attach_event(m, event, getenv("NOTIFY_SOCKET") ? LEASE_FDS_FD_STORE : LEASE_FDS_BY_HAND);
    if (r < 0) {
        log_error_errno(r, "Cannot set up the keeping of lease devices: %m");
        goto finish;
    }
    r = lease_fds_take_stored(m->fds);
    if (r < 0)
        goto finish;
    uint64_t t_taken = clock_usec(CLOCK_MONOTONIC);
    r = manager_startup(m);
    if (r < 0)
        goto finish;
    uint64_t t_started = clock_usec(CLOCK_MONOTONIC);
    lease_fds_adopted(m->fds);
    uint64_t t_adopted = clock_usec(CLOCK_MONOTONIC);
    r = sd_event_add_inotify(event, NULL, m->config.netns_dir, IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR,
                             on_netns_dir_event, m);
    if (r < 0) {
        log_error_errno(r, "Cannot watch %s: %m", m->config.netns_dir);
        goto finish;
    }

    r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, RECHECK_USEC, 0, on_recheck_timer, m);
    if (r < 0) {
        log_error_errno(r, "Cannot set up the recheck timer: %m");
        goto finish;
    }
    r = idle_trim_attach(event, IDLE_TRIM_USEC, IDLE_TRIM_MIN_FREE, &trim);
    if (r < 0) {
        log_error_errno(r, "Cannot set up the heap trim timer: %m");
        goto finish;
    }
    /* Last: once we own the name, callers may rely on everything above. */
    r = sd_bus_request_name(bus, VSOCKNS_BUS_NAME, 0);
    if (r < 0) {
        log_error_errno(r, "Cannot own %s (another vsocknsd running?): %m", VSOCKNS_BUS_NAME);
        goto finish;
    }
    sd_notify(false, "READY=1\nSTATUS=Managing vsock namespaces");
    /* Where a start with much state spends its time, in ms. */
    log_info("vsocknsd %s ready (kernel support: %s, %zu namespaces, %zu leases; state taken up in %llu ms: "
             "fd store %llu, namespaces %llu, lease files %llu, leases %llu, fd store settled %llu)",
             VSOCKNS_VERSION, kernel_support_to_string(m->kernel_support), m->namespaces.n, m->n_leases,
             (unsigned long long) ((t_adopted - t_start) / 1000), (unsigned long long) ((t_taken - t_start) / 1000),
             (unsigned long long) (m->reconcile_namespaces_usec / 1000),
             (unsigned long long) (m->read_leases_usec / 1000), (unsigned long long) (m->adopt_leases_usec / 1000),
             (unsigned long long) ((t_adopted - t_started) / 1000));

    r = sd_event_loop(event);
    sd_notify(false, "STOPPING=1");
    if (r > 0)
        log_warning("vsocknsd lost the system bus; exiting so that systemd starts it again");
    else
        log_info("vsocknsd stopping");

finish:
    fair_queue_free(fair); /* before the polkit registry it asks */
    manager_dbus_disconnect(m);
    idle_trim_free(trim);
    sd_bus_flush_close_unref(bus);
    sd_event_unref(event);
    return r;
}

int main(int argc, char **argv)
{
    log_set_prefix(getenv("JOURNAL_STREAM") || getenv("INVOCATION_ID"));
    int r = parse_argv(argc, argv);
    if (r <= 0)
        return r < 0 ? 2 : 0;

    ManagerConfig config;
    manager_config_default(&config);
    if (arg_config && snprintf(config.config_file, sizeof(config.config_file), "%s", arg_config) >=
                          (int) sizeof(config.config_file)) {
        fprintf(stderr, "--config: path too long.\n");
        return 2;
    }
    Manager *m = NULL;
    r = manager_new(&config, &m);
    if (r < 0) {
        log_error_errno(r, "Out of memory");
        return 1;
    }
    snprintf(m->version, sizeof(m->version), "%s", VSOCKNS_VERSION);
    if (arg_worker_timeout_ms > 0)
        ns_workers_set_timeout(m->workers, arg_worker_timeout_ms);
    if (arg_probe_timeout_ms > 0)
        m->probe_deadline_ms = arg_probe_timeout_ms;
    r = run(m);
    manager_free(m);
    return r != 0 ? 1 : 0;
}
