/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "lease.h"
#include "namespace-table.h"
#include "shared/log.h"
#include "shared/macro.h"

void state_free(State *s)
{
    for (size_t i = 0; i < s->n_namespaces; i++)
        namespace_free(s->namespaces[i]); /* NULL: taken by the caller */
    free(s->namespaces);
    *s = (State) {};
}

static json_object *namespace_to_json(const Namespace *ns)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(ns->name));
    json_object_object_add(o, "mode", json_object_new_string(vsock_mode_to_string(ns->mode)));
    if (ns->parent[0])
        json_object_object_add(o, "parent", json_object_new_string(ns->parent));
    if (ns->g2h_fallback >= 0)
        json_object_object_add(o, "g2h_fallback", json_object_new_boolean(ns->g2h_fallback));
    json_object_object_add(o, "inode", json_object_new_uint64(ns->inode));
    if (ns->dev)
        json_object_object_add(o, "dev", json_object_new_uint64(ns->dev));
    if (ns->placeholder_ino) {
        json_object_object_add(o, "placeholder_dev", json_object_new_uint64(ns->placeholder_dev));
        json_object_object_add(o, "placeholder_inode", json_object_new_uint64(ns->placeholder_ino));
    }
    json_object_object_add(o, "created_usec", json_object_new_uint64(ns->created_usec));
    if (ns->uid)
        json_object_object_add(o, "uid", json_object_new_uint64(ns->uid));
    if (ns->pending)
        json_object_object_add(o, "pending", json_object_new_boolean(true));
    return o;
}

static json_object *lease_to_json(const LeaseRecord *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "namespace", json_object_new_string(l->ns));
    json_object_object_add(o, "cid", json_object_new_uint64(l->cid));
    json_object_object_add(o, "owner", json_object_new_string(l->owner));
    json_object_object_add(o, "uid", json_object_new_uint64(l->uid));
    json_object_object_add(o, "pid", json_object_new_int64(l->pid));
    json_object_object_add(o, "acquired_usec", json_object_new_uint64(l->acquired_usec));
    json_object_object_add(o, "reserved", json_object_new_boolean(l->reserved));
    if (l->persist)
        json_object_object_add(o, "persist", json_object_new_boolean(true));
    if (l->bind_pid > 0) {
        json_object_object_add(o, "bind_pid", json_object_new_int64(l->bind_pid));
        json_object_object_add(o, "bind_start_time", json_object_new_uint64(l->bind_start_time));
    }
    return o;
}

char *state_to_json(const State *st)
{
    json_object *root = json_object_new_object();
    json_object *namespaces = json_object_new_array();
    if (!root || !namespaces) {
        json_object_put(root);
        json_object_put(namespaces);
        return NULL;
    }
    json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
    json_object_object_add(root, "namespaces", namespaces);
    for (size_t i = 0; i < st->n_namespaces; i++)
        json_object_array_add(namespaces, namespace_to_json(st->namespaces[i]));

    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(root);
    return copy;
}

static bool get_string(json_object *o, const char *key, const char **ret)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    *ret = json_object_get_string(v);
    return true;
}

static bool get_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    errno = 0;
    uint64_t u = json_object_get_uint64(v);
    if (errno != 0 || u > max || json_object_get_int64(v) < 0)
        return false;
    *ret = u;
    return true;
}

/* Optional fields: absent is fine (0, *ret untouched), present with the
 * wrong type or out of range is -EINVAL. A record is never guessed at:
 * "pending": "no" must not read as true. */
static int get_opt_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret)
{
    if (!json_object_object_get_ex(o, key, NULL))
        return 0;
    return get_uint(o, key, max, ret) ? 1 : -EINVAL;
}

static int get_opt_bool(json_object *o, const char *key, bool *ret)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    *ret = json_object_get_boolean(v);
    return 1;
}

