//! The shell's commands. Each prints what it finds or an error message; none can end the shell but
//! `exit`. /proc paths go through libc-rs (`procfs`), which asks the kernel or memd.

use alloc::string::String;
use alloc::vec::Vec;

use abi::{TaskInfo, cap, proc_text, wait};
use libc_rs::procfs::{self, Source};
use libc_rs::{println, sys};

pub enum Flow {
    Continue,
    Exit(i32),
}

const HELP: &str = "\
commands:
  help                 this list
  ps                   tasks: pid, parent, state, priority, rss, name
  free [-h]            memory in use and free, like free(1) (kB, or human units with -h)
  cat PATH             a /proc text: /proc/{meminfo,buddyinfo,pagetypeinfo,zoneinfo,vmstat,slabinfo,
                       vmallocinfo,pressure/memory}, /proc/{self,PID}/{maps,smaps,status}, and group
                       files /sys/fs/cgroup/G/{memory.current,max,high,min,low,peak,events,
                       events.local,stat,pressure,oom.group,cgroup.procs},
                       /proc/PID/oom_score, /proc/PID/oom_score_adj (echo N > … sets the latter)
  dmesg                the kernel log
  e820                 the firmware memory map (sanitized)
  memmap               a picture of physical memory by owner (also drawn on the screen, when there is one)
  memmap --watch [N]   redraw the screen's picture twice a second until a key (or for N seconds); `memmap off`
  uptime               time since boot and the number of tasks
  ls DIR               list /proc, /proc/PID, /sys/fs/cgroup and its groups (child groups end in /)
  run PROGRAM [ARGS]   run a program and wait for it (a bare program name does the same; add & to not wait)
  kill PID [SIGNAL]    end a task (signal 9 by default)
  echo TEXT            print TEXT; `echo VALUE > /sys/fs/cgroup/G/memory.max` writes a group file
  mkdir /sys/fs/cgroup/G   create memory group G (rmdir removes an empty one)
  cgexec G PROGRAM [ARGS]  run a program in memory group G
  poweroff             switch the machine off
  exit [CODE]          leave the shell (init starts a new one)";

pub fn run(line: &str) -> Flow {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&command, args)) = words.split_first() else { return Flow::Continue };
    match command {
        "help" => println!("{HELP}"),
        "ps" => ps(),
        "free" => free(args.first() == Some(&"-h")),
        "cat" => {
            if args.is_empty() {
                println!("cat: which file? (try `cat /proc/meminfo`)");
            }
            for path in args {
                cat(path);
            }
        }
        "dmesg" => print_source(Source::Kernel(proc_text::DMESG), "dmesg"),
        "e820" => print_source(Source::Kernel(proc_text::E820), "e820"),
        "memmap" => crate::screen::memmap(args),
        "uptime" => uptime(),
        "ls" => ls(args.first().copied().unwrap_or("/")),
        "kill" => kill(args),
        "echo" => echo(args),
        "mkdir" | "rmdir" => match args.first().and_then(|p| procfs::group_dir(p)) {
            Some(group) => {
                let op = if command == "mkdir" { abi::group_op::CREATE } else { abi::group_op::REMOVE };
                if let Err(e) = group_ctl(op, group, 0, "", "") {
                    println!("{command}: {}: {e}", args[0]);
                }
            }
            None => println!("{command}: only memory groups can be made here: {command} /sys/fs/cgroup/NAME"),
        },
        "cgexec" => match args.split_first() {
            Some((group, rest)) if !rest.is_empty() => {
                let group =
                    if group.starts_with('/') { String::from(*group) } else { alloc::format!("/{group}") };
                spawn_in(rest[0], &rest[1..], Some(&group));
            }
            _ => println!("cgexec: usage: cgexec GROUP PROGRAM [ARGS]"),
        },
        "poweroff" => {
            // SAFETY: no arguments; the call does not return when it succeeds.
            let result = unsafe { libc_rs::syscall::syscall0(abi::nr::POWEROFF) };
            println!("poweroff: refused ({})", result as i64);
        }
        "exit" => return Flow::Exit(args.first().and_then(|a| a.parse().ok()).unwrap_or(0)),
        "run" => match args.split_first() {
            Some((&program, rest)) => spawn(program, rest),
            None => println!("run: which program?"),
        },
        program => spawn(program, args),
    }
    Flow::Continue
}

