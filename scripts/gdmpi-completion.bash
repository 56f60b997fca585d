# bash completion for gdmpi (installed by make install into
# share/bash-completion/completions/gdmpi). It asks the gdmpi being completed: the options
# come from `gdmpi COMMAND --help` and the config keys of --set from
# `gdmpi config --reference`, so the completion never falls behind the binary.

_gdmpi_keys() {
    "$1" config --reference 2>/dev/null | sed -n 's/^| `\([a-z_]*\.[a-z_]*\)` .*/\1/p'
}

# _gdmpi_files [EXT]: file names (only *.EXT among files, when EXT is given) and folders.
_gdmpi_files() {
    local IFS=$'\n'
    compopt -o filenames 2>/dev/null
    COMPREPLY+=($(compgen -d -- "$cur"))
    if [[ -n ${1:-} ]]; then
        COMPREPLY+=($(compgen -f -X "!*.$1" -- "$cur"))
    else
        COMPREPLY+=($(compgen -f -- "$cur"))
    fi
}

# Plain bash (no bash-completion package needed): COMP_WORDS split on spaces, and on '='
# as bash does by default, which --set's key=value never needs to cross.
_gdmpi() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    COMPREPLY=()
    local gdmpi=${words[0]} command=
    local i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        train | config | eval | predict | data) command=${words[i]}; break ;;
        esac
    done

    case $prev in
    --set)
        compopt -o nospace 2>/dev/null
        COMPREPLY=($(compgen -S = -W "$(_gdmpi_keys "$gdmpi")" -- "$cur"))
        return ;;
    --model | --data | -o | --val | --images | --labels)
        _gdmpi_files
        return ;;
    esac

    case $command in
    "")
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version --set" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "train config eval predict data" -- "$cur"))
            _gdmpi_files cfg
        fi ;;
    data)
        if ((i + 1 == cword)); then
            COMPREPLY=($(compgen -W "gen convert info" -- "$cur"))
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$("$gdmpi" data "${words[i + 1]}" --help 2>&1 |
                grep -o -- '--[a-z-]*' | sort -u)" -- "$cur"))
        else
            _gdmpi_files
        fi ;;
    *)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$("$gdmpi" "$command" --help 2>&1 |
                grep -o -- '--[a-z-]*' | sort -u)" -- "$cur"))
        else
            _gdmpi_files cfg
        fi ;;
    esac
}
complete -F _gdmpi gdmpi
