//! NUMA topology from ACPI: the SRAT (which memory and CPUs belong to which proximity domain) and the
//! SLIT (distances between domains), parsed from the raw tables (ACPI 6.5 §5.2.16, §5.2.17).
//!
//! Proximity domains become node ids in the order they first appear, as Linux's `acpi_map_pxm_to_node`
//! does. Malformed tables are rejected with a reason; entries this kernel does not use (GICC, generic
//! initiators) are skipped.

use core::fmt;

/// Most nodes (Linux's `MAX_NUMNODES` for a small configuration).
pub const MAX_NUMNODES: usize = 8;
/// Most memory ranges and CPUs kept from the SRAT.
pub const MAX_SRAT_MEMORY: usize = 64;
pub const MAX_SRAT_CPUS: usize = 64;

/// SDT header size; the SRAT has 12 more reserved bytes before its entries.
const SDT_HEADER_BYTES: usize = 36;
const SRAT_ENTRIES_OFFSET: usize = SDT_HEADER_BYTES + 12;

/// A memory range of a proximity domain (SRAT type 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAffinity {
    pub pxm: u32,
    pub base: u64,
    pub length: u64,
    pub hotpluggable: bool,
    pub nonvolatile: bool,
}

/// A CPU of a proximity domain (SRAT types 0 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuAffinity {
    pub pxm: u32,
    pub apic_id: u32,
}

/// The enabled entries of an SRAT.
#[derive(Clone, Debug, Default)]
pub struct Srat {
    pub memory: heapless::Vec<MemoryAffinity, MAX_SRAT_MEMORY>,
    pub cpus: heapless::Vec<CpuAffinity, MAX_SRAT_CPUS>,
    /// Entries dropped because the lists were full.
    pub dropped: usize,
}

/// Why a table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiTableError {
    TooShort,
    BadSignature,
    BadLength,
    BadEntry { offset: usize },
}

impl fmt::Display for AcpiTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("table shorter than its header"),
            Self::BadSignature => f.write_str("wrong signature"),
            Self::BadLength => f.write_str("length field does not match the table"),
            Self::BadEntry { offset } => write!(f, "malformed entry at offset {offset}"),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// Checks signature and length; returns the table cut to its length.
fn table<'a>(bytes: &'a [u8], signature: &[u8; 4], min_len: usize) -> Result<&'a [u8], AcpiTableError> {
    if bytes.len() < min_len.max(SDT_HEADER_BYTES) {
        return Err(AcpiTableError::TooShort);
    }
    if &bytes[..4] != signature {
        return Err(AcpiTableError::BadSignature);
    }
    let length = u32_at(bytes, 4) as usize;
    if length < min_len || length > bytes.len() {
        return Err(AcpiTableError::BadLength);
    }
    Ok(&bytes[..length])
}

/// Parses an SRAT (`bytes` starts at its header).
pub fn parse_srat(bytes: &[u8]) -> Result<Srat, AcpiTableError> {
    let t = table(bytes, b"SRAT", SRAT_ENTRIES_OFFSET)?;
    let mut srat = Srat::default();
    let mut offset = SRAT_ENTRIES_OFFSET;
    while offset < t.len() {
        if offset + 2 > t.len() {
            return Err(AcpiTableError::BadEntry { offset });
        }
        let (typ, len) = (t[offset], usize::from(t[offset + 1]));
        if len < 2 || offset + len > t.len() {
            return Err(AcpiTableError::BadEntry { offset });
        }
        let e = &t[offset..offset + len];
        let kept = match (typ, len) {
            // Processor local APIC affinity: domain bits 0-7 at 2, 8-31 at 9..12, APIC id at 3.
            (0, 16) if u32_at(e, 4) & 1 != 0 => {
                let pxm = u32::from(e[2])
                    | (u32::from(e[9]) << 8)
                    | (u32::from(e[10]) << 16)
                    | (u32::from(e[11]) << 24);
                srat.cpus.push(CpuAffinity { pxm, apic_id: u32::from(e[3]) }).is_ok()
            }
            (1, 40) if u32_at(e, 28) & 1 != 0 => {
                let flags = u32_at(e, 28);
                let m = MemoryAffinity {
                    pxm: u32_at(e, 2),
                    base: u64_at(e, 8),
                    length: u64_at(e, 16),
                    hotpluggable: flags & 2 != 0,
                    nonvolatile: flags & 4 != 0,
                };
                m.length == 0 || srat.memory.push(m).is_ok()
            }
            (2, 24) if u32_at(e, 12) & 1 != 0 => {
                srat.cpus.push(CpuAffinity { pxm: u32_at(e, 4), apic_id: u32_at(e, 8) }).is_ok()
            }
            (0..=2, _) if !matches!((typ, len), (0, 16) | (1, 40) | (2, 24)) => {
                return Err(AcpiTableError::BadEntry { offset });
            }
            _ => true,
        };
        if !kept {
            srat.dropped += 1;
        }
        offset += len;
    }
    Ok(srat)
}

