/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fault.h"

#ifdef VSOCKNS_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void fault_point(const char *name)
{
    char armed[64] = "";
    FILE *f = fopen(FAULT_FILE, "re");
    if (!f)
        return;
    if (!fgets(armed, sizeof(armed), f))
        armed[0] = '\0';
    fclose(f);
    armed[strcspn(armed, "\n")] = '\0';
    if (strcmp(armed, name) != 0)
        return;
    unlink(FAULT_FILE);
    log_notice("Fault point %s reached: killing vsocknsd with SIGKILL", name);
    raise(SIGKILL);
}
#endif
