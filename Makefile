# snaptrig: everything is built under build/. `make V=1` shows full commands.
# Honours CC, CLANG, BPFTOOL, DESTDIR and PREFIX.

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=

OUT := build
VERSION := 0.1.0
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -dumpmachine)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
AGENT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARNINGS) -Iinclude -Iagent -I$(OUT) \
	-DSNAPTRIG_VERSION='"$(VERSION)"' $(shell $(PKG_CONFIG) --cflags libbpf)
AGENT_LIBS := $(shell $(PKG_CONFIG) --libs libbpf) -lelf -lz -pthread

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -I$(OUT) -I/usr/include/$(MULTIARCH)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

AGENT_SRCS := $(wildcard agent/*.c)
AGENT_OBJS := $(patsubst agent/%.c,$(OUT)/agent/%.o,$(AGENT_SRCS))
LIB_OBJS := $(filter-out $(OUT)/agent/main.o,$(AGENT_OBJS))

TOOL_SRCS := $(wildcard tools/*.c)
TOOLS := $(patsubst tools/%.c,$(OUT)/tools/%,$(TOOL_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS)
.PHONY: all clean check unit integration install uninstall vmlinux help fuzz bench

all: $(OUT)/snaptrig $(TOOLS) $(UNIT_TESTS)

help:
	@echo 'make              build the agent, tools and unit tests under build/'
	@echo 'make check        build and run every test (integration tests need root)'
	@echo 'make unit         run the unit tests only'
	@echo 'make integration  run the integration tests only (root)'
	@echo 'make install      install the agent and man page under $$(DESTDIR)$$(PREFIX)'
	@echo 'make uninstall    remove what make install installed'
	@echo 'make vmlinux      regenerate build/vmlinux.h from the running kernel'
	@echo 'make fuzz         run each libFuzzer target for FUZZ_SECONDS (default 20)'
	@echo 'make bench        run the benchmarks and write docs/BENCH.md'
	@echo 'make V=1 SANITIZE=1 ...  show commands / build with ASan and UBSan'

$(OUT) $(OUT)/agent $(OUT)/tools $(OUT)/tests:
	$(Q)mkdir -p $@

# vmlinux.h comes from the running kernel's BTF; `make vmlinux` regenerates it.
$(OUT)/vmlinux.h: | $(OUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

vmlinux:
	$(Q)rm -f $(OUT)/vmlinux.h
	$(Q)$(MAKE) --no-print-directory $(OUT)/vmlinux.h

$(OUT)/%.bpf.o: bpf/%.bpf.c $(OUT)/vmlinux.h $(wildcard include/*.h bpf/*.h) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/agent/%.o: agent/%.c $(SKELS) $(wildcard include/*.h agent/*.h) | $(OUT)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(AGENT_CFLAGS) -c $< -o $@

$(OUT)/libagent.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/snaptrig: $(OUT)/agent/main.o $(OUT)/libagent.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(AGENT_LIBS) -o $@

$(OUT)/tools/%: tools/%.c $(wildcard include/*.h) | $(OUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -Iinclude -pthread $< -o $@

# st-ia32 is a 32-bit program without libc, so no 32-bit libraries are needed.
$(OUT)/tools/st-ia32: tools/st-ia32.c | $(OUT)/tools
	$(call msg,CC-IA32,$@)
	$(Q)$(CC) -m32 -O2 -g -std=gnu11 -Wall -Wextra -Werror -ffreestanding -fno-pie -no-pie \
		-fno-stack-protector -nostdlib -static $< -o $@

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUT)/libagent.a | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(AGENT_CFLAGS) -Wno-missing-prototypes $< \
		$(OUT)/libagent.a $(AGENT_LIBS) -lcmocka -o $@

unit: $(UNIT_TESTS)
	$(Q)status=0; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || status=1; done; exit $$status

integration: all
	$(Q)tests/integration/run.sh

check: all
	$(Q)tests/run-all.sh

# libFuzzer targets, built with clang and ASan/UBSan against every agent unit
# but main.c. `make fuzz FUZZ_SECONDS=60` runs each for that long; new inputs
# go to build/fuzz/corpus-NAME, the seeds stay in tests/fuzz/corpus/NAME.
FUZZ_SECONDS ?= 20
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_AGENT_SRCS := $(filter-out agent/main.c,$(AGENT_SRCS))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Iagent -I$(OUT) -DSNAPTRIG_VERSION='"$(VERSION)"'

$(OUT)/fuzz:
	$(Q)mkdir -p $@

$(OUT)/fuzz/%: tests/fuzz/%.c $(FUZZ_AGENT_SRCS) $(SKELS) $(wildcard include/*.h agent/*.h) | $(OUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_AGENT_SRCS) $(AGENT_LIBS) -o $@

fuzz: $(FUZZ_BINS)
	$(Q)status=0; for bin in $(FUZZ_BINS); do \
		name=$${bin##*/fuzz_}; \
		mkdir -p $(OUT)/fuzz/corpus-$$name; \
		echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
		$$bin -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
			$(OUT)/fuzz/corpus-$$name tests/fuzz/corpus/$$name 2>$(OUT)/fuzz/$$name.log \
			|| { status=1; tail -n 40 $(OUT)/fuzz/$$name.log; }; \
		grep -h 'stat::number_of_executed_units' $(OUT)/fuzz/$$name.log; \
	done; exit $$status

bench: all
	$(Q)tools/install-deps.sh bench
	$(Q)tools/bench/run.sh

install: $(OUT)/snaptrig
	install -D -m 0755 $(OUT)/snaptrig $(DESTDIR)$(PREFIX)/sbin/snaptrig
	install -D -m 0644 include/snaptrig.h $(DESTDIR)$(PREFIX)/include/snaptrig.h
	@# the page names the documentation directory of the default PREFIX
	sed 's|/usr/local/share/doc/snaptrig|$(PREFIX)/share/doc/snaptrig|' docs/snaptrig.8 >$(OUT)/snaptrig.8
	install -D -m 0644 $(OUT)/snaptrig.8 $(DESTDIR)$(PREFIX)/share/man/man8/snaptrig.8
	install -D -m 0644 docs/snaptrig.schema.json $(DESTDIR)$(PREFIX)/share/doc/snaptrig/snaptrig.schema.json
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/snaptrig/README.md
	install -D -m 0644 docs/BENCH.md $(DESTDIR)$(PREFIX)/share/doc/snaptrig/BENCH.md
	install -D -m 0644 docs/control-protocol.md $(DESTDIR)$(PREFIX)/share/doc/snaptrig/control-protocol.md
	install -D -m 0644 docs/request-protocol.md $(DESTDIR)$(PREFIX)/share/doc/snaptrig/request-protocol.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/snaptrig $(DESTDIR)$(PREFIX)/include/snaptrig.h
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/snaptrig.8
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/snaptrig

clean:
	$(Q)rm -rf $(OUT)
