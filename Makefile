# pxelab — build, test, install.  `make check` is the README's test command.
PREFIX    ?= /usr/local
DESTDIR   ?=
DATADIR   ?= $(PREFIX)/share/pxelab
VERSION   := 0.1.0

CC        ?= cc
PKGS      := libconfuse jansson libnl-3.0 libnl-route-3.0 libmnl libnftnl libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) -D_GNU_SOURCE \
             -DPXELAB_VERSION='"$(VERSION)"' -DPXELAB_DATADIR='"$(DATADIR)"' -Isrc
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

.PHONY: all asan unit check check-layers deps test install clean demo fuzz bench

all: $(OUT)/pxelab

$(OUT)/pxelab: $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The sanitizer build the tests run (ASan + UBSan).
asan: $(OUT)/pxelab-asan
$(OUT)/pxelab-asan: $(SAN_OBJS)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(B)/san/%.o: src/%.c $(HDRS)
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

install: pxelab
	install -D -m 0755 pxelab $(DESTDIR)$(PREFIX)/bin/pxelab
	install -d $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/profiles
	cp -R templates/. $(DESTDIR)$(DATADIR)/templates/
	install -m 0644 profiles/*.conf $(DESTDIR)$(DATADIR)/profiles/

clean:
	rm -rf build pxelab pxelab-asan
