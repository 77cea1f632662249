# cim-agent — GitOps sync agent for Nix hosts. Plain GNU make; see README.md.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/cim-agent
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR    ?=
VERSION    := 0.1.0

CC         ?= cc
FUZZ_CC    ?= clang
PKG_CONFIG ?= pkg-config
PROVE      ?= prove

UNAME := $(shell uname -s)
PKGS  := libgit2 libcurl libsodium inih jansson libnats
ifeq ($(UNAME),Linux)
PKGS  += libsystemd
HAVE_SYSTEMD := 1
else
HAVE_SYSTEMD := 0
endif

# Deferred (=) so that `make check` can install missing packages before pkg-config runs.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS))

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation \
	-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
	-Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings -Wimplicit-fallthrough \
	-Wnull-dereference -Wdouble-promotion -Wmissing-include-dirs -Wno-unused-parameter
FUZZ_WARNINGS := -Wall -Wextra -Werror -Wno-unused-parameter

OPT      ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -DCIM_VERSION='"$(VERSION)"' \
	-DHAVE_SYSTEMD=$(HAVE_SYSTEMD) -I. $(PKG_CFLAGS)
CFLAGS  += $(OPT) $(WARNINGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2
LDLIBS  += $(PKG_LIBS)

ifeq ($(SANITIZE),1)
BUILD   := build/sanitize
CFLAGS  := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) -O1 -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build/release
endif

# The layers, bottom first (README "Code map"). Each is a static library of
# its own; a layer may use only those it lists in LAYER_DEPS, and the link
# check below fails the build when it calls anything else.
LAYERS      := base pull apply secrets fleet agent
LAYER_DEPS_base    :=
LAYER_DEPS_pull    := base
LAYER_DEPS_apply   := base
LAYER_DEPS_secrets := base
LAYER_DEPS_fleet   := base
LAYER_DEPS_agent   := fleet secrets apply pull base
layer_src = $(filter-out agent/main.c,$(wildcard $(1)/*.c))
# The archives, top first, as a linker wants them.
layer_libs = $(foreach l,agent fleet secrets apply pull base,$(1)/lib$(l).a)

LIB_SRC   := $(foreach l,$(LAYERS),$(call layer_src,$(l)))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/agent/main.o
BIN       := $(BUILD)/cim-agent
LIBS      := $(call layer_libs,$(BUILD))
LINKCHECK := $(LAYERS:%=$(BUILD)/linkcheck/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Small drivers the shell tests run (tests/tools/NAME.c -> $(BUILD)/tests/tools/NAME).
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIBS := $(call layer_libs,build/fuzz)
FUZZ_TIME ?= 10
SHELL_TESTS := $(sort $(wildcard tests/t/t*.t))

.PHONY: all check check-fresh check-system test chainlint unit fuzz fuzz-build demo demo-fleet install uninstall format clean deps bench bench-deps linkcheck size-check

all: $(BIN) linkcheck

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC  $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# lib<layer>.a in $(1) from the objects in $(2)
define layer_lib
$(1)/lib$(3).a: $$(patsubst %.c,$(2)/%.o,$$(call layer_src,$(3)))
	@mkdir -p $$(@D)
	@rm -f $$@ && $$(AR) rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib,$(BUILD),$(BUILD),$(l))))
$(foreach l,$(LAYERS),$(eval $(call layer_lib,build/fuzz,build/fuzz/obj,$(l))))

$(BIN): $(MAIN_OBJ) $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The layered link: every object of a layer, linked with only the layers
# below it, must resolve. A call upwards (pull/ calling agent/) is an
# undefined reference here, and the build fails.
ifeq ($(UNAME),Darwin)
whole_archive = -Wl,-force_load,$(1)
else
whole_archive = -Wl,--whole-archive $(1) -Wl,--no-whole-archive
endif
$(BUILD)/linkcheck/main.c:
	@mkdir -p $(@D)
	@printf 'int main(void);\nint main(void) { return 0; }\n' >$@

$(BUILD)/linkcheck/%: $(BUILD)/linkcheck/main.c $(LIBS)
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(call whole_archive,$(BUILD)/lib$*.a) \
		$(foreach d,$(LAYER_DEPS_$*),$(BUILD)/lib$(d).a) $(LDLIBS) \
		|| { echo "linkcheck: $*/ calls outside the layers it may use ($(or $(LAYER_DEPS_$*),none))"; exit 1; }

linkcheck: $(LINKCHECK)
	@echo "linkcheck: $(LAYERS) each link against only the layers below them"

$(BUILD)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) -lcmocka

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

deps:
	@./scripts/install-deps

# The test command of README.md: installs missing packages, then runs everything.
check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_TIME)

# The system tests (tests/system/run.sh): the agent as cim-agent.service under
# a real systemd, one booted Debian 12 machine per scenario. Needs root.
# SCENARIOS=s04 runs only the scenarios whose names start so.
check-system: deps
	./tests/system/run.sh $(SCENARIOS)

