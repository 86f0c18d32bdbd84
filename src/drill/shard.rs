//! Scenario shards (`gatedrill run --shard K/N`): the selected scenarios split across N machines
//! (a CI matrix, a Kubernetes Indexed Job) with no coordinator (DESIGN: runs past one machine).
//! Each scenario belongs to the shard that ranks highest for its name (rendezvous hashing with a
//! fixed hash, FNV-1a then SplitMix64's finalizer), so every machine computes the same partition from the names alone, and
//! adding or removing a scenario moves no other scenario to another shard. Shards are balanced
//! by count in expectation, not by duration. The merge checks that every shard came back.

use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most shards a run can be split into (a GitHub Actions matrix holds 256 jobs).
pub const MAX_SHARDS: u32 = 256;

/// Shard `index` of `count`, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: expected K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 1/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The shard (1-based) that owns scenario `name` among `count`: the highest score, each score
/// the name's hash and the shard's number mixed by a full-avalanche finalizer (FNV alone
/// leaves the high bits barely touched by the last bytes, which skews the ranking).
pub fn owner(name: &str, count: u32) -> u32 {
    let h = fnv1a(name.as_bytes());
    (1..=count.max(1)).max_by_key(|k| (crate::rng::mix(h ^ crate::rng::mix(u64::from(*k))), *k)).unwrap_or(1)
}

impl Shard {
    pub fn owns(&self, name: &str) -> bool {
        owner(name, self.count) == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("scenario_{i}")).collect()
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "1/257", "-1/4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_scenario_has_exactly_one_shard_and_the_shards_are_roughly_even() {
        let all = names(400);
        let mut sizes = [0usize; 4];
        for n in &all {
            let owners: Vec<u32> = (1..=4).filter(|k| Shard { index: *k, count: 4 }.owns(n)).collect();
            assert_eq!(owners.len(), 1, "{n}: {owners:?}");
            sizes[owners[0] as usize - 1] += 1;
        }
        assert!(sizes.iter().all(|s| (70..=130).contains(s)), "{sizes:?}");
    }

    #[test]
    fn adding_a_scenario_moves_no_other() {
        let before: Vec<u32> = names(50).iter().map(|n| owner(n, 5)).collect();
        let mut more = names(50);
        more.insert(17, "a_new_scenario".into());
        let after: Vec<u32> = more.iter().filter(|n| *n != "a_new_scenario").map(|n| owner(n, 5)).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn one_shard_owns_everything() {
        assert!(names(20).iter().all(|n| owner(n, 1) == 1));
    }
}
