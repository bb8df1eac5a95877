/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsocknsctl: the command line client of vsocknsd (org.vsockns1).
 * Tables for people, --json for programs. Exit status: 0 success, 1 the
 * operation failed, 2 invalid usage, 4 no such namespace or lease, 5 vsocknsd is not
 * reachable.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "daemon/bus-errors.h"
#include "ctl/ctl.h"
#include "shared/macro.h"

bool arg_json;
const char *arg_cid;
const char *arg_owner;
const char *arg_strategy;
bool arg_no_reserve;
const char *arg_expect[8];
size_t arg_n_expect;
bool arg_persist;
static bool arg_exist_ok;
static bool arg_runtime;
static const char *arg_mode = "local";
static const char *arg_parent;
static bool arg_no_g2h_fallback;
static bool arg_force;

typedef struct NsInfo {
    char *name, *mode, *path, *parent;
    int g2h_fallback;
    uint64_t inode, created_usec;
} NsInfo;

static void ns_info_clear(NsInfo *i)
{
    free(i->name);
    free(i->mode);
    free(i->path);
    free(i->parent);
}

char *namespace_pin_path(sd_bus *bus, const char *name)
{
    char *object = NULL, *path = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r = sd_bus_path_encode(MANAGER_PATH "/namespace", name, &object);
    if (r >= 0)
        r = sd_bus_get_property_string(bus, BUS_NAME, object, NAMESPACE_IFACE, "Path", &error, &path);
    if (r < 0)
        fprintf(stderr, "Cannot find where namespace '%s' is pinned: %s\n", name,
                error.message ? error.message : strerror(-r));
    sd_bus_error_free(&error);
    free(object);
    return r < 0 ? NULL : path;
}

int report_bus_error(const sd_bus_error *error, int r)
{
    if (sd_bus_error_has_names(error, BUS_ERROR_NO_SUCH_NAMESPACE, BUS_ERROR_NO_SUCH_LEASE, BUS_ERROR_NOT_ATTACHED)) {
        fprintf(stderr, "%s\n", error->message);
        return EXIT_NO_SUCH;
    }
    if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                               SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT) ||
        !sd_bus_error_is_set(error)) {
        fprintf(stderr, "vsocknsd is not reachable: %s\n",
                sd_bus_error_is_set(error) ? error->message : strerror(-r));
        return EXIT_UNAVAILABLE;
    }
    fprintf(stderr, "%s\n", error->message);
    return EXIT_FAILED;
}

static int read_string_prop(sd_bus *bus, const char *path, const char *iface, const char *prop, char **ret,
                            sd_bus_error *error)
{
    return sd_bus_get_property_string(bus, BUS_NAME, path, iface, prop, error, ret);
}

static int fetch_namespace(sd_bus *bus, const char *path, NsInfo *i, sd_bus_error *error)
{
    int r, b;
    if ((r = read_string_prop(bus, path, NAMESPACE_IFACE, "Name", &i->name, error)) < 0 ||
        (r = read_string_prop(bus, path, NAMESPACE_IFACE, "Mode", &i->mode, error)) < 0 ||
        (r = read_string_prop(bus, path, NAMESPACE_IFACE, "Path", &i->path, error)) < 0 ||
        (r = read_string_prop(bus, path, NAMESPACE_IFACE, "Parent", &i->parent, error)) < 0 ||
        (r = sd_bus_get_property_trivial(bus, BUS_NAME, path, NAMESPACE_IFACE, "G2HFallback", error, 'b', &b)) < 0 ||
        (r = sd_bus_get_property_trivial(bus, BUS_NAME, path, NAMESPACE_IFACE, "Inode", error, 't', &i->inode)) < 0 ||
        (r = sd_bus_get_property_trivial(bus, BUS_NAME, path, NAMESPACE_IFACE, "CreatedTimestamp", error, 't',
                                         &i->created_usec)) < 0)
        return r;
    i->g2h_fallback = b;
    return 0;
}

static json_object *ns_info_to_json(const NsInfo *i, const char *object)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(i->name));
    json_object_object_add(o, "mode", json_object_new_string(i->mode));
    json_object_object_add(o, "path", json_object_new_string(i->path));
    json_object_object_add(o, "parent", i->parent[0] ? json_object_new_string(i->parent) : NULL);
    json_object_object_add(o, "g2h_fallback", json_object_new_boolean(i->g2h_fallback));
    json_object_object_add(o, "inode", json_object_new_uint64(i->inode));
    json_object_object_add(o, "created_usec", json_object_new_uint64(i->created_usec));
    json_object_object_add(o, "object", json_object_new_string(object));
    return o;
}