/// `ls DIR`: the directories of this system's file tree — /proc and /sys/fs/cgroup (the memory groups,
/// listed by limitd).
fn ls(path: &str) {
    let trimmed = path.trim_end_matches('/');
    let dir = if trimmed.is_empty() { "/" } else { trimmed };
    if let Some(group) = procfs::group_dir(dir) {
        let mut listing = [0u8; 4096];
        match group_ctl_buf(abi::group_op::LIST, group, 0, "", "", &mut listing) {
            Ok(n) => {
                let text = core::str::from_utf8(&listing[..n as usize]).unwrap_or("");
                println!("{}", text.trim_end());
            }
            Err(e) => println!("ls: {path}: {e}"),
        }
        return;
    }
    let entries: Vec<String> = match dir {
        "/" => ["proc/", "sys/"].map(String::from).to_vec(),
        "/sys" => alloc::vec![String::from("fs/")],
        "/sys/fs" => alloc::vec![String::from("cgroup/")],
        "/proc/pressure" => alloc::vec![String::from("memory")],
        "/proc" => {
            let mut names: Vec<String> = abi::proc_text::FILES
                .iter()
                .filter(|(name, _)| !name.contains('/'))
                .map(|(name, _)| String::from(*name))
                .collect();
            names.push(String::from("pressure/"));
            names.push(String::from("self/"));
            names.extend(
                tasks()
                    .iter()
                    .filter(|t| t.flags & abi::task_flag::USER != 0 && t.pid == t.tgid)
                    .map(|t| alloc::format!("{}/", t.pid)),
            );
            names
        }
        _ if dir.strip_prefix("/proc/").is_some_and(|p| p == "self" || p.parse::<u64>().is_ok()) => {
            ["maps", "oom_score", "oom_score_adj", "smaps", "status"].map(String::from).to_vec()
        }
        _ => {
            println!("ls: {path}: no such directory");
            return;
        }
    };
    for entry in entries {
        println!("{entry}");
    }
}

/// Prints a whole text, read page by page.
pub(crate) fn print_source(source: Source, what: &str) {
    let mut page = [0u8; 4096];
    let mut offset = 0u64;
    loop {
        match procfs::read_at(source, &mut page, offset) {
            Ok(0) => break,
            Ok(n) => {
                libc_rs::stdio::flush_all();
                let _ = sys::write(1, &page[..n]);
                offset += n as u64;
            }
            Err(e) => {
                println!("{what}: {e}");
                return;
            }
        }
    }
}

fn cat(path: &str) {
    match procfs::resolve(path) {
        Some(source) => print_source(source, &alloc::format!("cat: {path}")),
        None => println!("cat: {path}: no such file (the /proc texts are the files here; see `help`)"),
    }
}

/// The whole text of `source`.
fn read_all(source: Source) -> String {
    let mut text = Vec::new();
    let mut page = [0u8; 4096];
    while let Ok(n) = procfs::read_at(source, &mut page, text.len() as u64) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&page[..n]);
    }
    String::from_utf8(text).unwrap_or_default()
}

fn tasks() -> Vec<TaskInfo> {
    let mut infos = alloc::vec![TaskInfo::default(); 256];
    let bytes = (infos.len() * size_of::<TaskInfo>()) as u64;
    // SAFETY: the kernel writes at most `bytes` bytes of plain data into the vector's buffer.
    let count = unsafe { libc_rs::syscall::syscall2(abi::nr::TASK_LIST, infos.as_mut_ptr() as u64, bytes) };
    if (count as i64) < 0 {
        return Vec::new();
    }
    infos.truncate((count as usize).min(256));
    infos
}

