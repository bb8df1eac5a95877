/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt hook's logic against a fake vsockns: every operation, the XML
 * libvirt really sends (fixtures captured from libvirtd in the VM, see
 * fixtures/libvirt/capture), malformed input, vsockns unreachable or slow.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "libvirt-hook/hook.h"

/* ---- fixtures ---- */

static char *fixture(const char *name, size_t *ret_len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *ret_len = n;
    return buf;
}

static void parse_fixture(const char *name, HookDomain *d)
{
    size_t len;
    char *xml = fixture(name, &len);
    char err[256] = "";
    int r = hook_domain_parse(xml, len, d, err, sizeof(err));
    if (r < 0)
        fail_msg("%s: %s", name, err);
    free(xml);
}

/* ---- a fake vsockns ---- */

typedef struct FakeBus {
    HookLease leases[8];
    size_t n;
    int fail;                /* 0, or every call fails with this */
    bool fail_unreachable;
    unsigned calls, acquires, releases;
    uint32_t acquired_cid;
    char acquired_owner[320];
} FakeBus;

static FakeBus fake;

static int fake_fail(HookBusError *e)
{
    e->unreachable = fake.fail_unreachable;
    snprintf(e->name, sizeof(e->name), "%s",
             fake.fail_unreachable ? "org.freedesktop.DBus.Error.NoReply" : "org.vsockns1.Error.AccessDenied");
    snprintf(e->message, sizeof(e->message), "%s", fake.fail == -ETIMEDOUT ? "Connection timed out" : "refused");
    return fake.fail;
}

static int fake_list(void *u, HookLease **ret, size_t *ret_n, HookBusError *e)
{
    fake.calls++;
    if (fake.fail)
        return fake_fail(e);
    *ret = malloc(sizeof(fake.leases));
    memcpy(*ret, fake.leases, sizeof(fake.leases));
    *ret_n = fake.n;
    return 0;
}

static int fake_acquire(void *u, uint32_t cid, const char *owner, HookBusError *e)
{
    fake.calls++;
    if (fake.fail)
        return fake_fail(e);
    for (size_t i = 0; i < fake.n; i++)
        if (fake.leases[i].cid == cid) {
            e->unreachable = false;
            snprintf(e->name, sizeof(e->name), "org.vsockns1.Error.CidInUse");
            snprintf(e->message, sizeof(e->message), "CID %u is leased to '%s'", cid, fake.leases[i].owner);
            return -EADDRINUSE;
        }
    fake.acquires++;
    fake.acquired_cid = cid;
    snprintf(fake.acquired_owner, sizeof(fake.acquired_owner), "%s", owner);
    HookLease *l = &fake.leases[fake.n++];
    *l = (HookLease) { .cid = cid };
    snprintf(l->ns, sizeof(l->ns), ".host");
    snprintf(l->owner, sizeof(l->owner), "%s", owner);
    return 0;
}

static int fake_release(void *u, const char *ns, uint32_t cid, HookBusError *e)
{
    fake.calls++;
    if (fake.fail)
        return fake_fail(e);
    for (size_t i = 0; i < fake.n; i++)
        if (fake.leases[i].cid == cid && strcmp(fake.leases[i].ns, ns) == 0) {
            fake.leases[i] = fake.leases[--fake.n];
            fake.releases++;
            return 0;
        }
    snprintf(e->name, sizeof(e->name), "org.vsockns1.Error.NoSuchLease");
    return -ENOENT;
}

static const HookBusOps fake_ops = { fake_list, fake_acquire, fake_release };

static void fake_lease(const char *ns, uint32_t cid, const char *owner, bool reserved)
{
    HookLease *l = &fake.leases[fake.n++];
    *l = (HookLease) { .cid = cid, .reserved = reserved };
    snprintf(l->ns, sizeof(l->ns), "%s", ns);
    snprintf(l->owner, sizeof(l->owner), "%s", owner);
}

/* A lease that uid took (fake_lease()'s are root's). */
static void fake_lease_of(uid_t uid, const char *ns, uint32_t cid, const char *owner, bool reserved)
{
    fake_lease(ns, cid, owner, reserved);
    fake.leases[fake.n - 1].uid = uid;
}

static HookConfig cfg_default = { .refuse_when_unreachable = false, .timeout_ms = 5000 };
static HookConfig cfg_refuse = { .refuse_when_unreachable = true, .timeout_ms = 5000 };

