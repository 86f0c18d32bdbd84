//! Token arithmetic for the mocks: counting prompts with real BPE encodings, and building
//! deterministic replies whose token count is exact by construction.
//!
//! Prompts are counted with tiktoken's `o200k_base` / `cl100k_base` plus OpenAI's documented
//! chat overhead (3 tokens a message, 3 to prime the reply). Anthropic and DeepSeek do not publish
//! tokenizers; their models count with `cl100k_base` and the same overhead, an approximation.
//!
//! Replies are drawn from a vocabulary in which every piece is exactly one token in both
//! encodings (a unit test holds this), so a reply of n pieces is n completion tokens, and a cut
//! at `max_tokens` is exact without re-tokenizing on the hot path.

use tiktoken::CoreBpe;

use super::config::Tokenizer;
use crate::rng::DrawKey;

fn bpe(t: Tokenizer) -> &'static CoreBpe {
    let name = match t {
        Tokenizer::O200kBase => "o200k_base",
        Tokenizer::Cl100kBase => "cl100k_base",
    };
    tiktoken::get_encoding(name).expect("tiktoken ships o200k_base and cl100k_base")
}

/// Loads the tables of the given encodings, each once per process (o200k about 12 MiB, cl100k
/// about 6; an encoding no configured model uses stays unloaded), and gives the allocator's free
/// pages back: building a table goes through a hash map about twice its final size, and mimalloc
/// would otherwise keep those pages (it purges freed memory lazily, on later allocator calls,
/// which an idle server does not make).
pub fn warm_up(used: impl IntoIterator<Item = Tokenizer>) {
    let mut used = used.into_iter().peekable();
    if used.peek().is_some() {
        purging_at_once(|| {
            for t in used {
                bpe(t);
            }
        });
    }
}

/// mimalloc's `mi_option_purge_delay`, which the Rust bindings do not name: in `mi_option_e`
/// (mimalloc.h) it comes right before `use_numa_nodes`, and is 15 (a test holds that).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Runs `f` with freed memory returned to the OS at once, then collects this thread's heap and
/// restores the purge delay, so that serving later keeps mimalloc's batching.
fn purging_at_once(f: impl FnOnce()) {
    // SAFETY: these calls take no pointers; mi_option_get/set only read and write mimalloc's
    // option table, and mi_collect only walks its free lists. They are sound at any time, and
    // change nothing that matters when another allocator serves the process (tests).
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    f();
    unsafe {
        libmimalloc_sys::mi_collect(true);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay);
    }
}

/// Texts up to this size are memoized: drills and load tests send the same prompts again and
/// again, and BPE encoding is the costliest step of a plain answer.
const MEMO_MAX_TEXT: usize = 16 * 1024;
const MEMO_ENTRIES: usize = 4096;

thread_local! {
    /// Per worker thread, so no lock is shared; cleared when full, so memory stays bounded.
    static MEMO: std::cell::RefCell<std::collections::HashMap<(u64, usize, u8), u64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Tokens in one piece of text.
pub fn count(t: Tokenizer, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    if text.len() > MEMO_MAX_TEXT {
        return bpe(t).count(text) as u64;
    }
    let key = (crate::rng::fnv1a(text.as_bytes()), text.len(), t as u8);
    if let Some(n) = MEMO.with(|m| m.borrow().get(&key).copied()) {
        return n;
    }
    let n = bpe(t).count(text) as u64;
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_ENTRIES {
            m.clear();
        }
        m.insert(key, n);
    });
    n
}

/// A chat message reduced to what counting needs.
pub struct CountedMessage<'a> {
    pub role: &'a str,
    pub text: &'a str,
    pub name: Option<&'a str>,
}

