/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the libFuzzer targets: inputs as NUL-terminated strings. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A copy of data with a NUL at the end (inputs may hold NULs themselves). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
