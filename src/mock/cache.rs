//! Prompt caching as each provider reports it (../shared/WIRE.md "Prompt caching usage"; issue
//! 14 item 5). Two prefixes of each request are remembered per provider and model: the whole
//! prompt, and its head (system prompt, tool definitions and every message but the last). A
//! later request whose whole prompt or head was seen is a cache hit on the longer of the two.
//! Deterministic for a given request sequence, bounded in memory.
//!
//! What counts, per dialect (the providers' documented rules, simplified):
//! - OpenAI: automatic for prefixes of 1024 tokens or more, in 128-token steps;
//!   `prompt_tokens_details.cached_tokens` (chat) / `input_tokens_details.cached_tokens`.
//! - DeepSeek: automatic, in 64-token units; `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens`.
//! - Anthropic: only when the request marks a `cache_control` breakpoint, from 1024 tokens;
//!   the first request writes (`cache_creation_input_tokens`, `cache_creation.ephemeral_5m_input_tokens`),
//!   later ones read (`cache_read_input_tokens`), and `input_tokens` counts only the rest.

use std::collections::HashSet;
use std::sync::Mutex;

use super::config::Dialect;

/// Prefixes remembered per provider, in shards so concurrent requests rarely share a lock; a
/// shard is cleared when full, so memory stays flat.
const SHARDS: usize = 16;
const MAX_PER_SHARD: usize = 4096;

#[derive(Default)]
pub struct PromptCache {
    seen: [Mutex<HashSet<u64>>; SHARDS],
}

impl PromptCache {
    /// Whether `key` was cached before; caches it now either way.
    pub fn touch(&self, key: u64) -> bool {
        let Ok(mut seen) = self.seen[(key % SHARDS as u64) as usize].lock() else { return false };
        if seen.contains(&key) {
            return true;
        }
        if seen.len() >= MAX_PER_SHARD {
            seen.clear();
        }
        seen.insert(key);
        false
    }

    /// Forgets every prefix (a reset provider starts cold).
    pub fn clear(&self) {
        for shard in &self.seen {
            if let Ok(mut seen) = shard.lock() {
                seen.clear();
            }
        }
    }

    /// The tokens of the longest prefix seen before, of `(key, tokens)` pairs; caches them all.
    pub fn longest_hit(&self, prefixes: &[(u64, u64)]) -> u64 {
        prefixes.iter().filter(|(k, n)| *n > 0 && self.touch(*k)).map(|(_, n)| *n).max().unwrap_or(0)
    }
}

/// Tokens served from the cache and written to it by one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUse {
    pub read: u64,
    pub written: u64,
}

/// What the provider reports. `hit` is the longest cached prefix's size in tokens (0: a miss),
/// `head` the size of the request's head, where an Anthropic `cache_control` breakpoint
/// (`marked`) sits.
pub fn cache_use(d: Dialect, hit: u64, head: u64, marked: bool) -> CacheUse {
    const MIN: u64 = 1024;
    match d {
        Dialect::Openai if hit >= MIN => CacheUse { read: MIN + (hit - MIN) / 128 * 128, written: 0 },
        Dialect::Deepseek => CacheUse { read: hit / 64 * 64, written: 0 },
        Dialect::Anthropic if marked && head >= MIN => {
            if hit >= head {
                CacheUse { read: head, written: 0 }
            } else {
                CacheUse { read: 0, written: head }
            }
        }
        _ => CacheUse::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_counts_its_own_way() {
        assert_eq!(cache_use(Dialect::Openai, 1500, 0, false).read, 1408);
        assert_eq!(cache_use(Dialect::Openai, 1000, 0, false).read, 0);
        assert_eq!(cache_use(Dialect::Openai, 0, 1500, false).read, 0);
        assert_eq!(cache_use(Dialect::Deepseek, 130, 0, false).read, 128);
        assert_eq!(cache_use(Dialect::Anthropic, 0, 2000, true), CacheUse { read: 0, written: 2000 });
        assert_eq!(cache_use(Dialect::Anthropic, 2000, 2000, true), CacheUse { read: 2000, written: 0 });
        assert_eq!(cache_use(Dialect::Anthropic, 2000, 2000, false), CacheUse::default());
    }

    #[test]
    fn a_prefix_hits_the_second_time() {
        let c = PromptCache::default();
        assert_eq!(c.longest_hit(&[(7, 100), (8, 40)]), 0);
        assert_eq!(c.longest_hit(&[(9, 120), (8, 40)]), 40, "the head was seen");
        assert_eq!(c.longest_hit(&[(9, 120), (8, 40)]), 120, "then the whole prompt");
    }
}
