/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libvirt hook needs from a domain's XML: who it is and its vsock CID. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libvirt hands hooks the whole domain XML; more than this is not a domain. */
#define HOOK_XML_MAX (16u * 1024 * 1024)

typedef struct HookDomain {
    char name[256];
    char uuid[37];
    bool has_vsock;
    bool cid_auto;       /* <cid auto='yes'>: libvirt picks (and may re-pick) it */
    uint32_t cid;        /* the address, 0 while libvirt has not picked one */
} HookDomain;

/*
 * Parses a domain XML as libvirt writes it (virsh dumpxml, or a hook's
 * stdin). 0 on success; -EINVAL (malformed, not a <domain>, a bad CID) or
 * -E2BIG with a sentence in err.
 */
int hook_domain_parse(const char *xml, size_t len, HookDomain *ret, char *err, size_t err_size);
