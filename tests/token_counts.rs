//! Token counts must not change when the tokenizer implementation does: the mocks report usage,
//! quotas and context overflows from these counts, and drills compare them with what a gateway
//! says. `tests/data/token_counts.json` holds the count of every corpus text in every encoding,
//! as the tiktoken-rs implementation counted them when the file was written; this test counts
//! the same texts with whatever `mock::tokens` uses now and demands the same numbers.
//!
//! The corpus is built here, deterministically, and is adversarial on purpose: a 16 KiB single
//! letter (BPE's worst case, and the edge of the count cache), unicode of many scripts, emoji with
//! joiners and modifiers, whitespace runs, code, digits, contractions, text that looks like special
//! tokens, and seeded random strings over a pool of awkward characters. Each entry also records
//! the text's length and FNV-1a hash, so a changed corpus fails loudly instead of being re-counted.

use gatedrill::mock::config::Tokenizer;
use gatedrill::mock::tokens;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Expected {
    name: String,
    bytes: usize,
    fnv1a: String,
    o200k_base: u64,
    cl100k_base: u64,
}

fn corpus() -> Vec<(String, String)> {
    let mut c: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, text: String| c.push((name.to_string(), text));
    add("hello", "hello world".into());
    add("single_space", " ".into());
    add("newline", "\n".into());
    add("letter_16k", "a".repeat(16 * 1024));
    add("letter_16k_plus_one", "a".repeat(16 * 1024 + 1));
    add("letter_z_4k", "z".repeat(4096));
    add("digits_16k", "7".repeat(16 * 1024));
    add("digits_mixed", "1234567890 3.14159 2,000,000 0x7fff_ffff 1e-9 -42 ".repeat(20));
    add(
        "unicode_scripts",
        "naïve café, Ærøskøbing, 東京都渋谷区, Привет мир, مرحبا بالعالم, हिन्दी भाषा, 한국어 텍스트, ελληνικά, עברית, ไทย"
            .repeat(8),
    );
    add("cjk_run", "漢字仮名交じり文と中文简体字和繁體字".repeat(64));
    add("emoji", "👍🏽 👨‍👩‍👧‍👦 🇯🇵 🏳️‍🌈 ✨🔥💯 🧑🏿‍🚀 ❤️‍🩹".repeat(32));
    add("emoji_run", "😀".repeat(2048));
    add("combining_marks", "Z\u{0351}\u{036b}\u{0343}a\u{0302}\u{0323}l\u{0301}g\u{0308}o\u{0327}".repeat(100));
    add("spaces_run", format!("a{}b", " ".repeat(1000)));
    add("spaces_only", " ".repeat(4096));
    add("tabs_newlines", "\t\t\n\n\r\n  \n\t \u{a0}\u{2003}\u{3000}".repeat(50));
    add("trailing_whitespace", "line one   \nline two\t\t\n\n\n   ".into());
    add("newlines_only", "\n".repeat(3000));
    add(
        "rust_code",
        r#"fn main() -> std::io::Result<()> {
    let v: Vec<u8> = (0..=255).collect();
    for (i, b) in v.iter().enumerate() { if i % 16 == 0 { println!("{:02x}", b); } }
    let s = format!("{v:?}"); assert_eq!(s.len() > 0, true); Ok(())
}
"#
        .repeat(10),
    );
    add(
        "python_code",
        "def f(x, *args, **kw):\n    return [y**2 for y in range(x) if y % 3 != 0]  # comment\n\n\nclass A(B):\n\tpass\n"
            .repeat(12),
    );
    add(
        "json",
        r#"{"model":"gpt-5","messages":[{"role":"user","content":"hello there"}],"max_tokens":256,"stream":true}"#
            .repeat(10),
    );
    add("contractions", "I'm don't WE'LL it's they've she'd You'RE o'clock ''''' 's 't".repeat(20));
    add("special_token_text", "<|endoftext|> <|im_start|>user<|im_end|> <|fim_prefix|><|endofprompt|>".repeat(10));
    add("punctuation", "!!!???...,,,;;;:::---___===+++***&&&%%%$$$###@@@~~~```|||\\\\///".repeat(20));
    add("url_and_path", "https://example.invalid/a/b?c=d&e=f#g /usr/local/bin/x ../../etc C:\\Windows\\".repeat(20));
    add("mixed_case", "camelCaseIdentifier PascalCase SCREAMING_SNAKE kebab-case mIxEd".repeat(20));
    add(
        "prose_900",
        "The gateway walks each role's model chain in order; a provider that fails cools down for a while, \
         and the next one in the chain answers. "
            .repeat(7),
    );
    // Seeded random strings over a pool of awkward characters (an LCG: the corpus is fixed).
    let pool: Vec<char> =
        "aZ09 \t\n\r.,'\"-_/\\{}[]()<>|éßøЖж中文日本語한😀👍🏽\u{200d}\u{fe0f}\u{a0}\u{0301}$€£¥".chars().collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..64 {
        let len = 1 + (i * 37) % 700;
        let text: String = (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                pool[((state >> 33) % pool.len() as u64) as usize]
            })
            .collect();
        add(&format!("random_{i:02}"), text);
    }
    c
}

fn expected_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/token_counts.json")
}

fn measure() -> Vec<Expected> {
    corpus()
        .into_iter()
        .map(|(name, text)| Expected {
            bytes: text.len(),
            fnv1a: format!("{:016x}", gatedrill::rng::fnv1a(text.as_bytes())),
            o200k_base: tokens::count(Tokenizer::O200kBase, &text),
            cl100k_base: tokens::count(Tokenizer::Cl100kBase, &text),
            name,
        })
        .collect()
}

#[test]
fn every_encoding_counts_the_corpus_as_recorded() {
    let expected: Vec<Expected> =
        serde_json::from_str(&std::fs::read_to_string(expected_path()).expect("tests/data/token_counts.json"))
            .expect("valid JSON");
    let got = measure();
    assert_eq!(got.len(), expected.len(), "the corpus changed size; the recorded counts no longer describe it");
    let mut wrong = Vec::new();
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!((&g.name, g.bytes, &g.fnv1a), (&e.name, e.bytes, &e.fnv1a), "corpus text changed");
        if (g.o200k_base, g.cl100k_base) != (e.o200k_base, e.cl100k_base) {
            wrong.push(format!(
                "{}: o200k {} (recorded {}), cl100k {} (recorded {})",
                g.name, g.o200k_base, e.o200k_base, g.cl100k_base, e.cl100k_base
            ));
        }
    }
    assert!(wrong.is_empty(), "counts differ from the recorded ones:\n{}", wrong.join("\n"));
}

#[test]
fn a_cached_count_equals_a_fresh_one() {
    // The second call of each text is served from the count cache (texts up to 16 KiB).
    let first = measure();
    let second = measure();
    assert_eq!(first, second);
}

/// Writes the recorded counts. Run it only with the reference implementation (the one the file
/// was first written with), never to make a failing comparison pass:
/// `cargo test --test token_counts -- --ignored write_recorded_counts`.
#[test]
#[ignore = "writes tests/data/token_counts.json from the current implementation"]
fn write_recorded_counts() {
    let mut text = serde_json::to_string_pretty(&measure()).expect("serializes");
    text.push('\n');
    std::fs::write(expected_path(), text).expect("writes tests/data/token_counts.json");
}
