//! Creating tasks: loading a program from its module into a new address space (seed 002's VAS built by
//! hand), the initial user stack with argv/envp/auxv, the kernel stack and the first register frame, and
//! the kernel threads (idle).
//!
//! Loading maps every PT_LOAD segment with exactly its permissions: pages wholly inside the file map the
//! module's own frames (read-only, so a writable data page is copied on its first write); a page that
//! mixes file bytes and zeros gets a fresh copy; pages past the file (bss) are demand-zero. The ELF was
//! validated first by `elfload::plan` (bad headers, W+X, overlaps, kernel addresses and truncation are
//! refused with a message).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::errno::{ENOENT, ENOEXEC, ENOMEM};
use abi::{layout, prot};
use elfload::{LoadPlan, Segment};

use super::{Comm, KERNEL, Kernel, Pid, State, Task, modules};
use crate::arch::x86_64::gdt;
use crate::arch::x86_64::switch::{SWITCH_FRAME_WORDS, initial_frame};
use crate::arch::x86_64::traps::TrapFrame;
use crate::ipc::Handle;
use crate::mm::PAGE_SIZE;
use crate::mm::aspace::{AddressSpace, Range, RangeKind, VmError};
use crate::mm::vmalloc::{self, KERNEL_STACK_SIZE};
use crate::sync::SpinLock;
use crate::{pr_err, pr_info};

/// What to start.
pub struct SpawnRequest<'a> {
    pub name: &'a str,
    /// argv[1..] (argv[0] is the name).
    pub args: &'a [&'a [u8]],
    pub priority: u8,
    pub caps: u32,
    pub handles: Vec<Handle>,
    pub parent: Pid,
}

fn prot_of(segment: &Segment) -> u64 {
    let p = segment.perms;
    (if p.read { prot::READ } else { 0 })
        | (if p.write { prot::WRITE } else { 0 })
        | (if p.exec { prot::EXEC } else { 0 })
}

/// Maps the program's segments into `aspace`.
fn load_segments(
    aspace: &mut AddressSpace,
    plan: &LoadPlan,
    module: &modules::Module,
) -> Result<(), VmError> {
    let aligned = module.phys.is_multiple_of(PAGE_SIZE);
    for seg in &plan.segments {
        aspace.add_range(Range {
            start: seg.page_start(),
            end: seg.page_end(),
            prot: prot_of(seg),
            shared: false,
            growsdown: false,
            kind: RangeKind::Image,
        })?;
        let file_end = seg.vaddr + seg.file_bytes;
        let mut page = seg.page_start();
        while page < seg.page_end() {
            let lo = page.max(seg.vaddr);
            let hi = (page + PAGE_SIZE).min(file_end);
            if lo < hi {
                let offset = seg.file_offset + (lo - seg.vaddr);
                if aligned && lo == page && hi == page + PAGE_SIZE {
                    aspace.map_image_page(page, module.phys + offset)?;
                } else {
                    let bytes = &module.bytes[offset as usize..(offset + (hi - lo)) as usize];
                    let at = (lo - page) as usize;
                    aspace.map_new_page(page, |dst| dst[at..at + bytes.len()].copy_from_slice(bytes))?;
                }
            }
            page += PAGE_SIZE;
        }
    }
    Ok(())
}

/// How far down a randomized stack top may move (Linux: 22 bits of pages on x86-64, 16 GiB).
const STACK_RANDOM_BYTES: u64 = 1 << 34;
/// Program images must end below this (the lowest possible stack, its guard gap, and room to spare).
const IMAGE_LIMIT: u64 = layout::STACK_TOP - STACK_RANDOM_BYTES - 2 * layout::STACK_BYTES;

/// The top of a new task's stack: fixed, or (randomize_va_space ≥ 1) moved down by a random number of
/// pages, as Linux's `randomize_stack_top`.
fn stack_top(randomize: u8) -> u64 {
    if randomize == 0 {
        return layout::STACK_TOP;
    }
    let pages = crate::random::next_u64() % (STACK_RANDOM_BYTES / PAGE_SIZE);
    layout::STACK_TOP - pages * PAGE_SIZE
}