/* Runs the hook for a captured call (its .argv and .xml); stderr into log. */
static int run_captured(const char *call, const HookConfig *cfg, char *log, size_t log_size)
{
    char name[256];
    size_t len;
    snprintf(name, sizeof(name), "hook-%s.argv", call);
    char *argv = fixture(name, &len);
    char dom[256], op[64], subop[64];
    assert_int_equal(sscanf(argv, "%255s %63s %63s", dom, op, subop), 3);
    free(argv);

    HookDomain d;
    snprintf(name, sizeof(name), "hook-%s.xml", call);
    parse_fixture(name, &d);
    assert_string_equal(d.name, dom);

    FILE *f = fmemopen(log, log_size, "w");
    assert_non_null(f);
    int status = hook_run(hook_op_from_args(op, subop), &d, cfg, &fake_ops, NULL, f);
    fclose(f);
    return status;
}

static int setup(void **state)
{
    memset(&fake, 0, sizeof(fake));
    return 0;
}

#define AUTO_OWNER "libvirt:1047705b-906b-4af0-b013-fde2109c9585:fx-auto"
#define FIXED_OWNER "libvirt:b5581320-d84d-4dae-9f60-bb7c7a4d5669:fx-fixed"

/* ---- XML ---- */

static void test_parse_captured(void **state)
{
    HookDomain d;
    parse_fixture("hook-fx-auto-prepare-begin.xml", &d);
    assert_true(d.has_vsock && d.cid_auto);
    assert_int_equal(d.cid, 0); /* libvirt has not picked yet at prepare */
    parse_fixture("hook-fx-auto-started-begin.xml", &d);
    assert_true(d.has_vsock && d.cid_auto);
    assert_int_equal(d.cid, 3);
    assert_string_equal(d.uuid, "1047705b-906b-4af0-b013-fde2109c9585");
    parse_fixture("hook-fx-fixed-prepare-begin.xml", &d);
    assert_true(d.has_vsock && !d.cid_auto);
    assert_int_equal(d.cid, 42);
    parse_fixture("dumpxml-fx-fixed-inactive.xml", &d);
    assert_int_equal(d.cid, 42);
    parse_fixture("dumpxml-fx-auto-running.xml", &d);
    assert_int_equal(d.cid, 3);
    parse_fixture("hook-fx-novsock-started-begin.xml", &d);
    assert_false(d.has_vsock);
    assert_string_equal(d.name, "fx-novsock");
}

/* A captured XML with one piece replaced: malformed input comes from real input. */
static int parse_mutated(const char *from, const char *to, char *err, size_t err_size)
{
    size_t len;
    char *xml = fixture("hook-fx-fixed-started-begin.xml", &len);
    char *at = strstr(xml, from);
    assert_non_null(at);
    char *out = malloc(len + strlen(to) + 1);
    size_t head = at - xml;
    memcpy(out, xml, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    HookDomain d;
    int r = hook_domain_parse(out, strlen(out), &d, err, err_size);
    free(xml);
    free(out);
    return r;
}

static void test_parse_malformed(void **state)
{
    char err[256];
    size_t len;
    char *xml = fixture("hook-fx-fixed-started-begin.xml", &len);
    HookDomain d;
    for (size_t cut = 0; cut < len - 12; cut += 97) {
        assert_int_equal(hook_domain_parse(xml, cut, &d, err, sizeof(err)), -EINVAL);
        assert_true(strlen(err) > 0);
    }
    free(xml);
    assert_int_equal(parse_mutated("address='42'", "address='abc'", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a guest CID"));
    assert_int_equal(parse_mutated("address='42'", "address='2'", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("address='42'", "address='4294967295'", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("address='42'", "address='-5'", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("address='42'", "address='99999999999999999999999'", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("auto='no'", "auto='maybe'", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("<uuid>b5581320", "<uuid>zz581320", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "uuid"));
    assert_int_equal(parse_mutated("<domain type", "<notdomain type", err, sizeof(err)), -EINVAL);
    assert_int_equal(parse_mutated("<name>fx-fixed</name>", "<name></name>", err, sizeof(err)), -EINVAL);
    assert_int_equal(hook_domain_parse("", 0, &d, err, sizeof(err)), -EINVAL);
    assert_int_equal(hook_domain_parse("\x01\x02garbage", 9, &d, err, sizeof(err)), -EINVAL);
    assert_int_equal(hook_domain_parse("x", HOOK_XML_MAX + 1, &d, err, sizeof(err)), -E2BIG);
    /* An entity is not expanded from anywhere: the name stays unusable. */
    assert_int_equal(parse_mutated("<name>fx-fixed</name>", "<name>&xxe;</name>", err, sizeof(err)), -EINVAL);
}

static void test_args(void **state)
{
    assert_int_equal(hook_op_from_args("prepare", "begin"), HOOK_OP_CHECK);
    assert_int_equal(hook_op_from_args("migrate", "begin"), HOOK_OP_CHECK);
    assert_int_equal(hook_op_from_args("restore", "begin"), HOOK_OP_CHECK);
    assert_int_equal(hook_op_from_args("started", "begin"), HOOK_OP_REGISTER);
    assert_int_equal(hook_op_from_args("reconnect", "begin"), HOOK_OP_RECONNECT);
    assert_int_equal(hook_op_from_args("stopped", "end"), HOOK_OP_RELEASE);
    assert_int_equal(hook_op_from_args("release", "end"), HOOK_OP_RELEASE);
    assert_int_equal(hook_op_from_args("start", "begin"), HOOK_OP_PASS);
    assert_int_equal(hook_op_from_args("attach", "begin"), HOOK_OP_PASS);
    assert_int_equal(hook_op_from_args("prepare", "end"), HOOK_OP_PASS);
    assert_int_equal(hook_op_from_args("", ""), HOOK_OP_PASS);
}

/* ---- operations ---- */

static void test_prepare_fixed_conflict(void **state)
{
    char log[1024] = "";
    fake_lease("tenant-g", 42, "vm-db", true);
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 1);
    assert_non_null(strstr(log, "CID 42 of domain 'fx-fixed' is leased to 'vm-db'"));
    assert_non_null(strstr(log, "vsocknsctl release tenant-g 42"));
    assert_int_equal(fake.acquires + fake.releases, 0);
}

static void test_prepare_fixed_free_or_own(void **state)
{
    char log[1024] = "";
    fake_lease(".host", 43, "vm-other", true);
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 0);
    fake_lease(".host", 42, FIXED_OWNER, false); /* its own record, e.g. left by a crash */
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 0);
    assert_string_equal(log, "");
}

/* Another user's advisory lease of the CID is said, and does not stop
 * the domain; root's advisory lease, or a user's reserved one (it holds
 * the CID in the kernel), does; an unknown uid (an older vsockns) counts
 * as root's. */
static void test_prepare_user_advisory(void **state)
{
    char log[1024] = "";
    fake_lease_of(1000, "tenant-g", 42, "squat", false);
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "CID 42 of domain 'fx-fixed' has an advisory lease by uid 1000 ('squat'"));
    fake.leases[0].reserved = true;
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 1);
    fake.leases[0] = (HookLease) { .cid = 42, .uid = HOOK_UID_UNKNOWN };
    snprintf(fake.leases[0].ns, sizeof(fake.leases[0].ns), ".host");
    snprintf(fake.leases[0].owner, sizeof(fake.leases[0].owner), "squat");
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 1);
    fake.leases[0].uid = 0;
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 1);
    assert_int_equal(fake.acquires + fake.releases, 0);
}

