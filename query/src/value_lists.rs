//! The values of every group, kept for an exact percentile: one flat list of (group,
//! value) pairs instead of a list per group. Adding a value never allocates a list of
//! its own, moving or merging groups rewrites group numbers in one pass, and the values
//! are put in group order once, when the groups are finished (a counting sort).
//!
//! With many groups of few values each (a percentile per part key: a few values per
//! group and segment), a list per group cost an allocation per group and per merge, more
//! than the values themselves.

/// Group numbers of the values; a value whose group was dropped is gone.
const DROPPED: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct ValueLists {
    /// Number of groups (some may hold no value).
    groups: usize,
    /// Every value is in group 0 and `owners` is empty: a percentile without GROUP BY
    /// keeps no group numbers, and its merges append values alone.
    single: bool,
    /// The group of each value (unless `single`).
    owners: Vec<u32>,
    values: Vec<f64>,
    /// When set, the values are in group order and group `g`'s values are
    /// `values[starts[g]..starts[g + 1]]` (`groups + 1` entries).
    starts: Option<Vec<usize>>,
}

impl Default for ValueLists {
    fn default() -> ValueLists {
        ValueLists {
            groups: 0,
            single: true,
            owners: Vec::new(),
            values: Vec::new(),
            starts: None,
        }
    }
}

/// Bytes a value takes in [`ValueLists`] (its group number and itself).
pub const VALUE_BYTES: usize = std::mem::size_of::<u32>() + std::mem::size_of::<f64>();

impl ValueLists {
    /// Lists of groups `0..lists.len()`, each value in its order.
    pub fn from_lists(lists: Vec<Vec<f64>>) -> ValueLists {
        let mut out = ValueLists::default();
        out.resize(lists.len());
        for (g, list) in lists.into_iter().enumerate() {
            if g > 0 && !list.is_empty() {
                out.separate();
            }
            if !out.single {
                out.owners.extend(std::iter::repeat_n(g as u32, list.len()));
            }
            out.values.extend(list);
        }
        out
    }

    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Make room for `n` groups (never fewer than there are).
    pub fn resize(&mut self, n: usize) {
        if n > self.groups {
            self.groups = n;
            self.starts = None;
        }
    }

    /// Give every value its group number (0 while `single`).
    fn separate(&mut self) {
        if self.single {
            self.single = false;
            self.owners = vec![0; self.values.len()];
        }
    }

    /// Add `value` to group `g` (which must exist).
    pub fn push(&mut self, g: u32, value: f64) {
        debug_assert!((g as usize) < self.groups);
        if g != 0 {
            self.separate();
        }
        if !self.single {
            self.owners.push(g);
        }
        self.values.push(value);
        self.starts = None;
    }

    /// Add `values[i]` to group `groups[i]` for every `i` (the groups must exist).
    pub fn extend(&mut self, groups: &[u32], values: &[f64]) {
        if groups.iter().any(|g| *g != 0) {
            self.separate();
        }
        let n = values.len().min(groups.len());
        if !self.single {
            self.owners.extend_from_slice(&groups[..n]);
        }
        self.values.extend_from_slice(&values[..n]);
        self.starts = None;
    }

    /// Group `i` becomes group `order[i]` of before (`order` holds distinct groups; the
    /// groups it does not name are dropped with their values).
    pub fn reorder(&mut self, order: &[usize]) {
        self.starts = None;
        if self.single {
            match order.iter().position(|old| *old == 0) {
                Some(0) => {}
                Some(new) => {
                    self.single = false;
                    self.owners = vec![new as u32; self.values.len()];
                }
                None => self.values.clear(),
            }
            self.groups = order.len();
            return;
        }
        let mut new_of_old = vec![DROPPED; self.groups];
        for (new, &old) in order.iter().enumerate() {
            new_of_old[old] = new as u32;
        }
        let mut kept = 0;
        for i in 0..self.values.len() {
            let owner = new_of_old[self.owners[i] as usize];
            if owner != DROPPED {
                self.owners[kept] = owner;
                self.values[kept] = self.values[i];
                kept += 1;
            }
        }
        self.owners.truncate(kept);
        self.values.truncate(kept);
        self.groups = order.len();
    }

    /// Add every value of `other`'s group `from` to group `mapping[from]`. Returns the
    /// bytes added.
    pub fn merge_from(&mut self, other: &ValueLists, mapping: &[usize]) -> usize {
        self.starts = None;
        let added = other.values.len() * VALUE_BYTES;
        if other.single {
            let into = mapping.first().copied().unwrap_or(0);
            if into != 0 {
                self.separate();
            }
            if !self.single {
                self.owners
                    .extend(std::iter::repeat_n(into as u32, other.values.len()));
            }
            self.values.extend_from_slice(&other.values);
            return added;
        }
        self.separate();
        self.owners.reserve(other.values.len());
        self.values.reserve(other.values.len());
        for (&owner, &value) in other.owners.iter().zip(&other.values) {
            self.owners.push(mapping[owner as usize] as u32);
            self.values.push(value);
        }
        added
    }

    /// Group `g`'s values (in no particular order once a percentile has selected in
    /// them).
    pub fn group_mut(&mut self, g: usize) -> &mut [f64] {
        let starts = self.group_starts();
        let (start, end) = (starts[g], starts[g + 1]);
        &mut self.values[start..end]
    }

