//! Memory pressure stall information, as Linux's `kernel/sched/psi.c` computes it for
//! `/proc/pressure/memory` and a cgroup's `memory.pressure`.
//!
//! The caller keeps one [`PsiGroup`] for the system and one per memory group, and reports, per CPU,
//! the tasks of that group (its subtree) whenever their state changes — either as counts
//! ([`PsiGroup::task_stalls`]) or as Linux-style flag deltas ([`PsiGroup::task_change`], which suits
//! walking a task's ancestors with the same delta). Between reports the state is taken as constant.
//!
//! Per CPU: SOME while a task is stalled on memory; FULL while tasks are stalled and none is
//! productive (every runnable task is itself reclaiming); NONIDLE while anything is runnable or
//! stalled. Time in each state accumulates; every 2 s ([`PSI_PERIOD_NS`]) the CPUs' recent times are
//! averaged, each weighted by its non-idle time, into `total` and the `avg10/60/300` EWMAs
//! ([`avgs`]). [`PsiGroup::poll`] drives the triggers ([`Trigger`]).
//!
//! Deviations: the period is exactly 2 s (Linux: 2 s + 1 tick); CPUs are weighted by non-idle
//! nanoseconds (Linux: jiffies); the rule that a CPU whose *current* task is reclaiming is FULL even
//! with productive tasks queued is left out; samples are 64-bit (Linux truncates a period's sample to
//! `u32`).

pub mod avgs;
mod trigger;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt::Write;

use crate::Error;
use trigger::TriggerState;
pub use trigger::{Trigger, UPDATES_PER_WINDOW, WINDOW_MAX_US, WINDOW_MIN_US};

/// Averaging period (`PSI_FREQ`): averages move every 2 s.
pub const PSI_PERIOD_NS: u64 = 2_000_000_000;

/// `TSK_RUNNING`: the task is runnable (whether or not it is reclaiming).
pub const TSK_RUNNING: u8 = 1 << 0;
/// `TSK_MEMSTALL`: the task is stalled on memory (throttled, waiting for or doing reclaim).
pub const TSK_MEMSTALL: u8 = 1 << 1;
/// `TSK_MEMSTALL_RUNNING`: the task is runnable while in a memory stall (reclaiming).
pub const TSK_MEMSTALL_RUNNING: u8 = 1 << 2;

const SOME: usize = 0;
const FULL: usize = 1;
const NONIDLE: usize = 2;
const NR_STATES: usize = 3;
const AVGS: usize = 0;
const POLL: usize = 1;
const NSEC_PER_USEC: u64 = 1000;

/// Which stall time: some tasks stalled, or all non-idle tasks stalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stall {
    Some,
    Full,
}

impl Stall {
    const fn index(self) -> usize {
        match self {
            Stall::Some => SOME,
            Stall::Full => FULL,
        }
    }
}

/// Task counts of one CPU for one group (Linux `groupc->tasks`, memory part).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Runnable tasks, including those reclaiming (`NR_RUNNING`).
    pub running: u32,
    /// Tasks in a memory stall, sleeping or reclaiming (`NR_MEMSTALL`).
    pub memstall: u32,
    /// Tasks in a memory stall that are runnable, i.e. reclaiming (`NR_MEMSTALL_RUNNING`).
    pub memstall_running: u32,
}

impl TaskCounts {
    /// The state bits of these counts (Linux `test_state` for SOME, FULL, NONIDLE).
    fn state_mask(&self) -> u8 {
        let mut mask = 0;
        if self.memstall != 0 {
            mask |= 1 << SOME;
            if self.running == self.memstall_running {
                mask |= 1 << FULL;
            }
        }
        if self.memstall != 0 || self.running != 0 {
            mask |= 1 << NONIDLE;
        }
        mask
    }
}

/// A handle on an installed trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TriggerId(u32);

/// One CPU's view of a group (Linux `struct psi_group_cpu`).
#[derive(Clone, Debug, Default)]
struct CpuState {
    tasks: TaskCounts,
    state_mask: u8,
    state_start: u64,
    times: [u64; NR_STATES],
    times_prev: [[u64; NR_STATES]; 2],
}

impl CpuState {
    /// `record_times`: close the interval since the last change.
    fn record_times(&mut self, now: u64) {
        let delta = now.saturating_sub(self.state_start);
        self.state_start = self.state_start.max(now);
        for state in [SOME, FULL, NONIDLE] {
            if self.state_mask & (1 << state) != 0 {
                self.times[state] += delta;
            }
        }
    }