static int namespace_from_json(json_object *o, Namespace *ns)
{
    const char *str;
    bool b = false;
    *ns = (Namespace) { .g2h_fallback = -1, .fd = -1 };

    if (!get_string(o, "name", &str) || !ns_name_is_valid(str))
        return -EINVAL;
    snprintf(ns->name, sizeof(ns->name), "%s", str);
    if (!get_string(o, "mode", &str) || (ns->mode = vsock_mode_from_string(str)) == VSOCK_MODE_INVALID)
        return -EINVAL;
    if (json_object_object_get_ex(o, "parent", NULL)) {
        if (!get_string(o, "parent", &str) || !ns_name_is_valid(str))
            return -EINVAL;
        snprintf(ns->parent, sizeof(ns->parent), "%s", str);
    }
    int r = get_opt_bool(o, "g2h_fallback", &b);
    if (r < 0)
        return r;
    if (r > 0)
        ns->g2h_fallback = b;
    if (get_opt_bool(o, "pending", &ns->pending) < 0)
        return -EINVAL;
    if (!get_uint(o, "inode", UINT64_MAX, &ns->inode) && !ns->pending)
        return -EINVAL;
    if (get_opt_uint(o, "created_usec", UINT64_MAX, &ns->created_usec) < 0 ||
        get_opt_uint(o, "dev", UINT64_MAX, &ns->dev) < 0 ||
        get_opt_uint(o, "placeholder_dev", UINT64_MAX, &ns->placeholder_dev) < 0 ||
        get_opt_uint(o, "placeholder_inode", UINT64_MAX, &ns->placeholder_ino) < 0)
        return -EINVAL;
    uint64_t uid = 0;
    if (get_opt_uint(o, "uid", UINT32_MAX - 1, &uid) < 0)
        return -EINVAL;
    ns->uid = (uid_t) uid;
    return 0;
}

int lease_record_check(const LeaseRecord *l)
{
    if (!memchr(l->ns, 0, sizeof(l->ns)) || (!ns_name_is_valid(l->ns) && strcmp(l->ns, NS_NAME_HOST) != 0))
        return -EINVAL;
    if (l->cid < 3 || l->cid == UINT32_MAX)
        return -EINVAL;
    /* The same rule as at AcquireLease: a record must not smuggle in a
     * label the bus would have refused. */
    if (!memchr(l->owner, 0, sizeof(l->owner)) || lease_owner_problem(l->owner))
        return -EINVAL;
    if (l->pid < 0 || l->bind_pid < 0)
        return -EINVAL;
    return 0;
}

