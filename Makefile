# patchfs build. `make` builds ./patchfs; `make test` runs unit + integration tests;
# `make deps` installs every Debian package the build, tests and demo need (as root).
# The package list lives here only: README, .ci/run and developers all call `make deps`.

PREFIX   ?= /usr/local
CC       ?= cc
PYTHON   ?= /usr/bin/python3
CORE_PKGS := libxxhash jansson zlib libpng libdeflate
DEB_PKGS := build-essential pkg-config fuse3 libfuse3-dev libnifti2-dev libxxhash-dev libdeflate-dev \
            libjansson-dev zlib1g-dev libpng-dev libcmocka-dev python3-numpy python3-nibabel \
            python3-scipy python3-xxhash clang libclang-rt-14-dev \
            python3-pytest python3-venv python3-setuptools python3-wheel

VERSION  := 0.1.0
# -ffp-contract=off: no fused multiply-add, so float results are identical on every x86-64
# and aarch64 build (determinism is the product; see docs/design.md).
CSTD     := -std=gnu11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wformat=2 -Wundef -Wvla -Werror=implicit-function-declaration
OPT      ?= -O2 -g
CFLAGS   ?=
CFLAGS   += $(CSTD) $(OPT) $(WARN) -ffp-contract=off -fno-fast-math -pthread \
            -DPATCHFS_VERSION=\"$(VERSION)\" $(shell pkg-config --cflags $(CORE_PKGS) 2>/dev/null)
CORE_LIBS := $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null) -lnifti2 -lznz -lz -lm -pthread
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null)

# ---- layers (docs/design.md) ----
# Each folder of src/ is a layer; calls and includes flow down only. A layer is compiled with
# the include paths of itself and the layers below it, so an include of a higher layer's
# header fails to compile. include/patchfs/ holds the public API of the core (the vfs layer);
# only the vfs layer and the programs above it see it. FUSE's flags reach the mount layer and
# the CLI only; the core library (libpatchfs.a) has no FUSE in it.
CORE_LAYERS := base ingest plan cache sample vfs infer
INC_base    := -Isrc/base
INC_ingest  := $(INC_base) -Isrc/ingest -I/usr/include/nifti
INC_plan    := $(INC_ingest) -Isrc/plan
INC_cache   := $(INC_plan) -Isrc/cache
INC_sample  := $(INC_cache) -Isrc/sample
INC_vfs     := $(INC_sample) -Isrc/vfs -Iinclude
# the end of a run (export, evaluate): the core's public API, the resampler and NIfTI of
# ingest, base; never the context's insides
INC_infer   := $(INC_ingest) -Iinclude -Isrc/infer
# above the core: only base and the core's public API (include/patchfs/)
INC_mount   := $(INC_base) -Iinclude -Isrc/mount $(FUSE_CFLAGS)
INC_cli     := $(INC_mount) -Isrc/cli
layer_of     = $(firstword $(subst /, ,$(1)))