/// Every memory group's id and path (the kernel's group tree).
fn group_paths() -> Vec<(u32, String)> {
    let mut nodes = alloc::vec![abi::GroupNode::default(); 64];
    let request = abi::GroupRequest { op: abi::group_op::TREE, ..Default::default() };
    let bytes = (nodes.len() * size_of::<abi::GroupNode>()) as u64;
    // SAFETY: the kernel reads the request and writes at most `bytes` bytes of plain data into `nodes`.
    let count = unsafe {
        libc_rs::syscall::syscall4(
            abi::nr::GROUP_CTL,
            &request as *const abi::GroupRequest as u64,
            nodes.as_mut_ptr() as u64,
            bytes,
            0,
        )
    };
    if (count as i64) < 0 {
        return Vec::new();
    }
    nodes.truncate((count as usize).min(64));
    nodes.iter().map(|n| (n.id, String::from(n.path_str()))).collect()
}

fn ps() {
    let groups = group_paths();
    println!("  PID  PPID S PRI   RSS(kB) PT(kB) GROUP OOM_ADJ COMMAND");
    for t in tasks() {
        let group = groups.iter().find(|(id, _)| u64::from(*id) == t.group).map_or("?", |(_, p)| p.as_str());
        println!(
            "{:5} {:5} {} {:3} {:9} {:6} {:5} {:7} {}",
            t.pid,
            t.parent,
            t.state as u8 as char,
            t.priority,
            t.rss_pages * 4,
            t.pgtable_pages * 4,
            group,
            t.oom_score_adj,
            t.comm()
        );
    }
}

