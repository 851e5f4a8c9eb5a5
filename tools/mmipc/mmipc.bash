# bash completion for mmipc(1): groups, commands, options, the names of the queues and
# shared memory objects that exist (as `mmipc mq ls` and `mmipc shm ls` list them), and file
# names for the ring logs.
# Installed as <prefix>/share/bash-completion/completions/mmipc, where bash-completion
# finds it the first time mmipc is completed.

_mmipc() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local group=${words[1]-} command=${words[2]-}
    if ((cword == 1)); then
        COMPREPLY=($(compgen -W "mq shm log --help" -- "$cur"))
        return
    fi
    if ((cword == 2)); then
        case $group in
            mq) COMPREPLY=($(compgen -W "ls create send recv stat rm --help" -- "$cur")) ;;
            shm) COMPREPLY=($(compgen -W "ls create cat write stat rm --help" -- "$cur")) ;;
            log) COMPREPLY=($(compgen -W "create append cat tail stat --help" -- "$cur")) ;;
        esac
        return
    fi

    # An option's value: nothing to offer.
    case $prev in
        --maxmsg | --msgsize | --mode | --priority | --timeout | -n | --size | --offset | --length | --from | --since)
            return
            ;;
    esac

    local options=""
    case "$group $command" in
        "mq ls" | "mq stat" | "shm ls" | "shm stat" | "log stat") options="--json" ;;
        "mq create") options="--maxmsg --msgsize --mode" ;;
        "mq send") options="--priority --timeout" ;;
        "mq recv") options="-n --follow -f --timeout --priority -0" ;;
        "shm create") options="--size --mode" ;;
        "shm cat") options="--offset --length --hex" ;;
        "shm write") options="--offset" ;;
        "log create") options="--size --mode" ;;
        "log cat") options="--from --since --seq --json" ;;
        "log tail") options="-n -f --follow" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options --help" -- "$cur"))
        return
    fi

    # A ring log is a file: the FILE first, then (append) messages.
    if [[ $group == log ]]; then
        local j file_given=0
        for ((j = 3; j < cword; j++)); do
            case ${words[j]} in
                --size | --mode | --from | --since | -n) ((j++)) ;;
                -*) ;;
                *) file_given=1 ;;
            esac
        done
        if ((!file_given)); then
            if declare -F _filedir >/dev/null; then
                _filedir
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
        fi
        return
    fi

    # The NAME: the first word after the command that is not an option or its value (rm
    # takes several). ls takes none; create makes a new one.
    case $command in
        ls | create) return ;;
    esac
    local i name_given=0
    for ((i = 3; i < cword; i++)); do
        case ${words[i]} in
            --maxmsg | --msgsize | --mode | --priority | --timeout | -n | --size | --offset | --length) ((i++)) ;;
            -*) ;;
            *) name_given=1 ;;
        esac
    done
    if ((name_given)) && [[ $command != rm ]]; then
        return
    fi
    local names
    names=$("${words[0]}" "$group" ls 2>/dev/null | while read -r name _; do printf '%s\n' "$name"; done)
    if [[ $cur != /* ]]; then
        names=${names//\//}
    fi
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}
complete -F _mmipc mmipc
