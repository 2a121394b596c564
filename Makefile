# SPDX-License-Identifier: GPL-2.0
#
# tcpstap top-level build.
#   make            userspace tools (no root, no kernel needed)
#   make deps       install every build/test dependency from Debian (root)
#   make kernels    list the kernel matrix and what is cached for each
#   make prebuilt   compile stap/*.stp ahead of time for KVERS (default: matrix)
#   make check      userspace and exchange-core unit tests (no root, no VM)
#   make test       everything: build, unit tests, kernel tests on every kernel
#   make demo       the main job: boot the default kernel and show tcpstap at work
#   make bench      what tracing costs, against the alternatives (not in make test)
#   make clean      remove build outputs (keeps cached symbol tables: make distclean)

SHELL := /bin/bash
TOP := $(CURDIR)

# Kernel releases to build for. Discovered from the installed matrix unless
# given, e.g. on a CentOS 7 build host: make prebuilt KVERS=3.10.0-1160.el7.x86_64
KVERS ?= $(shell scripts/kernels 2>/dev/null)

# SystemTap guard settings, chosen rather than left at defaults:
#  - stap's own overload check is only a backstop far above tcpstap's in-module
#    CPU budget (which disarms the probes first, as soon as a window's budget
#    is spent): 25% of a CPU in a second, not stap's 50%;
#  - a skipped probe hit (lock contention under load) is counted, not fatal;
#  - a handful of probe errors (a faulting read of a dying socket) are
#    reported, not fatal on the first one.
TCPSTAP_STAP_FLAGS ?= -DSTP_OVERLOAD_THRESHOLD=250000000LL \
	-DSTP_OVERLOAD_INTERVAL=1000000000LL \
	-DMAXSKIPPED=1000000000 -DMAXERRORS=100
export TCPSTAP_STAP_FLAGS

pc := %
STAP_SCRIPTS := $(wildcard stap/*.stp)
STAP_TAPSETS := $(wildcard stap/tapset/*.stp)
# The exchange core and the record header, compiled into the stap modules' embedded C.
STAP_C_SRCS := $(wildcard core/*.[ch] stap/engine/*.[ch]) userspace/include/tcpstap/record.h
MODULES := $(foreach k,$(KVERS),$(patsubst stap/%.stp,prebuilt/$(k)/tcpstap_%.ko,$(STAP_SCRIPTS)))
MANIFESTS := $(foreach k,$(KVERS),prebuilt/$(k)/MANIFEST)
TEST_KMOD_SRCS := $(wildcard tests/kmod/*.c)
# One Kbuild run builds every test module of a kernel; tstp_warn.ko stands for them.
TEST_KMODS := $(foreach k,$(KVERS),build/testmods/$(k)/tstp_warn.ko)

.PHONY: all userspace deps kernels prebuilt testmods testtools check test demo bench fuzz clean distclean
all: userspace

userspace:
	$(MAKE) -C userspace

deps:
	bash scripts/deps.sh

kernels:
	@scripts/kernels -v

prebuilt: $(MODULES) $(MANIFESTS)
	@[ -n "$(KVERS)" ] || { echo "make prebuilt: no kernel in the matrix; run 'make deps' as root or pass KVERS=..." >&2; exit 1; }
	@echo "prebuilt: $(words $(MODULES)) module(s) for: $(KVERS)"

.SECONDEXPANSION:
prebuilt/%.ko: stap/$$(subst tcpstap_,,$$(notdir $$*)).stp $(STAP_TAPSETS) $(STAP_C_SRCS) scripts/lib/stap-build.sh
	@scripts/lib/stap-build.sh $(patsubst %/,%,$(dir $*)) $< $(dir $@)

prebuilt/%/MANIFEST: $$(filter prebuilt/$$*/tcpstap_$$(pc).ko,$(MODULES)) scripts/lib/manifest.sh
	@scripts/lib/manifest.sh $* prebuilt/$*

# Test-only native modules (never shipped), built with Kbuild per kernel.
testmods: $(TEST_KMODS)
build/testmods/%/tstp_warn.ko: $(TEST_KMOD_SRCS) tests/kmod/Kbuild
	@mkdir -p $(dir $@) && cp $^ $(dir $@)
	@$(MAKE) -C /lib/modules/$*/build M=$(TOP)/$(dir $@) modules > $(dir $@)build.log 2>&1 || \
		{ cat $(dir $@)build.log >&2; exit 1; }

# Test workloads (C: interpreter overhead under emulation would blur the
# latency stages the tests assert on).
testtools:
	@$(MAKE) --no-print-directory -C tests/workload O=$(TOP)/build/tests

check: userspace
	$(MAKE) -C userspace check
	$(MAKE) -C core check
	scripts/check-record-layout

test: userspace testmods testtools
	@$(MAKE) --no-print-directory -j$(shell nproc) prebuilt
	@KVERS="$(KVERS)" tests/run

demo: userspace testtools prebuilt
	@scripts/demo

# Benchmark (not part of make test; ~15 min): parameters are BENCH_* variables
# of the environment (scripts/bench --help); results under build/bench/.
bench: userspace prebuilt
	@scripts/bench

fuzz:
	$(MAKE) -C userspace fuzz

clean:
	$(MAKE) -C userspace clean
	rm -rf prebuilt build/testmods build/vm build/test-logs

distclean: clean
	rm -rf build