/// Builds the initial stack (argv, envp, auxv as the SysV ABI lays them out) and maps its pages.
fn setup_stack(aspace: &mut AddressSpace, plan: &LoadPlan, argv: &[&[u8]], top: u64) -> Result<u64, i64> {
    let stack_start = top - layout::STACK_BYTES;
    aspace
        .add_range(Range {
            start: stack_start,
            end: top,
            prot: prot::READ | prot::WRITE,
            shared: false,
            growsdown: false,
            kind: RangeKind::Stack,
        })
        .map_err(|e| -e.errno())?;
    let auxv = [
        (elfload::AT_PHDR, plan.phdr_vaddr), // 0 when no segment holds the headers (musl then skips it)
        (elfload::AT_PHENT, plan.phent),
        (elfload::AT_PHNUM, plan.phnum),
        (elfload::AT_PAGESZ, PAGE_SIZE),
        (elfload::AT_ENTRY, plan.entry),
        (elfload::AT_UID, 0),
        (elfload::AT_EUID, 0),
        (elfload::AT_GID, 0),
        (elfload::AT_EGID, 0),
        (elfload::AT_SECURE, 0),
        (elfload::AT_CLKTCK, 100),
        (elfload::AT_HWCAP, 0),
    ];
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&crate::random::next_u64().to_le_bytes());
    random[8..].copy_from_slice(&crate::random::next_u64().to_le_bytes());
    let mut buf = alloc::vec![0u8; 2 * PAGE_SIZE as usize];
    let image = elfload::build_stack(top, &mut buf, argv, &[], &auxv, random, b"x86_64")
        .map_err(|_| -abi::errno::E2BIG)?;
    let used_start = top - image.used as u64;
    let buf_base = top - buf.len() as u64;
    let mut page = used_start & !(PAGE_SIZE - 1);
    while page < top {
        let from = (page - buf_base) as usize;
        let chunk = &buf[from..from + PAGE_SIZE as usize];
        aspace.map_new_page(page, |dst| dst.copy_from_slice(chunk)).map_err(|e| -e.errno())?;
        page += PAGE_SIZE;
    }
    Ok(image.sp)
}

/// Writes the first user frame and the switch frame at the top of `stack`; returns the saved RSP.
fn initial_user_context(stack_top: u64, entry: u64, sp: u64) -> u64 {
    let frame_addr = stack_top - size_of::<TrapFrame>() as u64;
    let frame = TrapFrame {
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        r11: 0,
        r10: 0,
        r9: 0,
        r8: 0,
        rbp: 0,
        rdi: 0,
        rsi: 0,
        rdx: 0,
        rcx: 0,
        rbx: 0,
        rax: 0,
        vector: crate::arch::x86_64::syscall::SYSCALL_VECTOR,
        error_code: 0,
        rip: entry,
        cs: u64::from(gdt::USER_CS.bits()),
        rflags: 0x202,
        rsp: sp,
        ss: u64::from(gdt::USER_DS.bits()),
    };
    let switch_at = frame_addr - (SWITCH_FRAME_WORDS * 8) as u64;
    // SAFETY: the stack was just allocated, is mapped and is this function's alone; both frames fit in
    // its top 232 bytes.
    unsafe {
        (frame_addr as *mut TrapFrame).write(frame);
        (switch_at as *mut [u64; SWITCH_FRAME_WORDS]).write(initial_frame(None));
    }
    switch_at
}

fn new_task(pid: Pid, parent: Pid, comm: Comm, priority: u8, caps: u32) -> Task {
    Task {
        pid,
        tgid: pid,
        serial: 0,
        parent,
        comm,
        state: State::Ready,
        base_priority: priority,
        priority,
        slice_left: crate::sched::SLICE_TICKS,
        caps,
        kstack: None,
        saved_rsp: 0,
        aspace: None,
        handles: Vec::new(),
        inbox: None,
        wake_result: 0,
        outbox: None,
        reply_to: None,
        wake_at_ns: 0,
        fs_base: 0,
        group: 0,
        oom_score_adj: 0,
        user: false,
        kernel_stack_pages: 0,
        psi: 0,
        over_high_pages: 0,
    }
}

