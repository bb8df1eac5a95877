/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Named failure points, compiled in only for tests (the vsocknsd-faults
 * binary, never installed): FAULT_POINT("after-fdstore") kills the daemon
 * with SIGKILL right there when the file VSOCKNS_FAULT_FILE
 * (/run/vsockns-fault) names that point. The file is removed first, so the
 * restarted daemon runs on. In every other build the points are nothing.
 */
#pragma once

#ifdef VSOCKNS_FAULT_INJECTION
#define FAULT_FILE "/run/vsockns-fault"
void fault_point(const char *name);
#define FAULT_POINT(name) fault_point(name)
#else
#define FAULT_POINT(name) do { } while (0)
#endif
