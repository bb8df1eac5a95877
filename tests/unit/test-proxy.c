/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsocknsctl connect's stdio proxy (ctl/proxy.c) against a peer in a child
 * process: end of input half-closes the connection and the peer's answer
 * still comes through; the peer's end ends the proxy with 0; a reset is
 * -ECONNRESET; a large transfer arrives whole in both directions.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/proxy.h"

/* Reads fd to its end. */
static size_t read_all(int fd, char *buf, size_t size)
{
    size_t n = 0;
    ssize_t k;
    while (n < size && (k = read(fd, buf + n, size - n)) > 0)
        n += (size_t) k;
    return n;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, buf, len);
        if (k <= 0)
            _exit(3);
        buf += k;
        len -= (size_t) k;
    }
}

/* A child runs peer(fd) on the other end of a stream socket pair; the
 * proxy runs between in and out here. */
static int run(int in, int out, void (*peer)(int fd), pid_t *ret_child)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(sv[0]);
        peer(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    int r = proxy_run(in, out, sv[0]);
    close(sv[0]);
    *ret_child = child;
    return r;
}

static void child_exited_0(pid_t child)
{
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Reads the request to its end (the proxy's half-close), then answers. */
static void peer_answers_after_eof(int fd)
{
    char buf[64];
    size_t n = read_all(fd, buf, sizeof(buf));
    if (n != 5 || memcmp(buf, "hello", 5) != 0)
        _exit(1);
    write_all(fd, "world", 5);
}

static void test_half_close(void **state)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    write_all(in[1], "hello", 5);
    close(in[1]);
    pid_t child;
    assert_int_equal(run(in[0], out[1], peer_answers_after_eof, &child), 0);
    close(out[1]);
    char buf[64];
    assert_int_equal(read_all(out[0], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "world", 5);
    child_exited_0(child);
    close(in[0]);
    close(out[0]);
}

/* The peer speaks first and closes: the proxy ends with 0 while its
 * input is still open. */
static void peer_greets(int fd)
{
    write_all(fd, "greeting", 8);
}

static void test_peer_closes(void **state)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t child;
    assert_int_equal(run(in[0], out[1], peer_greets, &child), 0);
    close(out[1]);
    char buf[64];
    assert_int_equal(read_all(out[0], buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "greeting", 8);
    child_exited_0(child);
    for (int i = 0; i < 2; i++)
        close(in[i]), close(out[i]);
}

/* The peer resets the connection (TCP, SO_LINGER 0): -ECONNRESET. */
static void test_reset(void **state)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *) &a, &len), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *) &a, sizeof(a)), 0);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(s); /* RST */
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(proxy_run(in[0], out[1], c), -ECONNRESET);
    close(c);
    close(l);
    for (int i = 0; i < 2; i++)
        close(in[i]), close(out[i]);
}

/* 4 MiB each way at once: neither direction waits for the other. */
#define BIG (4 * 1024 * 1024)
static void peer_echoes(int fd)
{
    char *buf = malloc(BIG);
    if (!buf)
        _exit(2);
    size_t n = 0;
    ssize_t k;
    while ((k = read(fd, buf, BIG)) > 0) {
        write_all(fd, buf, (size_t) k);
        n += (size_t) k;
    }
    _exit(n == BIG ? 0 : 1);
}

static void test_big_both_ways(void **state)
{
    int in[2], out[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
    pid_t feeder = fork();
    assert_true(feeder >= 0);
    if (feeder == 0) { /* writes 4 MiB into the proxy's input, then reads what comes out */
        close(in[0]);
        close(out[1]);
        pid_t writer = fork();
        if (writer == 0) {
            char *b = calloc(1, BIG);
            write_all(in[1], b, BIG);
            _exit(0);
        }
        close(in[1]);
        char *b = malloc(BIG);
        size_t n = read_all(out[0], b, BIG + 1);
        _exit(n == BIG ? 0 : 1);
    }
    close(in[1]);
    close(out[0]);
    pid_t child;
    assert_int_equal(run(in[0], out[1], peer_echoes, &child), 0);
    close(out[1]);
    close(in[0]);
    child_exited_0(child);
    child_exited_0(feeder);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_big_both_ways),
    };
    return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
