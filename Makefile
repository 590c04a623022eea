# authd: build, test, install. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
PREFIX ?= $(HOME)/.local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
# systemd user units: ~/.local/share/systemd/user for a per-user install (systemd does not look in
# ~/.local/lib), $(PREFIX)/lib/systemd/user otherwise (/usr/lib/systemd/user, /usr/local/lib/systemd/user).
ifeq ($(PREFIX),$(HOME)/.local)
USERUNITDIR ?= $(PREFIX)/share/systemd/user
else
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
endif
UNITDIR := $(DESTDIR)$(USERUNITDIR)
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
BASHCOMPDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR := $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
DOCDIR := $(DESTDIR)$(PREFIX)/share/doc/authd
# What `make install` creates, and so exactly what `make uninstall` removes (directories stay).
INSTALLED_FILES = $(foreach p,$(PROGRAMS),$(BINDIR)/$(p)) $(UNITDIR)/authd.service $(UNITDIR)/authd.socket \
	$(BASHCOMPDIR)/authctl $(ZSHCOMPDIR)/_authctl $(FISHCOMPDIR)/authctl.fish \
	$(MANDIR)/authd.1 $(MANDIR)/authctl.1 $(MANDIR)/git-credential-authctl.1 $(MANDIR)/docker-credential-authctl.1 $(MANDIR)/authd-devserver.1 \
	$(DOCDIR)/authd-credential.conf.example $(foreach d,$(DOC_PAGES),$(DOCDIR)/$(d))
# The documentation pages messages point at (authctl finds them under PREFIX/share/doc/authd).
DOC_PAGES := $(notdir $(wildcard docs/*.md))

SWIFT ?= swift
CONFIG ?= debug
BUILD_FLAGS ?=
BIN_DIR = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path 2>/dev/null)
# `make install` builds a release and installs that. Given CONFIG=debug|release on the command line it
# installs that configuration; given BIN_DIR=DIR it installs the programs in DIR and builds nothing
# (packaging, and Tests/EndToEndTests/SystemdUnitTests.swift).
EXPLICIT := command line environment override
INSTALL_CONFIG = $(if $(filter $(EXPLICIT),$(origin CONFIG)),$(CONFIG),release)
INSTALL_BIN_DIR = $(if $(filter $(EXPLICIT),$(origin BIN_DIR)),$(BIN_DIR),$(shell $(SWIFT) build -c $(INSTALL_CONFIG) --show-bin-path 2>/dev/null))
PROGRAMS := authd authctl git-credential-authctl docker-credential-authctl authd-devserver
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 300
SANITIZE_TEST_TARGETS ?= $(shell cd Tests && ls -d */ | tr -d / | grep -vx EndToEndTests | paste -sd, -)

# Debian packages the build and the tests need (command -> package checks below).
APT_PACKAGES := libsodium-dev libsystemd-dev systemd-journal-remote libcurl4-openssl-dev libqrencode-dev libssl-dev pkg-config \
	systemd socat git python3 openssl libc6-dev util-linux procps openssh-server \
	golang-github-burntsushi-toml-dev skopeo
BENCH_PACKAGES := hyperfine oidc-agent
# Packaging (make deb, make deb-test): Debian's own tools.
DEB_PACKAGES := dpkg-dev lintian binutils patchelf debootstrap
DEB_ARCH = $(shell dpkg --print-architecture)

.PHONY: all deps bench-deps build release test unit-test e2e-test fuzz-smoke fuzz \
	test-sanitize install uninstall demo bench clean deb-deps deb deb-test

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then APT="apt-get"; \
	  elif command -v sudo >/dev/null 2>&1; then APT="sudo apt-get"; \
	  else echo "make deps: cannot install$$missing (not root and no sudo); install them with your package manager" >&2; exit 1; fi; \
	  $$APT install -y -qq $$missing >/dev/null 2>&1 || { $$APT update -qq && $$APT install -y -qq $$missing; } || \
	  { echo "make deps: failed to install$$missing; install them by hand" >&2; exit 1; }; \
	fi

bench-deps:
	@# oidc-agent-cli: the agent and its clients without the desktop integration (yad, GTK) that `oidc-agent` pulls in.
	@$(MAKE) --no-print-directory deps APT_PACKAGES="hyperfine oidc-agent-cli valgrind strace"

# A release links the Swift runtime statically (the clients are static executables anyway): what
# `make deb` ships, `make bench` measures and `make install` installs, and a machine without a
# Swift toolchain can run it. SwiftPM's flag, not a linker setting in Package.swift: -static-stdlib
# there leaves Foundation's static archives' own dependencies unlinked.
RELEASE_FLAGS := --static-swift-stdlib
build: deps
	$(SWIFT) build -c $(CONFIG) $(if $(filter release,$(CONFIG)),$(RELEASE_FLAGS)) $(BUILD_FLAGS)

release:
	$(MAKE) build CONFIG=release

test: deps build
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	@# A bound on the whole run, so that a leaked child holding the runner's output can never hang CI.
	@# scripts/run-tests.sh repeats each failing test's name and issues at the end of the output.
	AUTHD_BIN_DIR="$(BIN_DIR)" scripts/run-tests.sh .build/test.log -- \
	  timeout --kill-after=30 1500 $(SWIFT) test --skip-build --parallel $(BUILD_FLAGS)
	$(MAKE) --no-print-directory fuzz-smoke

unit-test: deps
	$(SWIFT) test --parallel --skip EndToEndTests

e2e-test: deps build
	AUTHD_BIN_DIR="$(BIN_DIR)" $(SWIFT) test --filter EndToEndTests

# libFuzzer targets under AddressSanitizer (docs/fuzzing.md): `make test` runs each for FUZZ_SECONDS,
# `make fuzz` for FUZZ_LONG_SECONDS. FUZZ_JOBS=2 fuzzes two targets at once. The smoke run is
# reproducible (FUZZ_SMOKE=1: fixed seed, committed seeds only, no leak check); `make fuzz` is random.
fuzz-smoke: deps
	FUZZ_SMOKE=1 FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_LONG_SECONDS) fuzz/run.sh