static int lease_from_json(json_object *o, LeaseRecord *l)
{
    const char *str;
    uint64_t u = 0;
    json_object *v;
    *l = (LeaseRecord) {};

    if (!get_string(o, "namespace", &str) || (!ns_name_is_valid(str) && strcmp(str, NS_NAME_HOST) != 0))
        return -EINVAL;
    snprintf(l->ns, sizeof(l->ns), "%s", str);
    if (!get_uint(o, "cid", UINT32_MAX, &u) || u < 3 || u == UINT32_MAX)
        return -EINVAL;
    l->cid = (uint32_t) u;
    /* The same rule as at AcquireLease: a file must not smuggle in a label
     * the bus would have refused. */
    if (!get_string(o, "owner", &str) || lease_owner_problem(str))
        return -EINVAL;
    snprintf(l->owner, sizeof(l->owner), "%s", str);
    if (!get_uint(o, "uid", UINT32_MAX, &u))
        return -EINVAL;
    l->uid = (uid_t) u;
    if (get_opt_uint(o, "pid", INT32_MAX, &u) > 0)
        l->pid = (pid_t) u;
    else if (json_object_object_get_ex(o, "pid", NULL))
        return -EINVAL;
    if (get_opt_uint(o, "acquired_usec", UINT64_MAX, &l->acquired_usec) < 0)
        return -EINVAL;
    if (!json_object_object_get_ex(o, "reserved", &v) || !json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    l->reserved = json_object_get_boolean(v);
    if (get_opt_bool(o, "persist", &l->persist) < 0)
        return -EINVAL;
    int r = get_opt_uint(o, "bind_pid", INT32_MAX, &u);
    if (r < 0 || (r > 0 && u == 0))
        return -EINVAL;
    if (r > 0) {
        l->bind_pid = (pid_t) u;
        if (get_uint(o, "bind_start_time", UINT64_MAX, &l->bind_start_time) == false)
            return -EINVAL;
    }
    return lease_record_check(l);
}

/* A record as the fd store's vaults carry it (lease-vaults.c), next to its
 * fd: fixed-width fields, no padding left to chance. */
#define PACKED_MAGIC 0x31524c56u /* "VLR1" */
typedef struct PackedLease {
    uint32_t magic;
    uint32_t cid;
    uint32_t uid;
    int32_t pid;
    int32_t bind_pid;
    uint8_t reserved, persist, pad[2];
    uint64_t acquired_usec;
    uint64_t bind_start_time;
    uint64_t file_ino;
    char ns[NS_NAME_MAX + 1];
    char owner[LEASE_OWNER_MAX + 1];
} PackedLease;

_Static_assert(sizeof(PackedLease) <= LEASE_RECORD_PACKED_MAX, "LEASE_RECORD_PACKED_MAX too small");

size_t lease_record_pack(const LeaseRecord *l, void *buf, size_t size)
{
    if (size < sizeof(PackedLease))
        return 0;
    PackedLease p;
    memset(&p, 0, sizeof(p)); /* padding too: it goes out whole */
    p.magic = PACKED_MAGIC;
    p.cid = l->cid;
    p.uid = l->uid;
    p.pid = l->pid;
    p.bind_pid = l->bind_pid;
    p.reserved = l->reserved;
    p.persist = l->persist;
    p.acquired_usec = l->acquired_usec;
    p.bind_start_time = l->bind_start_time;
    p.file_ino = l->file_ino;
    memcpy(p.ns, l->ns, sizeof(p.ns));
    memcpy(p.owner, l->owner, sizeof(p.owner));
    memcpy(buf, &p, sizeof(p));
    return sizeof(p);
}

int lease_record_unpack(const void *buf, size_t size, LeaseRecord *ret)
{
    PackedLease p;
    if (size != sizeof(p))
        return -EBADMSG;
    memcpy(&p, buf, sizeof(p));
    if (p.magic != PACKED_MAGIC || p.reserved > 1 || p.persist > 1)
        return -EBADMSG;
    LeaseRecord l = {
        .cid = p.cid,
        .uid = p.uid,
        .pid = p.pid,
        .bind_pid = p.bind_pid,
        .reserved = p.reserved,
        .persist = p.persist,
        .acquired_usec = p.acquired_usec,
        .bind_start_time = p.bind_start_time,
        .file_ino = p.file_ino,
    };
    memcpy(l.ns, p.ns, sizeof(l.ns));
    memcpy(l.owner, p.owner, sizeof(l.owner));
    if (lease_record_check(&l) < 0)
        return -EBADMSG;
    *ret = l;
    return 0;
}

/* The "namespaces" array: each valid entry as its own object. A name twice
 * would mean two records for one pin: the first is kept. */
static int parse_namespaces(json_object *root, State *st, size_t *dropped)
{
    json_object *arr;
    if (!json_object_object_get_ex(root, "namespaces", &arr) || !json_object_is_type(arr, json_type_array))
        return -EBADMSG;
    size_t n = json_object_array_length(arr);
    NamespaceTable seen = {};
    int r = 0;
    st->namespaces = calloc(n ? n : 1, sizeof(Namespace *));
    if (!st->namespaces)
        return -ENOMEM;
    for (size_t i = 0; i < n && r >= 0; i++) {
        Namespace item;
        if (namespace_from_json(json_object_array_get_idx(arr, i), &item) < 0) {
            log_warning("Dropping entry %zu of \"namespaces\" in the state: a field is missing, of the wrong "
                        "type or not valid", i);
            (*dropped)++;
            continue;
        }
        if (ns_table_find(&seen, item.name)) {
            (*dropped)++;
            continue;
        }
        Namespace *ns = namespace_new(&item);
        r = ns ? ns_table_add(&seen, ns) : -ENOMEM;
        if (r < 0)
            namespace_free(ns);
        else
            st->namespaces[st->n_namespaces++] = ns;
    }
    ns_table_clear(&seen);
    return r;
}

int state_from_json(const char *text, State *ret, size_t *ret_dropped)
{
    json_object *root = json_tokener_parse(text);
    json_object *arr;
    size_t dropped = 0;
    State st = {};

    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "namespaces", &arr)) {
        json_object_put(root);
        return -EBADMSG;
    }
    int r = parse_namespaces(root, &st, &dropped);
    json_object_put(root);
    if (r < 0) {
        state_free(&st);
        return r;
    }
    *ret = st;
    if (ret_dropped)
        *ret_dropped = dropped;
    return 0;
}

int write_file_atomic(const char *dir, const char *name, const char *content)
{
    return write_file_atomic_mode(dir, name, content, 0600);
}

