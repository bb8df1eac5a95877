/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What libvirt hands the hook: argv (the first line: OPERATION SUB-OPERATION)
 * and the domain XML (the rest). */
#include <stdio.h>

#include "fuzz-util.h"
#include "libvirt-hook/hook-domain.h"
#include "libvirt-hook/hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    if (!s)
        return 0;
    char *nl = strchr(s, '\n');
    const char *xml = nl ? nl + 1 : s;
    if (nl)
        *nl = '\0';
    char op[64] = "", subop[64] = "";
    if (nl)
        (void) sscanf(s, "%63s %63s", op, subop);
    HookOp what = hook_op_from_args(op, subop);
    (void) hook_op_to_string(what);

    HookDomain d;
    char err[512];
    size_t len = size - (size_t) (xml - s);
    if (hook_domain_parse(xml, len, &d, err, sizeof(err)) == 0) {
        if (d.has_vsock && d.cid != 0 && (d.cid < 3 || d.cid == UINT32_MAX))
            abort(); /* a CID the kernel would refuse got through */
        if (strlen(d.uuid) != 36 || !d.name[0])
            abort();
        char owner[320];
        hook_owner_label(&d, owner, sizeof(owner));
    }
    free(s);
    return 0;
}
