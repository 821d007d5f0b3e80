#!/usr/bin/env bash
# The packaging tier of `make test` (also `make test-deb`). Builds the package with `make deb`, checks the
# .deb (file list, control fields, conffiles, ELF dependencies, ldd with the toolchain hidden, lintian,
# every manual page through man), then installs it on THIS machine (root) and checks, in two rounds:
#   1. a plain installation: accounts and directories made, units neither enabled nor started, the journal
#      catalog compiled, `itvd --version`, `itvctl --version` and `itvd check` of the example
#      configuration run from the installed files with /opt/swift hidden (a tmpfs over it in a private
#      mount namespace) and an empty environment; `man itv-playbook` answers; then `dpkg --purge`.
#   2. an installation onto a configuration put in place before: units enabled, not started; the
#      installed daemon runs as the user itvd and answers itvctl; an upgrade (the same files repacked
#      as a newer version) keeps the state store, the audit trail and an edited conffile; `dpkg -r`
#      keeps configuration, state and accounts; `dpkg --purge` removes them.
# After each purge the lists of files under /usr /etc /var/lib /lib must equal the list taken before the
# first installation, and the accounts must be gone.
#
# The rounds run under the machine-wide test lock (/tmp/itv-e2e.lock): they add and delete the accounts
# itvd, itv, itv-operators. The test refuses to run where itv is installed or its accounts or
# directories exist: it would purge them. It never starts systemd; where systemd is not PID 1 (as here)
# the maintainer scripts enable units without starting anything.
# The last line is "test-deb: N passed, M failed"; the exit status is 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

passed=0
failed=0
ok() {
    echo "ok   $*"
    passed=$((passed + 1))
}
bad() {
    echo "FAIL $*"
    failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: one test.
check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
    echo "test-deb: took $SECONDS s"
    echo "test-deb: $passed passed, $failed failed"
    if [[ $failed -ne 0 ]]; then exit 1; fi
    exit 0
}
abort() {
    bad "$*"
    finish
}

[[ "$(id -u)" -eq 0 ]] || abort "the packaging test installs a package: run it as root"

