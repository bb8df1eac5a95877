/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hook-domain.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VSOCK_CID_MIN 3u
#define VSOCK_CID_MAX 0xfffffffeu

static int __attribute__((format(printf, 4, 5))) fail(char *err, size_t size, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return r;
}

static bool is_element(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0;
}

static const xmlNode *first_child(const xmlNode *parent, const char *name)
{
    for (const xmlNode *n = parent->children; n; n = n->next)
        if (is_element(n, name))
            return n;
    return NULL;
}

/* Copies an element's text, which must fit and hold no control characters. */
static int copy_text(const xmlNode *n, char *buf, size_t size)
{
    xmlChar *text = xmlNodeGetContent(n);
    if (!text)
        return -EINVAL;
    size_t len = strlen((const char *) text);
    bool ok = len > 0 && len < size;
    for (size_t i = 0; ok && i < len; i++)
        ok = text[i] >= 0x20 && text[i] != 0x7f;
    if (ok)
        memcpy(buf, text, len + 1);
    xmlFree(text);
    return ok ? 0 : -EINVAL;
}

static bool uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    }
    return true;
}

/* <cid auto='yes|no' address='N'/>: both optional, as in libvirt's schema. */
static int parse_cid(const xmlNode *cid, HookDomain *d, char *err, size_t size)
{
    xmlChar *autoattr = xmlGetProp(cid, (const xmlChar *) "auto");
    xmlChar *address = xmlGetProp(cid, (const xmlChar *) "address");
    int r = 0;

    if (autoattr && strcmp((const char *) autoattr, "yes") && strcmp((const char *) autoattr, "no"))
        r = fail(err, size, -EINVAL, "<cid auto='%.16s'> is neither 'yes' nor 'no'", (const char *) autoattr);
    d->cid_auto = autoattr && strcmp((const char *) autoattr, "yes") == 0;
    if (r == 0 && address) {
        const char *s = (const char *) address;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *s == '-' || *s == '+' || *end || errno || v < VSOCK_CID_MIN || v > VSOCK_CID_MAX)
            r = fail(err, size, -EINVAL, "<cid address='%.32s'> is not a guest CID (3 to 4294967294)", s);
        else
            d->cid = (uint32_t) v;
    }
    xmlFree(autoattr);
    xmlFree(address);
    return r;
}

static int parse_domain(const xmlNode *root, HookDomain *d, char *err, size_t size)
{
    if (!is_element(root, "domain"))
        return fail(err, size, -EINVAL, "the XML is not a <domain> (its root is <%.32s>)", (const char *) root->name);

    const xmlNode *name = first_child(root, "name");
    if (!name || copy_text(name, d->name, sizeof(d->name)) < 0)
        return fail(err, size, -EINVAL, "the domain has no usable <name>");
    const xmlNode *uuid = first_child(root, "uuid");
    if (!uuid || copy_text(uuid, d->uuid, sizeof(d->uuid)) < 0 || !uuid_valid(d->uuid))
        return fail(err, size, -EINVAL, "domain '%s' has no valid <uuid>", d->name);

    const xmlNode *devices = first_child(root, "devices");
    const xmlNode *vsock = devices ? first_child(devices, "vsock") : NULL;
    if (!vsock)
        return 0;
    d->has_vsock = true;
    /* A <vsock> without <cid> is auto='no' with no address in libvirt's
     * eyes; libvirt refuses to start it, so there is nothing to check. */
    const xmlNode *cid = first_child(vsock, "cid");
    return cid ? parse_cid(cid, d, err, size) : 0;
}

int hook_domain_parse(const char *xml, size_t len, HookDomain *ret, char *err, size_t err_size)
{
    *ret = (HookDomain) { .has_vsock = false };
    if (len == 0)
        return fail(err, err_size, -EINVAL, "no domain XML on stdin");
    if (len > HOOK_XML_MAX)
        return fail(err, err_size, -E2BIG, "the domain XML is larger than %u bytes", HOOK_XML_MAX);

    /* No network, no entity expansion, no DTD loading: the document is data. */
    xmlDoc *doc = xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *x = xmlGetLastError();
        return fail(err, err_size, -EINVAL, "the domain XML is malformed%s%.*s", x && x->message ? ": " : "",
                    x && x->message ? (int) strcspn(x->message, "\n") : 0, x && x->message ? x->message : "");
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    int r = root ? parse_domain(root, ret, err, err_size) : fail(err, err_size, -EINVAL, "the domain XML is empty");
    xmlFreeDoc(doc);
    return r;
}