# Every test's temporary directory is under TEST_TMP, so that once the suite has
# run, any process still running from there is something a test did not stop.
TEST_TMP := $(CURDIR)/$(BUILD)/test-tmp

test: $(BIN) $(UNIT_BIN) $(TOOL_BIN) chainlint size-check
	@rm -rf $(TEST_TMP) && mkdir -p $(TEST_TMP)
	TMPDIR=$(TEST_TMP) ASAN_OPTIONS=fast_unwind_on_malloc=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	CIM_AGENT=$(abspath $(BIN)) CIM_TOOLS=$(abspath $(BUILD)/tests/tools) CIM_SRC=$(CURDIR) \
	CMOCKA_MESSAGE_OUTPUT=TAP \
		$(PROVE) --exec '' $(if $(filter 1,$(SANITIZE)),,-j2) $(UNIT_BIN) $(SHELL_TESTS)
	@if left=$$(python3 tests/leftovers.py --kill $(TEST_TMP)); then \
		echo "test: no process of the suite is still running"; else \
		echo "test: FAIL: still running after the suite (now killed):"; echo "$$left"; exit 1; fi

# No function over 80 lines, no C file over 600, outside tests/ (README,
# "Hacking"). SIZE_ALLOW (-a FILE or -a FILE:FUNCTION) would let a known
# offender through; it is empty.
SIZE_SRC   := $(sort $(foreach l,$(LAYERS),$(wildcard $(l)/*.c)))
SIZE_ALLOW :=
size-check:
	@sh tests/size-check.sh $(foreach a,$(SIZE_ALLOW),-a $(a)) $(SIZE_SRC)

# Refuses test bodies whose && chain is broken.
chainlint:
	@python3 tests/chainlint.py $(SHELL_TESTS) && echo "chainlint: $(words $(SHELL_TESTS)) test files, every && chain intact"

# make check on a clean clone, with an empty HOME and no /etc/nix or nixbld
# group in effect: what a fresh Debian machine (and CI) will see.
check-fresh:
	./scripts/check-fresh

unit: $(UNIT_BIN)
	CMOCKA_MESSAGE_OUTPUT=TAP $(PROVE) --exec '' $(UNIT_BIN)

# libFuzzer targets, one per parser; a short bounded run over the seed corpus.
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_WARNINGS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

# The layer archives, as for the unit tests: only the objects a target needs
# are linked.
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_WARNINGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIBS) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
		mkdir -p build/fuzz/work/$$name; \
		echo "fuzz: $$name for $(FUZZ_TIME)s"; \
		$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 -print_final_stats=0 \
			build/fuzz/work/$$name $$corpus >build/fuzz/$$name.log 2>&1 \
			|| { tail -40 build/fuzz/$$name.log; exit 1; }; \
	done; echo "fuzz: all targets ran clean"

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	CIM_AGENT=$(abspath $(BIN)) ./tests/demo.sh

# Six hosts roll a commit out wave by wave over NATS, then halt a bad one.
demo-fleet: deps
	@$(MAKE) --no-print-directory $(BIN)
	CIM_AGENT=$(abspath $(BIN)) ./tests/demo-fleet.sh

# Not part of check: figures, not tests. BENCH_QUICK=1 for a smoke run.
bench-deps:
	@./bench/install-deps

bench: $(BIN) bench-deps
	CIM_AGENT=$(abspath $(BIN)) ./bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/cim-agent
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/cim-agent
	install -m 0644 agent/cim-agent.8 $(DESTDIR)$(MANDIR)/man8/cim-agent.8
	sed 's|@BINDIR@|$(BINDIR)|g' agent/cim-agent.service >$(DESTDIR)$(UNITDIR)/cim-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cim-agent.service
	install -m 0644 agent/cim-agent.sysusers $(DESTDIR)$(SYSUSERSDIR)/cim-agent.conf
	install -m 0644 agent/agent.conf.example $(DESTDIR)$(SYSCONFDIR)/cim-agent/agent.conf.example
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 agent/agent.conf.example $(DESTDIR)$(DOCDIR)/examples/agent.conf

# Removes what install put there; an agent.conf of the operator's stays.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cim-agent $(DESTDIR)$(MANDIR)/man8/cim-agent.8 \
		$(DESTDIR)$(UNITDIR)/cim-agent.service $(DESTDIR)$(SYSUSERSDIR)/cim-agent.conf \
		$(DESTDIR)$(SYSCONFDIR)/cim-agent/agent.conf.example \
		$(DESTDIR)$(DOCDIR)/examples/agent.conf
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/cim-agent 2>/dev/null

format:
	clang-format -i $(wildcard base/*.[ch] agent/*.[ch] pull/*.[ch] apply/*.[ch] secrets/*.[ch] \
		fleet/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] tests/tools/*.c)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
