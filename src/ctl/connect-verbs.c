/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsocknsctl connect: a stdio proxy to a vsock port inside a namespace. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/proxy.h"
#include "shared/macro.h"

static int parse_u32(const char *s, const char *what, uint32_t *ret)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > UINT32_MAX) {
        fprintf(stderr, "%s wants a number, not '%s'.\n", what, s);
        return -EINVAL;
    }
    *ret = (uint32_t) v;
    return 0;
}

/* ConnectVsock's errors as connect's exit statuses (vsocknsctl(1)). */
static int connect_exit_status(const sd_bus_error *e)
{
    static const struct {
        const char *name;
        int status;
    } map[] = {
        { "org.vsockns1.Error.ConnectionRefused", EXIT_REFUSED },
        { "org.vsockns1.Error.NoDevice", EXIT_UNREACHABLE },
        { "org.vsockns1.Error.TimedOut", EXIT_TIMED_OUT },
        { "org.vsockns1.Error.AccessDenied", EXIT_DENIED },
        { "org.freedesktop.DBus.Error.AccessDenied", EXIT_DENIED },
        { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EXIT_DENIED },
    };
    for (size_t i = 0; i < ELEMENTSOF(map); i++)
        if (sd_bus_error_has_name(e, map[i].name))
            return map[i].status;
    return -1;
}

int verb_connect(sd_bus *bus, int argc, char **argv)
{
    uint32_t cid, port;
    if (parse_u32(argv[2], "CID", &cid) < 0 || parse_u32(argv[3], "PORT", &port) < 0)
        return EXIT_USAGE;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ConnectVsock", &error, &reply,
                               "suua{sv}", argv[1], cid, port, 0);
    /* The terminal is the proxy's from now on, not a password prompt's. */
    polkit_agent_close();
    if (r < 0) {
        int status = connect_exit_status(&error);
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return status >= 0 ? status : r;
    }
    int fd = -1;
    r = sd_bus_message_read(reply, "h", &fd);
    if (r >= 0)
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the reply's copy goes with it */
    sd_bus_message_unref(reply);
    if (r < 0 || fd < 0) {
        fprintf(stderr, "Cannot read the socket from vsocknsd's answer: %s\n", strerror(r < 0 ? -r : errno));
        return EXIT_FAILED;
    }
    /* The bus is not needed any more, and must not outlive a peer that
     * closes: the proxy is all that runs now. */
    signal(SIGPIPE, SIG_IGN);
    r = proxy_run(STDIN_FILENO, STDOUT_FILENO, fd);
    close(fd);
    if (r == -ECONNRESET) {
        fprintf(stderr, "The connection to CID %u port %u in '%s' was reset.\n", cid, port, argv[1]);
        return EXIT_RESET;
    }
    if (r < 0) {
        fprintf(stderr, "The connection to CID %u port %u in '%s' failed: %s\n", cid, port, argv[1], strerror(-r));
        return EXIT_FAILED;
    }
    return 0;
}
