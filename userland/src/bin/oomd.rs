//! `oomd [--dry-run] [--grace-ms=N] [--pressure="some 150000 1000000"]`: the OOM killer as a service
//! (DESIGN §6, seed 004 §2).
//!
//! It registers with the kernel (`oom_register`) and sleeps on a notification. A task that cannot get a
//! page — its group at `memory.max`, or no free page at all — waits in the kernel while oomd is woken:
//! it reads the events (`oom_events`), the task table and the group tree, scores every candidate in the
//! event's scope with Linux's `oom_badness` (`memcg::oom`: rss + page tables, plus `oom_score_adj` ×
//! total/1000; −1000 and the system services are exempt), logs each candidate with its score, kills
//! the chosen task — or, with `memory.oom.group`, every task of that group — with Linux's report line,
//! and answers `oom_done`. The waiting task then retries its page.
//!
//! `--grace-ms=N` sends SIGTERM first and SIGKILL N ms later if the task is still there (tasks on this
//! system have no signal handlers yet, so SIGTERM already ends them). `--dry-run` logs what it would
//! kill and declines, so the kernel's own OOM killer acts. `--pressure=SPEC` subscribes a trigger on
//! `/proc/pressure/memory` and logs the pressure figures when it fires. Free memory below the low
//! watermark is logged too (at most once a second).
//!
//! oomd must work when memory is gone: its heap is a small arena in .bss touched at start (it never
//! calls brk/mmap), its tables are sized up front, its own `oom_score_adj` is −1000, and the kernel
//! never waits for it when oomd itself is out of memory (it falls back to its own killer).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use abi::oom_event::{BIT_LOW, BIT_OOM, GROUP_OOM};
use abi::{GroupNode, OomEvent, TaskInfo, signal, task_flag};
use memcg::group::GroupId;
use memcg::oom::{Candidate, Hierarchy, MSG_MEMCG_OUT_OF_MEMORY, MSG_OUT_OF_MEMORY, Scope};
use userland::arena::{Arena, Reserve};
use userland::sys::{self, ipc};
use userland::{Args, println};

userland::entry!(main);

/// The heap (the reserve oomd works from when memory is gone): 1 MiB in .bss, touched at start.
const ARENA_BYTES: usize = 1 << 20;
static RESERVE: Reserve<ARENA_BYTES> = Reserve::new();

#[global_allocator]
static HEAP: Arena = Arena::new();

/// Handle 1: the notification init waits on; bit 0 = registered, bit 1 = could not start.
const READY_HANDLE: u64 = 1;
const FAILED: u64 = 2;
/// Notification bit of the pressure trigger.
const BIT_PRESSURE: u64 = 4;
const MAX_TASKS: usize = 256;
const MAX_GROUPS: usize = 64;
const MAX_EVENTS: usize = 16;

struct Options {
    dry_run: bool,
    grace_ms: u64,
    pressure: Option<&'static str>,
}

/// The group tree as the kernel listed it, for `memcg::oom`'s scope and `memory.oom.group` rules.
struct Tree(Vec<GroupNode>);

impl Tree {
    fn node(&self, id: GroupId) -> Option<&GroupNode> {
        self.0.iter().find(|n| n.id == id.as_u32())
    }

    fn path(&self, id: GroupId) -> &str {
        self.node(id).map_or("/", GroupNode::path_str)
    }
}

impl Hierarchy for Tree {
    fn parent(&self, id: GroupId) -> Option<GroupId> {
        if id == GroupId::ROOT {
            return None;
        }
        self.node(id).map(|n| GroupId::from_u32(n.parent))
    }

    fn oom_group(&self, id: GroupId) -> bool {
        self.node(id).is_some_and(|n| n.oom_group != 0)
    }
}

fn parse_options(args: &Args) -> Result<Options, &'static str> {
    let mut options = Options { dry_run: false, grace_ms: 0, pressure: None };
    for arg in args.iter().skip(1) {
        if arg == "--dry-run" {
            options.dry_run = true;
        } else if let Some(ms) = arg.strip_prefix("--grace-ms=") {
            options.grace_ms = ms.parse().map_err(|_| "--grace-ms needs milliseconds")?;
        } else if let Some(spec) = arg.strip_prefix("--pressure=") {
            options.pressure = Some(spec);
        } else {
            return Err("unknown option (--dry-run, --grace-ms=N, --pressure=SPEC)");
        }
    }
    Ok(options)
}

