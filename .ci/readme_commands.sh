# Sourced by .ci/run: the README's two set-up commands, verbatim, as CI runs them.
# They are the indented lines under "## Two commands": the first runs the demo,
# the second installs and runs the tests. There must be exactly two.

readme_commands() {
    awk '/^## Two commands/ {on = 1; next} /^## / {on = 0}
         on && /^    [^ ]/ {sub(/^    /, ""); print}' README.md
}

readme_command() {  # $1: 1 = the demo, 2 = the tests
    readme_commands | sed -n "${1}p"
}

check_readme_has_two_commands() {
    local count
    count=$(readme_commands | wc -l)
    if [ "$count" -ne 2 ]; then
        echo "README: expected exactly two set-up commands under '## Two commands', found $count" >&2
        readme_commands >&2
        return 1
    fi
}

# Run the demo command in directory $1 as user $2 (root or an ordinary user), type
# two commands into it, and check the session answered them.
check_readme_demo() {
    local dir=$1 user=$2 out line tmp
    line=$(readme_command 1)
    # a TMPDIR of its own, so that what the demo leaves behind (or not) can be seen
    tmp=$(mktemp -d /tmp/readme-demo-XXXXXX) && chmod 1777 "$tmp"
    local run=(env TMPDIR="$tmp" bash -c "cd '$dir' && $line")
    if [ "$user" != root ]; then
        run=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups
             env HOME="$dir/.home" USER="$user" LOGNAME="$user" "${run[@]}")
    fi
    out=$(printf 'x select inbox\r\nx logout\r\n' | timeout 300 "${run[@]}" 2>&1) || {
        echo "README demo command failed as $user:" >&2; echo "$out" >&2; return 1; }
    if ! grep -q '^\* PREAUTH .*Logged in as nobody (a throw-away demo mailbox)' <<<"$out" \
       || ! grep -q '^x OK \[READ-WRITE\] Select completed' <<<"$out"; then
        echo "README demo command as $user did not serve a session:" >&2; echo "$out" >&2
        return 1
    fi
    if ! rmdir "$tmp" 2>/dev/null; then
        echo "README demo command as $user left its maildir behind:" >&2
        ls -la "$tmp" >&2
        return 1
    fi
    echo "README demo command: a session as $user, nothing left behind"
}
