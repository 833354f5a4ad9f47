# Pagoda — build, run and test the kernel. `make help` lists the targets; README.md explains them.
#
# Knobs: MEM=512M (guest RAM), ARGS="..." (kernel command line), UEFI=1 (boot through OVMF), KVM=1 (use
# /dev/kvm; TCG is the default because KVM on our machines is a slow software module, DESIGN §3),
# GRUB_TIMEOUT=0 (seconds the GRUB menu waits), PROFILE=release|dev.

SHELL := /bin/bash
.DEFAULT_GOAL := iso

TARGET       := x86_64-unknown-none
PROFILE      ?= release
PROFILE_DIR  := $(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
OUT_DIR      := $(or $(CARGO_TARGET_DIR),target)/$(TARGET)/$(PROFILE_DIR)
KERNEL_ELF   := $(OUT_DIR)/kernel
# The userland programs (each a multiboot2 module of the ISO, loaded by name).
PROGRAMS     := $(sort $(basename $(notdir $(wildcard userland/src/bin/*.rs userland/demos/*.rs))) sh)
# C programs built with gcc against libc-rs (userland/c/build.sh).
C_PROGRAMS   := malloc_c malloc_brk_mmap malloc_bench proc_cat
PROGRAM_ELFS := $(addprefix $(OUT_DIR)/,$(PROGRAMS) $(C_PROGRAMS))
BUILD        := build
ISO          := $(BUILD)/pagoda.iso

MEM          ?= 512M
ARGS         ?=
UEFI         ?= 0
KVM          ?= 0
GRUB_TIMEOUT ?= 0
QEMU         ?= qemu-system-x86_64
OVMF_CODE    ?= /usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS    ?= /usr/share/OVMF/OVMF_VARS_4M.fd

APT_PACKAGES := qemu-system-x86 grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools ovmf binutils gcc

ifeq ($(KVM),1)
ACCEL := -accel kvm -cpu host
else
ACCEL := -accel tcg
endif

ifeq ($(UEFI),1)
FIRMWARE = -machine q35 -drive if=pflash,format=raw,readonly=on,file=$(OVMF_CODE) \
           -drive if=pflash,format=raw,file=$(BUILD)/OVMF_VARS.fd
else
FIRMWARE :=
endif

QEMU_ARGS = $(ACCEL) -m $(MEM) $(FIRMWARE) -cdrom $(ISO) -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=4

# `make run` opens QEMU's window (the screen console, keyboard included) when there is a display to open
# it on; without one, or with HEADLESS=1, the serial console on this terminal is all there is.
HEADLESS     ?= $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY)),0,1)
DISPLAY_ARGS := $(if $(filter 1,$(HEADLESS)),-display none,-vga std)

.PHONY: help deps kernel iso run debug test bench lint fmt clean screenshots FORCE

help:
	@echo "make run     boot the ISO in QEMU: a window with the screen console (when there is a display) and"
	@echo "             the serial console on this terminal (MEM= ARGS= UEFI=1 KVM=1 HEADLESS=1)"
	@echo "make test    host tests + QEMU boot scenarios (installs what it needs)"
	@echo "make iso     build $(ISO) (ARGS=\"...\" bakes a kernel command line into it)"
	@echo "make debug   boot QEMU stopped, waiting for GDB (gdb -x $(BUILD)/gdbinit)"
	@echo "make bench   benchmark tables (boot time, buddy allocator, ptmalloc-rs vs glibc and peers)"
	@echo "make lint    rustfmt check + clippy on host crates and the kernel"
	@echo "make deps    install Debian packages and the Rust target (idempotent)"
	@echo "make screenshots  the README's pictures of the screen (docs/*.png), taken by the screen tests"
	@echo "make clean   remove build outputs"

# Installs only what is missing, so it is quick to re-run. Needs root or sudo for apt-get.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then sudo=""; \
	    elif command -v sudo >/dev/null; then sudo="sudo"; \
	    else echo "deps: need root or sudo to install:$$missing" >&2; exit 1; fi; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    $$sudo -E apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { $$sudo -E apt-get update -q >/dev/null && \
	      $$sudo -E apt-get install -y -q --no-install-recommends $$missing; } || \
	    { echo "deps: apt-get could not install:$$missing" >&2; exit 1; }; \
	fi
	@command -v rustup >/dev/null || { echo "deps: rustup not found; install Rust with rustup first" >&2; exit 1; }
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET) || \
	    { echo "deps: could not add the Rust target $(TARGET)" >&2; exit 1; }

kernel:
	cargo build -p kernel -p userland -p shell -p libc-rs --target $(TARGET) --profile $(PROFILE)
	LIBC_RS_A=$(OUT_DIR)/liblibc_rs.a userland/c/build.sh $(OUT_DIR) >/dev/null

# The command line is part of the ISO, so the ISO is rebuilt whenever ARGS or GRUB_TIMEOUT change.
$(BUILD)/iso-config: FORCE
	@mkdir -p $(BUILD)
	@echo "ARGS=$(ARGS) GRUB_TIMEOUT=$(GRUB_TIMEOUT)" | cmp -s - $@ || \
	    echo "ARGS=$(ARGS) GRUB_TIMEOUT=$(GRUB_TIMEOUT)" > $@

iso: kernel
	@$(MAKE) --no-print-directory $(ISO)

$(ISO): $(KERNEL_ELF) $(PROGRAM_ELFS) $(BUILD)/iso-config grub/grub.cfg.in grub/mkiso.sh
	grub/mkiso.sh $(KERNEL_ELF) $@ "$(ARGS)" $(GRUB_TIMEOUT) $(PROGRAM_ELFS)
	@echo "ISO: $@ (kernel command line: \"$(ARGS)\")"

$(BUILD)/OVMF_VARS.fd: FORCE
	@mkdir -p $(BUILD)
	@cp $(OVMF_VARS) $@

run: deps iso $(if $(filter 1,$(UEFI)),$(BUILD)/OVMF_VARS.fd)
	@echo "QEMU: serial console below$(if $(filter 1,$(HEADLESS)),, and the screen in QEMU's window); quit with Ctrl-A X."
	$(QEMU) $(QEMU_ARGS) -serial mon:stdio $(DISPLAY_ARGS)

debug: deps iso $(if $(filter 1,$(UEFI)),$(BUILD)/OVMF_VARS.fd)
	@printf '%s\n' "file $(KERNEL_ELF)" "set architecture i386:x86-64" "target remote localhost:1234" \
	    "hbreak kernel_main" > $(BUILD)/gdbinit
	@echo "QEMU waits for GDB on localhost:1234. In another terminal: gdb -x $(BUILD)/gdbinit"
	$(QEMU) $(QEMU_ARGS) -serial mon:stdio -display none -s -S

# Host tests of every workspace member but the bare-metal kernel, including the QEMU scenarios in
# tests/ (one ISO per kernel command line); then ptmalloc-rs's own suite (unit, property, differential
# and hardening tests, glibc's malloc tests, the no_std build), which needs its LD_PRELOAD library.
test: deps kernel
	cargo test --workspace --exclude kernel --exclude userland --exclude shell --exclude ptmalloc-rs -- --test-threads=2
	$(MAKE) -C ptmalloc-rs test

bench: deps kernel
	cargo run -q -p qemu-tests --release --bin boot-bench
	cargo run -q -p qemu-tests --release --bin task-bench
	cargo bench -q -p mm-core --bench buddy
	cargo bench -q -p mm-core --bench slab
	$(MAKE) -C ptmalloc-rs bench

# The screen tests save their dumps as PNG where PAGODA_SCREENSHOTS says (README's pictures).
screenshots: deps kernel
	PAGODA_SCREENSHOTS=docs cargo test -q -p qemu-tests --test screen -- --test-threads=2

lint:
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude kernel --exclude userland --exclude shell --all-targets -- -D warnings
	cargo clippy -p kernel -p userland -p shell -p libc-rs --target $(TARGET) -- -D warnings
	$(MAKE) -C ptmalloc-rs lint

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf $(BUILD)