    fn change(&mut self, now: u64, tasks: TaskCounts) {
        self.record_times(now);
        self.tasks = tasks;
        self.state_mask = tasks.state_mask();
    }

    /// `get_recent_times`: time per state since this aggregator's last look, counting the state in
    /// progress up to `now`. Sets a bit in `changed` for each state that grew.
    fn recent_times(&mut self, now: u64, aggregator: usize, changed: &mut u8) -> [u64; NR_STATES] {
        let mut times = self.times;
        let mut deltas = [0; NR_STATES];
        for state in 0..NR_STATES {
            if self.state_mask & (1 << state) != 0 {
                times[state] += now.saturating_sub(self.state_start);
            }
            deltas[state] = times[state].saturating_sub(self.times_prev[aggregator][state]);
            self.times_prev[aggregator][state] = times[state].max(self.times_prev[aggregator][state]);
            if deltas[state] != 0 {
                *changed |= 1 << state;
            }
        }
        deltas
    }
}

/// Pressure stall information of one group (or of the whole system).
#[derive(Clone, Debug)]
pub struct PsiGroup {
    cpus: Vec<CpuState>,
    /// Stall time, ns, per aggregator (averages, triggers) and stall kind.
    total: [[u64; 2]; 2],
    avg_total: [u64; 2],
    avg: [[u64; 3]; 2],
    avg_last_update: u64,
    avg_next_update: u64,
    triggers: Vec<(u32, Option<TriggerState>)>,
    polling_total: [u64; 2],
    polling_until: u64,
    polling_next_update: u64,
}

impl PsiGroup {
    /// A group with `nr_cpus` CPUs (at least 1), all idle, created at `now_ns` (`group_init`).
    pub fn new(nr_cpus: usize, now_ns: u64) -> PsiGroup {
        let cpu = CpuState { state_start: now_ns, ..CpuState::default() };
        PsiGroup {
            cpus: alloc::vec![cpu; nr_cpus.max(1)],
            total: [[0; 2]; 2],
            avg_total: [0; 2],
            avg: [[0; 3]; 2],
            avg_last_update: now_ns,
            avg_next_update: now_ns + PSI_PERIOD_NS,
            triggers: Vec::new(),
            polling_total: [0; 2],
            polling_until: 0,
            polling_next_update: u64::MAX,
        }
    }

    /// Reports that on `cpu`, from `now_ns` on, this group has `nr_running` runnable tasks making
    /// progress and `nr_memstall` tasks stalled on memory (sleeping in reclaim or throttling).
    pub fn task_stalls(
        &mut self,
        cpu: usize,
        now_ns: u64,
        nr_running: u32,
        nr_memstall: u32,
    ) -> Result<(), Error> {
        let tasks = TaskCounts { running: nr_running, memstall: nr_memstall, memstall_running: 0 };
        self.cpus.get_mut(cpu).ok_or(Error::Invalid)?.change(now_ns, tasks);
        Ok(())
    }

    /// Linux `psi_group_change`: a task on `cpu` drops the `clear` flags and gains the `set` flags
    /// ([`TSK_RUNNING`], [`TSK_MEMSTALL`], [`TSK_MEMSTALL_RUNNING`]) at `now_ns`. Clearing a flag no
    /// task has is [`Error::Underflow`] and changes nothing.
    pub fn task_change(&mut self, cpu: usize, now_ns: u64, clear: u8, set: u8) -> Result<(), Error> {
        self.task_change_with(cpu, clear, set, &mut || now_ns)
    }

    /// [`task_change`](Self::task_change) that reads the clock only when the CPU's state (SOME, FULL,
    /// NONIDLE) changes: while it stays the same, closing the interval can wait for the next change
    /// (the totals come out the same), so the scheduler's frequent running/blocked changes cost no
    /// clock read.
    pub fn task_change_with(
        &mut self,
        cpu: usize,
        clear: u8,
        set: u8,
        now_ns: &mut dyn FnMut() -> u64,
    ) -> Result<(), Error> {
        let state = self.cpus.get_mut(cpu).ok_or(Error::Invalid)?;
        let mut tasks = state.tasks;
        let counters = [
            (TSK_RUNNING, &mut tasks.running),
            (TSK_MEMSTALL, &mut tasks.memstall),
            (TSK_MEMSTALL_RUNNING, &mut tasks.memstall_running),
        ];
        for (flag, count) in counters {
            if clear & flag != 0 {
                *count = count.checked_sub(1).ok_or(Error::Underflow)?;
            }
            if set & flag != 0 {
                *count = count.checked_add(1).ok_or(Error::OutOfRange)?;
            }
        }
        if tasks.state_mask() == state.state_mask {
            state.tasks = tasks;
        } else {
            state.change(now_ns(), tasks);
        }
        Ok(())
    }

