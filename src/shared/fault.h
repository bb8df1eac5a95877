/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Named failure points, compiled in only for tests (the vsocknsd-faults
 * binary, never installed): FAULT_POINT("after-fdstore") kills the daemon
 * with SIGKILL right there when the file FAULT_FILE (/run/vsockns-fault)
 * names that point. The file is removed first, so the restarted daemon runs
 * on. FAULT_STALL("name") instead stops right there until killed: a kernel
 * that never returns, as seen from a helper process; "name*" in the file
 * stops every process that reaches the point while the file says so, each
 * until killed; "name+" stops them until the file is removed, and then
 * they go on (a stall that lasts until the test releases it).
 * In every other build the points are nothing.
 */
#pragma once

#ifdef VSOCKNS_FAULT_INJECTION
#define FAULT_FILE "/run/vsockns-fault"
void fault_point(const char *name);
void fault_stall(const char *name);
#define FAULT_POINT(name) fault_point(name)
#define FAULT_STALL(name) fault_stall(name)
#else
#define FAULT_POINT(name) do { } while (0)
#define FAULT_STALL(name) do { } while (0)
#endif
