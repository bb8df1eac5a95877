/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "need-to-know.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/macro.h"

typedef struct Answer {
    uid_t uid;
    uint64_t inode;            /* 0: ".host" */
    char name[NS_NAME_MAX + 1];
    bool allowed;
    uint64_t until;            /* CLOCK_MONOTONIC usec; 0: a free slot */
} Answer;

struct NeedToKnow {
    uint64_t keep_usec;
    Answer answers[NEED_TO_KNOW_MAX];
};

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

NeedToKnow *need_to_know_new(uint64_t keep_usec)
{
    NeedToKnow *k = calloc(1, sizeof(NeedToKnow));
    if (k)
        k->keep_usec = keep_usec;
    return k;
}

NeedToKnow *need_to_know_free(NeedToKnow *k)
{
    free(k);
    return NULL;
}

static const char *ns_name(const Namespace *ns)
{
    return ns ? ns->name : NS_NAME_HOST;
}

static uint64_t ns_inode(const Namespace *ns)
{
    return ns ? ns->inode : 0;
}

/* The unexpired answer about (uid, ns), or NULL. */
static const Answer *find(const NeedToKnow *k, uid_t uid, const Namespace *ns, uint64_t now)
{
    uint64_t inode = ns_inode(ns);
    for (size_t i = 0; i < ELEMENTSOF(k->answers); i++) {
        const Answer *a = &k->answers[i];
        if (a->until > now && a->uid == uid && a->inode == inode && streq(a->name, ns_name(ns)))
            return a;
    }
    return NULL;
}

/* Keeps an answer: in the slot of an older one about the same pair, else
 * in a free or expired slot, else in the one that expires first. */
static void keep(NeedToKnow *k, uid_t uid, const Namespace *ns, bool allowed, uint64_t now)
{
    Answer *slot = NULL;
    for (size_t i = 0; i < ELEMENTSOF(k->answers); i++) {
        Answer *a = &k->answers[i];
        if (a->uid == uid && a->inode == ns_inode(ns) && streq(a->name, ns_name(ns))) {
            slot = a;
            break;
        }
        if (!slot || (slot->until > now && a->until < slot->until))
            slot = a;
    }
    *slot = (Answer) { .uid = uid, .inode = ns_inode(ns), .allowed = allowed, .until = now + k->keep_usec };
    snprintf(slot->name, sizeof(slot->name), "%s", ns_name(ns));
}

bool need_to_know_kept(const NeedToKnow *k, uid_t uid, const Namespace *ns)
{
    if (uid == 0)
        return true;
    if (uid == (uid_t) -1)
        return false;
    const Answer *a = find(k, uid, ns, now_usec());
    return a && a->allowed;
}

bool need_to_know_lease(const NeedToKnow *k, Manager *m, uid_t uid, const Lease *l)
{
    if (uid == 0 || (uid != (uid_t) -1 && l->rec.uid == uid))
        return true;
    return need_to_know_kept(k, uid, manager_find(m, l->rec.ns)); /* NULL: ".host" */
}

int need_to_know_check(NeedToKnow *k, PolkitRegistry *reg, sd_bus_message *m, uid_t uid, const Namespace *ns,
                       bool *ret, sd_bus_error *error)
{
    if (uid == 0) {
        *ret = true;
        return 1;
    }
    uint64_t now = now_usec();
    const Answer *a = uid == (uid_t) -1 ? NULL : find(k, uid, ns, now);
    /* A kept answer is used only for a call polkit was not asked about:
     * one it was asked about takes polkit's answer, and keeps it. */
    if (a && !polkit_is_answered(reg, m)) {
        *ret = a->allowed;
        return 1;
    }
    bool global = !ns || ns->mode != VSOCK_MODE_LOCAL;
    const char *details[] = { "verb", "list", "namespace", ns_name(ns), "mode", global ? "global" : "local",
                              "space", global ? "host" : ns_name(ns), NULL };
    bool allowed;
    int r = polkit_test(reg, m, POLKIT_ACTION_MANAGE_LEASES, details, &allowed, error);
    if (r <= 0)
        return r;
    if (uid != (uid_t) -1)
        keep(k, uid, ns, allowed, now);
    *ret = allowed;
    return 1;
}
