//! How a user names a fleet already running (DESIGN.md, "Mock providers"): `NAME=URL,...`, or a
//! file holding the lines `gatedrill mock serve` (or `gatedrill proxy`) prints, one JSON object
//! per provider with its `provider` and `url`. Checked at `validate` time, before anything runs.

use std::path::Path;

/// One provider of a running fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetMember {
    pub provider: String,
    pub url: String,
}

/// A fleet already running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSpec {
    pub providers: Vec<FleetMember>,
}

fn checked_url(url: &str, at: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{at}: {url:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("{at}: {url:?} must be an http(s) URL with a host"));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(format!("{at}: {url:?} must have no userinfo, query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn checked_name(name: &str, at: &str) -> Result<String, String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!("{at}: provider name {name:?} must be letters, digits, '_' or '-'"));
    }
    Ok(name.to_string())
}

impl FleetSpec {
    /// `NAME=URL,...`, or the path of a file of `mock serve` lines.
    pub fn parse(arg: &str) -> Result<FleetSpec, String> {
        let spec = if arg.contains('=') && !Path::new(arg).is_file() {
            let mut providers = Vec::new();
            for (i, part) in arg.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
                let at = format!("--fleet item {}", i + 1);
                let (name, url) = part.split_once('=').ok_or_else(|| format!("{at}: {part:?} is not NAME=URL"))?;
                providers.push(FleetMember {
                    provider: checked_name(name.trim(), &at)?,
                    url: checked_url(url.trim(), &at)?,
                });
            }
            FleetSpec { providers }
        } else {
            Self::from_file(Path::new(arg))?
        };
        if spec.providers.is_empty() {
            return Err("--fleet names no provider".into());
        }
        let mut names: Vec<&str> = spec.providers.iter().map(|p| p.provider.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("--fleet names provider {:?} twice", w[0]));
        }
        Ok(spec)
    }

    fn from_file(path: &Path) -> Result<FleetSpec, String> {
        #[derive(serde::Deserialize)]
        struct Line {
            provider: String,
            url: String,
        }
        let text = crate::input::read_small(path, "--fleet")?;
        let mut providers = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", path.display(), i + 1);
            if line.trim().is_empty() {
                continue;
            }
            let l: Line = serde_json::from_str(line)
                .map_err(|e| format!("{at}:{}: {e} (expected a line `gatedrill mock serve` prints)", e.column()))?;
            providers.push(FleetMember { provider: checked_name(&l.provider, &at)?, url: checked_url(&l.url, &at)? });
        }
        Ok(FleetSpec { providers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_files_parse_and_bad_ones_are_named() {
        let s = FleetSpec::parse("openai=http://127.0.0.1:9001, anthropic=http://127.0.0.1:9002/").unwrap();
        assert_eq!(s.providers[1], FleetMember { provider: "anthropic".into(), url: "http://127.0.0.1:9002".into() });
        let dir = std::env::temp_dir().join(format!("gatedrill-fleet-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("fleet.jsonl");
        std::fs::write(&f, "{\"provider\":\"openai\",\"dialect\":\"openai\",\"url\":\"http://127.0.0.1:1\"}\n\n")
            .unwrap();
        assert_eq!(FleetSpec::parse(f.to_str().unwrap()).unwrap().providers.len(), 1);
        std::fs::write(&f, "{\"provider\":\"openai\"}\n").unwrap();
        assert!(FleetSpec::parse(f.to_str().unwrap()).unwrap_err().contains("fleet.jsonl:1:"));
        let _ = std::fs::remove_dir_all(&dir);
        for bad in ["openai=ftp://x", "openai=http://u:p@h", "a=http://h,a=http://h", "=http://h", "nofile"] {
            assert!(FleetSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