fn main(args: &Args) -> i32 {
    // Every page touched now: serving never waits for a page fault of its own.
    HEAP.init_prefaulted(&RESERVE);

    let options = match parse_options(args) {
        Ok(options) => options,
        Err(e) => {
            println!("oomd: {e}");
            let _ = ipc::notify_signal(READY_HANDLE, FAILED);
            return 2;
        }
    };
    if let Err(e) = sys::set_oom_score_adj(0, -1000) {
        println!("oomd: cannot exempt itself (oom_score_adj): {e}");
    }
    let notify = match ipc::notify_create() {
        Ok(handle) => handle,
        Err(e) => {
            println!("oomd: notify_create: {e}");
            let _ = ipc::notify_signal(READY_HANDLE, FAILED);
            return 1;
        }
    };
    if let Err(e) = sys::oom_register(notify) {
        println!("oomd: cannot register as the OOM service: {e}");
        let _ = ipc::notify_signal(READY_HANDLE, FAILED);
        return 1;
    }
    if let Some(spec) = options.pressure
        && let Err(e) = sys::psi_trigger("/proc/pressure/memory", spec, notify, BIT_PRESSURE)
    {
        println!("oomd: pressure trigger {spec:?} refused: {e}");
    }
    let _ = ipc::notify_signal(READY_HANDLE, 1);
    let mut state = State {
        options,
        tasks: alloc::vec![TaskInfo::default(); MAX_TASKS],
        groups: Vec::with_capacity(MAX_GROUPS),
        events: [OomEvent::default(); MAX_EVENTS],
        last_low_ns: None,
        report: String::with_capacity(8192),
        names: Vec::with_capacity(MAX_TASKS),
    };
    loop {
        let bits = match ipc::notify_wait(notify) {
            Ok(bits) => bits,
            Err(e) => {
                println!("oomd: notify_wait: {e}");
                return 1;
            }
        };
        if bits & BIT_OOM != 0 {
            state.handle_events();
        }
        if bits & BIT_LOW != 0 {
            state.low_memory();
        }
        if bits & BIT_PRESSURE != 0 {
            state.pressure();
        }
    }
}

struct State {
    options: Options,
    tasks: Vec<TaskInfo>,
    groups: Vec<GroupNode>,
    events: [OomEvent; MAX_EVENTS],
    last_low_ns: Option<u64>,
    report: String,
    names: Vec<String>,
}

impl State {
    fn handle_events(&mut self) {
        let count = match sys::oom_events(&mut self.events) {
            Ok(n) => (n as usize).min(MAX_EVENTS),
            Err(e) => {
                println!("oomd: oom_events: {e}");
                return;
            }
        };
        for i in 0..count {
            let event = self.events[i];
            let killed = self.handle(&event);
            if let Err(e) = sys::oom_done(event.seq, killed) {
                println!("oomd: oom_done: {e}");
            }
        }
    }

