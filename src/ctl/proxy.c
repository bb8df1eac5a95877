/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "proxy.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_BUFFER (64 * 1024)

/* One direction: from `from` into buf, then out to `to`. */
typedef struct Pipe {
    int from, to;
    char buf[PROXY_BUFFER];
    size_t start, end;  /* the bytes still to write */
    bool eof;           /* from has ended: nothing more to read */
    bool closed;        /* to has been told (shut down) */
} Pipe;

/* Tells `to` that no more is coming: a socket is half-closed, anything
 * else (a pipe, a terminal) is left to the end of the process. */
static void pipe_close(Pipe *p)
{
    if (p->closed)
        return;
    p->closed = true;
    (void) shutdown(p->to, SHUT_WR); /* ENOTSOCK for a pipe or a file: nothing to do */
}

static int pipe_read(Pipe *p)
{
    ssize_t n = read(p->from, p->buf, sizeof(p->buf));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        p->eof = true;
    p->start = 0;
    p->end = (size_t) n;
    return 0;
}

static int pipe_write(Pipe *p)
{
    ssize_t n = write(p->to, p->buf + p->start, p->end - p->start);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    p->start += (size_t) n;
    return 0;
}

int proxy_run(int in, int out, int sock)
{
    static Pipe up, down; /* up: in -> sock; down: sock -> out */
    up = (Pipe) { .from = in, .to = sock };
    down = (Pipe) { .from = sock, .to = out };
    Pipe *pipes[2] = { &up, &down };
    for (;;) {
        for (int i = 0; i < 2; i++)
            if (pipes[i]->eof && pipes[i]->start == pipes[i]->end)
                pipe_close(pipes[i]);
        /* Done when the peer has closed and all it sent is out; what is
         * left of in then has nowhere to go. */
        if (down.closed)
            return 0;
        struct pollfd fds[4];
        Pipe *owner[4];
        bool reading[4];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++) {
            Pipe *p = pipes[i];
            if (p->start < p->end) {
                fds[n] = (struct pollfd) { .fd = p->to, .events = POLLOUT };
                owner[n] = p, reading[n++] = false;
            } else if (!p->eof) {
                fds[n] = (struct pollfd) { .fd = p->from, .events = POLLIN };
                owner[n] = p, reading[n++] = true;
            }
        }
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!fds[i].revents)
                continue;
            int r = reading[i] ? pipe_read(owner[i]) : pipe_write(owner[i]);
            if (r < 0 && owner[i] == &up && !reading[i] && r == -EPIPE)
                r = -ECONNRESET; /* the peer went away while we sent */
            if (r < 0)
                return r;
        }
    }
}