int write_file_atomic_mode(const char *dir, const char *name, const char *content, mode_t mode)
{
    return write_file_atomic_ino(dir, name, content, mode, NULL);
}

int write_file_atomic_ino(const char *dir, const char *name, const char *content, mode_t mode, uint64_t *ret_ino)
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
    /* State: 0600, the files name uids and pids of callers. */
    struct stat st;
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || (ret_ino && fstat(fd, &st) < 0) || rename(tmp, final) < 0)
        goto fail;
    if (ret_ino)
        *ret_ino = st.st_ino;

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

int state_dir_prepare(const char *dir, char *problem, size_t size)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(problem, size, "cannot create it: %s", strerror(errno));
        return -errno;
    }
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int r = -errno;
        snprintf(problem, size, "%s", r == -ENOTDIR || r == -ELOOP ? "it is not a directory (or is a symlink)"
                                                                   : strerror(-r));
        return r;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0700) {
        snprintf(problem, size, "it is mode %04o owned by uid %u; it must be mode 0700 owned by uid %u "
                 "(chmod 0700, chown, or remove it)", (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                 (unsigned) geteuid());
        return -EPERM;
    }
    return 0;
}

int state_save(const char *dir, const State *st)
{
    _cleanup_free_ char *text = state_to_json(st);
    if (!text)
        return -ENOMEM;
    return write_file_atomic(dir, STATE_FILE, text);
}

/* Reads a state file of ours at path (relative to dir_fd unless absolute):
 * a regular file, never through a symlink (someone who could plant one in
 * our directory should not make us read elsewhere), at most
 * STATE_FILE_SIZE_MAX bytes. */
static int read_file_at(int dir_fd, const char *path, char **ret)
{
    _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -EMEDIUMTYPE : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EMEDIUMTYPE;
    if (st.st_size > STATE_FILE_SIZE_MAX)
        return -EFBIG;
    _cleanup_free_ char *text = malloc(st.st_size + 1);
    if (!text)
        return -ENOMEM;
    size_t done = 0;
    while (done < (size_t) st.st_size) {
        ssize_t n = read(fd, text + done, st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += n;
    }
    text[done] = '\0';
    *ret = TAKE_PTR(text);
    return 0;
}

static int read_file(const char *path, char **ret)
{
    return read_file_at(AT_FDCWD, path, ret);
}

int state_load(const char *dir, State *ret, size_t *ret_dropped)
{
    char path[PATH_MAX];
    _cleanup_free_ char *text = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
    int r = read_file(path, &text);
    if (r < 0)
        return r;
    return state_from_json(text, ret, ret_dropped);
}

char *lease_record_to_json(const LeaseRecord *l)
{
    json_object *o = lease_to_json(l);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = s ? strdup(s) : NULL;
    json_object_put(o);
    return copy;
}

/* With a tokener of the caller's (reset here), or a new one if NULL. */
static int lease_record_parse(json_tokener *tok, const char *text, LeaseRecord *ret)
{
    json_object *o;
    if (tok) {
        json_tokener_reset(tok);
        o = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(o);
            o = NULL;
        }
    } else
        o = json_tokener_parse(text);
    int r = o && json_object_is_type(o, json_type_object) ? lease_from_json(o, ret) : -EBADMSG;
    json_object_put(o);
    return r;
}

int lease_record_from_json(const char *text, LeaseRecord *ret)
{
    return lease_record_parse(NULL, text, ret);
}

static void lease_file_name(const LeaseRecord *l, char *buf, size_t size)
{
    snprintf(buf, size, "%u@%s.json", l->cid, l->ns);
}

/* The CID and namespace a lease file's name gives (not checked further:
 * what is read or copied is matched against the name again). */
static bool lease_file_name_parse(const char *name, unsigned *ret_cid, char *ns, size_t ns_size)
{
    int at = 0;
    if (sscanf(name, "%u@%n", ret_cid, &at) != 1 || at == 0)
        return false;
    size_t len = strlen(name + at), suffix = STRLEN(".json");
    if (len <= suffix || len - suffix >= ns_size || !streq(name + at + len - suffix, ".json"))
        return false;
    memcpy(ns, name + at, len - suffix);
    ns[len - suffix] = '\0';
    return true;
}

