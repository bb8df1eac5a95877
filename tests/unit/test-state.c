/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* State serialisation: round trip, validation of what is read back, atomic files. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/state.h"

static Namespace make_ns(const char *name, VsockMode mode, const char *parent, int g2h, uint64_t inode)
{
    Namespace ns = { .mode = mode, .g2h_fallback = g2h, .inode = inode, .created_usec = 1700000000000000ULL,
                     .fd = -1 };
    snprintf(ns.name, sizeof(ns.name), "%s", name);
    snprintf(ns.parent, sizeof(ns.parent), "%s", parent);
    return ns;
}

static void test_round_trip(void **state)
{
    Namespace in[] = {
        make_ns("a", VSOCK_MODE_LOCAL, "", 1, 4026532001ULL),
        make_ns("g", VSOCK_MODE_GLOBAL, "", -1, 4026532002ULL),
        make_ns("a.child", VSOCK_MODE_LOCAL, "a", 0, UINT64_MAX),
    };
    Namespace *list[] = { &in[0], &in[1], &in[2] };
    State st = { .namespaces = list, .n_namespaces = 3 }, got;
    char *text = state_to_json(&st);
    assert_non_null(text);

    size_t dropped;
    assert_int_equal(state_from_json(text, &got, &dropped), 0);
    assert_int_equal(got.n_namespaces, 3);
    assert_int_equal(dropped, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(got.namespaces[i]->name, in[i].name);
        assert_int_equal(got.namespaces[i]->mode, in[i].mode);
        assert_string_equal(got.namespaces[i]->parent, in[i].parent);
        assert_int_equal(got.namespaces[i]->g2h_fallback, in[i].g2h_fallback);
        assert_true(got.namespaces[i]->inode == in[i].inode);
        assert_true(got.namespaces[i]->created_usec == in[i].created_usec);
    }
    state_free(&got);
    free(text);
}

static void test_empty(void **state)
{
    State empty = {}, got;
    char *text = state_to_json(&empty);
    assert_int_equal(state_from_json(text, &got, NULL), 0);
    assert_int_equal(got.n_namespaces, 0);
    state_free(&got);
    free(text);
}

static void test_bad_entries_dropped(void **state)
{
    const char *text = "{\"version\":1,\"namespaces\":["
                       "{\"name\":\"ok\",\"mode\":\"local\",\"inode\":5},"
                       "{\"name\":\"../etc\",\"mode\":\"local\",\"inode\":6},"
                       "{\"name\":\"m\",\"mode\":\"LOCAL\",\"inode\":7},"
                       "{\"name\":\"noinode\",\"mode\":\"global\"},"
                       "{\"name\":\"p\",\"mode\":\"local\",\"parent\":\".host\",\"inode\":8},"
                       "{\"name\":\"ok\",\"mode\":\"global\",\"inode\":9},"
                       "42]}";
    State got;
    size_t dropped;
    assert_int_equal(state_from_json(text, &got, &dropped), 0);
    assert_int_equal(got.n_namespaces, 1);
    assert_int_equal(dropped, 6);
    assert_string_equal(got.namespaces[0]->name, "ok");
    assert_true(got.namespaces[0]->inode == 5);
    state_free(&got);
}

static void test_pending(void **state)
{
    Namespace in = make_ns("half", VSOCK_MODE_LOCAL, "", -1, 0);
    in.pending = true;
    Namespace *list = &in;
    State st = { .namespaces = &list, .n_namespaces = 1 }, got;
    char *text = state_to_json(&st);
    assert_non_null(strstr(text, "\"pending\""));
    assert_int_equal(state_from_json(text, &got, NULL), 0);
    assert_int_equal(got.n_namespaces, 1);
    assert_true(got.namespaces[0]->pending);
    state_free(&got);
    free(text);
    /* Without an inode, only a pending record is valid. */
    assert_int_equal(state_from_json("{\"namespaces\":[{\"name\":\"x\",\"mode\":\"local\",\"pending\":true}]}",
                                     &got, NULL), 0);
    assert_int_equal(got.n_namespaces, 1);
    state_free(&got);
    size_t dropped;
    assert_int_equal(state_from_json("{\"namespaces\":[{\"name\":\"x\",\"mode\":\"local\"}]}", &got, &dropped), 0);
    assert_int_equal(got.n_namespaces, 0);
    assert_int_equal(dropped, 1);
    state_free(&got);
}

