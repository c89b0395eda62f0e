# pxelab — build, test, install.  `make check` is the README's test command.
# Where `make install` puts things (DESTDIR: a staging root, as packagers use).
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share/pxelab
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/pxelab
# The profiles' home, SYSCONFDIR/pxelab (`pxelab up NAME`, pxelab@NAME.service):
# /etc for every PREFIX, as Debian's packages and /usr/local installs use it.
SYSCONFDIR?= /etc
# systemd's system unit directory: Debian 12's packages (PREFIX=/usr) use
# /lib/systemd/system; a local install $(PREFIX)/lib/systemd/system, which
# systemd reads for /usr/local (`systemd-analyze unit-paths`).
UNITDIR   ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
# bash-completion loads it from here on first use of `pxelab` (XDG_DATA_DIRS).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION   := 0.1.0

CC        ?= cc
PKGS      := libconfuse jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) -D_GNU_SOURCE \
             -DPXELAB_VERSION='"$(VERSION)"' -DPXELAB_DATADIR='"$(DATADIR)"' \
             -DPXELAB_SYSCONFDIR='"$(SYSCONFDIR)"' -Isrc
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# B: object dir, OUT: where binaries go (helpers may build out of tree).
B         ?= build
OUT       ?= .
# src/ is in layers, lowest first; a file includes only from its own layer or
# one below (`make check-layers`, scripts/check-layers).
LAYERS    := basic host profile render kinds lab cmd
SRCS      := $(sort $(wildcard $(LAYERS:%=src/%/*.c)))
LIB_SRCS  := $(filter-out src/cmd/main.c,$(SRCS))
OBJS      := $(SRCS:src/%.c=$(B)/obj/%.o)
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
SAN_OBJS  := $(SRCS:src/%.c=$(B)/san/%.o)
SAN_LIB   := $(LIB_SRCS:src/%.c=$(B)/san/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
# Integration test programs run by bats inside the systemd harness.
ITEST_SRCS:= $(sort $(wildcard tests/integration/itest_*.c))
ITEST_BINS:= $(ITEST_SRCS:tests/integration/%.c=$(B)/tests/%)
HDRS      := $(wildcard $(LAYERS:%=src/%/*.h))

.PHONY: all asan unit check check-layers deps test install uninstall clean demo fuzz bench FORCE

all: $(OUT)/pxelab

$(OUT)/pxelab: $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The sanitizer build the tests run (ASan + UBSan).
asan: $(OUT)/pxelab-asan
$(OUT)/pxelab-asan: $(SAN_OBJS)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# The paths compiled in: rewritten only when they change, so that `make install
# PREFIX=/usr` after a plain `make` rebuilds instead of installing a binary
# that looks for its data in /usr/local (the idiom of git's GIT-CFLAGS).
$(B)/paths: FORCE
	@mkdir -p $(@D)
	@echo "$(VERSION) $(DATADIR) $(SYSCONFDIR)" | cmp -s - $@ || echo "$(VERSION) $(DATADIR) $(SYSCONFDIR)" > $@

$(B)/obj/%.o: src/%.c $(HDRS) $(B)/paths
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(B)/san/%.o: src/%.c $(HDRS) $(B)/paths
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
$(B)/tests/test_%: tests/unit/test_%.c $(SAN_LIB) $(HDRS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_LIB) $(PKG_LIBS) $(shell pkg-config --libs cmocka)
$(B)/tests/itest_%: tests/integration/itest_%.c $(SAN_LIB) $(HDRS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_LIB) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(B)/tests:
	mkdir -p $@

unit: $(UNIT_BINS) $(ITEST_BINS)

# Installs every package the build, the services and the tests need (apt-get).
deps:
	./scripts/install-deps

check: deps
	./scripts/check-layers
	$(MAKE) all asan unit
	./tests/run-all

check-layers:
	./scripts/check-layers

test: all asan unit
	./tests/run-all

demo: deps
	$(MAKE) all
	./scripts/demo

# Each libFuzzer target for FUZZ_SECONDS (default 20) with its seed corpus.
fuzz:
	FUZZ_OUT=$(B)/fuzz ./tests/fuzz/run

bench: deps
	$(MAKE) all
	./bench/profile-parse
	./bench/lifecycle
	./bench/boot-time
	./bench/clients50

# The installed man pages and unit name the installed paths: the sources say
# /usr/local and /etc, as a default install has them.
INSTALL_SED = sed -e 's|/usr/local/bin/pxelab|$(BINDIR)/pxelab|g' \
                  -e 's|/usr/local/lib/systemd/system|$(UNITDIR)|g' \
                  -e 's|/usr/local/share/doc/pxelab|$(DOCDIR)|g' \
                  -e 's|/usr/local/share/pxelab|$(DATADIR)|g' \
                  -e 's|/etc/pxelab|$(SYSCONFDIR)/pxelab|g'
TEMPLATES := $(notdir $(wildcard templates/*.mustache))
EXAMPLES  := $(notdir $(wildcard profiles/*.conf))

install: $(OUT)/pxelab
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(SYSCONFDIR)/pxelab
	install -m 0755 $(OUT)/pxelab $(DESTDIR)$(BINDIR)/pxelab
	install -m 0644 $(TEMPLATES:%=templates/%) $(DESTDIR)$(DATADIR)/templates/
	install -m 0644 $(EXAMPLES:%=profiles/%) $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL_SED) man/pxelab.1 > $(DESTDIR)$(MANDIR)/man1/pxelab.1
	$(INSTALL_SED) man/pxelab.conf.5 > $(DESTDIR)$(MANDIR)/man5/pxelab.conf.5
	$(INSTALL_SED) systemd/pxelab@.service > $(DESTDIR)$(UNITDIR)/pxelab@.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/pxelab.1 $(DESTDIR)$(MANDIR)/man5/pxelab.conf.5 \
		$(DESTDIR)$(UNITDIR)/pxelab@.service
	$(INSTALL_SED) completion/pxelab.bash > $(DESTDIR)$(BASHCOMPDIR)/pxelab
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/pxelab

# Removes exactly what install put there; SYSCONFDIR/pxelab only when empty
# (the profiles in it are the user's).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pxelab $(DESTDIR)$(MANDIR)/man1/pxelab.1 \
		$(DESTDIR)$(MANDIR)/man5/pxelab.conf.5 $(DESTDIR)$(UNITDIR)/pxelab@.service \
		$(DESTDIR)$(BASHCOMPDIR)/pxelab \
		$(TEMPLATES:%=$(DESTDIR)$(DATADIR)/templates/%) $(EXAMPLES:%=$(DESTDIR)$(DOCDIR)/examples/%)
	for d in $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)/examples \
		 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/pxelab; do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; done

clean:
	rm -rf build pxelab pxelab-asan
