/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsock-guest: the one program of the test guest (kernel/build-guest). It is
 * the guest's last process and answers on a vsock port with the identity
 * QEMU gave it, so a test on the host can tell exactly which guest it
 * reached.
 *
 *   vsock-guest [--id ID] [--port PORT]
 *
 * The identity is, in this order: --id; the QEMU firmware config file
 * opt/vsockns/id (-fw_cfg name=opt/vsockns/id,string=ID, trailing spaces
 * ignored), read again for
 * every request, so a guest restored from another's snapshot answers with
 * the identity of the QEMU that restored it; vsockns.id= on the kernel
 * command line. The port: --port, or vsockns.port=N (default 1234). Each
 * connection sends one line and gets one line back:
 *
 *   id            -> ID
 *   cid           -> the guest's own CID (IOCTL_VM_SOCKETS_GET_LOCAL_CID)
 *   dial PORT     -> connects to the host (CID 2) on PORT, sends "ID\n",
 *                    reads one line L and answers "dial ok L", or
 *                    "dial error ERRNO" (ENODEV, ECONNRESET, ...)
 *   anything else -> "error unknown request"
 *
 * The CID is asked of the kernel for every request too: a restored guest
 * learns its new one from the transport reset QEMU sends after a restore.
 * It prints "VSOCK-GUEST-READY ID PORT" on stdout (the guest's console) once
 * it listens. Statically linked: the guest has no C library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define IO_TIMEOUT_SEC 10

static bool id_from_argv;

static const char *errno_name(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "EUNKNOWN";
}

/* The value of KEY= on the kernel command line, or NULL. */
static char *cmdline_value(const char *key)
{
    static char buf[4096];
    size_t klen = strlen(key);
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
        if (strncmp(w, key, klen) == 0 && w[klen] == '=')
            return w + klen + 1;
    return NULL;
}

#define FW_CFG_ID "/sys/firmware/qemu_fw_cfg/by_name/opt/vsockns/id/raw"

/* The identity for this request: FW_CFG_ID if QEMU gives one, else
 * fallback. Returns buf or fallback. */
static const char *current_id(const char *fallback, char *buf, size_t size)
{
    int fd = open(FW_CFG_ID, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fallback;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return fallback;
    buf[n] = '\0';
    /* QEMU's file may be padded (spaces), and a restored guest reads it
     * with the size its kernel saw at boot (NULs past a shorter one). */
    size_t len = strcspn(buf, "\n");
    while (len > 0 && buf[len - 1] == ' ')
        len--;
    buf[len] = '\0';
    return buf[0] ? buf : fallback;
}

static void set_timeouts(int fd)
{
    struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Reads one line (without its newline) into buf; false on error or EOF
 * before any byte. */
static bool read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (c == '\n')
            break;
        buf[len++] = c;
    }
    buf[len] = '\0';
    return len > 0;
}

static void write_all(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t) n;
    }
}

/* "dial PORT": connect to the host and report what happened. */
static void dial_host(const char *id, unsigned port, char *reply, size_t size)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(reply, size, "dial error %s\n", errno_name(errno));
        return;
    }
    set_timeouts(fd);
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        snprintf(reply, size, "dial error %s\n", errno_name(errno));
        close(fd);
        return;
    }
    char line[256];
    snprintf(line, sizeof(line), "%s\n", id);
    write_all(fd, line);
    errno = 0;
    if (read_line(fd, line, sizeof(line)))
        snprintf(reply, size, "dial ok %s\n", line);
    else
        snprintf(reply, size, "dial error %s\n", errno ? errno_name(errno) : "EOF");
    close(fd);
}

static void serve_one(int fd, const char *fixed_id)
{
    char req[256], reply[512], idbuf[128];
    const char *id = fixed_id;
    if (!id_from_argv)
        id = current_id(fixed_id, idbuf, sizeof(idbuf));
    set_timeouts(fd);
    if (!read_line(fd, req, sizeof(req)))
        strcpy(req, "id");
    if (strcmp(req, "id") == 0)
        snprintf(reply, sizeof(reply), "%s\n", id);
    else if (strcmp(req, "cid") == 0) {
        unsigned cid = 0;
        int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
        if (dev >= 0 && ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0)
            snprintf(reply, sizeof(reply), "%u\n", cid);
        else
            snprintf(reply, sizeof(reply), "error %s\n", errno_name(errno));
        if (dev >= 0)
            close(dev);
    } else if (strncmp(req, "dial ", 5) == 0) {
        char *end;
        unsigned long port = strtoul(req + 5, &end, 10);
        if (*end || port == 0 || port > 0xffffffffUL)
            snprintf(reply, sizeof(reply), "error bad port\n");
        else
            dial_host(id, (unsigned) port, reply, sizeof(reply));
    } else
        snprintf(reply, sizeof(reply), "error unknown request\n");
    write_all(fd, reply);
}

int main(int argc, char **argv)
{
    const char *id = NULL, *port_s = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            id = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port_s = argv[++i];
        else {
            fprintf(stderr, "usage: vsock-guest [--id ID] [--port PORT]\n");
            return 2;
        }
    }
    id_from_argv = id != NULL;
    if (!id)
        id = cmdline_value("vsockns.id");
    if (!id)
        id = "unnamed-guest";
    id = strdup(id); /* cmdline_value's buffer is reused */
    if (!port_s)
        port_s = cmdline_value("vsockns.port");
    unsigned port = port_s ? (unsigned) strtoul(port_s, NULL, 10) : 1234;

    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        printf("vsock-guest: socket: %s\n", errno_name(errno));
        return 1;
    }
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
        printf("vsock-guest: bind/listen on port %u: %s\n", port, errno_name(errno));
        return 1;
    }
    char idbuf[128];
    printf("VSOCK-GUEST-READY %s %u\n", id_from_argv ? id : current_id(id, idbuf, sizeof(idbuf)), port);
    fflush(stdout);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            printf("vsock-guest: accept: %s\n", errno_name(errno));
            sleep(1);
            continue;
        }
        serve_one(fd, id);
        close(fd);
    }
}
