/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fault.h"

#ifdef VSOCKNS_FAULT_INJECTION
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

/* What the file says ("" if there is none). */
static void read_armed(char *armed, size_t size)
{
    armed[0] = '\0';
    FILE *f = fopen(FAULT_FILE, "re");
    if (!f)
        return;
    if (!fgets(armed, (int) size, f))
        armed[0] = '\0';
    fclose(f);
    armed[strcspn(armed, "\n")] = '\0';
}

/* Whether the file names this point with suffix after it. */
static bool names_with(const char *name, const char *suffix)
{
    char armed[64];
    read_armed(armed, sizeof(armed));
    size_t len = strlen(name);
    return strncmp(armed, name, len) == 0 && streq(armed + len, suffix);
}

/* Whether the file names this point; if so it is consumed, unless it
 * names it with a trailing '*' and staying is allowed (stall points). */
static bool armed_for(const char *name, bool may_stay)
{
    char armed[64];
    read_armed(armed, sizeof(armed));
    size_t len = strlen(name);
    if (may_stay && strncmp(armed, name, len) == 0 && streq(armed + len, "*"))
        return true;
    if (!streq(armed, name))
        return false;
    unlink(FAULT_FILE);
    return true;
}

void fault_stall(const char *name)
{
    if (names_with(name, "+")) {
        log_notice("Fault point %s reached: stalling until %s is removed", name, FAULT_FILE);
        while (names_with(name, "+"))
            usleep(20 * 1000);
        return;
    }
    if (!armed_for(name, true))
        return;
    log_notice("Fault point %s reached: stalling until killed", name);
    for (;;)
        pause();
}

void fault_point(const char *name)
{
    if (!armed_for(name, false))
        return;
    log_notice("Fault point %s reached: killing vsocknsd with SIGKILL", name);
    raise(SIGKILL);
}
#endif
