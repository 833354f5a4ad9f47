//! The global descriptor table, the task-state segment and the interrupt stacks (IST).
//!
//! Layout (fixed so that SYSCALL/SYSRET work later, Intel SDM vol. 3A §5.8.8): 0x08 kernel code, 0x10
//! kernel data, 0x18 user data, 0x20 user code (both DPL 3), 0x28 the 16-byte TSS descriptor. The TSS
//! carries three IST stacks so that the handlers of a double fault, an NMI and a machine check always
//! run on a known-good stack, even when the kernel stack is the problem (SDM vol. 3A §7.14.5).

use core::cell::UnsafeCell;
use x86::Ring;
use x86::bits64::segmentation::Descriptor64;
use x86::bits64::task::TaskStateSegment;
use x86::dtables::DescriptorTablePointer;
use x86::segmentation::{
    BuildDescriptor, CodeSegmentType, DataSegmentType, Descriptor, DescriptorBuilder, GateDescriptorBuilder,
    SegmentDescriptorBuilder, SegmentSelector,
};

pub const KERNEL_CS: SegmentSelector = SegmentSelector::new(1, Ring::Ring0);
pub const KERNEL_DS: SegmentSelector = SegmentSelector::new(2, Ring::Ring0);
pub const TSS_SELECTOR: SegmentSelector = SegmentSelector::new(5, Ring::Ring0);
pub const USER_DS: SegmentSelector = SegmentSelector::new(3, Ring::Ring3);
pub const USER_CS: SegmentSelector = SegmentSelector::new(4, Ring::Ring3);

/// IST slot numbers (1-based, as IDT gates name them).
pub const IST_DOUBLE_FAULT: u8 = 1;
pub const IST_NMI: u8 = 2;
pub const IST_MACHINE_CHECK: u8 = 3;

/// Size of each IST stack.
pub const IST_STACK_BYTES: usize = 16 * 1024;

/// A stack in .bss, 16-byte aligned.
#[repr(C, align(16))]
pub struct Stack(UnsafeCell<[u8; IST_STACK_BYTES]>);

// SAFETY: the stack memory is only ever used by the CPU as a stack for one handler at a time; Rust code
// only takes its address.
unsafe impl Sync for Stack {}

impl Stack {
    const fn new() -> Self {
        Self(UnsafeCell::new([0; IST_STACK_BYTES]))
    }

    /// `[bottom, top)` as addresses.
    pub fn bounds(&self) -> (u64, u64) {
        let bottom = self.0.get() as u64;
        (bottom, bottom + IST_STACK_BYTES as u64)
    }
}

/// The IST stacks, indexed by IST slot − 1.
pub static IST_STACKS: [Stack; 3] = [Stack::new(), Stack::new(), Stack::new()];

#[repr(C, align(16))]
struct Gdt {
    null: u64,
    kernel_code: Descriptor,
    kernel_data: Descriptor,
    user_data: Descriptor,
    user_code: Descriptor,
    tss: Descriptor64,
}

struct CpuTables {
    gdt: UnsafeCell<Gdt>,
    tss: UnsafeCell<TaskStateSegment>,
}

// SAFETY: written once by `init` on the boot CPU before anything else reads them; afterwards only the CPU
// reads the GDT and the TSS.
unsafe impl Sync for CpuTables {}

static TABLES: CpuTables = CpuTables {
    gdt: UnsafeCell::new(Gdt {
        null: 0,
        kernel_code: Descriptor::NULL,
        kernel_data: Descriptor::NULL,
        user_data: Descriptor::NULL,
        user_code: Descriptor::NULL,
        tss: Descriptor64::NULL,
    }),
    tss: UnsafeCell::new(TaskStateSegment::new()),
};

fn code_segment(ring: Ring) -> Descriptor {
    DescriptorBuilder::code_descriptor(0, 0xfffff, CodeSegmentType::ExecuteRead)
        .present()
        .dpl(ring)
        .l()
        .limit_granularity_4kb()
        .finish()
}

fn data_segment(ring: Ring) -> Descriptor {
    DescriptorBuilder::data_descriptor(0, 0xfffff, DataSegmentType::ReadWrite)
        .present()
        .dpl(ring)
        .db()
        .limit_granularity_4kb()
        .finish()
}

/// Builds and loads the GDT and the TSS, and reloads every segment register.
pub fn init() {
    let tss_ptr = TABLES.tss.get();
    // SAFETY: boot CPU, called once before interrupts are enabled; nothing else holds references into
    // the tables while they are written.
    unsafe {
        let tss = &mut *tss_ptr;
        for (slot, stack) in IST_STACKS.iter().enumerate() {
            tss.set_ist(slot, stack.bounds().1);
        }
        tss.iomap_base = size_of::<TaskStateSegment>() as u16; // no I/O bitmap
        let gdt = &mut *TABLES.gdt.get();
        gdt.kernel_code = code_segment(Ring::Ring0);
        gdt.kernel_data = data_segment(Ring::Ring0);
        gdt.user_data = data_segment(Ring::Ring3);
        gdt.user_code = code_segment(Ring::Ring3);
        gdt.tss = <DescriptorBuilder as GateDescriptorBuilder<u64>>::tss_descriptor(
            tss_ptr as u64,
            size_of::<TaskStateSegment>() as u64 - 1,
            true,
        )
        .present()
        .finish();
    }
    let pointer = DescriptorTablePointer::new(
        // SAFETY: the GDT was fully written above and lives for the whole run.
        unsafe { &*TABLES.gdt.get() },
    );
    // SAFETY: the GDT is valid and static; the selectors loaded below index its kernel code, kernel data
    // and TSS descriptors.
    unsafe {
        x86::dtables::lgdt(&pointer);
        x86::bits64::segmentation::load_cs(KERNEL_CS);
        x86::segmentation::load_ss(KERNEL_DS);
        x86::segmentation::load_ds(KERNEL_DS);
        x86::segmentation::load_es(KERNEL_DS);
        x86::segmentation::load_fs(SegmentSelector::from_raw(0));
        x86::segmentation::load_gs(SegmentSelector::from_raw(0));
        x86::task::load_tr(TSS_SELECTOR);
    }
}

/// Sets the stack the CPU switches to on an interrupt or exception from user mode (TSS.RSP0): the top of
/// the running task's kernel stack.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: one CPU; the TSS is only read by the CPU when it delivers an interrupt from ring 3, which
    // cannot happen while the kernel runs with interrupts disabled here (callers hold the scheduler lock).
    unsafe { (*TABLES.tss.get()).set_rsp(Ring::Ring0, top) };
}
