/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "namespace-conf.h"

#include <errno.h>
#include <string.h>

#include "attach.h"
#include "shared/macro.h"
#include "shared/parse-util.h"

static char *strip(char *s)
{
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
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
        if ((c->g2h_fallback = parse_boolean(value)) < 0)
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

bool namespace_conf_parse(FILE *f, NamespaceConf *c, char *problem, size_t size)
{
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
    if (ok && !c->mode[0])
        return snprintf(problem, size, "[Namespace] Mode= is missing"), false;
    if (ok && c->parent[0] && !streq(c->mode, "local"))
        return snprintf(problem, size, "Parent= needs Mode=local (children of a local namespace are local)"), false;
    return ok;
}

bool namespace_conf_load(const char *path, NamespaceConf *c, char *problem, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return snprintf(problem, size, "cannot read it: %s", strerror(errno)), false;
    bool ok = namespace_conf_parse(f, c, problem, size);
    fclose(f);
    return ok;
}
