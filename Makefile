# itv: build, test and run. Every system package comes from `make deps`.
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
CONFIG ?= debug
# Every target must declare each module it imports (a missing one fails the build, not only a fresh clone).
BUILD_FLAGS = --explicit-target-dependency-import-check error
BIN = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path 2>/dev/null)
# itv_VERSION_ARCH, from debian/changelog (expanded when used: dpkg-dev comes from `make deps`).
DEB_NAME = itv_$(shell dpkg-parsechangelog -S Version)_$(shell dpkg --print-architecture)

# Debian packages the build, the tests, the demo and the benchmarks need.
DEB_PACKAGES = libssh2-1-dev libsystemd-dev libsqlite3-dev libcurl4-openssl-dev libxml2-dev \
	openssh-server openssh-client pkg-config iproute2 util-linux curl systemd procps python3-venv openssl passwd \
	prometheus python3-aiosmtpd libssl-dev libldap-dev slapd ldap-utils
# What `make deb` and its test need: Debian's packaging tools, lintian, and man to check the manual pages.
PACKAGING_PACKAGES = debhelper dpkg-dev fakeroot lintian man-db groff-base binutils

.PHONY: all deps build test test-fast test-deb lint demo demo-stop bench install deb clean

all: build

## deps: install missing Debian packages (does nothing when all are present)
deps:
	@bash scripts/deps.sh $(DEB_PACKAGES) $(PACKAGING_PACKAGES)

## build: compile itvd and itvctl
build: deps
	$(SWIFT) build -c $(CONFIG) $(BUILD_FLAGS)

## test: every test tier (pure, adapters against real components, end to end)
# Tests run one after another: many of them start real servers and processes, and on two cores tests that
# block a thread (waiting for a child process) would starve the others of Swift's cooperative pool.
test: deps
	$(SWIFT) build -c $(CONFIG) --build-tests $(BUILD_FLAGS)
	ITV_BIN_DIR="$(BIN)" $(SWIFT) test -c $(CONFIG) --skip-build --no-parallel
	$(MAKE) test-deb

## test-fast: the pure and fake-port tests only (no root, no fleet, no daemons, no servers): while editing
# ITVCore (pure), ITVProtocol (wire fixtures), the loader (files), the engine on fakes, the store on SQLite files;
# 500 of the engine's 10,000 seeded crash schedules (`make test` runs them all). FAST_SKIP names the tests
# left to `make test`: the YAML composer's linear-time measurements (10^5 and 2 x 10^5 keys and items, each
# composed twice), which alone took most of the tier; the loader's bounds at field size stay in it.
FAST_SUITES = ITVCoreTests|ITVProtocolTests|ITVPlaybookLoaderTests|ITVEngineTests|ITVStoreTests
FAST_SKIP = ComposesInLinearTime
test-fast:
	$(SWIFT) build -c $(CONFIG) --build-tests $(BUILD_FLAGS)
	ITV_SCHEDULES=500 $(SWIFT) test -c $(CONFIG) --skip-build --filter '$(FAST_SUITES)' --skip '$(FAST_SKIP)'

## test-deb: the packaging tier: builds the .deb, installs, upgrades, removes and purges it on this machine
test-deb: deps
	@bash scripts/test-deb.sh

## lint: check formatting against .swift-format
lint:
	$(SWIFT) format lint --strict --recursive --configuration .swift-format Sources Tests Package.swift

## demo: the main job against a local demo fleet
demo: build
	@bash scripts/demo.sh "$(BIN)"

demo-stop:
	@bash scripts/demo-stop.sh

## bench: figures next to a baseline measured in the same run
bench: deps
	$(SWIFT) build -c release
	@bash scripts/bench.sh "$$($(SWIFT) build -c release --show-bin-path)"

## install: binaries, units, catalog, example config, completions (PREFIX, DESTDIR respected)
install:
	$(SWIFT) build -c release
	@bash scripts/install.sh "$$($(SWIFT) build -c release --show-bin-path)" "$(DESTDIR)" "$(PREFIX)"

## deb: dist/itv_VERSION_ARCH.deb with Debian's tooling (static Swift runtime, units, man pages)
deb: deps
	@mkdir -p dist
	SWIFT="$(SWIFT)" ITV_DEB_DESTDIR="$(CURDIR)/dist" dpkg-buildpackage -b -us -uc \
		--buildinfo-option=-u"$(CURDIR)/dist" --changes-option=-u"$(CURDIR)/dist" \
		--buildinfo-file="$(CURDIR)/dist/$(DEB_NAME).buildinfo" --changes-file="$(CURDIR)/dist/$(DEB_NAME).changes"
	@echo "make deb: dist/$(DEB_NAME).deb"

clean:
	rm -rf .build .build-deb dist
