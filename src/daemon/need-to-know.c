/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "need-to-know.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/macro.h"

typedef struct Answer {
    uid_t uid;
    char name[NS_NAME_MAX + 1];
    VsockMode mode;            /* these three tell one namespace of a name from */
    uint64_t inode;            /* another made later under it (0 for ".host") */
    uint64_t created_usec;
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

static bool same(const Answer *a, uid_t uid, const Namespace *ns)
{
    if (a->uid != uid || !streq(a->name, ns_name(ns)))
        return false;
    if (!ns)
        return a->inode == 0 && a->created_usec == 0;
    return a->mode == ns->mode && a->inode == ns->inode && a->created_usec == ns->created_usec;
}

/* The unexpired answer about (uid, ns), or NULL. */
static const Answer *find(const NeedToKnow *k, uid_t uid, const Namespace *ns, uint64_t now)
{
    for (size_t i = 0; i < ELEMENTSOF(k->answers); i++)
        if (k->answers[i].until > now && same(&k->answers[i], uid, ns))
            return &k->answers[i];
    return NULL;
}

/* Where to keep an answer about (uid, ns): the slot of an older one about
 * the same pair; if uid has NEED_TO_KNOW_PER_UID answers, its own that
 * expires first; else a free or expired slot, or the one that expires
 * first. */
static Answer *slot_for(NeedToKnow *k, uid_t uid, const Namespace *ns, uint64_t now)
{
    Answer *any = NULL, *own = NULL;
    unsigned n_own = 0;
    for (size_t i = 0; i < ELEMENTSOF(k->answers); i++) {
        Answer *a = &k->answers[i];
        if (same(a, uid, ns))
            return a;
        if (a->until > now && a->uid == uid) {
            n_own++;
            if (!own || a->until < own->until)
                own = a;
        }
        if (!any || (any->until > now && a->until < any->until))
            any = a;
    }
    return n_own >= NEED_TO_KNOW_PER_UID ? own : any;
}

static void keep(NeedToKnow *k, uid_t uid, const Namespace *ns, bool allowed, uint64_t now)
{
    Answer *slot = slot_for(k, uid, ns, now);
    *slot = (Answer) { .uid = uid, .mode = ns ? ns->mode : VSOCK_MODE_GLOBAL, .inode = ns ? ns->inode : 0,
                       .created_usec = ns ? ns->created_usec : 0, .allowed = allowed, .until = now + k->keep_usec };
    snprintf(slot->name, sizeof(slot->name), "%s", ns_name(ns));
}

bool need_to_know_own(uid_t uid, const Lease *l)
{
    return uid == 0 || (uid != (uid_t) -1 && l->rec.uid == uid);
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
