# gdmpi: distributed data-parallel SGD on Open MPI, OpenBLAS and HDF5.
# Targets: all (default), test, test-cluster, run, bench, study, deps, install, uninstall,
# clean, docs, sim, scale-study, compare.
#   make test                      every suite: unit, mpi, e2e
#   make test SUITE=unit|mpi|e2e   one kind of suite
#   make test SUITE=test_optim     one suite, by basename or path fragment (also e.g.
#                                  SUITE=checkpoint, SUITE=e2e/checkpoint, SUITE=mpi/ps)
#   make compare REF=<git rev>     tests/compare-outputs.sh: model.h5 and metrics.csv of
#                                  every configs/**/*.cfg, REF's build against this tree's
# Objects depend on the headers they include (-MMD -MP, the .d files next to them).

CC       := mpicc
# The libraries come from pkg-config (Debian: hdf5-openmpi, openblas, inih, zlib). On a
# cluster whose parallel HDF5 is a module, HDF5_DIR=/path (include/ and lib/ under it) or
# an h5pcc on PATH takes HDF5's place. They are read once per make; `make run` and `make
# test` install the packages and then build in a sub-make, which reads them afresh. When
# one is missing, scripts/check-libs.sh (in the flags stamp's rule) stops the build with a
# message naming it, instead of compiling without it.
PKGS     := openblas inih zlib
HDF5_DIR ?=
# make sim builds the same sources with SimGrid's smpicc (GDMPI_SIM=1, build/sim): serial
# HDF5 beside SMPI, since parallel HDF5 is linked to Open MPI (docs/simulation.md).
ifdef GDMPI_SIM
CC       := smpicc
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5-serial 2>/dev/null)
HDF5_LIBS   := $(shell pkg-config --libs hdf5-serial 2>/dev/null)
else ifneq ($(HDF5_DIR),)
HDF5_CFLAGS = -I$(HDF5_DIR)/include
HDF5_LIBS   = -L$(HDF5_DIR)/lib -Wl,-rpath,$(HDF5_DIR)/lib -lhdf5
else
HDF5_CFLAGS := $(shell scripts/check-libs.sh --hdf5-cflags)
HDF5_LIBS   := $(shell scripts/check-libs.sh --hdf5-libs)
endif
PKG_CFLAGS := $(HDF5_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(HDF5_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# -O3 vectorises the per-step passes over the parameters (the optimizers, the norm), which
# -O2 leaves scalar; -fno-math-errno lets sqrtf be one instruction in those loops (nothing in
# gdmpi reads errno after a math function). Neither changes a result: no reassociation, and
# -std=c11 keeps floating-point contraction off. Measured in docs/benchmarks.md.
CFLAGS   ?= -O3 -g
CFLAGS   += -MMD -MP -std=c11 -D_POSIX_C_SOURCE=200809L -fno-math-errno -Wall -Wextra -Werror \
            -Iinclude $(PKG_CFLAGS)
# make NATIVE=1: for this machine's CPU only (-march=native: its widest vector units); the
# binary may not run on an older CPU of a cluster.
ifdef NATIVE
CFLAGS   += -march=native
endif
LDLIBS   += $(PKG_LIBS) -lm
ifdef GDMPI_SIM
CFLAGS   += -DGDMPI_SIM
endif

# make test SANITIZE=address,undefined builds everything with the sanitizers.
ifdef SANITIZE
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
BUILD   ?= build/san
BIN     ?= $(BUILD)/gdmpi
# Open MPI unloads its components at MPI_Finalize, which leaves their allocations
# without symbols; keep them loaded so tests/lsan.supp can name them.
export OMPI_MCA_mca_base_component_disable_dlclose := 1
export GDMPI_SANITIZE := $(SANITIZE)
export LSAN_OPTIONS := suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
export ASAN_OPTIONS := fast_unwind_on_malloc=0:detect_leaks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
else
BUILD   ?= build
endif

PREFIX  ?= /usr/local
DESTDIR ?=
NP      ?= $(shell nproc)
# Parallel compiles for the targets that build first (run, test, bench, ...).
JOBS    ?= $(shell nproc)

# Open MPI refuses to start as root without these; CI and `make run` run as root.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
MPIRUN  := mpirun --oversubscribe

LIB_SRCS  := $(shell find src -name '*.c' ! -name main.c ! -path 'src/pmpi/*' | sort)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# The profiling layer (src/pmpi/wrap.c: gdmpi's MPI_Send, MPI_Allreduce, ... around their
# PMPI_ twins, for the stall watchdog and the injected network delay). It is not in the
# archive: its objects go on every link line, before libgdmpi.a, like main.o. An object on
# the link line is always linked, while an archive member is linked only if it resolves a
# symbol still undefined when the archive is scanned, so the wrappers no longer depend on
# some earlier object happening to call a wrapped function (nor on -lmpi coming after the
# archive). Being the executable's own definitions, they come ahead of libmpi.so's.
PMPI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard src/pmpi/*.c)))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
MPI_SRCS  := $(wildcard tests/mpi/mpi_*.c)
MPI_BINS  := $(MPI_SRCS:tests/mpi/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

# The binary; helpers building side by side use BUILD=build/x BIN=build/x/gdmpi.
BIN     ?= gdmpi

# The git commit the binary is built from, for summary.json and --version: "-dirty" when
# tracked files have uncommitted changes, "unknown" outside git. Only provenance.o uses it,
# and it is rebuilt when the commit changes (commit.stamp is rewritten only then).
GIT_COMMIT := $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) || c=unknown; \
                [ $$c = unknown ] || git diff --quiet HEAD -- 2>/dev/null || c=$$c-dirty; echo $$c)
$(BUILD)/src/train/provenance.o: CFLAGS += -DGDMPI_COMMIT='"$(GIT_COMMIT)"'
$(BUILD)/src/train/provenance.o: $(BUILD)/commit.stamp
$(BUILD)/commit.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_COMMIT)' | cmp -s - $@ || echo '$(GIT_COMMIT)' >$@
FORCE:

.PHONY: all deps test compare test-cluster run bench study memcheck fuzz install uninstall clean docs data-fmnist data-gen test-bins sim sim-bin scale-study
.DEFAULT_GOAL := all

all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(PMPI_OBJS) $(BUILD)/libgdmpi.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# gdmpi-sim: the same sources under SimGrid SMPI, in build/sim of its own (scripts/sim-run
# runs it). Never with the sanitizers or -march=native: the simulator's process hosts every
# rank, and smpicc links a shared object that smpirun loads once per rank.
SIM_BUILD := build/sim
SIM_BIN   := $(SIM_BUILD)/gdmpi-sim
sim: deps
	@$(MAKE) --no-print-directory sim-bin
sim-bin:
	@$(MAKE) --no-print-directory SANITIZE= NATIVE= GDMPI_SIM=1 BUILD=$(SIM_BUILD) \
	    BIN=$(SIM_BIN) $(SIM_BIN)
# make test builds it too where SimGrid is installed (tests/e2e/sim.sh skips otherwise).
HAVE_SMPICC := $(shell command -v smpicc 2>/dev/null)

$(BUILD)/libgdmpi.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

# $(BUILD)/cflags holds the compile command's flags and is rewritten only when they change
# (make NATIVE=1 after make, another CFLAGS): every object and binary depends on it, so a
# change of flags rebuilds everything instead of mixing old objects with new ones.
FLAGS_STAMP := $(BUILD)/cflags
$(FLAGS_STAMP): FORCE
	@HDF5_DIR='$(HDF5_DIR)' GDMPI_SIM='$(GDMPI_SIM)' scripts/check-libs.sh $(PKGS)
	@mkdir -p $(dir $@)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' >$@
.PHONY: FORCE
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/%.d $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(BUILD)/tests/test_%.d $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/mpi_%: tests/mpi/mpi_%.c $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(BUILD)/tests/mpi_%.d $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(BUILD)/bench/%.d $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PMPI_OBJS) $(BUILD)/libgdmpi.a $(LDLIBS)

test-bins: $(BIN) $(UNIT_BINS) $(MPI_BINS) $(if $(HAVE_SMPICC),sim-bin)

# The .d files -MMD writes beside each object and binary: which headers each includes.
# A target whose .d is missing (built before -MMD, or the .d deleted) is rebuilt: the
# empty rule stands in for the missing file, so it counts as newer than the target.
# (Listed by name: a .d reached only through a pattern would be an intermediate file, and
# make does not remake a target for a missing intermediate.)
DEPS := $(addsuffix .d,$(basename $(LIB_OBJS) $(PMPI_OBJS) $(BUILD)/src/main.o) $(UNIT_BINS) \
                      $(MPI_BINS) $(BENCH_BINS))
$(DEPS):
-include $(wildcard $(DEPS))

deps:
	@scripts/install-deps.sh

# The default data: Fashion-MNIST from Debian's dataset-fashion-mnist, as HDF5.
FMNIST := /usr/share/datasets/fashion-mnist
data/fmnist-train.h5: | gdmpi
	@mkdir -p data
	./gdmpi data convert idx --images $(FMNIST)/train-images-idx3-ubyte.gz \
	    --labels $(FMNIST)/train-labels-idx1-ubyte.gz -o $@
data/fmnist-test.h5: | gdmpi
	@mkdir -p data
	./gdmpi data convert idx --images $(FMNIST)/t10k-images-idx3-ubyte.gz \
	    --labels $(FMNIST)/t10k-labels-idx1-ubyte.gz -o $@
data-fmnist: data/fmnist-train.h5 data/fmnist-test.h5

# Generated data for configs/linreg.cfg and configs/logreg.cfg (true weights inside).
data/linreg-train.h5: | $(BIN)
	@mkdir -p data
	./$(BIN) data gen --task linreg --rows 20000 --features 20 --noise 0.1 --seed 1 -o $@ \
	    --val data/linreg-val.h5 --val-rows 2000
data/logreg-train.h5: | $(BIN)
	@mkdir -p data
	./$(BIN) data gen --task logreg --rows 20000 --features 20 --noise 0.1 --seed 2 -o $@ \
	    --val data/logreg-val.h5 --val-rows 2000
data-gen: data/linreg-train.h5 data/logreg-train.h5

run: deps
	$(MAKE) -j$(JOBS) gdmpi
	$(MAKE) data-fmnist
	$(MPIRUN) -np $(NP) ./gdmpi run.cfg --set output.overwrite=true # runs/run, afresh each time
	@scripts/run-summary runs/run data/fmnist-test.h5

test: deps
	$(MAKE) -j$(JOBS) test-bins
	@BUILD=$(BUILD) GDMPI=$(abspath $(BIN)) GDMPI_SIM=$(abspath $(SIM_BIN)) \
	    tests/run-all.sh $(SUITE)

# tests/compare-outputs.sh --rev $(REF): not part of `test` (builds REF, a few minutes).
REF ?= HEAD
compare: $(BIN)
	@tests/compare-outputs.sh --rev $(REF) $(abspath $(BIN))

# Multi-host runs over TCP on network-namespace hosts, and gdmpi.sbatch on a real local
# Slurm (installed and started by scripts/slurm/local-cluster.sh). Needs root; not in `test`.
test-cluster: deps
	$(MAKE) -j$(JOBS) $(BIN)
	@BUILD=$(BUILD) GDMPI=$(abspath $(BIN)) tests/cluster/run.sh

# make bench PEERS=1 adds the same problems in PyTorch (installs python3-torch).
PEERS ?= 0
bench: deps
	$(MAKE) -j$(JOBS) gdmpi $(BENCH_BINS)
	$(MAKE) data-fmnist
	@BUILD=$(BUILD) PEERS=$(PEERS) scripts/bench.sh

# The optimizer and architecture studies: runs/study/report.md with its PNGs (< 10 min).
study: deps
	$(MAKE) -j$(JOBS) $(BIN)
	$(MAKE) data-fmnist
	@GDMPI=$(abspath $(BIN)) scripts/study.sh

# The scale study on simulated clusters: runs/scale-study/report.md with its PNGs (~10 min;
# scripts/scale-study.sh, docs/scaling.md).
scale-study: deps
	$(MAKE) -j$(JOBS) sim-bin
	$(MAKE) data-fmnist
	@scripts/scale-study.sh

# Valgrind on a short np=2 run; fails on errors or definite leaks in gdmpi's own code.
memcheck: deps
	$(MAKE) -j$(JOBS) $(BIN)
	@GDMPI=./$(BIN) scripts/memcheck.sh

# libFuzzer harnesses (clang) for the config parser and the IDX reader.
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/install-deps.sh clang libclang-rt-14-dev
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Regenerates docs/configuration.md's config reference and the man page docs/gdmpi.1
# from the key table.
docs: gdmpi
	@scripts/update-docs.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, the man page, the bash
# completion, share/gdmpi/{configs,scripts,hostfiles}, the public headers, libgdmpi.a and
# gdmpi.pc (docs/install.md). make uninstall removes exactly what install wrote.
INSTALL_ROOT := $(DESTDIR)$(PREFIX)
SHARE_DIRS   := configs scripts hostfiles
install: $(BIN) $(BUILD)/libgdmpi.a
	@scripts/install-files.sh install "$(INSTALL_ROOT)" "$(PREFIX)" $(BIN) $(BUILD)/libgdmpi.a \
	    "$(PKG_CFLAGS)" "$(PKG_LIBS)" $(SHARE_DIRS)

uninstall:
	@scripts/install-files.sh uninstall "$(INSTALL_ROOT)" "$(PREFIX)" - - - -

clean:
	rm -rf build gdmpi
