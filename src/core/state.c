/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/macro.h"

char *state_to_json(const Namespace *list, size_t n)
{
    json_object *root = json_object_new_object();
    json_object *arr = json_object_new_array();
    if (!root || !arr) {
        json_object_put(root);
        json_object_put(arr);
        return NULL;
    }
    json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
    json_object_object_add(root, "namespaces", arr);

    for (size_t i = 0; i < n; i++) {
        const Namespace *ns = &list[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(ns->name));
        json_object_object_add(o, "mode", json_object_new_string(vsock_mode_to_string(ns->mode)));
        if (ns->parent[0])
            json_object_object_add(o, "parent", json_object_new_string(ns->parent));
        if (ns->g2h_fallback >= 0)
            json_object_object_add(o, "g2h_fallback", json_object_new_boolean(ns->g2h_fallback));
        json_object_object_add(o, "inode", json_object_new_uint64(ns->inode));
        json_object_object_add(o, "created_usec", json_object_new_uint64(ns->created_usec));
        json_object_array_add(arr, o);
    }

    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(root);
    return copy;
}

static int namespace_from_json(json_object *o, Namespace *ns)
{
    json_object *v;
    *ns = (Namespace) { .g2h_fallback = -1 };

    if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string) ||
        !ns_name_is_valid(json_object_get_string(v)))
        return -EINVAL;
    snprintf(ns->name, sizeof(ns->name), "%s", json_object_get_string(v));

    if (!json_object_object_get_ex(o, "mode", &v) || !json_object_is_type(v, json_type_string))
        return -EINVAL;
    ns->mode = vsock_mode_from_string(json_object_get_string(v));
    if (ns->mode == VSOCK_MODE_INVALID)
        return -EINVAL;

    if (json_object_object_get_ex(o, "parent", &v)) {
        if (!json_object_is_type(v, json_type_string) || !ns_name_is_valid(json_object_get_string(v)))
            return -EINVAL;
        snprintf(ns->parent, sizeof(ns->parent), "%s", json_object_get_string(v));
    }
    if (json_object_object_get_ex(o, "g2h_fallback", &v))
        ns->g2h_fallback = json_object_get_boolean(v);
    if (!json_object_object_get_ex(o, "inode", &v) || !json_object_is_type(v, json_type_int))
        return -EINVAL;
    ns->inode = json_object_get_uint64(v);
    if (json_object_object_get_ex(o, "created_usec", &v))
        ns->created_usec = json_object_get_uint64(v);
    return 0;
}

int state_from_json(const char *text, Namespace **ret_list, size_t *ret_n, size_t *ret_dropped)
{
    json_object *root = json_tokener_parse(text);
    json_object *arr;
    if (!root || !json_object_object_get_ex(root, "namespaces", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        json_object_put(root);
        return -EBADMSG;
    }

    size_t n = json_object_array_length(arr), kept = 0, dropped = 0;
    Namespace *list = calloc(n ? n : 1, sizeof(Namespace));
    if (!list) {
        json_object_put(root);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (namespace_from_json(json_object_array_get_idx(arr, i), &list[kept]) < 0) {
            dropped++;
            continue;
        }
        /* A name twice would mean two records for one pin: keep the first. */
        bool dup = false;
        for (size_t j = 0; j < kept; j++)
            dup = dup || streq(list[j].name, list[kept].name);
        if (dup)
            dropped++;
        else
            kept++;
    }
    json_object_put(root);
    *ret_list = list;
    *ret_n = kept;
    if (ret_dropped)
        *ret_dropped = dropped;
    return 0;
}

int write_file_atomic(const char *dir, const char *name, const char *content)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.#%s.XXXXXX", dir, name);

    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(content), done = 0;
    while (done < len) {
        ssize_t n = write(fd, content + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        done += n;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, final) < 0)
        goto fail;

    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;

fail:;
    int r = -errno;
    unlink(tmp);
    return r;
}

int state_save(const char *dir, const Namespace *list, size_t n)
{
    _cleanup_free_ char *text = state_to_json(list, n);
    if (!text)
        return -ENOMEM;
    return write_file_atomic(dir, STATE_FILE, text);
}

int state_load(const char *dir, Namespace **ret_list, size_t *ret_n, size_t *ret_dropped)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);

    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    _cleanup_free_ char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    if (!mem)
        return -ENOMEM;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    if (!text)
        return -ENOMEM;
    return state_from_json(text, ret_list, ret_n, ret_dropped);
}
