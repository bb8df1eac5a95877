/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state files under /run/vsockns: namespaces.json and one JSON record
 * per lease; and the packed copy of a lease record the fd store's vaults
 * carry. A file the daemon did not write (or a torn one) must be refused or
 * cleaned, never crash the restart that reads it. */
#include <stdlib.h>
#include <string.h>

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
    /* The raw bytes as a vault's record: what passes packs back the same. */
    if (lease_record_unpack(data, size, &rec) == 0) {
        char again[LEASE_RECORD_PACKED_MAX];
        LeaseRecord rec2;
        size_t n = lease_record_pack(&rec, again, sizeof(again));
        if (n != size || lease_record_unpack(again, n, &rec2) != 0 || lease_record_check(&rec2) != 0 ||
            rec2.cid != rec.cid || strcmp(rec2.ns, rec.ns) != 0 || strcmp(rec2.owner, rec.owner) != 0)
            abort();
    }
    return 0;
}
