//! Prompt caching as each provider reports it (../shared/WIRE.md "Prompt caching usage"; issue
//! 14 item 5). The prefix of a request (system prompt, tool definitions and every message but
//! the last) is remembered per provider; a later request with the same prefix on the same model
//! is a cache hit. Deterministic for a given request sequence, bounded in memory.
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

/// Prefixes remembered per provider; cleared when full, so memory stays flat.
const MAX_PREFIXES: usize = 65_536;

#[derive(Default)]
pub struct PromptCache {
    seen: Mutex<HashSet<u64>>,
}

impl PromptCache {
    /// Whether `key` was cached before; caches it now either way.
    pub fn touch(&self, key: u64) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        if seen.contains(&key) {
            return true;
        }
        if seen.len() >= MAX_PREFIXES {
            seen.clear();
        }
        seen.insert(key);
        false
    }
}

/// Tokens served from the cache and written to it by one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUse {
    pub read: u64,
    pub written: u64,
}

/// What the provider reports for a prefix of `prefix` tokens; `hit` says the prefix was cached
/// before, `marked` that the request carries a `cache_control` breakpoint (Anthropic).
pub fn cache_use(d: Dialect, prefix: u64, hit: bool, marked: bool) -> CacheUse {
    const MIN: u64 = 1024;
    match d {
        Dialect::Openai if hit && prefix >= MIN => CacheUse { read: MIN + (prefix - MIN) / 128 * 128, written: 0 },
        Dialect::Deepseek if hit => CacheUse { read: prefix / 64 * 64, written: 0 },
        Dialect::Anthropic if marked && prefix >= MIN => {
            if hit {
                CacheUse { read: prefix, written: 0 }
            } else {
                CacheUse { read: 0, written: prefix }
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
        assert_eq!(cache_use(Dialect::Openai, 1500, true, false).read, 1408);
        assert_eq!(cache_use(Dialect::Openai, 1000, true, false).read, 0);
        assert_eq!(cache_use(Dialect::Openai, 1500, false, false).read, 0);
        assert_eq!(cache_use(Dialect::Deepseek, 130, true, false).read, 128);
        assert_eq!(cache_use(Dialect::Anthropic, 2000, false, true), CacheUse { read: 0, written: 2000 });
        assert_eq!(cache_use(Dialect::Anthropic, 2000, true, true), CacheUse { read: 2000, written: 0 });
        assert_eq!(cache_use(Dialect::Anthropic, 2000, true, false), CacheUse::default());
    }

    #[test]
    fn a_prefix_hits_the_second_time() {
        let c = PromptCache::default();
        assert!(!c.touch(7));
        assert!(c.touch(7));
        assert!(!c.touch(8));
    }
}