int lease_record_save(const char *dir, LeaseRecord *l)
{
    char sub[PATH_MAX], name[NAME_MAX + 1];
    /* Until written, no file holds exactly this record. */
    l->file_ino = 0;
    snprintf(sub, sizeof(sub), "%s/%s", dir, LEASES_DIR);
    if (mkdir(sub, 0700) < 0 && errno != EEXIST)
        return -errno;
    _cleanup_free_ char *text = lease_record_to_json(l);
    if (!text)
        return -ENOMEM;
    lease_file_name(l, name, sizeof(name));
    return write_file_atomic_ino(sub, name, text, 0600, &l->file_ino);
}

int lease_record_remove(const char *dir, const LeaseRecord *l)
{
    char path[PATH_MAX], name[NAME_MAX + 1];
    lease_file_name(l, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s/%s", dir, LEASES_DIR, name);
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int lease_records_load(const char *dir, LeaseRecord **ret, size_t *ret_n, size_t *ret_dropped)
{
    return lease_records_load_known(dir, NULL, NULL, ret, ret_n, ret_dropped, NULL);
}

int lease_records_load_known(const char *dir, lease_known_fn known, void *userdata, LeaseRecord **ret,
                             size_t *ret_n, size_t *ret_dropped, size_t *ret_copies)
{
    size_t copies = 0;
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/%s", dir, LEASES_DIR);
    *ret = NULL;
    *ret_n = 0;
    DIR *d = opendir(sub);
    if (!d)
        return errno == ENOENT ? 0 : -errno;

    size_t n = 0, size = 0, dropped = 0;
    LeaseRecord *list = NULL;
    struct dirent *de;
    /* The inode numbers of a tmpfs only grow (until they wrap at 2^32 or
     * 2^64): an inode number names one file for good. Elsewhere a freed
     * one is soon given to a new file, so there the files are always read. */
    struct statfs sfs;
    if (known && (fstatfs(dirfd(d), &sfs) < 0 || sfs.f_type != TMPFS_MAGIC))
        known = NULL;
    /* 10,000 small files at a start: one tokener for all of them. */
    json_tokener *tok = json_tokener_new();
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and temp files of interrupted writes */
        char path[PATH_MAX];
        _cleanup_free_ char *text = NULL;
        LeaseRecord rec;
        char want[NAME_MAX + 1];
        /* A copy of exactly this file's record, kept elsewhere: no need to
         * read it. Still checked against the name, as a file is. */
        unsigned cid;
        char ns[NS_NAME_MAX + 1];
        if (known && de->d_type == DT_REG && lease_file_name_parse(de->d_name, &cid, ns, sizeof(ns)) &&
            known(userdata, cid, ns, de->d_ino, &rec) &&
            rec.file_ino == de->d_ino && lease_record_check(&rec) == 0) {
            lease_file_name(&rec, want, sizeof(want));
            if (streq(want, de->d_name)) {
                copies++;
                goto keep;
            }
        }
        snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
        int r = read_file_at(dirfd(d), de->d_name, &text);
        if (r == -EMEDIUMTYPE)
            log_warning("Ignoring lease file %s: not a regular file (a symlink?)", path);
        else if (r < 0)
            log_warning_errno(r, "Ignoring lease file %s: %m", path);
        if (r < 0) {
            dropped++;
            continue;
        }
        if (lease_record_parse(tok, text, &rec) < 0) {
            log_warning("Ignoring lease file %s: a field is missing, of the wrong type or not valid", path);
            dropped++;
            continue;
        }
        /* A file must be found under the name its contents give: a copy
         * under another name would be a second record of one lease. */
        lease_file_name(&rec, want, sizeof(want));
        if (!streq(want, de->d_name)) {
            log_warning("Ignoring lease file %s: its contents are those of %s", path, want);
            dropped++;
            continue;
        }
        rec.file_ino = de->d_ino;
    keep:
        if (n == size) {
            size = size ? 2 * size : 64;
            LeaseRecord *grown = realloc(list, size * sizeof(LeaseRecord));
            if (!grown) {
                closedir(d);
                free(list);
                if (tok)
                    json_tokener_free(tok);
                return -ENOMEM;
            }
            list = grown;
        }
        list[n++] = rec;
    }
    closedir(d);
    if (tok)
        json_tokener_free(tok);
    *ret = list;
    *ret_n = n;
    if (ret_dropped)
        *ret_dropped = dropped;
    if (ret_copies)
        *ret_copies = copies;
    return 0;
}
