#!/usr/bin/env bash
# make demo: the main job of itv against a local demo fleet, with real itvctl commands.
#   $1: directory of the built binaries.
# Environment: DEMO_DIR (default .demo), DEMO_BASE (loopback /24 of the fleet, default 127.0.90),
# DEMO_PAUSE (seconds between scenes, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(cd "$1" && pwd)"
DEMO_DIR="${DEMO_DIR:-.demo}"
BASE="${DEMO_BASE:-127.0.90}"
PAUSE="${DEMO_PAUSE:-1}"
if [ -e "$DEMO_DIR/pids" ]; then
    echo "demo: a demo is already running in $DEMO_DIR; stop it with: make demo-stop" >&2
    exit 1
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR/pids" "$DEMO_DIR/playbooks" "$DEMO_DIR/feed" "$DEMO_DIR/run"
DEMO_DIR="$(cd "$DEMO_DIR" && pwd)"
export ITV_SOCKET="$DEMO_DIR/run/itvd.sock"
export PATH="$BIN:$PATH"
trap 'echo; echo "demo: failed; the log is $DEMO_DIR/itvd.log; stop everything with: make demo-stop" >&2' ERR

bold=$(tput bold 2>/dev/null || true); dim=$(tput dim 2>/dev/null || true); plain=$(tput sgr0 2>/dev/null || true)
scene() { echo; echo "${bold}== $*${plain}"; sleep "$PAUSE"; }
say() { echo "${dim}# $*${plain}"; }
run() { echo "${bold}\$ $*${plain}"; "$@"; }
# Runs a command that may exit non-zero on purpose (watch exits 2 while a wave waits for an approval).
run_status() { echo "${bold}\$ $*${plain}"; set +e; timeout 300 "$@"; status=$?; set -e; }
rollout_of() { # VERSION -> id of the rollout of that version
    itvctl --json rollout list --all | python3 -c '
import json, sys
v = sys.argv[1]
ids = [r["id"] for r in json.load(sys.stdin)["rollouts"] if r["version"] == v]
print(max(ids) if ids else "")' "$1"
}

scene "Setting up: 12 SSH hosts in two tenants, a vendor feed, and itvd"
# The fleet's sshd processes must not hold this script's output open: their output goes to a file.
bash scripts/fleet.sh start 12 "$DEMO_DIR/fleet" "$BASE" >"$DEMO_DIR/fleet.log" 2>&1 || {
    cat "$DEMO_DIR/fleet.log" >&2
    exit 1
}
names=(ws-lra-01 ws-lra-02 ws-lra-03 ws-lra-04 srv-lra-01 srv-lra-02 ws-egl-01 ws-egl-02 ws-egl-03 ws-egl-04 srv-egl-01 srv-egl-02)
{
    echo "# The demo fleet: real sshd processes on $BASE.1-12, in two tenants."
    echo "defaults: {user: root}"
    echo "tenants:"
    echo "  landratsamt: {name: Landratsamt, windows: [evening-lra]}"
    echo "  egling: {name: Gemeinde Egling an der Paar, windows: [evening-egling]}"
    echo "hosts:"
    for i in $(seq 1 12); do
        name="${names[$((i - 1))]}"
        port=22; [ $((i % 10)) -eq 3 ] && port=2222
        tenant=landratsamt; [ "$i" -gt 6 ] && tenant=egling
        group=workstations; case "$name" in srv-*) group=servers ;; esac
        extra=""; [ "$i" -eq 1 ] && extra=", it"
        # ws-egl-02 can be woken over the LAN (its MAC goes to the demo's Wake-on-LAN receiver).
        mac=""; [ "$i" -eq 8 ] && mac=", mac: \"52:54:00:00:00:08\""
        echo "  $name: {address: $BASE.$i, port: $port, tenant: $tenant, groups: [$group$extra]$mac}"
        hostdir="$DEMO_DIR/fleet/hosts/$(printf 'fleet-%03d' "$i")/root"
        mkdir -p "$hostdir/bin" "$hostdir/apps"
        install -m 0755 scripts/demo/vendor-app "$hostdir/bin/vendor-app"
        echo "1.0.0" >"$hostdir/apps/fachverfahren"
    done
} >"$DEMO_DIR/inventory.yaml"
feed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/@FEED_PORT@/$feed_port/" scripts/demo/fachverfahren.yaml >"$DEMO_DIR/playbooks/fachverfahren.yaml"
# The operators' chat: a webhook receiver (HTTPS with its own CA) that prints what itvd tells it.
mkdir -p "$DEMO_DIR/webhook"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DEMO_DIR/hook.secret"
chmod 0600 "$DEMO_DIR/hook.secret"
python3 scripts/notify/webhook-receiver.py "$DEMO_DIR/webhook" --secret "$DEMO_DIR/hook.secret" --print \
    </dev/null >"$DEMO_DIR/webhook.log" 2>&1 &
