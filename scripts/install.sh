#!/usr/bin/env bash
# Installs itv: install.sh BINDIR DESTDIR PREFIX (`make install` passes the release bin dir).
#
# Layout, all below DESTDIR:
#   PREFIX/bin/itvd, PREFIX/bin/itvctl
#   PREFIX/lib/systemd/system/{itvd.service,itvd.socket,itv-window@.service,itv-window@.timer}
#   PREFIX/lib/systemd/catalog/itvd.catalog
#   PREFIX/lib/sysusers.d/itvd.conf, PREFIX/lib/tmpfiles.d/itvd.conf
#   PREFIX/share/doc/itv/README.md and examples/ (playbooks, inventory, config)
#   /etc/itvd/itvd.yaml (only when none exists), /etc/itvd/playbooks/
# PREFIX-relative unit, catalog, sysusers and tmpfiles directories are searched by systemd for both
# PREFIX=/usr and PREFIX=/usr/local. The units in units/ name /usr/local; the installed copies are
# rewritten for PREFIX. With an empty DESTDIR (a real install) the users, directories and catalog are
# created right away, and systemd reloads its units when it runs as the service manager.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -ne 3 ]]; then
    echo "usage: $0 BINDIR DESTDIR PREFIX" >&2
    exit 64
fi
BIN="$1"; DEST="$2"; PREFIX="${3%/}"
if [[ "$PREFIX" != /* ]]; then
    echo "install.sh: PREFIX must be an absolute path, not '$PREFIX'" >&2
    exit 64
fi
for exe in itvd itvctl; do
    if [[ ! -x "$BIN/$exe" ]]; then
        echo "install.sh: $BIN/$exe does not exist; build first (make install builds it)" >&2
        exit 1
    fi
done

# Rewrites the /usr/local paths of a template for PREFIX into DEST_FILE.
from_template() { # SRC DEST_FILE MODE
    local tmp
    tmp="$(mktemp)"
    sed -e "s#/usr/local/#$PREFIX/#g" "$1" >"$tmp"
    install -m "$3" "$tmp" "$2"
    rm -f "$tmp"
}

install -d "$DEST$PREFIX/bin"
install -m 0755 "$BIN/itvd" "$BIN/itvctl" "$DEST$PREFIX/bin/"

unitdir="$DEST$PREFIX/lib/systemd/system"
install -d "$unitdir" "$DEST$PREFIX/lib/systemd/catalog" "$DEST$PREFIX/lib/sysusers.d" "$DEST$PREFIX/lib/tmpfiles.d"
for unit in itvd.service itvd.socket itv-window@.service itv-window@.timer; do
    from_template "units/$unit" "$unitdir/$unit" 0644
done
from_template units/itvd.catalog "$DEST$PREFIX/lib/systemd/catalog/itvd.catalog" 0644
install -m 0644 units/itvd.sysusers "$DEST$PREFIX/lib/sysusers.d/itvd.conf"
install -m 0644 units/itvd.tmpfiles "$DEST$PREFIX/lib/tmpfiles.d/itvd.conf"

docdir="$DEST$PREFIX/share/doc/itv"
install -d "$docdir/examples/playbooks"
if [[ -f README.md ]]; then
    install -m 0644 README.md "$docdir/README.md"
fi
shopt -s nullglob
for example in examples/*.yaml; do
    install -m 0644 "$example" "$docdir/examples/"
done
for playbook in playbooks/*.yaml; do
    install -m 0644 "$playbook" "$docdir/examples/playbooks/"
done
shopt -u nullglob

install -d -m 0755 "$DEST/etc/itvd" "$DEST/etc/itvd/playbooks"
if [[ -e "$DEST/etc/itvd/itvd.yaml" ]]; then
    echo "install.sh: keeping the existing $DEST/etc/itvd/itvd.yaml"
else
    install -m 0644 scripts/systemd/itvd.yaml "$DEST/etc/itvd/itvd.yaml"
fi

if [[ -z "$DEST" ]]; then
    systemd-sysusers "$PREFIX/lib/sysusers.d/itvd.conf"
    systemd-tmpfiles --create "$PREFIX/lib/tmpfiles.d/itvd.conf"
    journalctl --update-catalog
    if [[ -d /run/systemd/system ]]; then
        systemctl daemon-reload
    fi
fi
echo "installed itv into ${DEST:-/} (PREFIX=$PREFIX)"