/* A field of the wrong type drops its record; nothing is guessed. */
static void test_wrong_types_dropped(void **state)
{
    const char *text = "{\"version\":1,\"namespaces\":["
                       "{\"name\":\"ok\",\"mode\":\"local\",\"inode\":5,\"pending\":false},"
                       "{\"name\":\"p1\",\"mode\":\"local\",\"pending\":\"no\"},"
                       "{\"name\":\"p2\",\"mode\":\"local\",\"inode\":6,\"pending\":1},"
                       "{\"name\":\"g\",\"mode\":\"local\",\"inode\":7,\"g2h_fallback\":\"false\"},"
                       "{\"name\":\"c\",\"mode\":\"local\",\"inode\":8,\"created_usec\":\"yesterday\"},"
                       "{\"name\":\"i\",\"mode\":\"local\",\"inode\":\"9\"}]}";
    State got;
    size_t dropped;
    assert_int_equal(state_from_json(text, &got, &dropped), 0);
    assert_int_equal(got.n_namespaces, 1);
    assert_int_equal(dropped, 5);
    assert_string_equal(got.namespaces[0]->name, "ok");
    assert_false(got.namespaces[0]->pending);
    state_free(&got);

    LeaseRecord out;
    static const char *bad[] = {
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":\"yes\"}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":true,\"pid\":\"42\"}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":true,\"acquired_usec\":true}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":true,\"bind_pid\":\"7\"}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":true,\"bind_pid\":7}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":\"0\",\"reserved\":true}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"x\\u202ey\",\"uid\":0,\"reserved\":true}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"x\\u0085y\",\"uid\":0,\"reserved\":true}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("lease record %zu: %s\n", i, bad[i]);
        assert_true(lease_record_from_json(bad[i], &out) < 0);
    }
    assert_int_equal(lease_record_from_json("{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0,"
                                            "\"reserved\":true,\"bind_pid\":7,\"bind_start_time\":1}", &out), 0);
}

static void test_garbage(void **state)
{
    State got;
    assert_int_equal(state_from_json("", &got, NULL), -EBADMSG);
    assert_int_equal(state_from_json("{\"namespaces\": 3}", &got, NULL), -EBADMSG);
    assert_int_equal(state_from_json("[1,2", &got, NULL), -EBADMSG);
    assert_int_equal(state_from_json("[]", &got, NULL), -EBADMSG);
}

static void test_save_load(void **state)
{
    char dir[] = "/tmp/vsockns-test-state.XXXXXX";
    assert_non_null(mkdtemp(dir));

    State got;
    assert_int_equal(state_load(dir, &got, NULL), -ENOENT);

    Namespace in = make_ns("t", VSOCK_MODE_GLOBAL, "", 1, 99);
    Namespace *list = &in;
    State st = { .namespaces = &list, .n_namespaces = 1 };
    assert_int_equal(state_save(dir, &st), 0);
    assert_int_equal(state_save(dir, &st), 0); /* replaces, leaves no temp file */
    assert_int_equal(state_load(dir, &got, NULL), 0);
    assert_int_equal(got.n_namespaces, 1);
    assert_string_equal(got.namespaces[0]->name, "t");
    state_free(&got);

    /* The files name callers' uids and pids: 0600. */
    char file[128];
    struct stat sb;
    snprintf(file, sizeof(file), "%s/%s", dir, STATE_FILE);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) = 1", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static LeaseRecord make_lease(const char *ns, uint32_t cid, const char *owner)
{
    LeaseRecord l = { .cid = cid, .uid = 1000, .pid = 42, .acquired_usec = 17, .reserved = true,
                      .bind_pid = 4242, .bind_start_time = 99999 };
    snprintf(l.ns, sizeof(l.ns), "%s", ns);
    snprintf(l.owner, sizeof(l.owner), "%s", owner);
    return l;
}