echo $! >"$DEMO_DIR/pids/webhook.pid"
for _ in $(seq 1 100); do [ -s "$DEMO_DIR/webhook.log" ] && break; sleep 0.1; done
hook_port=$(head -1 "$DEMO_DIR/webhook.log")
# Wake-on-LAN: a UDP receiver that shows each magic packet and boots the switched-off workstation 5 s later.
python3 scripts/demo/wol-receiver.py "$DEMO_DIR/fleet" 5 52:54:00:00:00:08=fleet-008 \
    </dev/null >"$DEMO_DIR/wol.log" 2>&1 &
echo $! >"$DEMO_DIR/pids/wol.pid"
for _ in $(seq 1 100); do [ -s "$DEMO_DIR/wol.log" ] && break; sleep 0.1; done
wol_port=$(head -1 "$DEMO_DIR/wol.log")
cat >"$DEMO_DIR/itvd.yaml" <<CONF
playbooks: playbooks
inventory: inventory.yaml
state: state
socket: run/itvd.sock
ssh: {identity: fleet/id_ed25519, known_hosts: fleet/known_hosts, connect_timeout: 5s}
parallel: 16
operators: [root]
windows:
  evening: {duration: 4h}
  evening-lra: {duration: 4h}
  evening-egling: {duration: 2h}
notify:
  - name: chat
    kind: webhook
    url: https://127.0.0.1:$hook_port/itv
    secret_file: hook.secret
    events: [wave.waiting, rollout.halted, rollout.rolled_back, artifact.rejected]
metrics: {listen: 127.0.0.1:0}
wake_on_lan: {address: 127.0.0.1, port: $wol_port, lead: 2s}
CONF
# The vendor's feed server: strong ETags from the content, so that release 1.2.0, published within the same
# second as the fetch of 1.1.0, is seen (Last-Modified alone has a resolution of one second).
python3 scripts/demo/feed-server.py "$DEMO_DIR/feed" "$feed_port" </dev/null >"$DEMO_DIR/feed.log" 2>&1 &
echo $! >"$DEMO_DIR/pids/feed.pid"
itvd check --config "$DEMO_DIR/itvd.yaml"
ITVD_CA_BUNDLE="$DEMO_DIR/webhook/ca.pem" ITVD_NOTIFY_BACKOFF_BASE=1 ITVD_METRICS_PORT_FILE="$DEMO_DIR/metrics.port" \
    itvd run --config "$DEMO_DIR/itvd.yaml" --log stderr </dev/null >"$DEMO_DIR/itvd.log" 2>&1 &
echo $! >"$DEMO_DIR/pids/itvd.pid"
for _ in $(seq 1 100); do itvctl status >/dev/null 2>&1 && break; sleep 0.1; done
say "fleet in $DEMO_DIR/fleet, daemon log in $DEMO_DIR/itvd.log; export ITV_SOCKET=$ITV_SOCKET to follow along"

scene "1. The daemon at a glance"
run itvctl status
run itvctl host scan --procedure fachverfahren >/dev/null
run itvctl host list --procedure fachverfahren

# The vendor's download area: an installer per release and its SHA256SUMS (what itvd verifies before planning).
publish_installer() { # VERSION [TAMPER]: the installer and its checksum file; TAMPER changes the file afterwards
    mkdir -p "$DEMO_DIR/feed/dl/$1"
    printf 'fachverfahren %s installer\n' "$1" >"$DEMO_DIR/feed/dl/fachverfahren-$1.tar.gz"
    head -c 65536 /dev/urandom >>"$DEMO_DIR/feed/dl/fachverfahren-$1.tar.gz"
    (cd "$DEMO_DIR/feed/dl" && sha256sum "fachverfahren-$1.tar.gz" >"$1/SHA256SUMS")
    if [ -n "${2:-}" ]; then echo "backdoor" >>"$DEMO_DIR/feed/dl/fachverfahren-$1.tar.gz"; fi
}

scene "2. The vendor publishes release 1.1.0 of the application"
publish_installer 1.1.0
echo '{"latest": {"version": "1.1.0", "date": "2026-11-27"}}' >"$DEMO_DIR/feed/releases.json"
run itvctl feed check fachverfahren
run itvctl release list --procedure fachverfahren
say "auto_plan: true, so the new release became a rollout that waits for its patch window"
RID=$(rollout_of 1.1.0)
run itvctl rollout plan fachverfahren --version 1.1.0
say "the plan names the installer's SHA-256: the operators approve these bytes, not only the version"

scene "3. The evening patch windows open (what the itv-window@evening.timer runs)"
say "each tenant patches in its own window; the rollout's window (evening) must be open too"
say "ws-egl-02 (broad wave) was switched off after work; it has a MAC address in the inventory"
bash scripts/fleet.sh switch "$DEMO_DIR/fleet" fleet-008 off on
run itvctl window open evening
run itvctl window open evening-lra
run itvctl window list
say "the canary wave (ws-lra-01, approval: auto) runs by itself; the pilot wave waits for an operator"
run_status itvctl rollout watch "$RID"