    /// The counts last reported for `cpu`.
    pub fn tasks(&self, cpu: usize) -> Option<TaskCounts> {
        self.cpus.get(cpu).map(|state| state.tasks)
    }

    /// `collect_percpu_times`: fold every CPU's recent times into `total[aggregator]`, each CPU weighted
    /// by its non-idle time. Returns the states that grew.
    fn collect(&mut self, now: u64, aggregator: usize) -> u8 {
        let mut changed = 0;
        let mut deltas = [0u128; 2];
        let mut nonidle_total: u128 = 0;
        for cpu in &mut self.cpus {
            let times = cpu.recent_times(now, aggregator, &mut changed);
            let nonidle = u128::from(times[NONIDLE]);
            nonidle_total += nonidle;
            for state in [SOME, FULL] {
                deltas[state] += u128::from(times[state]) * nonidle;
            }
        }
        for state in [SOME, FULL] {
            let sample = deltas[state] / nonidle_total.max(1);
            self.total[aggregator][state] += sample as u64;
        }
        changed
    }

    /// `update_averages`: one averaging step at `now` (≥ the scheduled time), catching up on missed
    /// periods.
    fn update_averages(&mut self, now: u64) {
        let expires = self.avg_next_update;
        let missed_periods = now.saturating_sub(expires) / PSI_PERIOD_NS;
        self.avg_next_update = expires + (1 + missed_periods) * PSI_PERIOD_NS;
        let period = now.saturating_sub(self.avg_last_update + missed_periods * PSI_PERIOD_NS);
        self.avg_last_update = now;
        for state in [SOME, FULL] {
            // Stall time beyond the period is carried into the next one rather than shown as > 100 %.
            let sample = (self.total[AVGS][state] - self.avg_total[state]).min(period);
            self.avg_total[state] += sample;
            avgs::calc_avgs(&mut self.avg[state], missed_periods, sample, period);
        }
    }

    /// The periodic work (`psi_avgs_work`): collect, and move the averages if a period is due. Call it
    /// every [`PSI_PERIOD_NS`]; returns the time the next period is due.
    pub fn update(&mut self, now_ns: u64) -> u64 {
        self.collect(now_ns, AVGS);
        if now_ns >= self.avg_next_update {
            self.update_averages(now_ns);
        }
        self.avg_next_update
    }

    /// Total stall time in µs, as of the last [`update`](Self::update) or [`show`](Self::show).
    pub fn total_us(&self, stall: Stall) -> u64 {
        self.total[AVGS][stall.index()] / NSEC_PER_USEC
    }

    /// The averages over 10 s, 60 s and 300 s in hundredths of a percent (6320 = 63.20 %), as shown.
    pub fn avg_hundredths(&self, stall: Stall) -> [u64; 3] {
        self.avg[stall.index()].map(|average| {
            let (int, frac) = avgs::split_percent(average);
            int * 100 + frac
        })
    }

    /// The raw fixed-point averages (1 % = [`avgs::FIXED_1`]).
    pub fn avg_fixed(&self, stall: Stall) -> [u64; 3] {
        self.avg[stall.index()]
    }

    /// Writes the pressure file at `now_ns` (Linux `psi_show`, updating first):
    /// `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and the same for `full`.
    pub fn show<W: Write>(&mut self, w: &mut W, now_ns: u64) -> Result<(), Error> {
        self.update(now_ns);
        for (name, stall) in [("some", Stall::Some), ("full", Stall::Full)] {
            let [a10, a60, a300] = self.avg[stall.index()].map(avgs::split_percent);
            writeln!(
                w,
                "{name} avg10={}.{:02} avg60={}.{:02} avg300={}.{:02} total={}",
                a10.0,
                a10.1,
                a60.0,
                a60.1,
                a300.0,
                a300.1,
                self.total_us(stall)
            )?;
        }
        Ok(())
    }

