//! Breaker names for rejections.
//!
//! A [`Rejected`](super::Rejected) is a plain `Copy` value: no reference count to
//! bump on every rejection (a shared line bouncing between the cores that are all
//! being rejected during an outage) and no drop, which keeps `try_acquire`'s result
//! cheap to move and to match on the Closed path (BENCHMARKS.md, "Where the time
//! goes": "a rejection that owned its breaker's name"). So it names its breaker by a
//! [`NameHandle`]: a slot of one process-wide table and the slot's epoch. The breaker
//! owns its slot ([`NameSlot`]) for its whole life; renaming rewrites the slot, and
//! dropping the breaker frees it for reuse with a new epoch, so a handle that
//! outlives its breaker reads no name rather than another breaker's.
//!
//! The table is taken only by construction, renaming and drop of a breaker and by a
//! caller that reads a rejection's name: never by admission.

use parking_lot::RwLock;
use std::sync::Arc;

/// One process-wide table of breaker names, slots reused as breakers come and go:
/// it holds as many names as there are live breakers.
static TABLE: RwLock<Table> = RwLock::new(Table {
    slots: Vec::new(),
    free: Vec::new(),
});

struct Table {
    slots: Vec<Slot>,
    /// Indices of free slots.
    free: Vec<u32>,
}

struct Slot {
    /// Bumped each time the slot is freed: handles of the breaker that held it no
    /// longer match.
    epoch: u32,
    /// `None` while free.
    name: Option<Arc<str>>,
}

/// Which breaker a rejection came from: a slot of the name table and its epoch.
/// `Copy`, eight bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NameHandle {
    index: u32,
    epoch: u32,
}

impl NameHandle {
    /// The name of a breaker that has none and never had a slot (rejections built by
    /// hand).
    pub(crate) const UNNAMED: NameHandle = NameHandle {
        index: u32::MAX,
        epoch: 0,
    };

    /// The breaker's name as it is now; `None` once the breaker is dropped (or for
    /// [`UNNAMED`](NameHandle::UNNAMED)).
    pub(crate) fn get(self) -> Option<Arc<str>> {
        let table = TABLE.read();
        let slot = table.slots.get(self.index as usize)?;
        if slot.epoch != self.epoch {
            return None;
        }
        slot.name.clone()
    }
}

/// A breaker's slot in the name table, freed when dropped.
#[derive(Debug)]
pub(crate) struct NameSlot(NameHandle);

impl NameSlot {
    /// Takes a slot for a breaker named `name`.
    pub(crate) fn new(name: &str) -> NameSlot {
        let name = Some(Arc::from(name));
        let mut table = TABLE.write();
        let handle = match table.free.pop() {
            Some(index) => {
                let slot = &mut table.slots[index as usize];
                slot.name = name;
                NameHandle {
                    index,
                    epoch: slot.epoch,
                }
            }
            None => {
                // Past four billion live breakers, the rest go unnamed in rejections.
                let index = match u32::try_from(table.slots.len()) {
                    Ok(index) if index != u32::MAX => index,
                    _ => return NameSlot(NameHandle::UNNAMED),
                };
                table.slots.push(Slot { epoch: 0, name });
                NameHandle { index, epoch: 0 }
            }
        };
        NameSlot(handle)
    }

    /// The handle rejections carry.
    #[inline]
    pub(crate) fn handle(&self) -> NameHandle {
        self.0
    }

    /// Renames the breaker (a reconfiguration): rejections already made read the new
    /// name too.
    pub(crate) fn rename(&self, name: &str) {
        let mut table = TABLE.write();
        if let Some(slot) = table.slots.get_mut(self.0.index as usize) {
            slot.name = Some(Arc::from(name));
        }
    }
}

impl Drop for NameSlot {
    fn drop(&mut self) {
        let mut table = TABLE.write();
        let index = self.0.index;
        if let Some(slot) = table.slots.get_mut(index as usize) {
            slot.name = None;
            slot.epoch = slot.epoch.wrapping_add(1);
            table.free.push(index);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_handle_reads_its_breakers_name_until_the_breaker_is_gone() {
        let slot = NameSlot::new("inventory");
        let handle = slot.handle();
        assert_eq!(handle.get().as_deref(), Some("inventory"));
        slot.rename("stock");
        assert_eq!(handle.get().as_deref(), Some("stock"));
        drop(slot);
        assert_eq!(handle.get(), None);
        // The freed slot is reused with a new epoch: the old handle reads nothing.
        let next = NameSlot::new("payments");
        assert_eq!(handle.get(), None);
        assert_eq!(next.handle().get().as_deref(), Some("payments"));
        assert_eq!(NameHandle::UNNAMED.get(), None);
    }

    #[test]
    fn slots_are_reused_so_the_table_holds_only_live_breakers() {
        let before = TABLE.read().slots.len();
        for i in 0..10_000 {
            drop(NameSlot::new(&format!("b{i}")));
        }
        // Other tests hold breakers concurrently, but nowhere near 5,000 at once.
        assert!(TABLE.read().slots.len() < before + 5_000);
    }
}