/// The SLIT's distance matrix over localities (= proximity domains).
#[derive(Clone, Debug, Default)]
pub struct Slit {
    pub localities: usize,
    pub distances: heapless::Vec<u8, { MAX_NUMNODES * MAX_NUMNODES }>,
}

impl Slit {
    pub fn distance(&self, from: usize, to: usize) -> Option<u8> {
        (from < self.localities && to < self.localities).then(|| self.distances[from * self.localities + to])
    }
}

/// Parses a SLIT; matrices for more than [`MAX_NUMNODES`] localities are refused.
pub fn parse_slit(bytes: &[u8]) -> Result<Slit, AcpiTableError> {
    let t = table(bytes, b"SLIT", SDT_HEADER_BYTES + 8)?;
    let n = u64_at(t, SDT_HEADER_BYTES);
    if n as usize > MAX_NUMNODES || SDT_HEADER_BYTES + 8 + (n * n) as usize > t.len() {
        return Err(AcpiTableError::BadLength);
    }
    let n = n as usize;
    let mut slit = Slit { localities: n, distances: heapless::Vec::new() };
    for &d in &t[SDT_HEADER_BYTES + 8..SDT_HEADER_BYTES + 8 + n * n] {
        // Capacity is MAX_NUMNODES², checked above.
        let _ = slit.distances.push(d);
    }
    Ok(slit)
}

/// Proximity domain ↔ node id, in order of first appearance (memory entries first, then CPUs).
#[derive(Clone, Debug, Default)]
pub struct PxmMap {
    pxms: heapless::Vec<u32, MAX_NUMNODES>,
}

impl PxmMap {
    pub fn from_srat(srat: &Srat) -> Self {
        let mut map = PxmMap::default();
        for pxm in srat.memory.iter().map(|m| m.pxm).chain(srat.cpus.iter().map(|c| c.pxm)) {
            if !map.pxms.contains(&pxm) {
                // Domains beyond MAX_NUMNODES have no node; their memory is folded into node 0 by callers.
                let _ = map.pxms.push(pxm);
            }
        }
        map
    }

    pub fn node_of(&self, pxm: u32) -> Option<usize> {
        self.pxms.iter().position(|&p| p == pxm)
    }

    pub fn pxm_of(&self, node: usize) -> Option<u32> {
        self.pxms.get(node).copied()
    }

    pub fn nr_nodes(&self) -> usize {
        self.pxms.len()
    }
}

/// Default distances when there is no SLIT: 10 to itself, 20 to any other node (ACPI's defaults).
pub const LOCAL_DISTANCE: u8 = 10;
pub const REMOTE_DISTANCE: u8 = 20;

/// Nodes in fallback order from `node`: itself, then the others by increasing distance (ties by id).
pub fn fallback_order(
    node: usize,
    nr_nodes: usize,
    distance: impl Fn(usize, usize) -> u8,
) -> heapless::Vec<usize, MAX_NUMNODES> {
    let mut order: heapless::Vec<usize, MAX_NUMNODES> = (0..nr_nodes.min(MAX_NUMNODES)).collect();
    order.sort_unstable_by_key(|&other| (other != node, distance(node, other), other));
    order
}

#[cfg(test)]
mod tests;