# modules are listed once: every .c of a layer's folder
CORE_SRC  := $(foreach l,$(CORE_LAYERS),$(wildcard src/$(l)/*.c))
CORE_OBJ  := $(CORE_SRC:src/%.c=build/%.o)
MOUNT_OBJ := $(patsubst src/%.c,build/%.o,$(wildcard src/mount/*.c))
CLI_OBJ   := $(patsubst src/%.c,build/%.o,$(wildcard src/cli/*.c))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
# tests of mount-layer modules link the mount library too (and so FUSE)
MOUNT_TESTS := $(patsubst src/mount/%.c,build/tests/test_%,$(wildcard src/mount/*.c))
ALL_INC   := $(INC_vfs) -Isrc/infer -Isrc/mount -Isrc/cli $(FUSE_CFLAGS)

.PHONY: all deps test unit integration install clean demo test-asan test-tsan check-deps deps-examples examples
.PHONY: fuzz fuzz-smoke fuzz-build

all: patchfs

# -MMD: each object depends on the headers it really includes (build/**/*.d)
# `make V=1` prints whole command lines
Q := $(if $(V),,@)
build/%.o: src/%.c
	@mkdir -p $(@D)
	$(if $(V),,@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(INC_$(call layer_of,$*)) -MMD -MP -c -o $@ $<

# The export's streaming kernels are loops over independent elements: GCC -O2's "very cheap"
# cost model leaves them scalar; the dynamic one vectorises them (the same bits: no
# reassociation or contraction, lane by lane what the scalar code computes).
build/infer/restore_stream.o: CFLAGS += -fvect-cost-model=dynamic

-include $(shell find build -name '*.d' 2>/dev/null)

build/tests:
	@mkdir -p build/tests

build/libpatchfs.a: $(CORE_OBJ)
	@rm -f $@
	$(if $(V),,@echo "  AR      $@")
	$(Q)ar rcs $@ $^

build/libpatchfs-mount.a: $(MOUNT_OBJ)
	@rm -f $@
	$(if $(V),,@echo "  AR      $@")
	$(Q)ar rcs $@ $^

patchfs: $(CLI_OBJ) build/libpatchfs-mount.a build/libpatchfs.a
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(FUSE_LIBS) $(CORE_LIBS)

$(filter-out $(MOUNT_TESTS),$(UNIT_BIN)): build/tests/%: tests/unit/%.c tests/unit/testutil.h build/libpatchfs.a | build/tests
	$(CC) $(CFLAGS) $(ALL_INC) -Itests/unit -MMD -MP -o $@ $< build/libpatchfs.a $(LDFLAGS) \
	      $(CORE_LIBS) $(shell pkg-config --libs cmocka)

$(filter $(MOUNT_TESTS),$(UNIT_BIN)): build/tests/%: tests/unit/%.c tests/unit/testutil.h build/libpatchfs-mount.a build/libpatchfs.a | build/tests
	$(CC) $(CFLAGS) $(ALL_INC) -Itests/unit -MMD -MP -o $@ $< build/libpatchfs-mount.a \
	      build/libpatchfs.a $(LDFLAGS) $(FUSE_LIBS) $(CORE_LIBS) $(shell pkg-config --libs cmocka)

# Optional: what the client examples (examples/) need beyond `make deps`: PyTorch for
# examples/pytorch, Node.js for examples/node, rsync and jq for the shell recipes.
# tests/integration/examples.sh skips their tests with a message when they are absent.
DEB_PKGS_EXAMPLES := python3-torch nodejs rsync jq

# `make deps WITH_EXAMPLES=1` installs both lists with one apt-get update (what CI does).
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS) \
	  $(if $(WITH_EXAMPLES),$(DEB_PKGS_EXAMPLES))

deps-examples:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS_EXAMPLES)

# the C client example: a plain C99 .npy reader, warning-free, into build/examples/
examples: build/examples/npy_read

build/examples/npy_read: examples/c/npy_read.c
	@mkdir -p build/examples
	$(CC) -std=c99 -O2 -Wall -Wextra -pedantic -o $@ $<

# Quick check with a clear message instead of a cryptic compiler error.
check-deps:
	@pkg-config --exists $(CORE_PKGS) fuse3 cmocka && test -f /usr/include/nifti/nifti2_io.h \
	  || { echo "missing build dependencies: run 'make deps' (as root)" >&2; exit 1; }

# every test binary runs, even after a failure; the target fails if any did
unit: $(UNIT_BIN)
	@failed=""; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	 if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

# test drivers: small programs the integration tests run against their numpy/scipy references
DRIVERS := build/tests/resample_driver build/tests/fingerprint_driver
build/tests/%_driver: tests/tools/%_driver.c build/libpatchfs.a | build/tests
	$(CC) $(CFLAGS) $(INC_vfs) -o $@ $< build/libpatchfs.a $(LDFLAGS) $(CORE_LIBS)

integration: patchfs $(DRIVERS)
	PYTHON=$(PYTHON) bash tests/integration/run.sh

test: check-deps patchfs unit integration
	@echo "all tests passed"

