/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsockns-libvirt-hook: libvirt's qemu hook (installed as
 * /etc/libvirt/hooks/qemu.d/50-vsockns). libvirt runs it as
 *
 *   50-vsockns DOMAIN OPERATION SUB-OPERATION EXTRA   (domain XML on stdin)
 *
 * It tells vsockns which global-space CIDs libvirt's domains use, and
 * refuses to start a domain whose fixed CID vsockns has leased to someone
 * else. Never writes to stdout: libvirt would take that as a rewritten XML
 * at migrate and restore. See hook.h for what each operation does.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "hook-bus.h"
#include "hook.h"
#include "shared/macro.h"

static volatile sig_atomic_t deadline_status;

/* The hard deadline: whatever the bus is doing, libvirt gets its answer. */
static void on_deadline(int sig)
{
    static const char msg[] = "vsockns: gave up waiting for vsockns (hard deadline of the hook)\n";
    (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(deadline_status);
}

/* Reads all of stdin, up to HOOK_XML_MAX + 1 bytes (so that more is seen). */
static int read_stdin(char **ret, size_t *ret_len)
{
    size_t len = 0, size = 0;
    char *buf = NULL;
    for (;;) {
        if (len == size) {
            size = size ? size * 2 : 65536;
            if (size > HOOK_XML_MAX + 1)
                size = HOOK_XML_MAX + 1;
            char *grown = realloc(buf, size);
            if (!grown) {
                free(buf);
                return -ENOMEM;
            }
            buf = grown;
        }
        if (len == HOOK_XML_MAX + 1)
            break;
        ssize_t n = read(STDIN_FILENO, buf + len, size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return -errno;
        }
        if (n == 0)
            break;
        len += n;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

/* What the hook has to say goes to stderr, which libvirt shows only when
 * the hook fails, and to the journal, where it is kept either way. */
static void report(const char *text)
{
    fputs(text, stderr);
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > 0)
            sd_journal_send("MESSAGE=%.*s", (int) n, p, "PRIORITY=%i", LOG_WARNING,
                            "SYSLOG_IDENTIFIER=vsockns-libvirt-hook", NULL);
        p += n + (p[n] == '\n');
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vsockns-libvirt-hook DOMAIN OPERATION SUB-OPERATION [EXTRA] < DOMAIN-XML\n\n"
            "libvirt's qemu hook for vsockns: records the vsock CIDs of libvirt's domains as\n"
            "advisory leases in vsockns (owner libvirt:UUID:NAME) and refuses to start a\n"
            "domain whose fixed CID vsockns has leased to someone else.\n\n"
            "Installed as /etc/libvirt/hooks/qemu.d/50-vsockns; restart libvirtd once after\n"
            "installing it. Settings: " HOOK_CONFIG_FILE " (RefuseStartWhenUnreachable=,\n"
            "TimeoutSec=). See vsockns-libvirt-hook(8).\n");
}

static int run(HookOp op, char *argv[], const char *xml, size_t len, int r, FILE *log)
{
    const char *config = getenv("VSOCKNS_LIBVIRT_HOOK_CONFIG");
    HookConfig cfg;
    hook_config_load(config ? config : HOOK_CONFIG_FILE, &cfg, log);

    HookDomain d;
    char err[512];
    if (r < 0)
        snprintf(err, sizeof(err), "cannot read the domain XML: %s", strerror(-r));
    else
        r = hook_domain_parse(xml, len, &d, err, sizeof(err));
    if (r < 0) {
        /* Where libvirt can still say no, an XML we cannot read is refused:
         * its CID cannot be checked. Elsewhere it must not hurt the domain. */
        int status = op == HOOK_OP_CHECK ? 1 : 0;
        fprintf(log, "vsockns: %s: domain '%s', %s %s: %s\n", status ? "refusing" : "ignoring", argv[1], argv[2],
                argv[3], err);
        return status;
    }
    if (!d.has_vsock)
        return 0;

    deadline_status = hook_unreachable_status(op, &d, &cfg);
    signal(SIGALRM, on_deadline);
    /* Each call is bounded by the timeout; a few calls at most, plus slack. */
    alarm(cfg.timeout_ms * 4 / 1000 + 1);

    HookBus *bus = hook_bus_new(cfg.timeout_ms);
    if (!bus) {
        fprintf(log, "vsockns: out of memory\n");
        return deadline_status;
    }
    int status = hook_run(op, &d, &cfg, &hook_bus_ops, bus, log);
    hook_bus_free(bus);
    return status;
}

int main(int argc, char *argv[])
{
    if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "vsockns: expected DOMAIN OPERATION SUB-OPERATION [EXTRA], got %d arguments\n", argc - 1);
        usage(stderr);
        return 2;
    }
    HookOp op = hook_op_from_args(argv[2], argv[3]);

    /* Read stdin whatever the operation, so libvirt never writes to a closed pipe. */
    _cleanup_free_ char *xml = NULL;
    size_t len = 0;
    int r = read_stdin(&xml, &len);
    if (op == HOOK_OP_PASS)
        return 0;
    _cleanup_free_ char *said = NULL;
    size_t said_len = 0;
    FILE *log = open_memstream(&said, &said_len);
    if (!log)
        log = stderr;
    int status = run(op, argv, xml, len, r, log);
    if (log != stderr) {
        fclose(log);
        report(said);
    }
    return status;
}