    /// Every group's values, in group order, each in the order it was added.
    pub fn to_lists(&self) -> Vec<Vec<f64>> {
        let mut lists = vec![Vec::new(); self.groups];
        if self.single {
            if let Some(first) = lists.first_mut() {
                first.extend_from_slice(&self.values);
            }
            return lists;
        }
        for (&owner, &value) in self.owners.iter().zip(&self.values) {
            lists[owner as usize].push(value);
        }
        lists
    }

    /// Put the values in group order (stable: a group's values keep their order), once.
    fn group_starts(&mut self) -> &[usize] {
        if self.starts.is_none() {
            let mut starts = vec![0usize; self.groups + 1];
            if self.single {
                // Group 0 holds every value.
                starts[1..].fill(self.values.len());
            } else {
                for &owner in &self.owners {
                    starts[owner as usize + 1] += 1;
                }
                for g in 0..self.groups {
                    starts[g + 1] += starts[g];
                }
                if !self.owners.is_sorted() {
                    let mut next = starts.clone();
                    let mut values = vec![0.0f64; self.values.len()];
                    for (&owner, &value) in self.owners.iter().zip(&self.values) {
                        let at = &mut next[owner as usize];
                        values[*at] = value;
                        *at += 1;
                    }
                    self.values = values;
                    for g in 0..self.groups {
                        self.owners[starts[g]..starts[g + 1]].fill(g as u32);
                    }
                }
            }
            self.starts = Some(starts);
        }
        self.starts.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists as the state holds them and as finishing sees them, which must agree.
    fn lists(values: &mut ValueLists) -> Vec<Vec<f64>> {
        let held = values.to_lists();
        let finished: Vec<Vec<f64>> = (0..values.groups())
            .map(|g| values.group_mut(g).to_vec())
            .collect();
        assert_eq!(held, finished);
        held
    }

    #[test]
    fn values_come_back_per_group_in_the_order_added() {
        let mut values = ValueLists::default();
        values.resize(3);
        for (g, v) in [(2, 1.0), (0, 2.0), (2, 3.0), (0, 4.0)] {
            values.push(g, v);
        }
        assert_eq!(
            lists(&mut values),
            vec![vec![2.0, 4.0], vec![], vec![1.0, 3.0]]
        );
        // Added to after being put in order: ordered again.
        values.push(1, 5.0);
        values.push(0, 6.0);
        assert_eq!(
            lists(&mut values),
            vec![vec![2.0, 4.0, 6.0], vec![5.0], vec![1.0, 3.0]]
        );
    }

    #[test]
    fn one_group_keeps_no_group_numbers_until_another_appears() {
        let mut values = ValueLists::default();
        values.resize(1);
        values.extend(&[0, 0, 0], &[3.0, 1.0, 2.0]);
        values.push(0, 4.0);
        assert!(values.single);
        let other = ValueLists::from_lists(vec![vec![9.0]]);
        values.merge_from(&other, &[0]);
        assert!(values.single);
        assert_eq!(lists(&mut values), vec![vec![3.0, 1.0, 2.0, 4.0, 9.0]]);
        // Moved to another place, or joined by a second group: group numbers appear.
        let mut moved = values.clone();
        moved.resize(2);
        moved.reorder(&[1, 0]);
        assert_eq!(
            lists(&mut moved),
            vec![vec![], vec![3.0, 1.0, 2.0, 4.0, 9.0]]
        );
        values.resize(3);
        values.extend(&[2, 0], &[7.0, 8.0]);
        values.merge_from(&other, &[1]);
        assert!(!values.single);
        assert_eq!(
            lists(&mut values),
            vec![vec![3.0, 1.0, 2.0, 4.0, 9.0, 8.0], vec![9.0], vec![7.0]]
        );
        let mut dropped = ValueLists::from_lists(vec![vec![1.0]]);
        dropped.resize(2);
        dropped.reorder(&[1]);
        assert_eq!(lists(&mut dropped), vec![Vec::<f64>::new()]);
    }

    #[test]
    fn reorder_moves_and_drops_groups() {
        let mut values = ValueLists::from_lists(vec![vec![1.0], vec![2.0, 3.0], vec![4.0]]);
        values.reorder(&[2, 0]);
        assert_eq!(values.groups(), 2);
        assert_eq!(lists(&mut values), vec![vec![4.0], vec![1.0]]);
    }

    #[test]
    fn merge_from_maps_groups_and_counts_bytes() {
        let mut a = ValueLists::from_lists(vec![vec![1.0], vec![]]);
        let b = ValueLists::from_lists(vec![vec![7.0, 8.0], vec![9.0]]);
        a.resize(3);
        let grown = a.merge_from(&b, &[2, 0]);
        assert_eq!(grown, 3 * VALUE_BYTES);
        assert_eq!(lists(&mut a), vec![vec![1.0, 9.0], vec![], vec![7.0, 8.0]]);
    }

    #[test]
    fn selecting_in_a_group_leaves_the_others_alone() {
        let mut values = ValueLists::from_lists(vec![vec![3.0, 1.0, 2.0], vec![5.0, 4.0]]);
        values.group_mut(0).sort_by(f64::total_cmp);
        assert_eq!(values.group_mut(0), &[1.0, 2.0, 3.0]);
        assert_eq!(values.group_mut(1), &[5.0, 4.0]);
    }
}
