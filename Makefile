# ham: a compiler and runtime for learned port-Hamiltonian optimizers.
#
# Everything builds out of tree into $(BUILD) (build/ by default; build/asan for the
# sanitizer build), and the driver lands in bin/hamc.  The main targets:
#   make deps    install the Debian packages the project needs (idempotent, quiet)
#   make data    fetch and verify MNIST into data/mnist
#   make         build bin/hamc
#   make test    deps + build + the whole test suite (what CI runs)
#   make asan    the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz    the libFuzzer targets, SECONDS each (default 60)
#   make demo    the main job, see README.md
#   make bench   benchmarks (ratios, not tests)
#   make reproduce  the experiments end to end (tools/experiments.sh all), then examples/*.repl

LLVM_CONFIG ?= llvm-config-14
CC          ?= cc
BUILD       ?= build
BIN         ?= bin
PREFIX      ?= /usr/local
SECONDS     ?= 60

# -D_DEFAULT_SOURCE: POSIX and BSD declarations (fsync, strdup, realpath) under -std=c11.
WARN      := -Wall -Wextra -Wshadow
CFLAGS    ?= -O2 -g
# -fvect-cost-model=cheap: -O2 also vectorizes loops that need an alias check or a
# remainder (the runtime's param sums and packing); -fno-math-errno: sqrt is an
# instruction, so loops calling it vectorize too.  Neither changes a result.
VECFLAGS  := -fvect-cost-model=cheap -fno-math-errno
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(VECFLAGS) $(SANFLAGS) -D_DEFAULT_SOURCE -MMD -MP \
             -I compiler -I runtime -I $(BUILD)/gen -I $(shell $(LLVM_CONFIG) --includedir)
LDLIBS    := -L$(shell $(LLVM_CONFIG) --libdir) $(shell $(LLVM_CONFIG) --libs) \
             -lopenblas -lreadline -lpthread -lm

GEN_C   := $(BUILD)/gen/ham.tab.c $(BUILD)/gen/ham.lex.c
LIB_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c)) $(wildcard runtime/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_C:%.c=%.o)
LIB     := $(BUILD)/libham.a
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps data test check-tests asan fuzz soak demo bench reproduce install clean
all: $(BIN)/hamc $(TESTS)

deps:
	@tools/deps.sh

data:
	@tools/fetch_mnist.sh data/mnist

$(BUILD)/gen/ham.tab.c: grammar/ham.y
	@mkdir -p $(dir $@)
	bison -Wall -Werror --defines=$(BUILD)/gen/ham.tab.h -o $@ $<

$(BUILD)/gen/ham.lex.c: grammar/ham.l $(BUILD)/gen/ham.tab.c
	@mkdir -p $(dir $@)
	flex --header-file=$(BUILD)/gen/ham.lex.h -o $@ $<

# Generated code is not ours to keep warning-clean: flex's skeleton trips -Wsign-compare.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(ALL_CFLAGS) -Wno-sign-compare -Wno-unused-function -c -o $@ $<

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/ham.lex.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	ar rcs $@ $^

$(BIN)/hamc: $(BUILD)/obj/compiler/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I tests/unit -o $@ $< $(LIB) $(LDLIBS)

# The suite: unit test binaries, golden diagnostics, and the command-line driver tests.
check-tests: all
	@HAMC=$(abspath $(BIN)/hamc) TEST_BIN=$(abspath $(BUILD)/tests) tests/run_all.sh

test: deps data
	@$(MAKE) --no-print-directory check-tests

asan: deps data
	@HAM_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  CFLAGS="-O1 -g" check-tests

fuzz: deps
	@tools/fuzz.sh $(SECONDS)

# Longer reliability runs (minutes): valgrind memcheck, kill -9 and --resume, a full
# disk, and the fuzzers for SECONDS each (tools/soak.sh).
soak: deps data all
	@tools/soak.sh $(SECONDS)

demo: deps all
	@tools/demo.sh

bench: deps all
	@tools/bench.sh

# The experiments of the reference project end to end (tools/experiments.sh: hours,
# most of them the LSTM on MNIST), then the REPL scripts of examples/.
reproduce: deps data all
	@tools/experiments.sh all
	@for f in examples/*.repl; do echo "== $$f"; $(BIN)/hamc run-script $$f || exit 1; done

install: $(BIN)/hamc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/ham/stdlib
	install -m 755 $(BIN)/hamc $(DESTDIR)$(PREFIX)/bin/hamc
	install -m 644 stdlib/*.ham $(DESTDIR)$(PREFIX)/share/ham/stdlib/

clean:
	rm -rf build bin

-include $(shell find $(BUILD)/obj $(BUILD)/tests $(BUILD)/gen -name '*.d' 2>/dev/null)