void print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

int finish_list(json_object *arr, int r, size_t n, const char *what)
{
    if (r < 0) {
        json_object_put(arr);
        fprintf(stderr, "Cannot parse the %s list: %s\n", what, strerror(-r));
        return EXIT_FAILED;
    }
    if (arg_json)
        print_json(arr);
    else {
        json_object_put(arr);
        printf("\n%zu %s%s listed.\n", n, what, n == 1 ? "" : "s");
    }
    return 0;
}

void format_timestamp(uint64_t usec, char *buf, size_t size)
{
    time_t t = usec / 1000000;
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        snprintf(buf, size, "%" PRIu64, usec);
}

static int verb_list(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListNamespaces", &error, &reply, NULL);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }

    json_object *arr = json_object_new_array();
    size_t n = 0;
    const char *name, *mode, *path, *object;
    r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
    if (!arg_json)
        printf("%-24s %-7s %-16s %-4s %s\n", "NAME", "MODE", "PARENT", "G2H", "PATH");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &name, &mode, &path, &object)) > 0) {
        NsInfo i = {};
        if (fetch_namespace(bus, object, &i, &error) < 0) {
            /* Deleted between the list and this look-up: not an error. */
            sd_bus_error_free(&error);
            ns_info_clear(&i);
            continue;
        }
        n++;
        if (arg_json)
            json_object_array_add(arr, ns_info_to_json(&i, object));
        else
            printf("%-24s %-7s %-16s %-4s %s\n", i.name, i.mode, i.parent[0] ? i.parent : "-",
                   i.g2h_fallback ? "yes" : "no", i.path);
        ns_info_clear(&i);
    }
    sd_bus_message_unref(reply);
    return finish_list(arr, r, n, "namespace");
}

static int get_namespace_object(sd_bus *bus, const char *name, char **ret, sd_bus_error *error)
{
    sd_bus_message *reply = NULL;
    const char *object;
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetNamespace", error, &reply, "s", name);
    if (r >= 0)
        r = sd_bus_message_read(reply, "o", &object);
    if (r >= 0)
        *ret = strdup(object);
    sd_bus_message_unref(reply);
    return r < 0 ? r : (*ret ? 0 : -ENOMEM);
}

static int show_namespace(sd_bus *bus, const char *object)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    NsInfo i = {};
    int r = fetch_namespace(bus, object, &i, &error);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        ns_info_clear(&i);
        return r;
    }
    if (arg_json)
        print_json(ns_info_to_json(&i, object));
    else {
        char ts[64];
        format_timestamp(i.created_usec, ts, sizeof(ts));
        printf("        Name: %s\n        Mode: %s\n        Path: %s\n      Parent: %s\n"
               " G2HFallback: %s\n       Inode: %" PRIu64 "\n     Created: %s\n      Object: %s\n",
               i.name, i.mode, i.path, i.parent[0] ? i.parent : "-", i.g2h_fallback ? "yes" : "no", i.inode, ts,
               object);
    }
    ns_info_clear(&i);
    return 0;
}

static int verb_show(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_free_ char *object = NULL;
    int r = get_namespace_object(bus, argv[1], &object, &error);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    return show_namespace(bus, object);
}

/* attach UNIT NAMESPACE / detach UNIT: vsocknsd writes the drop-in. */
static int verb_attach(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    bool attach = argc == 3;
    /* The answer comes once systemd has reloaded, which a busy machine
     * takes long for: wait as long as vsocknsd waits for it. */
    sd_bus_set_method_call_timeout(bus, 10 * 60 * 1000000ULL);
    int r = attach ? sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "AttachUnit", &error, NULL,
                                        "ssb", argv[1], argv[2], (int) arg_runtime)
                   : sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "DetachUnit", &error, NULL,
                                        "sb", argv[1], (int) arg_runtime);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    if (!arg_json) {
        if (attach)
            printf("%s joins namespace '%s' from its next start (drop-in %s/%s.d/50-vsockns.conf).\n", argv[1],
                   argv[2], arg_runtime ? "/run/systemd/system" : "/etc/systemd/system", argv[1]);
        else
            printf("%s no longer joins a vsock namespace from its next start.\n", argv[1]);
    }
    return 0;
}

