/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fault.h"

#ifdef VSOCKNS_FAULT_INJECTION
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Whether the file names this point; if so it is consumed. */
static bool armed_for(const char *name)
{
    char armed[64] = "";
    FILE *f = fopen(FAULT_FILE, "re");
    if (!f)
        return false;
    if (!fgets(armed, sizeof(armed), f))
        armed[0] = '\0';
    fclose(f);
    armed[strcspn(armed, "\n")] = '\0';
    if (strcmp(armed, name) != 0)
        return false;
    unlink(FAULT_FILE);
    return true;
}

void fault_stall(const char *name)
{
    if (!armed_for(name))
        return;
    log_notice("Fault point %s reached: stalling until killed", name);
    for (;;)
        pause();
}

void fault_point(const char *name)
{
    if (!armed_for(name))
        return;
    log_notice("Fault point %s reached: killing vsocknsd with SIGKILL", name);
    raise(SIGKILL);
}
#endif