    /// Scores the tasks in the event's scope, logs them and kills the victim; returns how many tasks
    /// were killed (0 when nothing could be, or in a dry run).
    fn handle(&mut self, event: &OomEvent) -> u64 {
        let n = sys::task_list(&mut self.tasks).map_or(0, |n| (n as usize).min(MAX_TASKS));
        self.groups.clear();
        self.groups.resize(MAX_GROUPS, GroupNode::default());
        let g = sys::group_tree(&mut self.groups).map_or(0, |n| (n as usize).min(MAX_GROUPS));
        self.groups.truncate(g);
        let tree = Tree(core::mem::take(&mut self.groups));
        let (scope, message) = if event.kind == GROUP_OOM {
            let group = GroupId::from_u32(event.group);
            (
                Scope { domain: memcg::oom::Domain::Group(group), total_pages: event.total_pages.max(1) },
                MSG_MEMCG_OUT_OF_MEMORY,
            )
        } else {
            (Scope::system(event.total_pages), MSG_OUT_OF_MEMORY)
        };
        self.names.clear();
        let live: Vec<&TaskInfo> = self.tasks[..n]
            .iter()
            .filter(|t| t.flags & task_flag::USER != 0 && t.pid == t.tgid && t.state != u64::from(b'Z'))
            .collect();
        for t in &live {
            self.names.push(String::from(t.comm()));
        }
        let candidates: Vec<Candidate<'_>> = live
            .iter()
            .zip(&self.names)
            .map(|(t, name)| Candidate {
                pid: t.pid as u32,
                tgid: t.tgid as u32,
                uid: 0,
                name,
                group: GroupId::from_u32(t.group as u32),
                total_vm: t.total_vm_pages,
                rss_anon: t.rss_anon_pages,
                rss_file: t.rss_file_pages,
                rss_shmem: 0,
                swap: 0,
                pgtables_bytes: t.pgtable_pages * 4096,
                oom_score_adj: t.oom_score_adj as i16,
                exempt: t.flags & task_flag::SERVICE != 0 || t.oom_score_adj <= -1000,
                exiting: false,
                oom_victim: false,
            })
            .collect();
        let report = &mut self.report;
        report.clear();
        let where_ =
            if event.kind == GROUP_OOM { tree.path(GroupId::from_u32(event.group)) } else { "the system" };
        let _ = writeln!(
            report,
            "oomd: out of memory in {where_} (event {}, pid {} waiting, {} pages free); candidates:",
            event.seq, event.pid, event.free_pages
        );
        // Linux's task table first, then each candidate's score.
        let mut table = String::new();
        let _ = memcg::oom::write_dump_tasks(&mut table, &candidates, &scope, &tree);
        for line in table.lines() {
            let _ = writeln!(report, "oomd: {line}");
        }
        for c in &candidates {
            if !scope.contains(&tree, c.group) {
                continue;
            }
            match c.badness(scope.total_pages) {
                Some(points) if !c.exempt => {
                    let score = memcg::oom::oom_score(Some(points), scope.total_pages);
                    let _ = writeln!(
                        report,
                        "oomd:   pid {} ({}) group {} rss {} pages, pgtables {} kB, oom_score_adj {}: badness {} \
                         oom_score {}",
                        c.pid,
                        c.name,
                        tree.path(c.group),
                        c.rss(),
                        c.pgtables_bytes >> 10,
                        c.oom_score_adj,
                        points,
                        score
                    );
                }
                _ => {
                    let _ = writeln!(report, "oomd:   pid {} ({}) exempt", c.pid, c.name);
                }
            }
        }
        let victim = memcg::oom::select_victim(&candidates, &scope, &tree);
        let mut killed = 0;
        match victim {
            None => {
                let _ = writeln!(report, "oomd: no killable task; leaving it to the kernel");
            }
            Some(victim) => {
                if let Some(group) = victim.oom_group {
                    let _ = write!(report, "oomd: ");
                    let _ = memcg::oom::write_oom_group(report, tree.path(group));
                }
                let mut oom_group = victim.oom_group.map_or(0, GroupId::as_u32);
                let first = if self.options.grace_ms > 0 { signal::SIGTERM } else { signal::SIGKILL };
                let mut signalled = Vec::new();
                for &index in &victim.kill {
                    let c = &candidates[index];
                    if self.options.dry_run {
                        let _ = writeln!(report, "oomd: dry run: would kill pid {} ({})", c.pid, c.name);
                        continue;
                    }
                    // Counted in the group's memory.events; the first kill of a group kill counts
                    // oom_group_kill there.
                    let group = core::mem::take(&mut oom_group);
                    if sys::oom_kill(u64::from(c.pid), first, group).is_ok() {
                        let _ = write!(report, "oomd: ");
                        let _ = memcg::oom::write_kill(report, message, c);
                        signalled.push(c.pid);
                        killed += 1;
                    }
                }
                // The report is out before any grace period runs.
                print_lines(report);
                report.clear();
                if self.options.grace_ms > 0 && !signalled.is_empty() {
                    let _ = sys::sleep_ms(self.options.grace_ms);
                    for pid in signalled {
                        if sys::kill(i64::from(pid), 0).is_ok() {
                            println!(
                                "oomd: pid {pid} outlived its {} ms grace; SIGKILL",
                                self.options.grace_ms
                            );
                            let _ = sys::kill(i64::from(pid), signal::SIGKILL);
                        }
                    }
                }
            }
        }
        print_lines(report);
        drop(candidates);
        self.groups = tree.0;
        killed
    }

    fn low_memory(&mut self) {
        let now = sys::clock_gettime(sys::CLOCK_MONOTONIC).map_or(0, |t| t.as_nanos());
        if self.last_low_ns.is_some_and(|last| now - last < 1_000_000_000) {
            return;
        }
        self.last_low_ns = Some(now);
        let free = sys::meminfo().map_or(0, |m| m.free_pages);
        println!("oomd: free memory below the low watermark ({free} pages free)");
    }

    fn pressure(&mut self) {
        let mut buf = [0u8; 256];
        let n = sys::proc_text(abi::proc_text::PRESSURE_MEMORY, &mut buf, 0).unwrap_or(0) as usize;
        let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
        for line in text.lines() {
            println!("oomd: memory pressure: {line}");
        }
    }
}

/// Prints a report line by line (one write each, as the kernel log would).
fn print_lines(report: &str) {
    for line in report.lines() {
        println!("{line}");
    }
}
