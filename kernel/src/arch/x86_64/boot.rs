//! The multiboot2 header and the 32-bit entry that brings the CPU into 64-bit long mode.
//!
//! GRUB (multiboot2 spec §3.3, "I386 machine state") enters `_start32` in 32-bit protected mode, paging
//! off, with EAX = 0x36d76289 and EBX = the physical address of the boot information. The stub:
//!
//! 1. checks through CPUID that the CPU has long mode (and notes whether it has NX);
//! 2. builds the early page tables in .bss: 2 MiB pages mapping physical [0, 4 GiB) three times — at 0
//!    (identity, for this stub), at PAGE_OFFSET (the early direct map) and the first GiB at KERNEL_VMA
//!    (−2 GiB, where the kernel is linked). UEFI places ACPI tables and the framebuffer just below 4 GiB,
//!    which is why 4 GiB are mapped;
//! 3. enables PAE, loads CR3, sets EFER.LME (and EFER.NXE when NX exists), enables paging with CR0.WP
//!    (Intel SDM vol. 3A §10.8.5, "Initializing IA-32e Mode");
//! 4. far-jumps through a trampoline GDT into 64-bit code, switches to the higher-half stack and calls
//!    `kernel_main(magic, boot_info_phys, cpuid_80000001_edx)`.
//!
//! Addresses of higher-half symbols are used here as `symbol - KERNEL_VMA` (their physical address).

use core::arch::global_asm;

/// Virtual base of the kernel image (the linker script's `KERNEL_VMA`).
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// Virtual base of the early direct map of physical [0, 4 GiB); the final one (issue 4) maps all RAM here.
pub const PAGE_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Physical memory the early page tables map, at PAGE_OFFSET and at 0.
pub const EARLY_MAPPED_BYTES: u64 = 4 << 30;
/// Size of the boot stack the kernel runs on until tasks exist.
pub const BOOT_STACK_BYTES: usize = 128 * 1024;

global_asm!(
    r#"
    .set KERNEL_VMA, 0xffffffff80000000
    .set MB2_MAGIC, 0xe85250d6
    .set MB2_ARCH_I386, 0

    /* Multiboot2 header (spec §3.1): magic, architecture, length, checksum, then tags. */
    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* Module alignment tag (type 6): modules start on page boundaries. */
    .balign 8
    .short 6, 0
    .long 8
    /* Console flags tag (type 4, optional): bit 1 = the kernel supports EGA text, so GRUB may leave the
       text mode in place (gfxpayload=text, or no graphics mode to be had). */
    .balign 8
    .short 4, 1
    .long 12
    .long 2
    /* Framebuffer tag (type 5, flags 1 = optional): a linear 1024x768x32 mode if the loader can set
       one; without a video card, or in EGA text mode, the kernel boots all the same. */
    .balign 8
    .short 5, 1
    .long 20
    .long 1024, 768, 32
    /* End tag. */
    .balign 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .boot.data, "aw"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_long_mode_msg:
    .asciz "Pagoda: this CPU has no 64-bit long mode; cannot boot.\r\n"

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov %eax, %esi                          /* multiboot2 magic */
    mov %ebx, %ebp                          /* boot information (physical) */
    mov $(boot_stack_top - KERNEL_VMA), %esp

    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx                   /* LM */
    jz no_long_mode
    mov %edx, %ebx                          /* keep the feature bits for Rust */

    /* PD: 2048 entries of 2 MiB (present, writable, PS) covering [0, 4 GiB). */
    mov $(boot_pd - KERNEL_VMA), %edi
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

    /* PDPT low: its first four entries point at the four PD pages. */
    mov $(boot_pdpt_low - KERNEL_VMA), %edi
    mov $(boot_pd - KERNEL_VMA + 3), %eax
    xor %ecx, %ecx
2:  mov %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 2b

    /* PDPT high: entry 510 (−2 GiB) maps the first GiB again. */
    mov $(boot_pdpt_high - KERNEL_VMA), %edi
    movl $(boot_pd - KERNEL_VMA + 3), 510 * 8(%edi)
    movl $0, 510 * 8 + 4(%edi)

    /* PML4: 0 (identity) and 256 (PAGE_OFFSET) share PDPT low; 511 is the kernel's PDPT. */
    mov $(boot_pml4 - KERNEL_VMA), %edi
    movl $(boot_pdpt_low - KERNEL_VMA + 3), 0(%edi)
    movl $0, 4(%edi)
    movl $(boot_pdpt_low - KERNEL_VMA + 3), 256 * 8(%edi)
    movl $0, 256 * 8 + 4(%edi)
    movl $(boot_pdpt_high - KERNEL_VMA + 3), 511 * 8(%edi)
    movl $0, 511 * 8 + 4(%edi)

    mov %cr4, %eax
    or $((1 << 5) | (1 << 7)), %eax         /* PAE, PGE */
    mov %eax, %cr4
    mov %edi, %cr3

    mov $0xc0000080, %ecx                   /* IA32_EFER */
    rdmsr
    or $(1 << 8), %eax                      /* LME */
    test $(1 << 20), %ebx                   /* NX available? */
    jz 3f
    or $(1 << 11), %eax                     /* NXE */
3:  wrmsr

    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax   /* PG, WP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmpl $0x08, $long_mode_entry

no_long_mode:
    mov $no_long_mode_msg, %esi
    mov $0xb8000, %edi
4:  lodsb
    test %al, %al
    jz 6f
    mov $0x3fd, %dx                         /* COM1 line status: wait for an empty transmitter */
5:  mov %al, %ah
    inb %dx, %al
    test $0x20, %al
    mov %ah, %al
    jz 5b
    mov $0x3f8, %dx
    outb %al, %dx
    movb %al, (%edi)                        /* VGA text, light grey on black */
    movb $0x07, 1(%edi)
    add $2, %edi
    jmp 4b
6:  hlt
    jmp 6b

    .code64
long_mode_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    movabs $boot_stack_top, %rsp
    movabs $start64, %rax
    jmp *%rax

    .section .text.start64, "ax"
start64:
    mov %esi, %edi                          /* magic (32-bit moves zero-extend) */
    mov %ebp, %esi                          /* boot information */
    mov %ebx, %edx                          /* CPUID 0x80000001 EDX */
    xor %ebp, %ebp                          /* end of the frame-pointer chain */
    call kernel_main
7:  cli
    hlt
    jmp 7b

    .section .bss.boot, "aw", @nobits
    .balign 4096
    .global boot_pml4, boot_pgtables_start, boot_pgtables_end
boot_pgtables_start:
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_pgtables_end:
    .global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip {stack}
boot_stack_top:
"#,
    stack = const BOOT_STACK_BYTES,
    options(att_syntax)
);

unsafe extern "C" {
    /// First byte of the early page tables (PML4, two PDPTs, four PDs).
    pub static boot_pgtables_start: u8;
    /// One past the last byte of the early page tables.
    pub static boot_pgtables_end: u8;
    /// Lowest address of the boot stack.
    pub static boot_stack_bottom: u8;
    /// One past the highest address of the boot stack.
    pub static boot_stack_top: u8;
}
