/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fake-netns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FAKE_DEV 42 /* nsfs and the placeholders' tmpfs: one device is enough */

void fake_netns_init(FakeNetns *f, const char *state_dir)
{
    *f = (FakeNetns) { .next_ino = 1000, .made_mode = "local", .state_dir = state_dir };
}

FakePin *fake_netns_find(FakeNetns *f, const char *path)
{
    for (size_t i = 0; i < f->n_pins; i++)
        if (strcmp(f->pins[i].path, path) == 0)
            return &f->pins[i];
    return NULL;
}

void fake_netns_remove(FakeNetns *f, const char *path)
{
    FakePin *p = fake_netns_find(f, path);
    if (p)
        *p = f->pins[--f->n_pins];
}

NetnsId fake_netns_plant(FakeNetns *f, const char *path, bool is_ns)
{
    FakePin *p = fake_netns_find(f, path);
    if (!p) {
        p = &f->pins[f->n_pins++];
        snprintf(p->path, sizeof(p->path), "%s", path);
    }
    p->is_ns = is_ns;
    p->id = (NetnsId) { .dev = FAKE_DEV, .ino = f->next_ino++ };
    return p->id;
}

static void copy_state(FakeNetns *f)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/namespaces.json", f->state_dir);
    FILE *file = fopen(path, "re");
    size_t n = file ? fread(f->state_at_made, 1, sizeof(f->state_at_made) - 1, file) : 0;
    f->state_at_made[n] = '\0';
    if (file)
        fclose(file);
}

/* Does it all at once: the job it returns is already over. */
static int fake_create_begin(void *userdata, NsWorkers *w, int parent_fd, const NetnsSetup *setup, NetnsJob **ret)
{
    netns_record_fn record = setup->record;
    void *record_userdata = setup->record_userdata;
    FakeNetns *f = userdata;
    f->creates++;
    if (fake_netns_find(f, setup->pin_path))
        return -EEXIST;
    NetnsJob *j = netns_job_new();
    if (!j)
        return -ENOMEM;
    j->finished = true;
    NetnsCreated *c = &j->created;
    c->placeholder = fake_netns_plant(f, setup->pin_path, false);
    int r = record ? record(record_userdata, NETNS_STAGE_PLACEHOLDER, c) : 0;
    if (r < 0) {
        fake_netns_remove(f, setup->pin_path);
        free(j);
        return r;
    }
    snprintf(c->ns_mode, sizeof(c->ns_mode), "%s", f->made_mode);
    c->id = (NetnsId) { .dev = FAKE_DEV, .ino = f->next_ino++ };
    r = record ? record(record_userdata, NETNS_STAGE_MADE, c) : 0;
    copy_state(f);
    if (r < 0) {
        fake_netns_remove(f, setup->pin_path);
        j->result = r;
    } else {
        FakePin *p = fake_netns_find(f, setup->pin_path);
        p->is_ns = true;
        p->id = c->id;
        j->ns_fd = eventfd(0, EFD_CLOEXEC);
    }
    *ret = j;
    return 1;
}

static int fake_open_verified(void *userdata, const char *path, const NetnsId *want, NetnsId *ret)
{
    FakePin *p = fake_netns_find(userdata, path);
    if (!p)
        return -ENOENT;
    if (!p->is_ns)
        return -ENOTCONN;
    if (want && (p->id.ino != want->ino || (want->dev && p->id.dev != want->dev)))
        return -ESTALE;
    if (ret)
        *ret = p->id;
    return eventfd(0, EFD_CLOEXEC);
}

static int fake_path_id(void *userdata, const char *path, NetnsId *ret, bool *ret_is_ns)
{
    FakePin *p = fake_netns_find(userdata, path);
    if (!p)
        return -ENOENT;
    *ret = p->id;
    *ret_is_ns = p->is_ns;
    return 0;
}

static int fake_unpin_verified(void *userdata, const char *path, const NetnsId *id)
{
    FakeNetns *f = userdata;
    FakePin *p = fake_netns_find(f, path);
    if (!p)
        return -ENOENT;
    if (!p->is_ns || p->id.ino != id->ino)
        return -ESTALE;
    fake_netns_remove(f, path);
    f->unpins++;
    return 0;
}

static int fake_remove_placeholder(void *userdata, const char *path, const NetnsId *id)
{
    FakeNetns *f = userdata;
    FakePin *p = fake_netns_find(f, path);
    if (!p)
        return -ENOENT;
    if (p->is_ns || p->id.ino != id->ino || p->id.dev != id->dev)
        return -ESTALE;
    fake_netns_remove(f, path);
    return 0;
}

static int fake_sysctl_read(void *userdata, NsWorkers *w, int netns_fd, const char *key, char *buf, size_t size)
{
    FakeNetns *f = userdata;
    snprintf(buf, size, "%s", strcmp(key, "ns_mode") == 0 ? f->made_mode : "1");
    return 0;
}

const NetnsOps fake_netns_ops = {
    .create_begin = fake_create_begin,
    .open_verified = fake_open_verified,
    .path_id = fake_path_id,
    .unpin_verified = fake_unpin_verified,
    .remove_placeholder = fake_remove_placeholder,
    .sysctl_read = fake_sysctl_read,
};
