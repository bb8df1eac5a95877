/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The files under /etc/vsockns: vsocknsd.conf, namespaces.d/NAME.conf and
 * libvirt-hook.conf. The first byte picks the parser. */
#include <stdio.h>

#include "core/manager.h"
#include "core/namespace-conf.h"
#include "fuzz-util.h"
#include "libvirt-hook/hook.h"
#include "shared/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    FILE *f = fmemopen((void *) (data + 1), size - 1, "r");
    if (!f && size > 1)
        return 0;
    if (!f)
        f = fopen("/dev/null", "re");
    switch (data[0] % 3) {
    case 0: {
        ManagerConfig c;
        manager_config_default(&c);
        Manager *m;
        if (manager_new(&c, &m) == 0) {
            manager_config_parse(m, f);
            manager_free(m);
        }
        break;
    }
    case 1: {
        NamespaceConf c = { .g2h_fallback = -1 };
        char problem[600];
        if (namespace_conf_parse(f, &c, problem, sizeof(problem)) && c.n_units > UNITS_MAX)
            abort();
        break;
    }
    default: {
        HookConfig c = { .timeout_ms = HOOK_TIMEOUT_MS_DEFAULT };
        FILE *sink = fopen("/dev/null", "we");
        hook_config_parse(f, "fuzz.conf", &c, sink ? sink : stderr);
        if (c.timeout_ms < 1000 || c.timeout_ms > 120000)
            abort();
        if (sink)
            fclose(sink);
        break;
    }
    }
    fclose(f);
    return 0;
}
