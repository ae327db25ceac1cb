# intent - one Makefile.
#   make                         library (build/libintent.a, build/libintent.so) and build/intent
#   make test                    all tests; the run ends with "N passed, N failed"
#   make SANITIZE=address,undefined test    (or SANITIZE=thread) in build/san-*/
#   make valgrind                the C tests under valgrind
#   make demo                    installs what is missing, trains on the example data, answers
#   make bench                   benchmarks against peers (see bench/)
#   make clean

comma   := ,
CC      ?= cc
BUILD   ?= build
ifneq ($(SANITIZE),)
BUILD   := build/san-$(subst $(comma),-,$(SANITIZE))
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

VERSION  := 0.1.0
SOMAJOR  := 0
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -fvisibility=hidden -fPIC $(SANFLAGS)
CPPFLAGS += -Iinclude -Isrc
LDFLAGS  += $(SANFLAGS)
UTF8PROC := $(firstword $(wildcard /usr/lib/*/libutf8proc.a /usr/lib/libutf8proc.a /usr/local/lib/libutf8proc.a))
ifeq ($(UTF8PROC),)
UTF8PROC := -lutf8proc
endif
LIBS     := $(UTF8PROC) -lm -lpthread
CLI_LIBS := -lcjson   # the CLI's JSON (component registries); the library needs none

LIB_SRC  := $(wildcard src/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

all: $(BUILD)/libintent.a $(BUILD)/libintent.so $(BUILD)/intent

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*.h cli/*.h tests/*.h)
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

$(BUILD)/tests/run_tests: $(TEST_OBJ) $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libintent.a -lcmocka $(LIBS)

# The feedback log's kill -9 test forks and kills writers: a program of its own.
$(BUILD)/tests/feedback_crash: $(BUILD)/tests/crash/feedback_crash.o $(BUILD)/libintent.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libintent.a $(LIBS)

test: $(BUILD)/tests/feedback_crash
test: all $(BUILD)/tests/run_tests
	@BUILD=$(BUILD) sh tests/run.sh

valgrind: all $(BUILD)/tests/run_tests
	INTENT_TEST_QUICK=1 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/tests/run_tests

demo:
	@sh examples/demo.sh

bench: all
	@sh bench/compare.sh

clean:
	rm -rf build

.PHONY: all test valgrind demo bench clean
