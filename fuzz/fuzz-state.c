/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state files under /run/vsockns: namespaces.json and one JSON record
 * per lease. A file the daemon did not write (or a torn one) must be
 * refused or cleaned, never crash the restart that reads it. */
#include "core/state.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    if (!s)
        return 0;
    State st = { .namespaces = NULL };
    size_t dropped = 0;
    if (state_from_json(s, &st, &dropped) == 0) {
        /* What was kept must survive a round trip unchanged. */
        char *again = state_to_json(&st);
        State st2 = { .namespaces = NULL };
        size_t dropped2 = 0;
        if (again && (state_from_json(again, &st2, &dropped2) != 0 || dropped2 != 0 ||
                      st2.n_namespaces != st.n_namespaces))
            abort();
        free(again);
        state_free(&st2);
        state_free(&st);
    }
    LeaseRecord rec;
    (void) lease_record_from_json(s, &rec);
    free(s);
    return 0;
}
