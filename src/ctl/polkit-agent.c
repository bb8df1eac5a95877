/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* On a terminal, vsocknsctl lets polkit ask the user for a password. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/ctl.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"

static pid_t agent_pid;

/*
 * As machinectl does: when a person runs us on a terminal (and is not
 * root, who is never asked), allow interactive authorization on our calls
 * and start pkttyagent for our session, waiting until it has registered.
 */
void polkit_agent_open_if_tty(sd_bus *bus)
{
    if (geteuid() == 0 || !isatty(STDIN_FILENO) || access(PKTTYAGENT, X_OK) < 0)
        return;
    sd_bus_set_allow_interactive_authorization(bus, true);
    /* vsocknsd gives a person 90 s to answer the prompt: wait longer than
     * that for its answer, not sd-bus's 25 s (unless a verb set more). */
    uint64_t timeout;
    if (sd_bus_get_method_call_timeout(bus, &timeout) >= 0 && timeout < 120 * 1000000ULL)
        (void) sd_bus_set_method_call_timeout(bus, 120 * 1000000ULL);
    int notify[2];
    if (pipe2(notify, O_CLOEXEC) < 0)
        return;
    pid_t child = fork();
    if (child == 0) {
        /* fd 3, not close-on-exec: the agent closes it once registered. */
        if (dup2(notify[1], 3) < 0)
            _exit(127);
        /* For our login session, as machinectl does: vsocknsd asks polkit
         * about our bus name, which polkit maps to our session; an agent
         * registered for our process alone would never be asked. */
        execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", "3", "--fallback", (char *) NULL);
        _exit(127);
    }
    close(notify[1]);
    if (child > 0) {
        agent_pid = child;
        struct pollfd p = { .fd = notify[0], .events = POLLIN };
        char c;
        while (poll(&p, 1, 5000) > 0 && read(notify[0], &c, 1) > 0)
            ;
    }
    close(notify[0]);
}

void polkit_agent_close(void)
{
    if (agent_pid <= 0)
        return;
    kill(agent_pid, SIGTERM);
    while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    agent_pid = 0;
}
