# cli_check.sh — shared start of the shell tests of `intake` (sourced).
#
# Sets intake and src from IG_INTAKE and IG_SOURCE_DIR (set by CTest),
# rules (the shipped rule base), tmp (a private temp dir removed on exit)
# and fails, and defines check NAME CONDITION...: runs CONDITION, prints
# "ok NAME" or "FAIL NAME" and counts the failures.
intake=${IG_INTAKE:?}
src=${IG_SOURCE_DIR:?}
rules="$src/rules"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {   # check NAME CONDITION...
    name=$1
    shift
    if "$@"; then
        echo "ok   $name"
    else
        echo "FAIL $name"
        fails=$((fails + 1))
    fi
}
