#!/usr/bin/env bash
# A fleet of real OpenSSH servers on loopback, for tests, the demo and the benchmarks.
#
#   fleet.sh start N DIR [BASE]   start N hosts (BASE: first three octets, default 127.0.10; host i gets BASE.i)
#   fleet.sh stop DIR             stop exactly the sshd processes this fleet started (and their sessions)
#   fleet.sh switch DIR HOST SWITCH on|off
#        hostkey   give the host a new host key (sshd re-reads it on SIGHUP)
#        refuse    the host refuses the client key (authorized_keys emptied)
#        off       the host is switched off: nothing listens (connection refused); `off` starts its sshd again
#        hang      the host accepts TCP but never answers (sshd stopped with SIGSTOP)
#        drop      the host drops the connection in the middle of every command
#        sftpdrop  the host drops its next SFTP session 1 s after it began, in the middle of an upload (once:
#                  the switch turns itself off)
#        flood     every command first prints 50 MB on stdout
#        escape    every command first prints terminal escape sequences on stdout and stderr
#        ecdsa     the host also offers an ECDSA host key (libssh2 would prefer it to the pinned ed25519 one)
#
# Each host runs `/usr/sbin/sshd -D -f DIR/hosts/NAME/sshd_config` in its own mount and UTS namespace
# (`unshare --mount --uts`): its own hostname NAME and its own writable tree DIR/hosts/NAME/root bind-mounted
# at /opt/itv-host, and an empty home of its own at /root (so that the machine's root dotfiles, such as a
# .bashrc that starts tools, do not run on every fleet command). Hosts listen on BASE.i port 22, except every host whose number ends in 3 (port 2222).
# DIR gets: id_ed25519 (client key), known_hosts (OpenSSH format, `[addr]:port` for non-22 ports; host 004
# hashed), inventory.yaml (itv format), pids (one `NAME PID` a line).
set -euo pipefail

die() { echo "fleet.sh: $*" >&2; exit 1; }

host_name() { printf 'fleet-%03d' "$1"; }

host_port() { if [ $(($1 % 10)) -eq 3 ]; then echo 2222; else echo 22; fi; }

wait_port() { # addr port: until sshd answers with its banner (20 s at most)
    local i
    for i in $(seq 1 200); do
        if timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2; head -c 4 <&3" 2>/dev/null | grep -q SSH-; then return 0; fi
        sleep 0.1
    done
    return 1
}