static void test_lease_records(void **state)
{
    LeaseRecord in = make_lease(".host", 4294967294U, "libvirt:vm \"1\" \xc3\xa9"), out;
    char *text = lease_record_to_json(&in);
    assert_int_equal(lease_record_from_json(text, &out), 0);
    assert_string_equal(out.ns, in.ns);
    assert_int_equal(out.cid, in.cid);
    assert_string_equal(out.owner, in.owner);
    assert_int_equal(out.uid, 1000);
    assert_true(out.reserved);
    assert_int_equal(out.bind_pid, 4242);
    assert_true(out.bind_start_time == 99999);
    free(text);

    static const char *bad[] = {
        "{\"namespace\":\"a\",\"cid\":2,\"owner\":\"\",\"uid\":0,\"reserved\":true}",
        "{\"namespace\":\"a\",\"cid\":4294967295,\"owner\":\"\",\"uid\":0,\"reserved\":true}",
        "{\"namespace\":\"a/b\",\"cid\":5,\"owner\":\"\",\"uid\":0,\"reserved\":true}",
        "{\"namespace\":\"a\",\"cid\":-5,\"owner\":\"\",\"uid\":0,\"reserved\":true}",
        "{\"namespace\":\"a\",\"cid\":5,\"owner\":\"\",\"uid\":0}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(lease_record_from_json(bad[i], &out) < 0);
}

static void test_lease_files(void **state)
{
    char dir[] = "/tmp/vsockns-test-leases.XXXXXX";
    assert_non_null(mkdtemp(dir));
    LeaseRecord *list;
    size_t n, dropped;
    assert_int_equal(lease_records_load(dir, &list, &n, &dropped), 0);
    assert_int_equal(n, 0);

    LeaseRecord a = make_lease("t1", 42, "a"), b = make_lease("t2", 42, "b");
    assert_int_equal(lease_record_save(dir, &a), 0);
    assert_int_equal(lease_record_save(dir, &b), 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/leases/7@x.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{ garbage", f);
    fclose(f);
    assert_int_equal(lease_records_load(dir, &list, &n, &dropped), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dropped, 1);
    free(list);

    struct stat st;
    snprintf(path, sizeof(path), "%s/leases", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/leases/42@t1.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A copy under another name, and a symlink to a good file: neither is read. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp %s/leases/42@t1.json %s/leases/43@t1.json && "
             "ln -s %s/leases/42@t2.json %s/leases/42@t3.json && "
             "sed 's/\"t2\"/\"t3\"/' %s/leases/42@t2.json >%s/t3 && ln -sf %s/t3 %s/leases/42@t3.json",
             dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(lease_records_load(dir, &list, &n, &dropped), 0);
    assert_int_equal(n, 2);
    assert_int_equal(dropped, 3); /* with the garbage file above */
    free(list);
    snprintf(cmd, sizeof(cmd), "rm %s/leases/43@t1.json %s/leases/42@t3.json", dir, dir);
    assert_int_equal(system(cmd), 0);

    assert_int_equal(lease_record_remove(dir, &a), 0);
    assert_int_equal(lease_record_remove(dir, &a), 0); /* already gone: fine */
    unlink(path);
    assert_int_equal(lease_records_load(dir, &list, &n, &dropped), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].owner, "b");
    free(list);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The fd store's form of a record: back as it went, and checked as a
 * file is (a vault's bytes are no more trusted than a file's). */
static void test_lease_pack(void **state)
{
    LeaseRecord a = make_lease("t1", 42, "vm-a"), out;
    a.persist = true;
    a.bind_pid = 77;
    a.bind_start_time = 123456;
    a.file_ino = 987654321;
    char buf[LEASE_RECORD_PACKED_MAX];
    size_t n = lease_record_pack(&a, buf, sizeof(buf));
    assert_true(n > 0 && n <= sizeof(buf));
    assert_int_equal(lease_record_pack(&a, buf, n - 1), 0);
    memset(&out, 0x55, sizeof(out));
    assert_int_equal(lease_record_unpack(buf, n, &out), 0);
    assert_string_equal(out.ns, "t1");
    assert_string_equal(out.owner, "vm-a");
    assert_int_equal(out.cid, 42);
    assert_true(out.persist && out.reserved == a.reserved);
    assert_int_equal(out.bind_pid, 77);
    assert_int_equal(out.bind_start_time, 123456);
    assert_int_equal(out.file_ino, 987654321);

    assert_int_equal(lease_record_unpack(buf, n - 1, &out), -EBADMSG);
    char bad[LEASE_RECORD_PACKED_MAX];
    /* Every single byte flipped to each of a few values: never a crash,
     * and whatever passes is still a record AcquireLease could have made. */
    const unsigned char values[] = { 0x00, 0x01, 0x02, 0x2f, 0x7f, 0xff };
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < sizeof(values); v++) {
            memcpy(bad, buf, n);
            bad[i] = (char) values[v];
            if (lease_record_unpack(bad, n, &out) == 0) {
                assert_int_equal(lease_record_check(&out), 0);
                accepted++;
            }
        }
    assert_true(accepted > 0);
    /* Named refusals: the magic, a CID below 3, a
     * namespace name without its NUL, an owner the bus refuses. */
    memcpy(bad, buf, n);
    bad[0] ^= 1;
    assert_int_equal(lease_record_unpack(bad, n, &out), -EBADMSG);
    LeaseRecord c = a;
    c.cid = 2;
    lease_record_pack(&c, bad, sizeof(bad));
    assert_int_equal(lease_record_unpack(bad, n, &out), -EBADMSG);
    c = a;
    memset(c.ns, 'x', sizeof(c.ns));
    lease_record_pack(&c, bad, sizeof(bad));
    assert_int_equal(lease_record_unpack(bad, n, &out), -EBADMSG);
    c = a;
    snprintf(c.owner, sizeof(c.owner), "vm\x01");
    lease_record_pack(&c, bad, sizeof(bad));
    assert_int_equal(lease_record_unpack(bad, n, &out), -EBADMSG);
}

/* What known() was asked, and what it answers. */
typedef struct Known {
    LeaseRecord copy;
    unsigned asked;
} Known;

static bool known_copy(void *userdata, uint32_t cid, const char *ns, uint64_t ino, LeaseRecord *ret)
{
    Known *k = userdata;
    k->asked++;
    *ret = k->copy;
    return true;
}

/* Lease files with copies of their records kept elsewhere: a copy of
 * exactly that file (same inode) is taken instead of reading it; a copy of
 * an older version of it (the file was rewritten: a new inode) is not. */
static void test_lease_files_known(void **state)
{
    struct statfs sfs;
    if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
        skip(); /* no tmpfs at /dev/shm to test on */
    char dir[] = "/dev/shm/vsockns-test-known.XXXXXX";
    assert_non_null(mkdtemp(dir));
    LeaseRecord a = make_lease("t1", 42, "in-file");
    assert_int_equal(lease_record_save(dir, &a), 0);
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/leases/42@t1.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(a.file_ino, st.st_ino);

    Known k = { .copy = a };
    snprintf(k.copy.owner, sizeof(k.copy.owner), "in-copy"); /* tells which one was taken */
    LeaseRecord *list;
    size_t n, dropped, copies;
    assert_int_equal(lease_records_load_known(dir, known_copy, &k, &list, &n, &dropped, &copies), 0);
    assert_int_equal(n, 1);
    assert_int_equal(copies, 1);
    assert_int_equal(k.asked, 1);
    assert_string_equal(list[0].owner, "in-copy");
    assert_int_equal(list[0].file_ino, st.st_ino);
    free(list);

    /* Rewritten: a new inode; the copy is of the old one. */
    snprintf(a.owner, sizeof(a.owner), "rewritten");
    assert_int_equal(lease_record_save(dir, &a), 0);
    assert_true(a.file_ino != k.copy.file_ino);
    assert_int_equal(lease_records_load_known(dir, known_copy, &k, &list, &n, &dropped, &copies), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].owner, "rewritten");
    assert_int_equal(copies, 0);
    assert_int_equal(list[0].file_ino, a.file_ino);
    free(list);

    /* A copy of the right inode that names another file: not taken. */
    k.copy = a;
    k.copy.cid = 43;
    assert_int_equal(lease_records_load_known(dir, known_copy, &k, &list, &n, &dropped, &copies), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].cid, 42);
    free(list);

    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* On a file system that is not a tmpfs (inode numbers may be reused), the
 * files are read and copies are never asked for. */
static void test_lease_files_known_not_tmpfs(void **state)
{
    struct statfs sfs;
    char disk[] = "/var/tmp/vsockns-test-known.XXXXXX";
    assert_non_null(mkdtemp(disk));
    if (statfs(disk, &sfs) < 0 || sfs.f_type == TMPFS_MAGIC) {
        rmdir(disk);
        skip(); /* /var/tmp is a tmpfs here */
    }
    LeaseRecord a = make_lease("t1", 42, "in-file");
    assert_int_equal(lease_record_save(disk, &a), 0);
    Known k = { .copy = a };
    snprintf(k.copy.owner, sizeof(k.copy.owner), "in-copy");
    LeaseRecord *list;
    size_t n, dropped, copies;
    assert_int_equal(lease_records_load_known(disk, known_copy, &k, &list, &n, &dropped, &copies), 0);
    assert_int_equal(n, 1);
    assert_int_equal(k.asked, 0);
    assert_string_equal(list[0].owner, "in-file");
    free(list);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", disk);
    assert_int_equal(system(cmd), 0);
}

static void test_state_dir(void **state)
{
    char dir[] = "/tmp/vsockns-test-dir.XXXXXX", sub[128], problem[256], cmd[512];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/state", dir);
    assert_int_equal(state_dir_prepare(sub, problem, sizeof(problem)), 0); /* created 0700 */
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(state_dir_prepare(sub, problem, sizeof(problem)), 0); /* and accepted again */

    assert_int_equal(chmod(sub, 0755), 0);
    assert_int_equal(state_dir_prepare(sub, problem, sizeof(problem)), -EPERM);
    assert_non_null(strstr(problem, "mode 0755"));

    snprintf(cmd, sizeof(cmd), "chmod 0700 %s && ln -s %s %s/link", sub, sub, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(sub, sizeof(sub), "%s/link", dir);
    assert_true(state_dir_prepare(sub, problem, sizeof(problem)) < 0);
    assert_non_null(strstr(problem, "symlink"));

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_entries_dropped),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_lease_records),
        cmocka_unit_test(test_lease_files),
        cmocka_unit_test(test_lease_pack),
        cmocka_unit_test(test_lease_files_known),
        cmocka_unit_test(test_lease_files_known_not_tmpfs),
        cmocka_unit_test(test_wrong_types_dropped),
        cmocka_unit_test(test_state_dir),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