/// A meminfo field in kB.
fn field(meminfo: &str, name: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `kB` in free -h's units (Ki, Mi, Gi with one decimal below 10).
fn human(kb: u64) -> String {
    let bytes = kb * 1024;
    let units = ["B", "Ki", "Mi", "Gi", "Ti"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if bytes == 0 {
        String::from("0B")
    } else if value < 10.0 && unit > 0 {
        alloc::format!("{value:.1}{}", units[unit])
    } else {
        alloc::format!("{}{}", value as u64, units[unit])
    }
}

fn free(human_units: bool) {
    let meminfo = read_all(Source::Kernel(proc_text::MEMINFO));
    let total = field(&meminfo, "MemTotal");
    let free = field(&meminfo, "MemFree");
    let available = field(&meminfo, "MemAvailable");
    let buff_cache = field(&meminfo, "Buffers") + field(&meminfo, "Cached") + field(&meminfo, "SReclaimable");
    let shared = field(&meminfo, "Shmem");
    let used = total.saturating_sub(free + buff_cache);
    let show = |kb: u64| if human_units { human(kb) } else { alloc::format!("{kb}") };
    println!(
        "{:>15} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "total", "used", "free", "shared", "buff/cache", "available"
    );
    println!(
        "Mem:   {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        show(total),
        show(used),
        show(free),
        show(shared),
        show(buff_cache),
        show(available)
    );
    println!("Swap:  {:>11} {:>11} {:>11}", show(0), show(0), show(0));
}

fn uptime() {
    let now = sys::clock_gettime(1).map(|t| (t.tv_sec, t.tv_nsec)).unwrap_or((0, 0));
    let count = tasks().len();
    let (h, m, s) = (now.0 / 3600, now.0 / 60 % 60, now.0 % 60);
    println!("up {h}:{m:02}:{s:02}.{:02}, {count} tasks", now.1 / 10_000_000);
}

fn kill(args: &[&str]) {
    let Some(pid) = args.first().and_then(|a| a.parse::<i32>().ok()) else {
        println!("kill: usage: kill PID [SIGNAL]");
        return;
    };
    let signal = args.get(1).and_then(|a| a.trim_start_matches('-').parse().ok()).unwrap_or(9);
    match sys::kill(pid, signal) {
        Ok(()) => println!("kill: sent signal {signal} to {pid}"),
        Err(e) => println!("kill: {pid}: {e}"),
    }
}

/// `group_ctl` with string arguments; returns the call's result.
fn group_ctl(op: u64, path: &str, pid: u64, file: &str, value: &str) -> Result<u64, libc_rs::Errno> {
    group_ctl_buf(op, path, pid, file, value, &mut [])
}

/// `group_ctl` that also receives a text (LIST, READ) into `buf`.
fn group_ctl_buf(
    op: u64,
    path: &str,
    pid: u64,
    file: &str,
    value: &str,
    buf: &mut [u8],
) -> Result<u64, libc_rs::Errno> {
    let mut request = abi::GroupRequest { op, pid, ..Default::default() };
    for (dst, src) in
        [(&mut request.path[..], path), (&mut request.file[..], file), (&mut request.value[..], value)]
    {
        let n = src.len().min(dst.len() - 1);
        dst[..n].copy_from_slice(&src.as_bytes()[..n]);
    }
    // SAFETY: the kernel reads the request (a live local) and writes at most `buf.len()` bytes into `buf`.
    let raw = unsafe {
        libc_rs::syscall::syscall4(
            abi::nr::GROUP_CTL,
            &request as *const abi::GroupRequest as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            0,
        )
    };
    libc_rs::Errno::result(raw)
}

/// `echo TEXT`, or `echo VALUE > FILE` into a group file.
fn echo(args: &[&str]) {
    match args.iter().position(|&a| a == ">") {
        None => println!("{}", args.join(" ")),
        Some(at) => {
            let value = args[..at].join(" ");
            let Some(&target) = args.get(at + 1) else {
                println!("echo: where to? echo VALUE > /sys/fs/cgroup/G/memory.max");
                return;
            };
            if let Some(pid) = target.strip_prefix("/proc/").and_then(|r| r.strip_suffix("/oom_score_adj")) {
                let pid = if pid == "self" { Some(0) } else { pid.parse::<u64>().ok() };
                match (pid, value.trim().parse::<i64>()) {
                    (Some(pid), Ok(adj)) => {
                        // SAFETY: plain integer arguments.
                        let raw =
                            unsafe { libc_rs::syscall::syscall2(abi::nr::OOM_SCORE_ADJ, pid, adj as u64) };
                        if let Err(e) = libc_rs::Errno::result(raw) {
                            println!("echo: {target}: {e}");
                        }
                    }
                    _ => println!("echo: {target}: expected a number from -1000 to 1000"),
                }
                return;
            }
            match procfs::split_group_file(target) {
                Some((group, file)) => {
                    if let Err(e) = group_ctl(abi::group_op::WRITE, group, 0, file, &value) {
                        println!("echo: {target}: {e}");
                    }
                }
                None => println!("echo: {target}: not writable (the memory-group files are)"),
            }
        }
    }
}

fn spawn(program: &str, args: &[&str]) {
    spawn_in(program, args, None)
}

fn spawn_in(program: &str, args: &[&str], group: Option<&str>) {
    let (args, background) = match args.split_last() {
        Some((&"&", rest)) => (rest, true),
        _ => (args, program.ends_with('&')),
    };
    let program = program.trim_end_matches('&');
    let attr = abi::SpawnAttr { caps: cap::ALL, ..Default::default() };
    let pid = match sys::spawn(program, args, Some(&attr)) {
        Ok(pid) => pid,
        Err(e) => {
            println!("{program}: {e} (not a program on this system? `help` lists the commands)");
            return;
        }
    };
    if let Some(group) = group
        && let Err(e) = group_ctl(abi::group_op::ATTACH, group, u64::from(pid), "", "")
    {
        println!("cgexec: {group}: {e}; {program} runs in the shell's group");
    }
    if background {
        println!("[{pid}] {program}");
        return;
    }
    match sys::wait4(pid as i32, 0) {
        Ok((_, status)) if wait::if_exited(status) && wait::exit_status(status) == 0 => {}
        Ok((_, status)) if wait::if_exited(status) => {
            println!("{program}: exited with code {}", wait::exit_status(status))
        }
        Ok((_, status)) => println!("{program}: killed by signal {}", wait::term_sig(status)),
        Err(e) => println!("{program}: wait: {e}"),
    }
}