say "meanwhile the operators' chat heard about it (webhook, signed with HMAC-SHA256):"
chat() { # EVENT: waits (10 s at most) until the receiver printed it, then shows what it printed
    for _ in $(seq 1 100); do grep -q "^webhook: $1:" "$DEMO_DIR/webhook.log" && break; sleep 0.1; done
    grep -A1 "^webhook: $1:" "$DEMO_DIR/webhook.log" | grep -v '^--' | tail -2 || true
}
chat wave.waiting
run itvctl notify list

scene "4. The operator approves the pilot wave"
run itvctl rollout approve "$RID" --comment "canary looks fine"
say "after the pilot the broad wave (approval: window) runs unattended; Egling's hosts wait for Egling's window"
run itvctl window open evening-egling
say "ws-egl-02 is woken (Wake-on-LAN, lead 2s) but boots too slowly: deferred, not failed; the rollout"
say "catches it up at its next retry (retry_unreached: 5s here; woken again 2s before)"
run_status itvctl rollout watch "$RID"
say "the Wake-on-LAN packets itvd sent, as the demo's receiver saw them:"
grep '^wol:' "$DEMO_DIR/wol.log" || true
echo "${bold}\$ itvctl rollout show $RID | grep -E 'not reached|^HOST|ws-egl-02'${plain}"
itvctl rollout show "$RID" | grep -E 'not reached|^HOST|ws-egl-02' || true

scene "5. Every host runs 1.1.0: the drift is gone"
run itvctl host list --procedure fachverfahren

scene "6. Release 1.2.0 breaks on one host (ws-lra-03 in the pilot wave)"
touch "$DEMO_DIR/fleet/hosts/fleet-003/root/apps/fachverfahren.broken"
publish_installer 1.2.0
echo '{"latest": {"version": "1.2.0", "date": "2026-11-28"}}' >"$DEMO_DIR/feed/releases.json"
run itvctl feed check fachverfahren
RID2=$(rollout_of 1.2.0)
run_status itvctl rollout watch "$RID2"
run itvctl rollout approve "$RID2" --comment "pilot for 1.2.0"
run_status itvctl rollout watch "$RID2"
say "max_failures: 0 was exceeded, so the rollout halted and waits for an operator"
run itvctl rollout show "$RID2"

say "the chat heard that too:"
chat rollout.halted
say "and Prometheus sees it (itvctl metrics, or http://127.0.0.1:$(cat "$DEMO_DIR/metrics.port" 2>/dev/null)/metrics):"
echo "${bold}\$ itvctl metrics | grep -E '^itv_(rollouts\{phase=\"halted|waves_waiting|hosts_behind|host_runs_total)'${plain}"
itvctl metrics | grep -E '^itv_(rollouts\{phase="halted|waves_waiting|hosts_behind|host_runs_total)' || true

scene "7. The operator rolls the release back"
run itvctl rollout rollback "$RID2" --reason "1.2.0 does not start on ws-lra-03"
run_status itvctl rollout watch "$RID2"
run itvctl host list --procedure fachverfahren
run itvctl audit

scene "8. Release 1.3.0 arrives tampered: the installer is not the one its SHA256SUMS names"
publish_installer 1.3.0 tamper
echo '{"latest": {"version": "1.3.0", "date": "2026-11-29"}}' >"$DEMO_DIR/feed/releases.json"
run itvctl feed check fachverfahren
run_status itvctl rollout plan fachverfahren --version 1.3.0
say "refused (exit $status): nothing is planned for 1.3.0, and the journal has artifact.rejected at critical"
run itvctl release list --procedure fachverfahren
say "the chat is told too:"
chat artifact.rejected
say "the cache holds only verified bytes (1.3.0's download was never kept):"
run itvctl artifact list --procedure fachverfahren
say "the journal entry (here itvd's stderr log), with both hashes in ITV_EXPECTED_SHA256 and ITV_ACTUAL_SHA256:"
grep -m1 'ITV_EVENT=artifact.rejected' "$DEMO_DIR/itvd.log" | grep -oE 'CRITICAL release [^;]*|ITV_EVENT=[a-z.]+' || true

scene "Done"
cat <<MSG
The daemon and the fleet keep running, so you can go on exploring:
  export ITV_SOCKET=$ITV_SOCKET
  itvctl rollout list --all          itvctl rollout show $RID2
  itvctl window list                 itvctl --json status
  less $DEMO_DIR/itvd.log            (the daemon's log; with a journal it logs there instead)
  itvctl notify list                 cat $DEMO_DIR/webhook.log (what the chat received)
  itvctl metrics                     itvctl artifact list
Stop everything the demo started with: make demo-stop
MSG