/// Loads and starts a program. The new task is ready; if it is more urgent than the caller, the caller
/// is preempted on its way back to user mode.
pub fn spawn(req: SpawnRequest<'_>) -> Result<Pid, i64> {
    let Some(module) = modules::find(req.name) else {
        return Err(-ENOENT);
    };
    let plan = match elfload::plan(module.bytes, layout::USER_MIN, IMAGE_LIMIT) {
        Ok(plan) => plan,
        Err(why) => {
            pr_err!("exec: {}: {why}: refused", req.name);
            return Err(-ENOEXEC);
        }
    };
    // The child starts in its parent's memory group; its kernel stack is charged there too.
    let group = KERNEL.lock().task(req.parent).map_or(0, |p| p.group);
    crate::mm::memcontrol::try_charge(
        group,
        KERNEL_STACK_SIZE / PAGE_SIZE,
        memcg::group::StatKind::KernelStack,
    )
    .map_err(|_| -ENOMEM)?;
    let uncharge_stack = || {
        crate::mm::memcontrol::uncharge(
            group,
            KERNEL_STACK_SIZE / PAGE_SIZE,
            memcg::group::StatKind::KernelStack,
        )
    };
    let Some(mut aspace) = AddressSpace::new(group) else {
        uncharge_stack();
        return Err(-ENOMEM);
    };
    aspace.account_task(true);
    if let Err(e) = load_segments(&mut aspace, &plan, &module) {
        pr_err!("exec: {}: cannot map its segments ({e:?})", req.name);
        uncharge_stack();
        return Err(-e.errno());
    }
    let mut argv: Vec<&[u8]> = Vec::with_capacity(req.args.len() + 1);
    argv.push(req.name.as_bytes());
    argv.extend_from_slice(req.args);
    let randomize = KERNEL.lock().randomize_va_space;
    let sp = match setup_stack(&mut aspace, &plan, &argv, stack_top(randomize)) {
        Ok(sp) => sp,
        Err(e) => {
            uncharge_stack();
            return Err(e);
        }
    };
    let Some(stack) = vmalloc::alloc_kernel_stack("task") else {
        uncharge_stack();
        return Err(-ENOMEM);
    };
    let saved_rsp = initial_user_context(stack.top, plan.entry, sp);

    let mut k = KERNEL.lock();
    let pid = k.alloc_pid();
    let mut task = new_task(pid, req.parent, Comm::new(req.name), req.priority, req.caps);
    task.serial = k.next_serial;
    task.group = group;
    k.next_serial = (k.next_serial + 1) & 0x7fff_ffff;
    task.kstack = Some(stack);
    task.saved_rsp = saved_rsp;
    task.aspace = Some(Arc::new(SpinLock::new(aspace)));
    task.user = true;
    task.kernel_stack_pages = KERNEL_STACK_SIZE / PAGE_SIZE;
    for handle in req.handles {
        k.objects.get_ref(handle.object);
        task.handles.push(Some(handle));
    }
    k.tasks.insert(pid, Box::new(task));
    k.task_mut(pid).expect("just inserted").state = State::Blocked(super::Wait::Sleep);
    crate::sched::make_ready(&mut k, pid);
    Ok(pid)
}