/* At started, another user's advisory lease of the domain's CID gives way:
 * released, said, and the domain's own recorded; root's stays, and the
 * domain's CID is then not recorded (said). */
static void test_started_user_advisory_gives_way(void **state)
{
    char log[1024] = "";
    fake_lease_of(1000, ".host", 3, "squat", false);
    assert_int_equal(run_captured("fx-auto-started-begin", &cfg_default, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "released uid 1000's advisory lease of CID 3 ('squat', .host)"));
    assert_int_equal(fake.releases, 1);
    assert_int_equal(fake.acquires, 1);
    assert_string_equal(fake.acquired_owner, AUTO_OWNER);
    memset(&fake, 0, sizeof(fake));
    fake_lease(".host", 3, "root-note", false);
    assert_int_equal(run_captured("fx-auto-started-begin", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.releases, 0);
    assert_int_equal(fake.acquires, 0);
    assert_non_null(strstr(log, "cannot record CID 3"));
}

/* The hook's own leases are its label and root's: a reserved lease under
 * that label by another user is someone else's (it stops the domain, and
 * the hook never releases it). */
static void test_own_is_label_and_root(void **state)
{
    char log[1024] = "";
    fake_lease_of(1000, ".host", 42, FIXED_OWNER, true);
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 1);
    assert_non_null(strstr(log, "is leased to '" FIXED_OWNER "'"));
    fake_lease_of(1000, ".host", 9, AUTO_OWNER, false);
    assert_int_equal(run_captured("fx-auto-stopped-end", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.releases, 0);
    assert_int_equal(fake.n, 2);
}

static void test_prepare_auto_and_novsock_make_no_call(void **state)
{
    char log[1024] = "";
    fake_lease(".host", 3, "vm-x", true);
    assert_int_equal(run_captured("fx-auto-prepare-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(run_captured("fx-novsock-prepare-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(run_captured("fx-novsock-started-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(run_captured("fx-novsock-stopped-end", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(run_captured("fx-auto-start-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(fake.calls, 0);
}

static void test_prepare_unreachable(void **state)
{
    char log[1024] = "";
    fake.fail = -ETIMEDOUT;
    fake.fail_unreachable = true;
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_default, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "cannot reach vsockns (Connection timed out)"));
    assert_non_null(strstr(log, "without checking"));
    assert_int_equal(run_captured("fx-fixed-prepare-begin", &cfg_refuse, log, sizeof(log)), 1);
    assert_non_null(strstr(log, "refusing to start it"));
    /* an auto CID is never blocked, even when configured to refuse */
    assert_int_equal(run_captured("fx-auto-prepare-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(hook_unreachable_status(HOOK_OP_RELEASE, NULL, &cfg_refuse), 0);
}

static void test_started_registers(void **state)
{
    char log[1024] = "";
    assert_int_equal(run_captured("fx-auto-started-begin", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.acquires, 1);
    assert_int_equal(fake.acquired_cid, 3);
    assert_string_equal(fake.acquired_owner, AUTO_OWNER);
    /* again (reconnect): already there, nothing more */
    assert_int_equal(run_captured("fx-auto-reconnect-begin", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.acquires, 1);
    assert_int_equal(fake.n, 1);
}

static void test_reconnect_replaces_stale(void **state)
{
    char log[1024] = "";
    fake_lease(".host", 9, AUTO_OWNER, false);
    fake_lease("g1", 3, AUTO_OWNER, false); /* not in .host: not the hook's */
    assert_int_equal(run_captured("fx-auto-reconnect-begin", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.releases, 1);
    /* 3 is taken by the record in g1, so the fake refuses: said, still 0 */
    assert_non_null(strstr(log, "cannot record CID 3"));
    assert_non_null(strstr(log, "CidInUse"));
}

static void test_reconnect_unreachable_exits_0(void **state)
{
    char log[1024] = "";
    fake.fail = -ETIMEDOUT;
    fake.fail_unreachable = true;
    assert_int_equal(run_captured("fx-fixed-reconnect-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "cannot reach vsockns"));
    fake.fail_unreachable = false;
    fake.fail = -EACCES;
    assert_int_equal(run_captured("fx-fixed-reconnect-begin", &cfg_refuse, log, sizeof(log)), 0);
    assert_int_equal(run_captured("fx-fixed-started-begin", &cfg_refuse, log, sizeof(log)), 0);
}

static void test_stopped_release_idempotent(void **state)
{
    char log[1024] = "";
    fake_lease(".host", 3, AUTO_OWNER, false);
    fake_lease(".host", 4, "someone-else", false);
    assert_int_equal(run_captured("fx-auto-stopped-end", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.releases, 1);
    assert_int_equal(fake.n, 1);
    assert_string_equal(fake.leases[0].owner, "someone-else");
    assert_int_equal(run_captured("fx-auto-release-end", &cfg_default, log, sizeof(log)), 0);
    assert_int_equal(fake.releases, 1);
    fake.fail = -ETIMEDOUT;
    fake.fail_unreachable = true;
    assert_int_equal(run_captured("fx-fixed-release-end", &cfg_refuse, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "stays recorded"));
}

static void test_config(void **state)
{
    char path[] = "/tmp/vsockns-hook-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\n RefuseStartWhenUnreachable = yes \nTimeoutSec=2\nBogus=1\nno equals sign\nTimeoutSec=0\n", f);
    fclose(f);
    char log[1024] = "";
    FILE *l = fmemopen(log, sizeof(log), "w");
    HookConfig c;
    hook_config_load(path, &c, l);
    fclose(l);
    unlink(path);
    assert_true(c.refuse_when_unreachable);
    assert_int_equal(c.timeout_ms, 2000);
    assert_non_null(strstr(log, "unknown setting 'Bogus'"));
    assert_non_null(strstr(log, ":5: not KEY=VALUE"));
    assert_non_null(strstr(log, "TimeoutSec='0' is not 1 to 120 seconds, keeping 2"));
    hook_config_load("/nonexistent/libvirt-hook.conf", &c, stderr);
    assert_false(c.refuse_when_unreachable);
    assert_int_equal(c.timeout_ms, HOOK_TIMEOUT_MS_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_captured),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_args),
        cmocka_unit_test_setup(test_prepare_fixed_conflict, setup),
        cmocka_unit_test_setup(test_prepare_fixed_free_or_own, setup),
        cmocka_unit_test_setup(test_prepare_auto_and_novsock_make_no_call, setup),
        cmocka_unit_test_setup(test_prepare_unreachable, setup),
        cmocka_unit_test_setup(test_started_registers, setup),
        cmocka_unit_test_setup(test_reconnect_replaces_stale, setup),
        cmocka_unit_test_setup(test_reconnect_unreachable_exits_0, setup),
        cmocka_unit_test_setup(test_stopped_release_idempotent, setup),
        cmocka_unit_test_setup(test_prepare_user_advisory, setup),
        cmocka_unit_test_setup(test_own_is_label_and_root, setup),
        cmocka_unit_test_setup(test_started_user_advisory_gives_way, setup),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
