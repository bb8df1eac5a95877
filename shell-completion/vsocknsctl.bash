# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for vsocknsctl: verbs, options, namespace names (asked
# from vsocknsd) and, for attach/detach, service and socket units.

__vsocknsctl_namespaces() {
    vsocknsctl list --json 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4
}

__vsocknsctl_units() {
    systemctl list-unit-files --no-legend --type=service,socket 2>/dev/null | awk '{ print $1 }' | grep -v '@\.'
}

_vsocknsctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} verb= i n=0
    local verbs='status list show create delete leases acquire release exec bind attach detach check-leases
                 sockets check connect'
    local opts='--help --version --json --mode= --parent= --no-g2h-fallback --force --cid= --owner= --strategy=
                --no-reserve --persist --exist-ok --runtime --expect='
    # The verb and how many operands come before the word being completed.
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -* ]] && continue
        if [[ -z $verb ]]; then verb=${COMP_WORDS[i]}; else n=$((n + 1)); fi
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        return
    fi
    case $cur in
        --mode=*) COMPREPLY=($(compgen -W 'local global' -- "${cur#--mode=}")); return ;;
        --strategy=*) COMPREPLY=($(compgen -W 'lowest random stable' -- "${cur#--strategy=}")); return ;;
        --expect=*)
            COMPREPLY=($(compgen -W 'inside=reachable inside=unreachable from-host=reachable from-host=unreachable
                from-sibling=reachable from-sibling=unreachable to-host=reachable to-host=unreachable' -- "${cur#--expect=}"))
            return ;;
    esac
    case $verb in
        '') COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
        show|delete|leases|acquire|release|exec|bind|check-leases|sockets|connect)
            [[ $n -eq 0 ]] && COMPREPLY=($(compgen -W "$(__vsocknsctl_namespaces) .host" -- "$cur")) ;;
        check)
            [[ $n -eq 0 ]] && COMPREPLY=($(compgen -W "$(__vsocknsctl_namespaces)" -- "$cur")) ;;
        create) ;;
        attach)
            if [[ $n -eq 0 ]]; then COMPREPLY=($(compgen -W "$(__vsocknsctl_units)" -- "$cur"))
            elif [[ $n -eq 1 ]]; then COMPREPLY=($(compgen -W "$(__vsocknsctl_namespaces)" -- "$cur")); fi ;;
        detach)
            [[ $n -eq 0 ]] && COMPREPLY=($(compgen -W "$(__vsocknsctl_units)" -- "$cur")) ;;
    esac
}
complete -F _vsocknsctl vsocknsctl