static int verb_detach(sd_bus *bus, int argc, char **argv)
{
    return verb_attach(bus, argc, argv);
}

static int verb_create(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *m = NULL, *reply = NULL;
    const char *object;

    int r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "CreateNamespace");
    if (r >= 0)
        r = sd_bus_message_append(m, "ss", argv[1], arg_mode);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && arg_parent)
        r = sd_bus_message_append(m, "{sv}", "Parent", "s", arg_parent);
    if (r >= 0 && arg_no_g2h_fallback)
        r = sd_bus_message_append(m, "{sv}", "G2HFallback", "b", 0);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0) {
        sd_bus_message_unref(m);
        fprintf(stderr, "Cannot build the request: %s\n", strerror(-r));
        return EXIT_FAILED;
    }
    r = sd_bus_call(bus, m, 0, &error, &reply);
    sd_bus_message_unref(m);
    if (r < 0 && arg_exist_ok && sd_bus_error_has_name(&error, BUS_ERROR_NAMESPACE_EXISTS)) {
        /* vsockns-namespace@.service: make sure it exists, whoever made it. */
        sd_bus_error_free(&error);
        if (!arg_json)
            printf("Namespace '%s' exists already.\n", argv[1]);
        return 0;
    }
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    r = sd_bus_message_read(reply, "o", &object);
    if (r >= 0) {
        if (arg_json)
            r = show_namespace(bus, object);
        else {
            char *pin = namespace_pin_path(bus, argv[1]);
            printf("Created %s namespace '%s': join it with NetworkNamespacePath=%s or 'ip netns exec %s'.\n",
                   arg_mode, argv[1], pin ? pin : "(unknown)", argv[1]);
            free(pin);
            r = 0;
        }
    }
    sd_bus_message_unref(reply);
    return r < 0 ? EXIT_FAILED : r;
}

static int verb_delete(sd_bus *bus, int argc, char **argv)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    /* --force on a namespace with thousands of reserved CIDs closes
     * thousands of vhost devices: give it time. */
    sd_bus_set_method_call_timeout(bus, 10 * 60 * 1000000ULL);
    int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "DeleteNamespace", &error, NULL, "sb",
                               argv[1], (int) arg_force);
    if (r < 0) {
        r = report_bus_error(&error, r);
        sd_bus_error_free(&error);
        return r;
    }
    if (arg_json)
        print_json(json_object_new_object());
    else
        printf("Deleted namespace '%s'.\n", argv[1]);
    return 0;
}

static int verb_status(sd_bus *bus, int argc, char **argv)
{
    static const char *string_props[] = { "Version", "KernelSupport", "HostChildMode", "LocalParentStatus",
                                          "GlobalParentStatus" };
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char *values[ELEMENTSOF(string_props)] = {};
    int g2h = 0, guest = 0, r = 0;
    uint32_t count = 0;

    for (size_t i = 0; r >= 0 && i < ELEMENTSOF(string_props); i++)
        r = read_string_prop(bus, MANAGER_PATH, MANAGER_IFACE, string_props[i], &values[i], &error);
    if (r >= 0)
        r = sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "G2HFallbackSupported", &error,
                                        'b', &g2h);
    if (r >= 0)
        r = sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GuestTransport", &error, 'b',
                                        &guest);
    if (r >= 0)
        r = sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "NamespaceCount", &error, 'u',
                                        &count);
    if (r < 0) {
        r = report_bus_error(&error, r);
    } else if (arg_json) {
        r = 0;
        json_object *o = json_object_new_object();
        static const char *keys[] = { "version", "kernel_support", "host_child_mode", "local_parent",
                                      "global_parent" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
            json_object_object_add(o, keys[i], json_object_new_string(values[i]));
        json_object_object_add(o, "g2h_fallback_supported", json_object_new_boolean(g2h));
        json_object_object_add(o, "guest_transport", json_object_new_boolean(guest));
        json_object_object_add(o, "namespaces", json_object_new_int64(count));
        print_json(o);
    } else {
        r = 0;
        printf("       Version: %s\nKernel support: %s%s\n Host children: %s\n  Local parent: %s\n"
               " Global parent: %s\n    Namespaces: %" PRIu32 "\n",
               values[0], values[1],
               streq(values[1], "none") ? " (Linux >= 7.0 needed for local namespaces)" : g2h ? " (with g2h_fallback)" : "",
               values[2], values[3], values[4], count);
        if (guest)
            printf("       Warning: this is a guest with a guest-to-host vsock transport; local namespaces cannot reach the host.\n");
    }
    for (size_t i = 0; i < ELEMENTSOF(values); i++)
        free(values[i]);
    sd_bus_error_free(&error);
    return r;
}