# The unit tests (every test target but EndToEndTests, which is not even compiled) under
# AddressSanitizer, then ThreadSanitizer, each in its own scratch path; about 7 minutes from cold
# (docs/fuzzing.md, "Sanitizers"), so not part of `make test`. AUTHD_DYNAMIC_CLIENTS=1: static
# executables cannot be sanitized. ASan: XCTest's own leaks (detect_leaks=0), and HardeningTests
# skipped because ASan's allocator refuses mallopt(M_PERTURB). TSan: Synchronization.Mutex is
# invisible to it (fuzz/sanitizers/tsan.supp). Helper programs (authd-devserver, authd-store-torture)
# come from the plain debug build: a sanitized one starts too slowly for the kill-while-writing test.
SANITIZE_ENV = AUTHD_DYNAMIC_CLIENTS=1 AUTHD_TEST_TARGETS=$(SANITIZE_TEST_TARGETS)
test-sanitize: deps build
	$(SANITIZE_ENV) $(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(SANITIZE_ENV) ASAN_OPTIONS=detect_leaks=0 AUTHD_BIN_DIR="$(BIN_DIR)" \
	  $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --parallel --skip HardeningTests
	$(SANITIZE_ENV) $(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SANITIZE_ENV) TSAN_OPTIONS="suppressions=$(CURDIR)/fuzz/sanitizers/tsan.supp" AUTHD_BIN_DIR="$(BIN_DIR)" \
	  $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --parallel

install:
ifeq ($(filter $(EXPLICIT),$(origin BIN_DIR)),)
	$(MAKE) --no-print-directory build CONFIG=$(INSTALL_CONFIG)
endif
	@for p in $(PROGRAMS); do [ -x "$(INSTALL_BIN_DIR)/$$p" ] || \
	  { echo "make install: $(INSTALL_BIN_DIR)/$$p is missing (build first, or give BIN_DIR=)" >&2; exit 1; }; done
	install -d "$(BINDIR)" "$(UNITDIR)" "$(MANDIR)" "$(BASHCOMPDIR)" "$(ZSHCOMPDIR)" "$(FISHCOMPDIR)" "$(DOCDIR)"
	$(foreach p,$(PROGRAMS),install -m 0755 "$(INSTALL_BIN_DIR)/$(p)" "$(BINDIR)/$(p)";)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/authd.service.in > "$(UNITDIR)/authd.service"
	chmod 0644 "$(UNITDIR)/authd.service"
	install -m 0644 systemd/authd.socket "$(UNITDIR)/authd.socket"
	install -m 0644 systemd/authd-credential.conf.example "$(DOCDIR)/authd-credential.conf.example"
	install -m 0644 $(addprefix docs/,$(DOC_PAGES)) "$(DOCDIR)/"
	@set -e; gen() { out=$$1; shift; if "$$@" > "$$out.tmp"; then mv "$$out.tmp" "$$out"; chmod 0644 "$$out"; \
	  else rm -f "$$out.tmp"; echo "make install: '$$*' failed" >&2; exit 1; fi; }; \
	version=$$("$(BINDIR)/authd" --version); \
	gen "$(BASHCOMPDIR)/authctl" "$(BINDIR)/authctl" completion bash; \
	gen "$(ZSHCOMPDIR)/_authctl" "$(BINDIR)/authctl" completion zsh; \
	gen "$(FISHCOMPDIR)/authctl.fish" "$(BINDIR)/authctl" completion fish; \
	gen "$(MANDIR)/authctl.1" "$(BINDIR)/authctl" help --man; \
	gen "$(MANDIR)/git-credential-authctl.1" "$(BINDIR)/git-credential-authctl" --man; \
	gen "$(MANDIR)/docker-credential-authctl.1" "$(BINDIR)/docker-credential-authctl" --man; \
	gen "$(MANDIR)/authd.1" "$(BINDIR)/authd" --man; \
	gen "$(MANDIR)/authd-devserver.1" python3 scripts/manpage.py --from "$(BINDIR)/authd-devserver" \
	  --version "$$version" --see-also authd:1
	@echo "installed into $(DESTDIR)$(PREFIX) (units in $(UNITDIR))."
	@echo "enable with: systemctl --user daemon-reload && systemctl --user enable --now authd.socket"

uninstall:
	rm -f $(foreach f,$(INSTALLED_FILES),"$(f)")
	@echo "removed authd from $(DESTDIR)$(PREFIX); if it was enabled: systemctl --user disable --now authd.socket authd.service"

deb-deps:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(DEB_PACKAGES)"

# authd_VERSION_ARCH.deb from a release build (scripts/make-deb.sh; docs/operations.md, "Debian
# package"), checked by lintian. The programs come from `make install DESTDIR=… PREFIX=/usr`,
# built as every release is (RELEASE_FLAGS).
deb: deps deb-deps
	$(MAKE) --no-print-directory build CONFIG=release
	scripts/make-deb.sh "$$($(SWIFT) build -c release --show-bin-path)" "$(CURDIR)"

# Installs the package into a clean Debian 12 root made with debootstrap and runs the programs
# there (a few minutes the first time: it downloads the root; not part of `make test`).
deb-test: deb
	scripts/deb-test.sh "$$(ls -t $(CURDIR)/authd_*_$(DEB_ARCH).deb | head -1)"

demo: deps build
	AUTHD_BIN_DIR="$(BIN_DIR)" bash scripts/demo.sh

# BENCH_QUICK=1 make bench: a short run (see bench/run.sh).
bench: deps bench-deps
	$(MAKE) release
	AUTHD_BIN_DIR="$$($(SWIFT) build -c release --show-bin-path)" nice ./bench/run.sh

clean:
	$(SWIFT) package clean
	rm -rf .build .build-* authd_*.deb
