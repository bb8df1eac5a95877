/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stdio proxy of `vsocknsctl connect`: bytes from in go to sock, bytes
 * from sock go to out, until both directions are done. End of file on in
 * half-closes sock (shutdown SHUT_WR), so the peer sees its end of input
 * and can still answer; the proxy ends when the peer has closed and all it
 * sent has been written to out (shut down too if it is a socket), whatever
 * is left of in. Each direction has a 64 KiB buffer: a slow writer stops
 * the reads on its side, never the other direction. Not reentrant (the
 * buffers are static: one proxy per process).
 */
#pragma once

/* 0 when the peer closed cleanly (and in was done); -ECONNRESET when it
 * reset the connection; another negative errno for a failed read or
 * write. in, out and sock are left open (out may be shut down). */
int proxy_run(int in, int out, int sock);
