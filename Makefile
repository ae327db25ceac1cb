# intent - one Makefile.
#   make                         library (build/libintent.a, build/libintent.so) and build/intent
#   make test                    all tests; the run ends with "N passed, N failed"
#   make SANITIZE=address,undefined test    (or SANITIZE=thread) in build/san-*/
#   make valgrind                the C tests under valgrind
#   make demo                    installs what is missing, trains on the example data, answers
#   make install [PREFIX=/usr/local] [DESTDIR=...]   header, libraries, intent, intent.pc
#   make bench                   benchmarks against peers (see bench/)
#   make fuzz                    libFuzzer targets (clang), each run FUZZ_SECONDS (see fuzz/)
#   make clean

comma   := ,
CC      ?= cc
BUILD   ?= build
ifneq ($(SANITIZE),)
BUILD   := build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# ThreadSanitizer reports and goes on by default; stop at the first race instead, so the
# run has no summary line and tests/run.sh counts it as a failure
ifneq ($(findstring thread,$(SANITIZE)),)
export TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1
endif

VERSION  := 0.1.0
SOMAJOR  := 0
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
CFLAGS   ?= -O3 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -fvisibility=hidden -fPIC $(SANFLAGS)
CPPFLAGS += -Iinclude -Isrc
LDFLAGS  += $(SANFLAGS)
UTF8PROC := $(firstword $(wildcard /usr/lib/*/libutf8proc.a /usr/lib/libutf8proc.a /usr/local/lib/libutf8proc.a))
ifeq ($(UTF8PROC),)
UTF8PROC := -lutf8proc
endif
LIBS     := $(UTF8PROC) -lm -lpthread
CLI_LIBS := -lcjson -lmicrohttpd  # the CLI's JSON (registries, the server) and HTTP server; the library needs none

LIB_SRC  := $(wildcard src/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

PREFIX  ?= /usr/local

all: $(BUILD)/libintent.a $(BUILD)/libintent.so $(BUILD)/intent $(BUILD)/intent.pc

$(BUILD)/intent.pc: Makefile
	@mkdir -p $(BUILD)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: intent\nDescription: %s\nVersion: %s\nLibs: -L$${libdir} -lintent\nLibs.private: -lutf8proc -lm -lpthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' 'labels for short texts, learned from examples, predicted in microseconds' '$(VERSION)' >$@

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/intent.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libintent.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libintent.so $(DESTDIR)$(PREFIX)/lib/libintent.so.$(VERSION)
	ln -sf libintent.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libintent.so.$(SOMAJOR)
	ln -sf libintent.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libintent.so
	install -m 755 $(BUILD)/intent $(DESTDIR)$(PREFIX)/bin/
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(BUILD)/intent.pc >$(DESTDIR)$(PREFIX)/lib/pkgconfig/intent.pc

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*.h cli/*.h tests/*.h tests/kern/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libintent.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# utf8proc is linked in statically and hidden, so the .so needs only libc, libm, pthreads.
$(BUILD)/libintent.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libintent.so.$(SOMAJOR) -Wl,--exclude-libs,ALL $(LDFLAGS) -o $@ $^ $(LIBS)
	ln -sf libintent.so $(BUILD)/libintent.so.$(SOMAJOR)

$(BUILD)/intent: $(CLI_OBJ) $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libintent.a $(LIBS) $(CLI_LIBS)

# examples/assistant.c: the service, the pool and the component manager wired together
# (tests/assistant.sh runs it)
all: $(BUILD)/examples/assistant
$(BUILD)/examples/assistant: $(BUILD)/examples/assistant.o $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libintent.a $(LIBS)

$(BUILD)/tests/run_tests: $(TEST_OBJ) $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libintent.a -lcmocka $(LIBS)

# The feedback log's kill -9 test forks and kills writers: a program of its own.
$(BUILD)/tests/feedback_crash: $(BUILD)/tests/crash/feedback_crash.o $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libintent.a $(LIBS)

test: $(BUILD)/tests/feedback_crash
# The SIMD kernels against the scalar reference, without cmocka; and the same for NEON,
# cross-compiled and run under qemu, when gcc-aarch64-linux-gnu and qemu-user are there.
KERN_SRC := src/kern_ref.c src/kern_avx2.c src/kern_avx512.c src/kern_neon.c src/rng.c tests/kern/kern_check.c
AARCH64_CC ?= aarch64-linux-gnu-gcc
$(BUILD)/tests/kern_check: $(KERN_SRC) $(wildcard include/*.h src/*.h tests/kern/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(KERN_SRC) -lm

$(BUILD)/tests/kern_check_neon: $(KERN_SRC) $(wildcard include/*.h src/*.h tests/kern/*.h)
	@mkdir -p $(dir $@)
	@if command -v $(AARCH64_CC) >/dev/null 2>&1; then \
		$(AARCH64_CC) -std=c11 -D_GNU_SOURCE -O2 -static $(WARN) $(CPPFLAGS) -o $@ $(KERN_SRC) -lm; \
	else rm -f $@; fi

# The HTTP server's request handling (cli/http*.c, cli/metrics.c), without sockets: a
# cmocka program of its own, since it links the CLI's server files and cJSON.
SERVE_SRC := cli/http.c cli/http_json.c cli/metrics.c cli/registry.c cli/out.c
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/%.o)
$(BUILD)/tests/http_check: $(BUILD)/tests/http/test_http.o $(BUILD)/tests/helpers.o $(SERVE_OBJ) $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS) -lcjson

test: $(BUILD)/tests/http_check
test: all $(BUILD)/tests/run_tests $(BUILD)/tests/kern_check $(BUILD)/tests/kern_check_neon
	@BUILD=$(BUILD) sh tests/run.sh

# --fair-sched=yes: valgrind runs one thread at a time, and by default lets a busy thread keep
# the lock; the stress test's readers then starve the pool workers they wait on for minutes.
valgrind: all $(BUILD)/tests/run_tests
	INTENT_TEST_QUICK=1 valgrind --fair-sched=yes --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/tests/run_tests

demo:
	@sh examples/demo.sh

# bench/compare.sh: intent beside its peers (fastText, scikit-learn, Python, NumPy,
# PyTorch, ONNX Runtime); never part of `make test`. The driver times the C API.
$(BUILD)/bench/driver: bench/driver.c $(BUILD)/libintent.a include/intent.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libintent.a $(LIBS)

bench: all $(BUILD)/bench/driver
	@sh bench/compare.sh

clean:
	rm -rf build

.PHONY: all test valgrind demo bench clean install

# ---- fuzzing (fuzz/) ----
# `make fuzz` builds the libFuzzer targets with clang, ASan and UBSan in $(BUILD)/fuzz/
# and runs each for FUZZ_SECONDS, one at a time, on the committed seeds plus a working
# corpus in $(BUILD)/fuzz/work/ (new inputs land there, never in fuzz/corpus/); crashes
# are written to $(BUILD)/fuzz/. `make test` replays fuzz/corpus/ through replay_*
# binaries built with $(CC) and the normal flags (fuzz/replay.c), so no clang is needed.
# fuzz_http also needs the server's request handling from cli/ and cJSON: its rules follow.
FUZZ_TARGETS := model data text http
FUZZ_LIBONLY := model data text
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 $(FUZZ_SAN) $(CPPFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/cl/%.o)
FUZZ_OBJ     := $(FUZZ_LIBONLY:%=$(BUILD)/fuzz/cl/fuzz/fuzz_%.o)
FUZZ_BIN     := $(FUZZ_LIBONLY:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_REPLAY  := $(FUZZ_LIBONLY:%=$(BUILD)/fuzz/replay_%)
FUZZ_HTTP_CL := $(SERVE_SRC:%.c=$(BUILD)/fuzz/cl/%.o) $(BUILD)/fuzz/cl/fuzz/fuzz_http.o

# static pattern rules: $(BUILD)/fuzz/fuzz_model must not be mistaken for an object
$(FUZZ_LIB_OBJ) $(FUZZ_OBJ): $(BUILD)/fuzz/cl/%.o: %.c $(wildcard include/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BIN): $(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/cl/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_REPLAY): $(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(FUZZ_HTTP_CL): $(BUILD)/fuzz/cl/%.o: %.c $(wildcard include/*.h src/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/fuzz_http: $(FUZZ_HTTP_CL) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS) -lcjson

$(BUILD)/fuzz/replay_http: $(BUILD)/fuzz/fuzz_http.o $(BUILD)/fuzz/replay.o $(SERVE_OBJ) $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcjson

# Long texts only repeat work: the 256-word and 4096-n-gram caps are reached under 2 KB.
FUZZ_OPTS_text := -max_len=2048
# fuzz_http answers bodies over 4 KiB with 413 without reading them: a little past is enough.
FUZZ_OPTS_http := -max_len=6144

fuzz: $(FUZZ_BIN) $(BUILD)/fuzz/fuzz_http
	$(foreach t,$(FUZZ_TARGETS),mkdir -p $(BUILD)/fuzz/work/$(t) && \
		$(BUILD)/fuzz/fuzz_$(t) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/$(t)- -dict=fuzz/$(t).dict $(FUZZ_OPTS_$(t)) \
		$(BUILD)/fuzz/work/$(t) fuzz/corpus/$(t) && ) true

test: $(FUZZ_REPLAY) $(BUILD)/fuzz/replay_http

.PHONY: fuzz