/// Prompt tokens of a chat request, after OpenAI's cookbook recipe.
pub fn count_chat(t: Tokenizer, system: Option<&str>, messages: &[CountedMessage<'_>]) -> u64 {
    const PER_MESSAGE: u64 = 3;
    const REPLY_PRIMING: u64 = 3;
    let mut n = REPLY_PRIMING;
    if let Some(s) = system {
        n += PER_MESSAGE + count(t, "system") + count(t, s);
    }
    for m in messages {
        n += PER_MESSAGE + count(t, m.role) + count(t, m.text);
        if let Some(name) = m.name {
            n += 1 + count(t, name);
        }
    }
    n
}

/// First pieces (no leading space) and body pieces (leading space); each one token.
const OPENERS: &[&str] = &["Sure", "The", "Here", "Yes", "This", "We"];
const WORDS: &[&str] = &[
    " the",
    " gateway",
    " provider",
    " request",
    " is",
    " ready",
    " and",
    " all",
    " checks",
    " pass",
    " for",
    " this",
    " model",
    " with",
    " a",
    " clean",
    " response",
    " of",
    " data",
    " from",
    " each",
    " role",
    " in",
    " time",
    " to",
    " run",
    " that",
    " we",
    " can",
    " see",
    " it",
    " on",
    " will",
    " be",
    " as",
    " at",
    " by",
    " one",
    " new",
    " test",
    " path",
    " back",
    " up",
    " now",
    " fine",
    " good",
    " fast",
    " more",
    " than",
    " our",
    " team",
    " has",
    " work",
    " done",
    " here",
    " next",
    " step",
    " live",
];
const STOP: &str = ".";

/// The natural length of the reply to a request, before any `max_tokens` cut.
pub fn natural_length(key: DrawKey, bounds: [u32; 2]) -> u64 {
    let span = u64::from(bounds[1] - bounds[0]) + 1;
    u64::from(bounds[0]) + key.with_str("reply_length").bits() % span
}

/// The first `n` pieces of the deterministic reply for `key`; the last piece of a full
/// (uncut) reply of length `full` is a full stop.
pub fn reply_pieces(key: DrawKey, n: u64, full: u64) -> Vec<&'static str> {
    let k = key.with_str("reply_words");
    (0..n)
        .map(|i| {
            if i == 0 {
                OPENERS[(k.bits() % OPENERS.len() as u64) as usize]
            } else if i + 1 == full {
                STOP
            } else {
                WORDS[(k.with(i).bits() % WORDS.len() as u64) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_is_one_token_in_both_encodings() {
        for t in [Tokenizer::O200kBase, Tokenizer::Cl100kBase] {
            for p in OPENERS.iter().chain(WORDS).chain([&STOP]) {
                assert_eq!(count(t, p), 1, "{p:?} under {t:?}");
            }
        }
    }

    #[test]
    fn reply_text_tokens_equal_piece_count() {
        // Adjacent pieces must not merge into fewer tokens, or usage would lie.
        for seed in 0..50 {
            let key = DrawKey::new(seed);
            let full = natural_length(key, [16, 64]);
            let text: String = reply_pieces(key, full, full).concat();
            assert_eq!(count(Tokenizer::O200kBase, &text), full, "{text}");
            assert_eq!(count(Tokenizer::Cl100kBase, &text), full, "{text}");
        }
    }

    #[test]
    fn purge_delay_is_option_15_of_mimallocs_option_enum() {
        // mimalloc.h v3: ..., deprecated_eager_commit_delay (14), purge_delay (15), use_numa_nodes (16).
        // Should the bindings renumber their neighbour, the derived constant is wrong: fail here.
        assert_eq!(MI_OPTION_PURGE_DELAY, 15);
    }

    #[test]
    fn chat_count_follows_cookbook() {
        // "hello world" is 2 tokens, "user" 1: 3 + 1 + 2 + 3 priming = 9.
        let m = [CountedMessage { role: "user", text: "hello world", name: None }];
        assert_eq!(count_chat(Tokenizer::O200kBase, None, &m), 9);
    }
}
