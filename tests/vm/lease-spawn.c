/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-spawn NAMESPACE CID -- COMMAND...
 *
 * What a VM manager does with a lease: AcquireLease (the lease is bound to
 * us, the caller), start COMMAND with the vhost-vsock fd at fd 3 ("{fd}" in
 * its arguments is replaced by 3, "{cid}" by the CID), BindLease the lease
 * to COMMAND's process, close our own copy, and exit. Prints COMMAND's pid.
 * From then on the lease lives exactly as long as COMMAND.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

static char *expand(const char *arg, unsigned cid)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    for (const char *p = arg; *p;) {
        if (strncmp(p, "{fd}", 4) == 0) {
            fputs("3", f);
            p += 4;
        } else if (strncmp(p, "{cid}", 5) == 0) {
            fprintf(f, "%u", cid);
            p += 5;
        } else
            fputc(*p++, f);
    }
    fclose(f);
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: %s NAMESPACE CID -- COMMAND...\n", argv[0]);
        return 2;
    }
    const char *ns = argv[1];
    sd_bus *bus = NULL;
    sd_bus_message *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    unsigned cid;
    int fd;
    int r = sd_bus_open_system(&bus);
    if (r >= 0)
        r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "AcquireLease", &error,
                               &reply, "susa{sv}", ns, (unsigned) atoi(argv[2]), "lease-spawn", 0);
    if (r >= 0)
        r = sd_bus_message_read(reply, "uh", &cid, &fd);
    if (r < 0) {
        fprintf(stderr, "AcquireLease: %s\n", error.message ? error.message : strerror(-r));
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(fd, 3) < 0)
            _exit(127);
        char **args = calloc(argc - 3, sizeof(char *));
        for (int i = 4; i < argc; i++)
            args[i - 4] = expand(argv[i], cid);
        execvp(args[0], args);
        _exit(127);
    }
    sd_bus_message_unref(reply); /* closes our copy of the fd */
    r = sd_bus_call_method(bus, "org.vsockns1", "/org/vsockns1", "org.vsockns1.Manager", "BindLease", &error, NULL,
                           "sua{sv}", ns, cid, 1, "BindPID", "u", (unsigned) pid);
    if (r < 0) {
        fprintf(stderr, "BindLease: %s\n", error.message ? error.message : strerror(-r));
        return 1;
    }
    printf("%d\n", (int) pid);
    sd_bus_flush_close_unref(bus);
    return 0;
}