start() {
    local n="$1" dir="$2" base="${3:-127.0.10}"
    [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "N must be 1..250"
    [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing (make deps installs openssh-server)"
    mkdir -p "$dir/hosts" "$dir/bin" /run/sshd /opt/itv-host
    chmod 0755 /run/sshd
    dir="$(cd "$dir" && pwd)"
    [ -e "$dir/pids" ] && die "$dir/pids exists: fleet already running? (fleet.sh stop $dir)"
    ssh-keygen -q -t ed25519 -N '' -C itv-fleet-client -f "$dir/id_ed25519" </dev/null
    : >"$dir/known_hosts"
    cat >"$dir/bin/fleet-command" <<'CMD'
#!/bin/sh
# ForceCommand of every fleet host: applies the host's switches, then runs the requested command.
d="$ITV_FLEET_HOST_DIR"
if [ -e "$d/switch/escape" ]; then
    printf '\033]0;owned\007\033[2J\033[31mred\033[0m\n'
    printf '\033[6n\033]52;c;ZXZpbA==\007\n' >&2
fi
if [ -e "$d/switch/flood" ]; then head -c 52428800 /dev/zero; fi
session_sshd() { # this session's sshd processes (not the listener)
    listener="$(cat "$d/sshd.pid")"
    p=$PPID
    while [ "$p" -gt 1 ] && [ "$p" != "$listener" ]; do
        next="$(awk '/^PPid:/ {print $2}' "/proc/$p/status")"
        if [ "$(cat "/proc/$p/comm")" = sshd ]; then echo "$p"; fi
        p="$next"
    done
}
if [ -e "$d/switch/drop" ]; then
    echo "partial output"
    # Kill this session's sshd processes: the TCP connection goes away mid-command.
    for p in $(session_sshd); do kill -9 "$p"; done
    exit 0
fi
if [ "${SSH_ORIGINAL_COMMAND:-}" = /usr/lib/openssh/sftp-server ]; then
    echo "sftp $(date +%s.%N)" >>"$d/sftp.log"
    if [ -e "$d/switch/sftpdrop" ]; then
        rm -f "$d/switch/sftpdrop"
        pids="$(session_sshd)"
        (sleep 1; echo "sftp dropped $(date +%s.%N)" >>"$d/sftp.log"; for p in $pids; do kill -9 "$p"; done) \
            </dev/null >/dev/null 2>&1 &
    fi
    exec /usr/lib/openssh/sftp-server
fi
# The host's own tools (the fake installer, stand-ins such as powershell.exe) come first on PATH.
PATH="/opt/itv-host/bin:$PATH"
export PATH
if [ -z "${SSH_ORIGINAL_COMMAND:-}" ]; then exec /bin/sh; fi
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
CMD
    chmod 0755 "$dir/bin/fleet-command"
    {
        echo "# itv test fleet in $dir"
        echo "tenants:"
        echo "  fleet: {name: Test fleet}"
        echo "  other: {name: Other tenant}"
        echo "hosts:"
    } >"$dir/inventory.yaml"
    : >"$dir/pids"
    local i name addr port hd field tenant
    for i in $(seq 1 "$n"); do
        name="$(host_name "$i")"
        addr="$base.$i"
        port="$(host_port "$i")"
        hd="$dir/hosts/$name"
        mkdir -p "$hd/root" "$hd/home" "$hd/switch"
        ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$hd/ssh_host_ed25519_key" </dev/null
        cp "$dir/id_ed25519.pub" "$hd/authorized_keys"
        cat >"$hd/sshd_config" <<CONF
ListenAddress $addr:$port
HostKey $hd/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $hd/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
LogLevel VERBOSE
MaxStartups 200:30:400
MaxSessions 20
SetEnv ITV_FLEET_HOST_DIR=$hd
Subsystem sftp /usr/lib/openssh/sftp-server
ForceCommand $dir/bin/fleet-command
CONF
        if [ "$port" = 22 ]; then field="$addr"; else field="[$addr]:$port"; fi
        if [ "$i" -eq 4 ]; then
            echo "$field $(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >"$hd/kh"
            ssh-keygen -q -H -f "$hd/kh" >/dev/null 2>&1
            cat "$hd/kh" >>"$dir/known_hosts"
            rm -f "$hd/kh" "$hd/kh.old"
        else
            echo "$field $(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
        fi
        if [ $((i % 2)) -eq 0 ]; then tenant=fleet; else tenant=other; fi
        echo "  $name: {address: $addr, port: $port, user: root, tenant: $tenant, groups: [fleet, g$((i % 5))], os: linux}" \
            >>"$dir/inventory.yaml"
        start_host "$name" "$hd"
        echo "$name $(cat "$hd/sshd.pid")" >>"$dir/pids"
    done
    for i in $(seq 1 "$n"); do
        name="$(host_name "$i")"
        # Our own sshd must be the one answering (another fleet on the same address would answer too).
        if ! wait_port "$base.$i" "$(host_port "$i")" || ! kill -0 "$(cat "$dir/hosts/$name/sshd.pid")" 2>/dev/null; then
            stop "$dir"
            die "$name did not start on $base.$i (see $dir/hosts/$name/sshd.log)"
        fi
    done
}

start_host() { # name dir: the host's sshd in its own namespaces; its pid in dir/sshd.pid
    unshare --mount --uts -- sh -c \
        'hostname "$1" && mount --bind "$2/root" /opt/itv-host && mount --bind "$2/home" /root && exec /usr/sbin/sshd -D -E "$2/sshd.log" -f "$2/sshd_config"' \
        fleet-host "$1" "$2" </dev/null >/dev/null 2>&1 &
    echo "$!" >"$2/sshd.pid"
}

children_of() { # pid: its descendants, deepest first
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        children_of "$c"
        echo "$c"
    done
}

stop() {
    local dir="$1" name pid all=""
    [ -f "$dir/pids" ] || return 0
    while read -r name pid; do
        [ -n "$pid" ] || continue
        # Only our own sshd: the PID must still run sshd with this fleet's config.
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/hosts/$name/sshd_config"; then
            all="$all $pid $(children_of "$pid" | tr '\n' ' ')"
            kill -CONT "$pid" 2>/dev/null || true
        fi
    done <"$dir/pids"
    if [ -n "${all// /}" ]; then
        # shellcheck disable=SC2086
        kill -TERM $all 2>/dev/null || true
        sleep 0.3
        # Whatever ignored TERM (a blocked signal mask is inherited from the caller) gets KILL.
        for pid in $all; do
            if [ -e "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
        done
    fi
    rm -f "$dir/pids"
}

switch() {
    local dir="$1" name="$2" what="$3" state="$4" hd pid
    hd="$dir/hosts/$name"
    [ -d "$hd" ] || die "no host $name in $dir"
    pid="$(cat "$hd/sshd.pid")"
    case "$what:$state" in
        hostkey:on)
            [ -e "$hd/ssh_host_ed25519_key.orig" ] || mv "$hd/ssh_host_ed25519_key" "$hd/ssh_host_ed25519_key.orig"
            rm -f "$hd/ssh_host_ed25519_key" "$hd/ssh_host_ed25519_key.pub"
            ssh-keygen -q -t ed25519 -N '' -C "$name-new" -f "$hd/ssh_host_ed25519_key" </dev/null
            kill -HUP "$pid"; sleep 0.3; wait_port "$(listen_addr "$hd")" "$(listen_port "$hd")" ;;
        hostkey:off)
            [ -e "$hd/ssh_host_ed25519_key.orig" ] && mv -f "$hd/ssh_host_ed25519_key.orig" "$hd/ssh_host_ed25519_key"
            kill -HUP "$pid"; sleep 0.3; wait_port "$(listen_addr "$hd")" "$(listen_port "$hd")" ;;
        ecdsa:on)
            [ -e "$hd/ssh_host_ecdsa_key" ] || ssh-keygen -q -t ecdsa -N '' -C "$name" -f "$hd/ssh_host_ecdsa_key" </dev/null
            grep -q ssh_host_ecdsa_key "$hd/sshd_config" || echo "HostKey $hd/ssh_host_ecdsa_key" >>"$hd/sshd_config"
            kill -HUP "$pid"; sleep 0.3; wait_port "$(listen_addr "$hd")" "$(listen_port "$hd")" ;;
        ecdsa:off)
            sed -i '/ssh_host_ecdsa_key/d' "$hd/sshd_config"
            kill -HUP "$pid"; sleep 0.3; wait_port "$(listen_addr "$hd")" "$(listen_port "$hd")" ;;
        off:on)
            # Our own sshd only (its config names this host), with its sessions.
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$hd/sshd_config"; then
                # shellcheck disable=SC2046
                kill -TERM $(children_of "$pid") "$pid" 2>/dev/null || true
                for _ in $(seq 1 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
            fi ;;
        off:off)
            if ! tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$hd/sshd_config"; then
                start_host "$name" "$hd"
                sed -i "s/^$name .*/$name $(cat "$hd/sshd.pid")/" "$dir/pids"
                wait_port "$(listen_addr "$hd")" "$(listen_port "$hd")" || die "$name did not start again"
            fi ;;
        refuse:on) : >"$hd/authorized_keys" ;;
        refuse:off) cp "$dir/id_ed25519.pub" "$hd/authorized_keys" ;;
        hang:on) kill -STOP "$pid" ;;
        hang:off) kill -CONT "$pid" ;;
        drop:on | flood:on | escape:on | sftpdrop:on) touch "$hd/switch/$what" ;;
        drop:off | flood:off | escape:off | sftpdrop:off) rm -f "$hd/switch/$what" ;;
        *) die "unknown switch $what $state" ;;
    esac
}

listen_addr() { awk '/^ListenAddress/ {split($2, a, ":"); print a[1]}' "$1/sshd_config"; }
listen_port() { awk '/^ListenAddress/ {split($2, a, ":"); print a[2]}' "$1/sshd_config"; }

case "${1:-}" in
    start) [ $# -ge 3 ] || die "usage: fleet.sh start N DIR [BASE]"; start "$2" "$3" "${4:-}" ;;
    stop) [ $# -eq 2 ] || die "usage: fleet.sh stop DIR"; stop "$2" ;;
    switch) [ $# -eq 5 ] || die "usage: fleet.sh switch DIR HOST SWITCH on|off"; switch "$2" "$3" "$4" "$5" ;;
    *) die "usage: fleet.sh start N DIR [BASE] | stop DIR | switch DIR HOST SWITCH on|off" ;;
esac
