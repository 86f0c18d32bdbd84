//! A run's output folder as its readers take it: fresh temporary folders, every file written,
//! and every artifact parsed (JSON, and JUnit by a strict XML parser).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A fresh folder for one test's run.
pub fn temp_dir(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file under `dir`.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

pub fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// Parses one file by its kind; returns its text.
pub fn parse(f: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
    match f.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        Some("xml") => {
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        _ => {}
    }
    text
}