static void help(void)
{
    printf("%s [OPTIONS...] COMMAND ...\n\n"
           "Manage network namespaces for AF_VSOCK isolation through vsocknsd.\n\n"
           "Commands:\n"
           "  status                 Show what the kernel supports and the parents' state\n"
           "  list                   List the namespaces vsockns manages\n"
           "  show NAME              Show one namespace\n"
           "  create NAME            Create a namespace (default mode: local)\n"
           "  delete NAME            Delete a namespace\n"
           "  leases [NAME]          List CID leases (of one namespace; .host: the host)\n"
           "  acquire NAME           Lease a CID in a namespace and print it\n"
           "  release NAME CID       End a lease\n"
           "  exec NAME -- CMD...    Run CMD in the namespace with a leased vhost-vsock fd;\n"
           "                         {cid} and {fd} in its arguments are replaced\n"
           "  bind NAME CID PID      Bind a lease to process PID (e.g. the VM just started\n"
           "                         with its fd): the lease ends when PID exits\n"
           "  attach UNIT NAME       Make UNIT join namespace NAME (a drop-in written by\n"
           "                         vsocknsd; --runtime: until reboot)\n"
           "  detach UNIT            Undo attach\n"
           "  check-leases [NAME]    Check that every reserved CID is still held; take\n"
           "                         back the ones a holder of the fd moved away\n"
           "  sockets [NAME]         List the vsock sockets of NAME (or of the host and every\n"
           "                         managed namespace): state, addresses, inode, process\n"
           "  check NAME             Prove NAME's isolation live over vsock loopback: a\n"
           "                         listener inside, clients from inside, the host and a\n"
           "                         new sibling; exit 1 on any surprise\n"
           "  connect NAME CID PORT  Connect to vsock CID:PORT as seen from inside NAME and\n"
           "                         copy stdin to it and it to stdout (no root needed:\n"
           "                         vsocknsd makes the socket in there)\n\n"
           "Options:\n"
           "  -h --help              Show this help\n"
           "     --version           Show the version\n"
           "     --json              Print JSON instead of tables\n"
           "  -m --mode=local|global Mode of the namespace to create\n"
           "  -p --parent=NAME       Nest the new namespace in a managed local one\n"
           "     --no-g2h-fallback   Write g2h_fallback=0 in the new namespace (Linux >= 7.2)\n"
           "  -f --force             Delete even if the namespace holds CID leases\n"
           "     --exist-ok          create: success if the namespace exists already\n"
           "     --runtime           attach/detach: in /run, gone at reboot\n"
           "     --expect=PATH=reachable|unreachable\n"
           "                         check: expect this instead of what the mode promises\n"
           "     --cid=N|auto        CID to lease (default: auto)\n"
           "     --owner=LABEL       Who the lease is for (default: acquire: the user,\n"
           "                         exec: exec:COMMAND)\n"
           "     --strategy=lowest|random|stable\n"
           "                         How auto picks a CID (default: lowest)\n"
           "     --no-reserve        Record an advisory lease of a CID held elsewhere\n"
           "     --persist           exec: keep the lease when CMD exits (the CID is taken\n"
           "                         again on a fresh device)\n\n"
           "Exit status: 0 success, 1 failure, 2 invalid usage, 4 no such namespace or lease,\n"
           "5 vsocknsd not reachable. See vsocknsctl(1).\n",
           program_invocation_short_name);
}