/// Starts a thread of the running task's process: same address space, capabilities, priority and a copy
/// of its handles; entered at `entry` with RDI = `arg`, RSP = `stack_top` and FS base = `tls`.
pub fn thread_create(entry: u64, stack_top: u64, arg: u64, tls: u64) -> Result<Pid, i64> {
    let stack = vmalloc::alloc_kernel_stack("thread").ok_or(-ENOMEM)?;
    let saved_rsp = initial_user_context(stack.top, entry, stack_top);
    // SAFETY: the frame was just written at the top of this fresh stack by `initial_user_context`.
    unsafe { (*((stack.top - size_of::<TrapFrame>() as u64) as *mut TrapFrame)).rdi = arg };
    let mut k = KERNEL.lock();
    let (tgid, serial, parent_pid, comm, priority, caps, aspace, handles) = {
        let me = k.cur();
        (
            me.tgid,
            me.serial,
            me.pid,
            me.comm,
            me.base_priority,
            me.caps,
            me.aspace.clone(),
            me.handles.clone(),
        )
    };
    let Some(aspace) = aspace else {
        drop(k);
        vmalloc::free_kernel_stack(stack);
        return Err(-abi::errno::EINVAL);
    };
    aspace.lock().account_task(true);
    let pid = k.alloc_pid();
    let mut task = new_task(pid, parent_pid, comm, priority, caps);
    task.tgid = tgid;
    task.group = k.task(parent_pid).map_or(0, |p| p.group);
    // A thread's kernel stack is charged like a process's (not refused: the creator is already running).
    let _ = crate::mm::memcontrol::try_charge(
        task.group,
        KERNEL_STACK_SIZE / PAGE_SIZE,
        memcg::group::StatKind::KernelStack,
    );
    task.serial = serial;
    task.kstack = Some(stack);
    task.saved_rsp = saved_rsp;
    task.aspace = Some(aspace);
    task.user = true;
    task.fs_base = tls;
    task.kernel_stack_pages = KERNEL_STACK_SIZE / PAGE_SIZE;
    for handle in handles.iter().flatten() {
        k.objects.get_ref(handle.object);
    }
    task.handles = handles;
    k.tasks.insert(pid, Box::new(task));
    k.task_mut(pid).expect("just inserted").state = State::Blocked(super::Wait::Sleep);
    crate::sched::make_ready(&mut k, pid);
    Ok(pid)
}

/// Creates the idle task (a kernel thread, priority 0) and adopts the boot context as a placeholder that
/// is switched away from for good by [`start`].
fn create_idle(k: &mut Kernel) -> Result<Pid, &'static str> {
    let stack = vmalloc::alloc_kernel_stack("idle").ok_or("no memory for the idle stack")?;
    let switch_at = stack.top - (SWITCH_FRAME_WORDS * 8) as u64;
    // SAFETY: a fresh stack, mapped and unused; the frame fits at its top.
    unsafe {
        (switch_at as *mut [u64; SWITCH_FRAME_WORDS])
            .write(initial_frame(Some((crate::sched::idle_loop, 0))));
    }
    let mut idle = new_task(0, 0, Comm::new("swapper/0"), 0, 0);
    idle.kstack = Some(stack);
    idle.saved_rsp = switch_at;
    idle.kernel_stack_pages = KERNEL_STACK_SIZE / PAGE_SIZE;
    k.tasks.insert(0, Box::new(idle));
    k.idle = 0;
    Ok(0)
}

/// Starts `init` (pid 1, every capability) and switches from the boot stack into the scheduler; never
/// returns. Without an init program the idle task runs alone.
pub fn start(init: &str, args: &[&[u8]], randomize_va_space: u8) -> ! {
    {
        let mut k = KERNEL.lock();
        k.randomize_va_space = randomize_va_space;
        // SAFETY: reading CR3 has no side effects; it holds the kernel's page table at this point.
        k.kernel_root = unsafe { x86::controlregs::cr3() };
        if let Err(why) = create_idle(&mut k) {
            panic!("sched: {why}");
        }
        // A placeholder for the boot context (pid u32::MAX), never scheduled again.
        let boot = new_task(u32::MAX, 0, Comm::new("boot"), 0, 0);
        k.tasks.insert(u32::MAX, Box::new(boot));
        k.set_current(u32::MAX);
        k.task_mut(u32::MAX).expect("inserted").state = State::Running;
        k.started = true;
    }
    // Time slices, sleeping and preemption run off the local APIC timer from now on.
    crate::arch::x86_64::apic::set_tick_handler(crate::sched::tick);
    let request = SpawnRequest {
        name: init,
        args,
        priority: abi::PRIORITY_DEFAULT as u8,
        caps: abi::cap::ALL,
        handles: Vec::new(),
        parent: 0,
    };
    match spawn(request) {
        Ok(pid) => pr_info!("Run {init} as init process (pid {pid})"),
        Err(e) => pr_err!("Failed to execute {init} (error {e}); the system idles."),
    }
    let mut k = KERNEL.lock();
    // The boot context ends here: mark it a zombie nobody waits for; its stack is the image's boot
    // stack, which is never freed.
    k.cur_mut().state = State::Zombie(0);
    crate::sched::schedule(k);
    unreachable!("the boot context was switched away from for good");
}
