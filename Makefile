# authd: build, test, install. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
PREFIX ?= $(HOME)/.local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
UNITDIR := $(DESTDIR)$(PREFIX)/lib/systemd/user
ifeq ($(PREFIX),/usr)
UNITDIR := $(DESTDIR)/usr/lib/systemd/user
endif
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
BASHCOMPDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR := $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

SWIFT ?= swift
CONFIG ?= debug
BUILD_FLAGS ?=
BIN_DIR = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path 2>/dev/null)
PROGRAMS := authd authctl git-credential-authctl authd-devserver
FUZZ_SECONDS ?= 20

# Debian packages the build and the tests need (command -> package checks below).
APT_PACKAGES := libsodium-dev libsystemd-dev libcurl4-openssl-dev libqrencode-dev pkg-config \
	systemd socat git python3 openssl libc6-dev util-linux procps
BENCH_PACKAGES := hyperfine oidc-agent

.PHONY: all deps bench-deps build release test unit-test e2e-test fuzz-smoke fuzz \
	test-sanitize install uninstall demo bench clean

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
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(BENCH_PACKAGES)"

build: deps
	$(SWIFT) build -c $(CONFIG) $(BUILD_FLAGS)

release:
	$(MAKE) build CONFIG=release

test: deps build
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	AUTHD_BIN_DIR="$(BIN_DIR)" $(SWIFT) test --skip-build --parallel $(BUILD_FLAGS)
	$(MAKE) --no-print-directory fuzz-smoke

unit-test: deps
	$(SWIFT) test --parallel --skip EndToEndTests

e2e-test: deps build
	AUTHD_BIN_DIR="$(BIN_DIR)" $(SWIFT) test --filter EndToEndTests

fuzz-smoke: deps
	@if [ -x fuzz/run.sh ]; then FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh; else echo "fuzz: no targets yet"; fi

fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} fuzz/run.sh

test-sanitize: deps
	AUTHD_DYNAMIC_CLIENTS=1 ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --sanitize=address --scratch-path .build-asan --skip EndToEndTests
	AUTHD_DYNAMIC_CLIENTS=1 $(SWIFT) test --sanitize=thread --scratch-path .build-tsan --skip EndToEndTests

install: release
	install -d $(BINDIR) $(UNITDIR) $(MANDIR) $(BASHCOMPDIR) $(ZSHCOMPDIR) $(FISHCOMPDIR)
	$(foreach p,$(PROGRAMS),install -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/$(p)" $(BINDIR)/$(p);)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/authd.service.in > $(UNITDIR)/authd.service
	install -m 0644 systemd/authd.socket $(UNITDIR)/authd.socket
	$(BINDIR)/authctl completion bash > $(BASHCOMPDIR)/authctl
	$(BINDIR)/authctl completion zsh > $(ZSHCOMPDIR)/_authctl
	$(BINDIR)/authctl completion fish > $(FISHCOMPDIR)/authctl.fish
	$(BINDIR)/authctl help --man > $(MANDIR)/authctl.1
	$(BINDIR)/authd --generate-manual > $(MANDIR)/authd.1 2>/dev/null || help2man -N $(BINDIR)/authd > $(MANDIR)/authd.1 2>/dev/null || true
	@echo "installed into $(DESTDIR)$(PREFIX); enable with: systemctl --user daemon-reload && systemctl --user enable --now authd.socket"

uninstall:
	rm -f $(foreach p,$(PROGRAMS),$(BINDIR)/$(p))
	rm -f $(UNITDIR)/authd.service $(UNITDIR)/authd.socket
	rm -f $(BASHCOMPDIR)/authctl $(ZSHCOMPDIR)/_authctl $(FISHCOMPDIR)/authctl.fish
	rm -f $(MANDIR)/authctl.1 $(MANDIR)/authd.1

demo: deps build
	AUTHD_BIN_DIR="$(BIN_DIR)" ./scripts/demo.sh

bench: deps bench-deps
	$(MAKE) release
	./bench/run.sh

clean:
	$(SWIFT) package clean
	rm -rf .build .build-*
