//! The ACPI MADT ("APIC" table, ACPI 6.5 §5.2.12) as far as interrupt routing needs it: the I/O APICs
//! (entry type 1: id, address, first global system interrupt) and the interrupt source overrides
//! (type 2, §5.2.12.5: an ISA IRQ arrives on another GSI, with polarity and trigger flags).
//!
//! Pure and bounds-checked: the kernel hands it the table's bytes; nothing in them can make it read out
//! of bounds or loop (every entry advances by its length, at least 2). Host-tested (`madt/tests.rs`).

/// Bytes of the SDT header plus the local APIC address and flags before the first entry.
pub const MADT_ENTRIES_OFFSET: usize = 44;

/// What the MADT says about interrupt routing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MadtInfo {
    /// The first I/O APIC: (physical address, first GSI).
    pub ioapic: Option<(u32, u32)>,
    /// How many I/O APICs the table lists.
    pub ioapics: usize,
    /// Overrides for ISA IRQs 0–15: (GSI, MPS INTI flags: polarity bits 1–0, trigger bits 3–2).
    pub overrides: [Option<(u32, u16)>; 16],
    /// MADT flag bit 0 (PCAT_COMPAT): the board also has the dual 8259 PICs.
    pub pcat_compat: bool,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads the I/O APICs and ISA overrides out of a whole MADT (header included). Entries that are short
/// or run past the table's end stop the walk.
pub fn parse_madt(table: &[u8]) -> MadtInfo {
    let mut info = MadtInfo::default();
    // Only as much as the header's length field says (when it says less than the slice).
    let length = u32_at(table, 4).map_or(table.len(), |l| (l as usize).min(table.len()));
    let table = &table[..length];
    info.pcat_compat = u32_at(table, 40).is_some_and(|flags| flags & 1 != 0);
    let mut at = MADT_ENTRIES_OFFSET;
    while let (Some(&kind), Some(&entry_length)) = (table.get(at), table.get(at + 1)) {
        let entry_length = usize::from(entry_length);
        let Some(entry) = table.get(at..at + entry_length).filter(|_| entry_length >= 2) else { break };
        match kind {
            1 if entry_length >= 12 => {
                info.ioapics += 1;
                if info.ioapic.is_none()
                    && let (Some(address), Some(gsi_base)) = (u32_at(entry, 4), u32_at(entry, 8))
                {
                    info.ioapic = Some((address, gsi_base));
                }
            }
            2 if entry_length >= 10 => {
                let (bus, source) = (entry[2], entry[3]);
                if bus == 0
                    && let (Some(slot), Some(gsi)) =
                        (info.overrides.get_mut(usize::from(source)), u32_at(entry, 4))
                {
                    *slot = Some((gsi, u16::from_le_bytes([entry[8], entry[9]])));
                }
            }
            _ => {}
        }
        at += entry_length;
    }
    info
}

#[cfg(test)]
mod tests;