    /// Installs a trigger at `now_ns` (`psi_trigger_create`).
    pub fn add_trigger(&mut self, trigger: Trigger, now_ns: u64) -> Result<TriggerId, Error> {
        trigger.validate()?;
        let state = TriggerState::new(trigger, now_ns, self.total[POLL][trigger.stall.index()]);
        let slot = match self.triggers.iter().position(|(_, state)| state.is_none()) {
            Some(free) => free,
            None => {
                self.triggers.push((0, None));
                self.triggers.len() - 1
            }
        };
        let generation = self.triggers[slot].0;
        self.triggers[slot].1 = Some(state);
        Ok(TriggerId((generation << 16) | slot as u32))
    }

    /// Removes a trigger (`psi_trigger_destroy`).
    pub fn remove_trigger(&mut self, id: TriggerId) -> Result<(), Error> {
        let entry = self.trigger_entry(id)?;
        entry.1 = None;
        entry.0 = (entry.0 + 1) & 0xffff;
        if self.triggers.iter().all(|(_, state)| state.is_none()) {
            self.polling_until = 0;
        }
        Ok(())
    }

    fn trigger_entry(&mut self, id: TriggerId) -> Result<&mut (u32, Option<TriggerState>), Error> {
        match self.triggers.get_mut((id.0 & 0xffff) as usize) {
            Some(entry) if entry.0 == id.0 >> 16 && entry.1.is_some() => Ok(entry),
            _ => Err(Error::NotFound),
        }
    }

    /// Takes a fired event of trigger `id` (what `poll()` on the pressure file reports as `POLLPRI`).
    pub fn take_event(&mut self, id: TriggerId) -> Result<bool, Error> {
        let state = self.trigger_entry(id)?.1.as_mut().ok_or(Error::NotFound)?;
        Ok(core::mem::take(&mut state.event))
    }

    /// How often to call [`poll`](Self::poll) while tasks stall: the shortest window / 10
    /// (`poll_min_period`); `None` without triggers.
    pub fn poll_interval_ns(&self) -> Option<u64> {
        self.installed().map(|state| state.trigger.window_ns() / UPDATES_PER_WINDOW).min()
    }

    fn installed(&self) -> impl Iterator<Item = &TriggerState> {
        self.triggers.iter().filter_map(|(_, state)| state.as_ref())
    }

    /// The trigger monitor (`psi_poll_work`): call it every [`poll_interval_ns`](Self::poll_interval_ns)
    /// and after a task change that stalls. Polling switches on when a watched stall total moves and
    /// stays on for 10 poll intervals after the last movement; while on, triggers are checked every
    /// interval. Returns the triggers that fired now.
    pub fn poll(&mut self, now_ns: u64) -> Vec<TriggerId> {
        let Some(min_period) = self.poll_interval_ns() else {
            return Vec::new();
        };
        let changed = self.collect(now_ns, POLL);
        let watched = self.installed().fold(0u8, |mask, state| mask | 1 << state.trigger.stall.index());
        if changed & watched != 0 {
            if now_ns > self.polling_until {
                // Entering polling mode: windows start now (`init_triggers`).
                let total = self.total[POLL];
                for (_, state) in &mut self.triggers {
                    if let Some(state) = state {
                        state.window_reset(now_ns, total[state.trigger.stall.index()], 0);
                    }
                }
                self.polling_total = total;
                self.polling_next_update = now_ns + min_period;
            }
            self.polling_until = now_ns + min_period * UPDATES_PER_WINDOW;
        }
        if now_ns > self.polling_until {
            self.polling_next_update = u64::MAX;
            return Vec::new();
        }
        let mut fired = Vec::new();
        if now_ns >= self.polling_next_update {
            let total = self.total[POLL];
            for (slot, (generation, state)) in self.triggers.iter_mut().enumerate() {
                let Some(state) = state else { continue };
                let stall = state.trigger.stall.index();
                let new_stall = self.polling_total[stall] != total[stall];
                if state.update(now_ns, total[stall], new_stall) {
                    fired.push(TriggerId((*generation << 16) | slot as u32));
                }
            }
            self.polling_total = total;
            self.polling_next_update = now_ns + min_period;
        }
        fired
    }
}
