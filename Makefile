# volunteerd: one binary, flat Makefile.  `make run` and `make test` install what is
# missing first (scripts/deps.sh); plain `make` only builds.

CC      ?= cc
PKGS    := libevent libevent_openssl openssl libpq libcjson libargon2 xlsxwriter libqrencode libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wformat -Werror=format-security
OPT     ?= -O2 -g
# Hardening, as Debian builds its packages: checked buffer functions, stack canaries and
# clash protection, a position-independent executable (said here, not left to the compiler's
# default), and a GOT made read-only at start-up (full RELRO).  The sanitizer builds below
# leave them out (ASan replaces the checked functions).
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(HARDEN) $(WARN) -MMD -MP -Icommon -Iserver -Ibuild $(PKG_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro -Wl,-z,now
LDLIBS  += $(PKG_LIBS) -lpthread -lm
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

COMMON_SRC := $(sort $(wildcard common/*.c))
SERVER_SRC := $(sort $(wildcard server/*.c server/pages/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=build/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=build/%.o) build/sql_embed.o build/openapi_embed.o \
              build/pages_static_embed.o build/gen_sql_embed.o
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
SQL_FILES  := $(sort $(wildcard sql/[0-9]*.sql))
GEN_SQL    := $(sort $(wildcard sql/gen/*.sql))

.PHONY: all run test test-unit test-integration test-e2e test-asan bench asan fuzz format check tidy clean deps

all: build/volunteerd

build/volunteerd: $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

build/server/version.o: CFLAGS += -DVD_VERSION='"$(VERSION)"'

# The migrations are compiled into the binary so that `volunteerd migrate` needs no files.
# sql_files.list holds their names and is rewritten only when the set changes, so that a
# migration removed or renamed (a checkout of an older commit) is embedded again too.
build/sql_files.list: FORCE
	@mkdir -p build
	@echo '$(SQL_FILES)' | cmp -s - $@ || echo '$(SQL_FILES)' > $@
FORCE:
build/sql_embed.c: $(SQL_FILES) build/sql_files.list scripts/embed-sql.sh
	@mkdir -p build
	sh scripts/embed-sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

build/openapi_embed.c: server/openapi.json scripts/embed-text.sh
	@mkdir -p build
	sh scripts/embed-text.sh openapi_json server/openapi.json > $@.tmp && mv $@.tmp $@

# The pages' static files (server/pages/static.c serves them), one C string each.
PAGE_STATIC := server/pages/static/app.css server/pages/static/app.js \
               server/pages/static/icon.svg \
               server/pages/static/staff.css server/pages/static/console.js \
               server/pages/static/admin.js server/pages/static/uplot.min.js \
               server/pages/static/uplot.min.css
build/pages_static_embed.c: $(PAGE_STATIC) scripts/embed-text.sh
	@mkdir -p build
	for f in $(PAGE_STATIC); do \
		sh scripts/embed-text.sh page_static_$$(basename $$f | tr '.-' '__') $$f || exit 1; \
	done > $@.tmp && mv $@.tmp $@

# The SQL of `volunteerd gen-data` and `seed-demo` (sql/gen/NAME.sql becomes the string
# gen_sql_NAME, server/gendata.c runs them).  They are not migrations: SQL_FILES above takes
# only sql/[0-9]*.sql, and migrate.c knows only migrations_embedded.
build/gen_sql_files.list: FORCE
	@mkdir -p build
	@echo '$(GEN_SQL)' | cmp -s - $@ || echo '$(GEN_SQL)' > $@
build/gen_sql_embed.c: $(GEN_SQL) build/gen_sql_files.list scripts/embed-text.sh
	@mkdir -p build
	for f in $(GEN_SQL); do \
		sh scripts/embed-text.sh gen_sql_$$(basename $$f .sql) $$f || exit 1; \
	done > $@.tmp && mv $@.tmp $@

build/sql_embed.o build/openapi_embed.o build/pages_static_embed.o build/gen_sql_embed.o: build/%.o: build/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

build/tests/test_%: tests/unit/test_%.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $(filter-out %.h,$^) $(LDLIBS) -lcmocka

# The one unit test of server code: route_check.c stands apart from the table and its handlers.
build/tests/test_route_check: build/server/route_check.o

deps:
	bash scripts/deps.sh

run: deps
	$(MAKE) all
	bash scripts/run.sh

test: deps
	$(MAKE) all $(UNIT_BIN) $(FUZZ_BIN) build/asan/volunteerd $(ASAN_UNIT_BIN)
	bash scripts/test.sh all

test-unit: $(UNIT_BIN)
	bash scripts/test.sh unit

test-integration: all
	bash scripts/test.sh integration

test-e2e: all
	bash scripts/test.sh e2e

bench: deps
	$(MAKE) all
	bash scripts/bench.sh

# The monthly report at scale 1 (BENCH_SCALE=...) while check-ins continue: build/bench-reports.txt
.PHONY: bench-reports
bench-reports: all
	bash scripts/bench-reports.sh

# The same program and the unit tests built with AddressSanitizer (LeakSanitizer on) and UBSan,
# each stopping at its first report, into build/asan/ (so that they never replace the real
# ones); `make test` runs them after the integration suite, `make test-asan` alone (R46).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_CFLAGS = $(filter-out -MMD -MP -O2 $(HARDEN),$(CFLAGS)) $(ASAN_FLAGS)
ASAN_UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)
# No dependency files here (-MMD is left out): every header is a prerequisite instead.
ALL_HEADERS := $(wildcard common/*.h server/*.h server/pages/*.h)
asan: build/asan/volunteerd $(ASAN_UNIT_BIN)

build/asan/volunteerd: $(COMMON_SRC) $(SERVER_SRC) build/sql_embed.c build/openapi_embed.c \
                       build/pages_static_embed.c build/gen_sql_embed.c $(ALL_HEADERS)
	@mkdir -p build/asan
	$(CC) $(ASAN_CFLAGS) -DVD_VERSION='"$(VERSION)-asan"' -o $@ $(filter %.c,$^) $(LDLIBS)

ASAN_COMMON_OBJ := $(COMMON_SRC:%.c=build/asan/%.o)
.SECONDARY: $(ASAN_COMMON_OBJ)
build/asan/common/%.o: common/%.c $(ALL_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<

build/asan/tests/test_%: tests/unit/test_%.c $(ASAN_COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -Wno-missing-prototypes -o $@ $^ $(LDLIBS) -lcmocka

build/asan/server/route_check.o: server/route_check.c $(ALL_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<
build/asan/tests/test_route_check: build/asan/server/route_check.o

test-asan: asan
	bash scripts/test.sh asan

# libFuzzer targets over the parsers that see untrusted bytes (tests/fuzz/fuzz_*.c), built
# with clang and the sanitizers; `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON_SRC)
	@mkdir -p build/fuzz
	clang $(filter-out -MMD -MP -O2 $(HARDEN),$(CFLAGS)) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/test.sh fuzz

format:
	clang-format -i common/*.[ch] server/*.[ch] server/pages/*.[ch] tests/unit/*.[ch] scripts/bench/*.c

# cppcheck's warning and portability checks (its style advice is left out: not a gate), with
# its POSIX library so that it knows what mmap or getpwnam accept.  It reads no system header
# but sys/queue.h, whose TAILQ macros it could not parse otherwise (found through the compiler,
# wherever the system keeps it).  A false positive is suppressed inline, with its reason.
QUEUE_H  = $(shell printf '\043include <sys/queue.h>\n' | $(CC) -M -E - 2>/dev/null | grep -o '[^ ]*sys/queue\.h')
CPPCHECK = cppcheck --error-exitcode=1 --enable=warning,portability --library=posix --inline-suppr \
           --std=c11 -q -D_GNU_SOURCE --include=$(QUEUE_H) -Icommon -Iserver -Iserver/pages

check:
	clang-format --dry-run --Werror common/*.[ch] server/*.[ch] server/pages/*.[ch] tests/unit/*.[ch] scripts/bench/*.c
	@# log_msg quotes every %s itself: a value quoted again in the format would break logfmt.
	@! grep -n -A2 'log_msg(' common/*.c server/*.c server/pages/*.c | grep -F '\"%s'
	$(CPPCHECK) common server

# `make tidy`: clang-tidy's static analyzer (R46) over every file of common/ and server/, any
# finding an error; about a minute on two cores for all of them (`make -j2 tidy`), so it is a
# target of its own beside `make check`, and a file is read again only when it or a header
# changed (its stamp in build/tidy/).  Left out: security.insecureAPI, which names every
# memcpy, snprintf and strcpy, bounded or not, and asks for Annex K functions that glibc does
# not have; and valist.Uninitialized, which loses a va_list passed by pointer (log.c) or
# started again after va_end (html.c).  A false positive is suppressed inline
# (NOLINTNEXTLINE), with its reason.
TIDY_CHECKS := -*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*,-clang-analyzer-valist.Uninitialized
TIDY_STAMPS := $(patsubst %.c,build/tidy/%.ok,$(COMMON_SRC) $(SERVER_SRC))
tidy: $(TIDY_STAMPS)
build/tidy/%.ok: %.c $(ALL_HEADERS)
	@mkdir -p $(dir $@)
	clang-tidy --quiet --warnings-as-errors='*' --checks='$(TIDY_CHECKS)' $< -- \
		$(filter-out -MMD -MP $(WARN),$(CFLAGS))
	@touch $@

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