# The unit and integration tests again with AddressSanitizer + UndefinedBehaviorSanitizer.
# The daemon's stderr is gone once it daemonizes, so sanitizer reports go to files, and any
# report fails the target.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LOGS  := $(CURDIR)/build/sanitizer-logs
test-asan:
	$(MAKE) clean
	mkdir -p $(SAN_LOGS)
	ASAN_OPTIONS=log_path=$(SAN_LOGS)/asan UBSAN_OPTIONS=log_path=$(SAN_LOGS)/ubsan:print_stacktrace=1 \
	  $(MAKE) OPT="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" test
	@if ls $(SAN_LOGS)/* >/dev/null 2>&1; then echo "sanitizer reports:"; cat $(SAN_LOGS)/*; exit 1; fi
	@echo "no sanitizer reports"

# The unit tests and the integration suites that read concurrently, daemon included, with
# ThreadSanitizer: "tree" (16 parallel readers of one new file) and "concurrency" (16 readers
# with eviction; corrupt entries rebuilt, and entries failing, under them; PF_STRESS_SECONDS
# keeps each run short). As in test-asan, reports go to files and any report fails the
# target. libfuse and glibc are not instrumented: tests/tsan.supp would name reports from
# inside them only, saying why each is not patchfs's.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_OPTS  := log_path=$(SAN_LOGS)/tsan suppressions=$(CURDIR)/tests/tsan.supp
test-tsan:
	$(MAKE) clean
	mkdir -p $(SAN_LOGS)
	$(MAKE) OPT="-O1 -g $(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)" check-deps patchfs
	TSAN_OPTIONS="$(TSAN_OPTS)" $(MAKE) OPT="-O1 -g $(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)" unit
	TSAN_OPTIONS="$(TSAN_OPTS)" PYTHON=$(PYTHON) bash tests/integration/run.sh tree
	TSAN_OPTIONS="$(TSAN_OPTS)" PF_STRESS_SECONDS=4 PYTHON=$(PYTHON) \
	  bash tests/integration/run.sh concurrency
	@if ls $(SAN_LOGS)/* >/dev/null 2>&1; then echo "sanitizer reports:"; cat $(SAN_LOGS)/*; exit 1; fi
	@echo "no sanitizer reports"

demo: check-deps patchfs
	PYTHON=$(PYTHON) bash tests/tools/demo.sh

# `make install [PREFIX=/usr/local] [DESTDIR=]`: everything goes under $(DESTDIR)$(PREFIX),
# and the installed helpers and unit run PREFIX/bin/patchfs (mount(8) and systemd give
# helpers a PATH without /opt/...).
# The mount(8) helper goes to SBINDIR = PREFIX/sbin, as libfuse's mount.fuse3 and sshfs's
# mount.fuse.sshfs do: a distribution package (PREFIX=/usr) puts it in /usr/sbin, where
# mount(8) looks for helpers (/sbin, /usr/sbin); a local install (/usr/local/sbin) must be
# linked there by the administrator (the target says how), because writing /sbin from a
# PREFIX= install would leave files outside PREFIX that a staged (DESTDIR) or packaged
# install cannot own. The systemd unit goes to UNITDIR = PREFIX/lib/systemd/system: systemd
# reads /usr/lib/systemd/system and /usr/local/lib/systemd/system (units installed by the
# administrator; /etc/systemd/system is for local overrides); other prefixes need
# `systemctl link`. Both can be set: `make install SBINDIR=/sbin`.
SBINDIR ?= $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: patchfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 patchfs $(DESTDIR)$(PREFIX)/bin/patchfs
	sed 's|^PATCHFS=$${PATCHFS:-patchfs}$$|PATCHFS=$${PATCHFS:-$(PREFIX)/bin/patchfs}|' \
	  mount-scripts/patchfs-mount > $(DESTDIR)$(PREFIX)/bin/patchfs-mount
	sed 's|^PATH=$${PATH:+$$PATH:}|&$(PREFIX)/bin:|' \
	  mount-scripts/mount.fuse.patchfs > $(DESTDIR)$(SBINDIR)/mount.fuse.patchfs
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/patchfs-mount $(DESTDIR)$(SBINDIR)/mount.fuse.patchfs
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' mount-scripts/patchfs@.service > $(DESTDIR)$(UNITDIR)/patchfs@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/patchfs@.service
	@case "$(SBINDIR)" in /sbin|/usr/sbin) ;; *) \
	  echo "note: mount(8) looks for helpers in /sbin and /usr/sbin only: for fstab lines of type"; \
	  echo "      fuse.patchfs, run: ln -s $(SBINDIR)/mount.fuse.patchfs /sbin/mount.fuse.patchfs";; esac
	@case "$(UNITDIR)" in /usr/lib/systemd/system|/lib/systemd/system|/usr/local/lib/systemd/system|/etc/systemd/system) ;; *) \
	  echo "note: systemd does not read $(UNITDIR): run systemctl link $(UNITDIR)/patchfs@.service";; esac

# libFuzzer targets (tests/fuzz/), built with clang + ASan/UBSan into build/fuzz/ so they never
# mix with the gcc objects. `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke` for 20 s
# (CI). Both first replay the reproducers kept in tests/fuzz/regressions/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := tree options dataset_json nifti
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(CSTD) -O1 -g $(WARN) -ffp-contract=off -fno-fast-math -pthread \
                -DPATCHFS_VERSION=\"$(VERSION)\" $(FUZZ_SAN) $(shell pkg-config --cflags $(CORE_PKGS) 2>/dev/null)
# the whole core library, built by clang with the fuzzer's instrumentation
FUZZ_OBJ     := $(CORE_SRC:src/%.c=build/fuzz/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

$(FUZZ_OBJ): build/fuzz/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(INC_$(call layer_of,$*)) -MMD -MP -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/libpatchfs.a: $(FUZZ_OBJ)
	@rm -f $@
	$(if $(V),,@echo "  AR      $@")
	$(Q)ar rcs $@ $^

$(FUZZ_BIN): build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libpatchfs.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(INC_vfs) -fsanitize=fuzzer -o $@ $< build/fuzz/libpatchfs.a $(CORE_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# CI: a fixed number of runs from a fixed seed, so every CI run does the same work
fuzz-smoke: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  case $$t in nifti) n=1500;; dataset_json) n=8000;; *) n=200000;; esac; \
	  PF_FUZZ_RUNS=$$n PF_FUZZ_SEED=1 bash tests/fuzz/run.sh 20 $$t || exit 1; done

# `make bench`: one run of the performance bench (tests/bench/bench.py; datasets generated once
# into $(BENCH_DIR) and reused), printing the table kept in docs/performance.md, then the
# augmentation rows and the Python loader's (batches/s with 0, 1, 2 DataLoader workers and
# the daemon's prefetch=; python/README.md). Minutes long,
# needs root and FUSE: not part of `make test` or CI. `make bench-smoke`: tiny sizes, < 1 min.
BENCH_DIR ?= /tmp/patchfs-bench
BENCH_BIN := build/bench/ceiling build/bench/pfbench build/bench/bench_aug build/bench/bench_intensity
.PHONY: bench bench-smoke

build/bench/ceiling: tests/bench/ceiling.c build/mount/fstune.o
	@mkdir -p build/bench
	$(CC) $(CFLAGS) $(INC_mount) -o $@ $^ $(LDFLAGS) $(FUSE_LIBS) $(CORE_LIBS)

build/bench/pfbench: tests/bench/pfbench.c build/libpatchfs.a
	@mkdir -p build/bench
	$(CC) $(CFLAGS) $(INC_vfs) -o $@ $^ $(LDFLAGS) $(CORE_LIBS)

build/bench/bench_aug: tests/bench/bench_aug.c build/libpatchfs.a
	@mkdir -p build/bench
	$(CC) $(CFLAGS) $(INC_vfs) -o $@ $^ $(LDFLAGS) $(CORE_LIBS)

build/bench/bench_intensity: tests/bench/bench_intensity.c build/libpatchfs.a
	@mkdir -p build/bench
	$(CC) $(CFLAGS) $(INC_vfs) -o $@ $^ $(LDFLAGS) $(CORE_LIBS)

# BGV2_PATH=/path/to/batchgeneratorsv2 adds the anchor (nnU-Net's pipeline, same run);
# BASELINE_REV=<commit> adds that commit's patchfs to the nnU-Net-like loop (built once)
bench: check-deps patchfs $(BENCH_BIN)
	$(PYTHON) tests/bench/bench.py --work $(BENCH_DIR)
	PYTHON=$(PYTHON) bash tests/bench/aug_bench.sh $(BENCH_DIR)
	$(PYTHON) tests/bench/loader_bench.py $(BENCH_DIR)
	$(if $(BGV2_PATH),BGV2_PATH=$(BGV2_PATH)) $(PYTHON) tests/bench/nnunet_loop.py --work $(BENCH_DIR) $(if $(BASELINE_REV),--baseline $(BASELINE_REV))

bench-smoke: check-deps patchfs $(BENCH_BIN)
	$(PYTHON) tests/bench/bench.py --smoke --work $(BENCH_DIR)-smoke

clean:
	rm -rf build patchfs
