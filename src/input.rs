//! Loading user-written files (provider configs, fault files, later scenarios) so that every
//! problem names the file, line and column. Validation lives inside `Deserialize` impls
//! (`#[serde(try_from = ...)]`) so that semantic errors carry the same location as syntax errors.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A problem in a user-written file, located to line and column when the parser knows them.
#[derive(Debug, thiserror::Error)]
pub struct InputError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Reads and parses a TOML or JSON file (chosen by extension; anything but `.json` is TOML).
pub fn load_file<T: DeserializeOwned>(path: &Path) -> Result<T, InputError> {
    let text = std::fs::read_to_string(path).map_err(|e| InputError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read file: {e}"),
    })?;
    parse_text(path, &text)
}

/// Reads a small text file named by option `what` (at most 1 MiB), the error naming both.
pub fn read_small(path: &Path, what: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(1024 * 1024 + 1).read_to_string(&mut text).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if text.len() > 1024 * 1024 {
        return Err(format!("{what} {}: larger than 1 MiB", path.display()));
    }
    Ok(text)
}

/// Parses `text` as if it were the content of `path` (used for embedded defaults too).
pub fn parse_text<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, InputError> {
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| InputError {
            path: path.to_path_buf(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
            InputError { path: path.to_path_buf(), line, column, message: e.message().trim().to_string() }
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct T {
        name: String,
        n: u32,
    }

    #[test]
    fn toml_error_has_line_and_column() {
        let e = parse_text::<T>(Path::new("x.toml"), "name = \"a\"\nn = \"nope\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(5)), "{e}");
        assert!(e.to_string().starts_with("x.toml:2:5: "), "{e}");
    }

    #[test]
    fn json_error_has_line_and_column() {
        let e = parse_text::<T>(Path::new("x.json"), "{\"name\": \"a\",\n \"n\": -1}").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("invalid value"), "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
