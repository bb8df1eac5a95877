/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsockns-generator NORMAL-DIR [EARLY-DIR LATE-DIR]
 *
 * A systemd generator (systemd.generator(7)): for each
 * /etc/vsockns/namespaces.d/NAME.conf it pulls vsockns-namespace@NAME.service
 * into vsockns.target (and that into multi-user.target), tells it the mode
 * and options, and writes the drop-ins that make the units named in
 * [Attach] Units= join the namespace. The format: vsockns-namespaces.d(5).
 *
 * A file that does not parse or validate gets one log line naming the file
 * and line, and nothing at all is generated from it. Runs at boot and on
 * every daemon-reload; it only writes below NORMAL-DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/attach.h"
#include "core/name.h"
#include "shared/macro.h"

#define UNITS_MAX 32

typedef struct NamespaceConf {
    char name[NS_NAME_MAX + 1];
    char mode[8];
    char parent[NS_NAME_MAX + 1];
    int g2h_fallback; /* -1: not set */
    char units[UNITS_MAX][256];
    size_t n_units;
} NamespaceConf;

static char *strip(char *s)
{
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int parse_bool(const char *v)
{
    if (streq(v, "yes") || streq(v, "true") || streq(v, "1") || streq(v, "on"))
        return 1;
    if (streq(v, "no") || streq(v, "false") || streq(v, "0") || streq(v, "off"))
        return 0;
    return -1;
}

/* One key of one section; a sentence in problem if it is not valid. */
static bool parse_key(NamespaceConf *c, const char *section, const char *key, char *value, char *problem,
                      size_t size)
{
    if (streq(section, "Namespace") && streq(key, "Mode")) {
        if (vsock_mode_from_string(value) == VSOCK_MODE_INVALID)
            return snprintf(problem, size, "Mode=%s: use local or global", value), false;
        snprintf(c->mode, sizeof(c->mode), "%s", value);
    } else if (streq(section, "Namespace") && streq(key, "G2HFallback")) {
        if ((c->g2h_fallback = parse_bool(value)) < 0)
            return snprintf(problem, size, "G2HFallback=%s: use yes or no", value), false;
    } else if (streq(section, "Namespace") && streq(key, "Parent")) {
        NameProblem np = ns_name_check(value);
        if (np != NAME_OK)
            return snprintf(problem, size, "Parent=%s: %s", value, name_problem_to_string(np)), false;
        snprintf(c->parent, sizeof(c->parent), "%s", value);
    } else if (streq(section, "Attach") && streq(key, "Units")) {
        for (char *save = NULL, *u = strtok_r(value, " \t", &save); u; u = strtok_r(NULL, " \t", &save)) {
            const char *why = attach_unit_problem(u);
            if (why)
                return snprintf(problem, size, "Units=: '%s': %s", u, why), false;
            if (c->n_units == UNITS_MAX)
                return snprintf(problem, size, "Units=: more than %d units", UNITS_MAX), false;
            snprintf(c->units[c->n_units++], sizeof(c->units[0]), "%s", u);
        }
    } else
        return snprintf(problem, size, "unknown setting %s= in [%s]", key, section), false;
    return true;
}

/* Reads and validates one file completely; false (and why) if anything is wrong. */
static bool parse_file(const char *path, NamespaceConf *c, char *problem, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return snprintf(problem, size, "cannot read it: %s", strerror(errno)), false;
    char line[1024], section[32] = "";
    bool ok = true;
    for (unsigned n = 1; ok && fgets(line, sizeof(line), f); n++) {
        char *p = strip(line), *eq;
        char sub[512] = "";
        if (*p == '\0' || *p == '#' || *p == ';')
            continue;
        if (*p == '[') {
            size_t len = strlen(p);
            if (p[len - 1] != ']' || (strcmp(p, "[Namespace]") != 0 && strcmp(p, "[Attach]") != 0)) {
                snprintf(problem, size, "line %u: unknown section %s (use [Namespace] and [Attach])", n, p);
                ok = false;
            } else
                snprintf(section, sizeof(section), "%.*s", (int) len - 2, p + 1);
        } else if (!(eq = strchr(p, '=')) || !section[0]) {
            snprintf(problem, size, "line %u: expected KEY=VALUE in a section", n);
            ok = false;
        } else {
            *eq = '\0';
            if (!parse_key(c, section, strip(p), strip(eq + 1), sub, sizeof(sub))) {
                snprintf(problem, size, "line %u: %s", n, sub);
                ok = false;
            }
        }
    }
    fclose(f);
    if (ok && !c->mode[0])
        return snprintf(problem, size, "[Namespace] Mode= is missing"), false;
    if (ok && c->parent[0] && !streq(c->mode, "local"))
        return snprintf(problem, size, "Parent= needs Mode=local (children of a local namespace are local)"), false;
    return ok;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    int r = fputs(text, f) < 0 ? -EIO : 0;
    return fclose(f) < 0 || r < 0 ? -EIO : 0;
}

static int link_into(const char *out, const char *wants_dir, const char *unit, const char *target)
{
    char dir[PATH_MAX], path[PATH_MAX + 256];
    snprintf(dir, sizeof(dir), "%s/%s", out, wants_dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof(path), "%s/%s", dir, unit);
    return symlink(target, path) < 0 && errno != EEXIST ? -errno : 0;
}

static int generate(const char *out, const char *path, const NamespaceConf *c)
{
    char dir[PATH_MAX], unit[128], text[3 * PATH_MAX];
    snprintf(unit, sizeof(unit), "vsockns-namespace@%s.service", c->name);
    snprintf(dir, sizeof(dir), "%s/%s.d", out, unit);
    char options[256] = "";
    if (c->parent[0])
        snprintf(options, sizeof(options), "--parent=%s", c->parent);
    if (c->g2h_fallback == 0)
        snprintf(options + strlen(options), sizeof(options) - strlen(options), "%s--no-g2h-fallback",
                 options[0] ? " " : "");
    char parent_dep[256] = "";
    if (c->parent[0])
        snprintf(parent_dep, sizeof(parent_dep), "Requires=vsockns-namespace@%s.service\n"
                 "After=vsockns-namespace@%s.service\n", c->parent, c->parent);
    snprintf(text, sizeof(text),
             "# Generated by vsockns-generator from %s\n[Unit]\nSourcePath=%s\n%s\n[Service]\n"
             "Environment=VSOCKNS_MODE=%s \"VSOCKNS_OPTIONS=%s\"\n",
             path, path, parent_dep, c->mode, options);
    int r = write_text(dir, "50-vsockns-generated.conf", text);
    if (r >= 0)
        r = link_into(out, "vsockns.target.wants", unit, UNITDIR "/vsockns-namespace@.service");
    for (size_t i = 0; r >= 0 && i < c->n_units; i++)
        r = attach_write(out, c->units[i], c->name);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s NORMAL-DIR [EARLY-DIR LATE-DIR]\n", argv[0]);
        return 2;
    }
    const char *out = argv[1];
    const char *confdir = getenv("VSOCKNS_NAMESPACES_D");
    if (!confdir)
        confdir = "/etc/vsockns/namespaces.d";
    DIR *d = opendir(confdir);
    if (!d)
        return 0; /* nothing declared */
    size_t made = 0;
    int status = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || !streq(de->d_name + len - 5, ".conf"))
            continue;
        char path[PATH_MAX], problem[600];
        NamespaceConf c = { .g2h_fallback = -1 };
        snprintf(path, sizeof(path), "%s/%s", confdir, de->d_name);
        snprintf(c.name, sizeof(c.name), "%.*s", (int) (len - 5), de->d_name);
        NameProblem np = ns_name_check(c.name);
        bool ok = np == NAME_OK;
        if (!ok)
            snprintf(problem, sizeof(problem), "the file name is not a namespace name: %s", name_problem_to_string(np));
        if (ok && !parse_file(path, &c, problem, sizeof(problem)))
            ok = false;
        if (!ok) {
            fprintf(stderr, "vsockns-generator: %s: %s; nothing generated from it.\n", path, problem);
            continue; /* that one line is the whole report: no failure status too */
        }
        int r = generate(out, path, &c);
        if (r < 0) {
            fprintf(stderr, "vsockns-generator: %s: cannot write below %s: %s\n", path, out, strerror(-r));
            status = 1;
            continue;
        }
        made++;
    }
    closedir(d);
    if (made > 0 && link_into(out, "multi-user.target.wants", "vsockns.target", UNITDIR "/vsockns.target") < 0)
        status = 1;
    return status;
}