static int parse_argv(int argc, char **argv)
{
    enum {
        ARG_VERSION = 0x100, ARG_JSON, ARG_NO_G2H, ARG_CID, ARG_OWNER, ARG_STRATEGY, ARG_NO_RESERVE, ARG_PERSIST,
        ARG_EXIST_OK, ARG_RUNTIME, ARG_EXPECT,
    };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },       { "version", no_argument, NULL, ARG_VERSION },
        { "json", no_argument, NULL, ARG_JSON },  { "mode", required_argument, NULL, 'm' },
        { "parent", required_argument, NULL, 'p' }, { "no-g2h-fallback", no_argument, NULL, ARG_NO_G2H },
        { "force", no_argument, NULL, 'f' },      { "cid", required_argument, NULL, ARG_CID },
        { "owner", required_argument, NULL, ARG_OWNER }, { "strategy", required_argument, NULL, ARG_STRATEGY },
        { "no-reserve", no_argument, NULL, ARG_NO_RESERVE }, { "persist", no_argument, NULL, ARG_PERSIST },
        { "exist-ok", no_argument, NULL, ARG_EXIST_OK }, { "runtime", no_argument, NULL, ARG_RUNTIME },
        { "expect", required_argument, NULL, ARG_EXPECT }, {}
    };
    int c;
    /* Options may follow the verb; "--" ends them, so exec's COMMAND keeps its own. */
    while ((c = getopt_long(argc, argv, "hm:p:f", options, NULL)) >= 0) {
        switch (c) {
        case 'h': help(); return 0;
        case ARG_VERSION: printf("vsocknsctl %s\n", VSOCKNS_VERSION); return 0;
        case ARG_JSON: arg_json = true; break;
        case 'm': arg_mode = optarg; break;
        case 'p': arg_parent = optarg; break;
        case ARG_NO_G2H: arg_no_g2h_fallback = true; break;
        case 'f': arg_force = true; break;
        case ARG_CID: arg_cid = optarg; break;
        case ARG_OWNER: arg_owner = optarg; break;
        case ARG_STRATEGY: arg_strategy = optarg; break;
        case ARG_NO_RESERVE: arg_no_reserve = true; break;
        case ARG_PERSIST: arg_persist = true; break;
        case ARG_EXIST_OK: arg_exist_ok = true; break;
        case ARG_RUNTIME: arg_runtime = true; break;
        case ARG_EXPECT:
            if (arg_n_expect == ELEMENTSOF(arg_expect)) {
                fprintf(stderr, "--expect: at most %zu.\n", ELEMENTSOF(arg_expect));
                return -EINVAL;
            }
            arg_expect[arg_n_expect++] = optarg;
            break;
        default: return -EINVAL;
        }
    }
    return 1;
}

typedef struct Verb {
    const char *name;
    int min_args, max_args; /* operands after the verb; -1: any */
    int (*run)(sd_bus *bus, int argc, char **argv);
} Verb;

static const Verb verbs[] = {
    { "status", 0, 0, verb_status },   { "list", 0, 0, verb_list },       { "show", 1, 1, verb_show },
    { "create", 1, 1, verb_create },   { "delete", 1, 1, verb_delete },   { "leases", 0, 1, verb_leases },
    { "acquire", 1, 1, verb_acquire }, { "release", 2, 2, verb_release }, { "exec", 2, -1, verb_exec },
    { "check-leases", 0, 1, verb_check_leases }, { "bind", 3, 3, verb_bind },
    { "attach", 2, 2, verb_attach },   { "detach", 1, 1, verb_detach },
    { "sockets", 0, 1, verb_sockets }, { "check", 1, 1, verb_check },
    { "connect", 3, 3, verb_connect },
};

int main(int argc, char **argv)
{
    int r = parse_argv(argc, argv);
    if (r <= 0)
        return r < 0 ? EXIT_USAGE : 0;

    const char *name = optind < argc ? argv[optind] : "list";
    const Verb *verb = NULL;
    for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
        if (streq(verbs[i].name, name))
            verb = &verbs[i];
    if (!verb) {
        fprintf(stderr, "Unknown command '%s'; see '%s --help'.\n", name, program_invocation_short_name);
        return EXIT_USAGE;
    }
    int operands = optind < argc ? argc - optind - 1 : 0;
    if (operands < verb->min_args || (verb->max_args >= 0 && operands > verb->max_args)) {
        fprintf(stderr, "Wrong number of arguments for '%s'; see '%s --help'.\n", verb->name,
                program_invocation_short_name);
        return EXIT_USAGE;
    }

    sd_bus *bus = NULL;
    r = sd_bus_open_system(&bus);
    if (r < 0) {
        fprintf(stderr, "Cannot connect to the system bus: %s\n", strerror(-r));
        return EXIT_UNAVAILABLE;
    }
    polkit_agent_open_if_tty(bus);
    r = verb->run(bus, operands + 1, argv + (optind < argc ? optind : argc - 1));
    polkit_agent_close();
    sd_bus_flush_close_unref(bus);
    return r;
}
