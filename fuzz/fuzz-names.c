/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace names, owner labels, unit names and modes: every string a
 * caller can send that is checked before anything else happens. */
#include "core/attach.h"
#include "core/lease.h"
#include "core/name.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    if (!s)
        return 0;
    NameProblem p = ns_name_check(s);
    (void) name_problem_to_string(p);
    /* A name the check accepts must be what ns_name_is_valid accepts. */
    if ((p == NAME_OK) != ns_name_is_valid(s))
        abort();
    (void) lease_owner_problem(s);
    (void) attach_unit_problem(s);
    VsockMode m = vsock_mode_from_string(s);
    if (m != VSOCK_MODE_INVALID && strcmp(vsock_mode_to_string(m), s) != 0)
        abort();
    free(s);
    return 0;
}