work="$(mktemp -d /tmp/itv-test-deb.XXXXXX)"
daemon_pid=
we_installed=no
cleanup() {
    if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    fi
    if [[ "$we_installed" = yes ]] && dpkg-query -W -f='${db:Status-Status}' itv 2>/dev/null | grep -qv '^not-installed$'; then
        echo "test-deb: purging the package left by a failed step"
        dpkg --purge itv >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------- build
version="$(dpkg-parsechangelog -S Version)"
arch="$(dpkg --print-architecture)"
deb="dist/itv_${version}_${arch}.deb"
changes="dist/itv_${version}_${arch}.changes"
start=$SECONDS
if make --no-print-directory deb; then
    ok "make deb built $deb in $((SECONDS - start)) s ($(du -k "$deb" | cut -f1) KiB)"
else
    abort "make deb"
fi

# ------------------------------------------------------------------------------- the .deb, not installed
playbooks=()
for p in playbooks/*.yaml; do playbooks+=("usr/share/doc/itv/playbooks/${p#playbooks/}"); done
expected_files="$(
    printf '%s\n' \
        etc/itvd/itvd.yaml \
        lib/systemd/system/itv-window@.service \
        lib/systemd/system/itv-window@.timer \
        lib/systemd/system/itvd.service \
        lib/systemd/system/itvd.socket \
        usr/bin/itvctl \
        usr/bin/itvd \
        usr/lib/systemd/catalog/itvd.catalog \
        usr/lib/sysusers.d/itvd.conf \
        usr/lib/tmpfiles.d/itvd.conf \
        usr/share/bash-completion/completions/itvctl \
        usr/share/doc/itv/README.md \
        usr/share/doc/itv/README.units.md \
        usr/share/doc/itv/changelog.gz \
        usr/share/doc/itv/copyright \
        usr/share/doc/itv/examples/inventory.yaml \
        usr/share/doc/itv/examples/itvd.yaml \
        "${playbooks[@]}" \
        usr/share/lintian/overrides/itv \
        usr/share/man/man1/itvctl.1.gz \
        usr/share/man/man5/itv-inventory.5.gz \
        usr/share/man/man5/itv-playbook.5.gz \
        usr/share/man/man5/itvd.yaml.5.gz \
        usr/share/man/man8/itvd.8.gz \
        usr/share/zsh/vendor-completions/_itvctl |
        sort
)"
# Files and links of `dpkg-deb -c`, without the leading "./" (directories come with the files).
actual_files="$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's#^\./##' | sort)"
if [[ "$actual_files" == "$expected_files" ]]; then
    ok "dpkg -c: the $(wc -l <<<"$actual_files") expected files, nothing else"
else
    bad "dpkg -c: the file list differs (< expected, > in the package):"
    diff <(echo "$expected_files") <(echo "$actual_files")
fi

dpkg-deb -e "$deb" "$work/control"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "     Depends: $depends"
check "Depends names the system libraries and systemd" \
    bash -c 'for l in libc6 libcurl4 libldap-2.5-0 libssh2-1 libsqlite3-0 libsystemd0 systemd; do grep -qw -- "$l" <<<"$1" || exit 1; done' _ "$depends"
check "Depends names nothing of Swift" bash -c '! grep -qi swift <<<"$1"' _ "$depends"
check "conffiles: /etc/itvd/itvd.yaml only" test "$(cat "$work/control/conffiles")" = /etc/itvd/itvd.yaml

dpkg-deb -x "$deb" "$work/root"
for exe in itvd itvctl; do
    dynamic="$(readelf -d "$work/root/usr/bin/$exe")"
    check "$exe: no libswift*/Foundation/dispatch NEEDED entry" \
        bash -c '! grep -E "\(NEEDED\).*\[(libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime)" <<<"$1"' _ "$dynamic"
    check "$exe: no RPATH/RUNPATH" bash -c '! grep -E "\((RPATH|RUNPATH)\)" <<<"$1"' _ "$dynamic"
    check "$exe: bindnow" bash -c 'grep -qE "\(FLAGS_1\).*NOW|\(FLAGS\).*BIND_NOW" <<<"$1"' _ "$dynamic"
done

# Runs "$@" in a private mount namespace in which /opt/swift (the toolchain) is an empty tmpfs, with an
# empty environment but PATH=/usr/bin:/bin and an empty LD_LIBRARY_PATH.
without_toolchain() {
    unshare --mount --propagation private -- sh -c '
        if [ -d /opt/swift ]; then mount -t tmpfs -o mode=0755 none /opt/swift || exit 125; fi
        exec env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= HOME=/nonexistent "$@"' sh "$@"
}
export -f without_toolchain
check "the toolchain is hidden in the test namespace (no /opt/swift/usr/bin/swift, no swift on PATH)" \
    without_toolchain sh -c '! test -e /opt/swift/usr/bin/swift && ! command -v swift'
for exe in itvd itvctl; do
    ldd_out="$(without_toolchain ldd "$work/root/usr/bin/$exe" 2>&1)"
    echo "     ldd $exe (toolchain hidden):"
    sed 's/^/       /' <<<"$ldd_out"
    check "ldd $exe: every library found, none in the toolchain" \
        bash -c '! grep -qE "not found|/opt/swift|libswift" <<<"$1" && grep -q libc.so <<<"$1"' _ "$ldd_out"
done

# lintian: no error and no warning (explained exceptions are overrides in debian/itv.lintian-overrides, shown
# as O:). Judged from the tags printed: with --show-overrides, lintian 2.116 counts overridden tags for its
# --fail-on exit status.
lintian_at=$SECONDS
lintian_out="$(lintian --fail-on none --show-overrides "$changes" 2>&1)"
echo "     lintian took $((SECONDS - lintian_at)) s"
sed 's/^/     lintian: /' <<<"$lintian_out"
check "lintian: no errors, no warnings ($(grep -c '^O:' <<<"$lintian_out") explained by overrides)" \
    bash -c '! grep -qE "^(E|W): " <<<"$1"' _ "$lintian_out"

# Every manual page renders, with nothing on stderr (man and groff warnings, as lintian runs them).
for page in "$work"/root/usr/share/man/man*/*.gz; do
    name="$(basename "$page" .gz)"
    text="$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$page" 2>"$work/man.err" | col -b)"
    if [[ -s "$work/man.err" ]]; then
        bad "man -l $name: warnings:"
        cat "$work/man.err"
    elif grep -q '^NAME' <<<"$text" && [[ $(wc -l <<<"$text") -gt 20 ]]; then
        ok "man -l $name renders ($(wc -l <<<"$text") lines), no warnings"
    else
        bad "man -l $name: no NAME section or too short"
    fi
done
check "itvd(8) is generated from the parser: its subcommands run, check and probe" \
    bash -c 'text="$(man -l "$1" 2>/dev/null | col -b)" && for c in run check probe; do grep -qE "^[[:space:]]+$c[[:space:]]+[A-Z]" <<<"$text" || exit 1; done' _ \
    "$work/root/usr/share/man/man8/itvd.8.gz"
check "itvctl(1) is generated from the parser: rollout approve, window open" \
    bash -c 'text="$(man -l "$1" 2>/dev/null | col -b)" && grep -qE "^[[:space:]]+approve$" <<<"$text" && grep -qE "^[[:space:]]+open[[:space:]]+" <<<"$text"' _ \
    "$work/root/usr/share/man/man1/itvctl.1.gz"

# --------------------------------------------------------------------------- install on this machine
leftovers=()
dpkg-query -W -f='${db:Status-Status}' itv 2>/dev/null | grep -qv '^not-installed$' && leftovers+=("the package itv")
for path in /etc/itvd /var/lib/itvd /run/itvd; do [[ -e "$path" ]] && leftovers+=("$path"); done
getent passwd itvd >/dev/null && leftovers+=("the user itvd")
for group in itvd itv itv-operators; do getent group "$group" >/dev/null && leftovers+=("the group $group"); done
if [[ ${#leftovers[@]} -ne 0 ]]; then
    abort "refusing to install on a machine that has: ${leftovers[*]} (the test purges the package and would delete them)"
fi

exec 9>/tmp/itv-e2e.lock
waited=$SECONDS
flock 9
echo "test-deb: holding /tmp/itv-e2e.lock (waited $((SECONDS - waited)) s)"
locked_at=$SECONDS

# Names of the files and directories under /usr /etc /var/lib /lib, without dpkg's and apt's own
# databases (dpkg's status is checked by itself) and the backup and lock files the account tools keep.
snapshot() {
    find /usr /etc /var/lib /lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \) -prune -o -print |
        grep -vxE '/etc/(passwd|group|shadow|gshadow)-|/etc/\.pwd\.lock' | sort
}
snapshot >"$work/before"

# expect_clean ROUND: after a purge, nothing of itv is left.
expect_clean() {
    snapshot >"$work/after"
    if cmp -s "$work/before" "$work/after"; then
        ok "$1: the file lists before the installation and after the purge are equal ($(wc -l <"$work/after") entries)"
    else
        bad "$1: the purge left changes (< before, > after):"
        diff "$work/before" "$work/after" | head -50
    fi
    check "$1: dpkg knows the package no more" \
        bash -c '[ "$(dpkg-query -W -f="\${db:Status-Status}" itv 2>/dev/null || echo not-installed)" = not-installed ]'
    check "$1: the user itvd is gone" bash -c '! getent passwd itvd'
    check "$1: the groups itvd, itv, itv-operators are gone" bash -c '! getent group itvd itv itv-operators'
    check "$1: /etc/itvd, /var/lib/itvd and /run/itvd are gone" \
        bash -c '! test -e /etc/itvd && ! test -e /var/lib/itvd && ! test -e /run/itvd'
    check "$1: no unit of itv is enabled" bash -c '! ls /etc/systemd/system/*/itv* 2>/dev/null | grep -q .'
}

units_enabled() {
    [[ "$(readlink /etc/systemd/system/multi-user.target.wants/itvd.service)" = /lib/systemd/system/itvd.service ]] &&
        [[ "$(readlink /etc/systemd/system/sockets.target.wants/itvd.socket)" = /lib/systemd/system/itvd.socket ]]
}
no_units_enabled() { ! ls /etc/systemd/system/*/itv* 2>/dev/null | grep -q .; }
no_installed_daemon_running() { ! pgrep -f '^/usr/bin/itvd( |$)' >/dev/null; }
# A message id of the catalog, to look up in journalctl's compiled catalog.
catalog_id="$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' units/itvd.catalog | head -n 1)"

# ----------------------------------------------------------------- round 1: a plain installation
we_installed=yes
if dpkg -i "$deb" </dev/null >"$work/install.log" 2>&1; then ok "round 1: dpkg -i"; else
    cat "$work/install.log"
    abort "round 1: dpkg -i"
fi
sed 's/^/     /' "$work/install.log"
check "round 1: postinst says why itvd is not enabled" grep -q "itvd is not enabled" "$work/install.log"
check "round 1: the user itvd (home /var/lib/itvd, no login) in group itv" \
    bash -c 'getent passwd itvd | grep -q ":/var/lib/itvd:/usr/sbin/nologin$" && id -nG itvd | grep -qw itv'
check "round 1: the group itv-operators" bash -c 'getent group itv-operators >/dev/null'
check "round 1: /var/lib/itvd is itvd:itvd 0750" test "$(stat -c '%U:%G %a' /var/lib/itvd)" = "itvd:itvd 750"
check "round 1: /etc/itvd/playbooks and /run/itvd exist" test -d /etc/itvd/playbooks -a -d /run/itvd
check "round 1: no unit enabled without a configuration" no_units_enabled
check "round 1: nothing started" no_installed_daemon_running
check "round 1: the journal catalog is compiled (journalctl --list-catalog $catalog_id)" \
    bash -c 'journalctl --list-catalog "$1" 2>/dev/null | grep -q itvd' _ "$catalog_id"
check "round 1: itvd --version from the installed files, toolchain hidden" \
    test "$(without_toolchain /usr/bin/itvd --version)" = "itvd $version"
check "round 1: itvctl --version from the installed files, toolchain hidden" \
    test "$(without_toolchain /usr/bin/itvctl --version)" = "itvctl $version"
check "round 1: itvd check of the example configuration, toolchain hidden" \
    without_toolchain /usr/bin/itvd check --quiet --config /usr/share/doc/itv/examples/itvd.yaml
check "round 1: itvd check of the unedited /etc/itvd/itvd.yaml fails (no inventory)" \
    bash -c '! /usr/bin/itvd check --config /etc/itvd/itvd.yaml 2>/dev/null'
check "round 1: man itv-playbook answers what max_failures means" \
    bash -c 'MANPAGER=cat man itv-playbook 2>/dev/null | col -b | grep -A3 "rollout.max_failures" | grep -q "wave"'
for page in itvd itvctl itvd.yaml itv-inventory itv-playbook; do
    check "round 1: man -w $page" bash -c 'man -w "$1" >/dev/null 2>&1' _ "$page"
done
check "round 1: the bash completion parses" bash -n /usr/share/bash-completion/completions/itvctl
check "round 1: systemd-analyze verify accepts the installed units" \
    systemd-analyze verify --man=no /lib/systemd/system/itvd.socket /lib/systemd/system/itvd.service \
    /lib/systemd/system/itv-window@.timer
if dpkg --purge itv </dev/null >"$work/purge.log" 2>&1; then ok "round 1: dpkg --purge"; else
    cat "$work/purge.log"
    bad "round 1: dpkg --purge"
fi
expect_clean "round 1"

# ---------------------------------------- round 2: configured first; upgrade, remove, purge
# A configuration the shipped /etc/itvd/itvd.yaml completes: one loopback host (nothing listens on its
# port) and one playbook without a feed, so the daemon reaches no network.
install -d -m 0755 /etc/itvd /etc/itvd/playbooks
install -d -m 0700 /etc/itvd/ssh
cat >/etc/itvd/inventory.yaml <<'EOF'
tenants:
  test: {name: Packaging test}
hosts:
  pkg-test-01: {address: 127.0.0.254, tenant: test, port: 1, groups: [test]}
EOF
cat >/etc/itvd/playbooks/pkg-test.yaml <<'EOF'
apiVersion: itv/v1
id: pkg-test
name: Packaging test
vendor: itv
targets: [test]
steps:
  detect: 'true'
  install: 'true'
  verify: 'true'
rollout:
  waves:
    - {name: all, size: rest, approval: operator}
EOF
ssh-keygen -q -t ed25519 -N '' -C itvd -f /etc/itvd/ssh/id_ed25519
: >/etc/itvd/ssh/known_hosts

if dpkg -i "$deb" </dev/null >"$work/install.log" 2>&1; then ok "round 2: dpkg -i onto a configuration"; else
    cat "$work/install.log"
    abort "round 2: dpkg -i"
fi
sed 's/^/     /' "$work/install.log"
check "round 2: itvd.socket and itvd.service enabled (a configuration exists)" units_enabled
check "round 2: nothing started (systemd is not running here)" no_installed_daemon_running
chown -R itvd:itvd /etc/itvd/ssh

# Runs the installed daemon as the unit does (user itvd), toolchain hidden; sets daemon_pid.
start_daemon() {
    rm -f /run/itvd/itvd.sock
    unshare --mount --propagation private -- sh -c '
        if [ -d /opt/swift ]; then mount -t tmpfs -o mode=0755 none /opt/swift || exit 125; fi
        exec setpriv --reuid=itvd --regid=itvd --init-groups --inh-caps=-all \
            env -i PATH=/usr/bin:/bin HOME=/var/lib/itvd \
            /usr/bin/itvd run --config /etc/itvd/itvd.yaml --log stderr' >>"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 300); do
        [[ -S /run/itvd/itvd.sock ]] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop_daemon() {
    kill -TERM "$daemon_pid" 2>/dev/null
    wait "$daemon_pid"
    local rc=$?
    daemon_pid=
    return $rc
}
itvctl_installed() { without_toolchain /usr/bin/itvctl --socket /run/itvd/itvd.sock "$@"; }
export -f itvctl_installed

if start_daemon; then ok "round 2: the installed itvd runs as itvd and listens on /run/itvd/itvd.sock"; else
    bad "round 2: the installed itvd did not start:"
    cat "$work/daemon.log"
fi
check "round 2: itvctl status through the socket: daemon $version, 1 procedure, 1 host" \
    bash -c 'out="$(itvctl_installed --json status)" && grep -qE "\"daemon_version\" *: *\"$1\"" <<<"$out" &&
        grep -qE "\"procedures\" *: *1\b" <<<"$out" && grep -qE "\"hosts\" *: *1\b" <<<"$out"' _ "$version"
check "round 2: itvctl reload (leaves an audit record)" bash -c 'itvctl_installed reload >/dev/null'
check "round 2: the state store belongs to itvd" \
    bash -c 'ls /var/lib/itvd/* >/dev/null 2>&1 && ! find /var/lib/itvd -mindepth 1 ! -user itvd | grep -q .'
check "round 2: itvd stops on SIGTERM with status 0" stop_daemon

# An upgrade: the same files as version VERSION+1 (dpkg-deb repacks them; no second Swift build).
dpkg-deb -R "$deb" "$work/next"
sed -i "s/^Version: .*/Version: ${version}+test1/" "$work/next/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip -b "$work/next" "$work/itv_next.deb" >/dev/null
echo "# edited by the packaging test" >>/etc/itvd/itvd.yaml
sha256sum /var/lib/itvd/* >"$work/store.sha256" 2>/dev/null
if dpkg -i "$work/itv_next.deb" </dev/null >"$work/upgrade.log" 2>&1; then ok "round 2: upgrade to ${version}+test1"; else
    cat "$work/upgrade.log"
    bad "round 2: upgrade to ${version}+test1"
fi
check "round 2: after the upgrade: version ${version}+test1 installed" \
    test "$(dpkg-query -W -f='${Version} ${db:Status-Status}' itv)" = "${version}+test1 installed"
check "round 2: the upgrade kept the edited conffile without asking" grep -q "edited by the packaging test" /etc/itvd/itvd.yaml
check "round 2: the upgrade left /var/lib/itvd as it was" sha256sum --quiet -c "$work/store.sha256"
check "round 2: the upgrade kept the inventory, the playbook and the SSH key" \
    test -f /etc/itvd/inventory.yaml -a -f /etc/itvd/playbooks/pkg-test.yaml -a -f /etc/itvd/ssh/id_ed25519
check "round 2: the units are still enabled after the upgrade" units_enabled
if start_daemon; then ok "round 2: the upgraded itvd starts on the kept store"; else
    bad "round 2: the upgraded itvd did not start:"
    cat "$work/daemon.log"
fi
check "round 2: the audit trail from before the upgrade is there" bash -c 'itvctl_installed audit | grep -q reload'
check "round 2: the upgraded itvd stops on SIGTERM with status 0" stop_daemon
sha256sum /var/lib/itvd/* >"$work/store.sha256" 2>/dev/null

if dpkg -r itv </dev/null >"$work/remove.log" 2>&1; then ok "round 2: dpkg -r"; else
    cat "$work/remove.log"
    bad "round 2: dpkg -r"
fi
check "round 2: remove: the programs are gone" test ! -e /usr/bin/itvd -a ! -e /usr/bin/itvctl
check "round 2: remove: dpkg keeps the configuration (config-files)" \
    test "$(dpkg-query -W -f='${db:Status-Status}' itv)" = config-files
check "round 2: remove: /etc/itvd with the edited conffile, the inventory and the key stay" \
    bash -c 'grep -q "edited by the packaging test" /etc/itvd/itvd.yaml && test -f /etc/itvd/inventory.yaml -a -f /etc/itvd/ssh/id_ed25519'
check "round 2: remove: the state store stays" sha256sum --quiet -c "$work/store.sha256"
check "round 2: remove: the accounts stay" bash -c 'getent passwd itvd >/dev/null && getent group itv itv-operators >/dev/null'
if dpkg --purge itv </dev/null >"$work/purge.log" 2>&1; then ok "round 2: dpkg --purge"; else
    cat "$work/purge.log"
    bad "round 2: dpkg --purge"
fi
expect_clean "round 2"
we_installed=no
echo "test-deb: the installation rounds took $((SECONDS - locked_at)) s"

finish
