//! The providers a drill injects faults into (DESIGN.md, "Mock providers"): this run's own
//! fleet, started per scenario, or a fleet already running elsewhere (`gatedrill mock serve` or
//! `gatedrill proxy`, e.g. deployed next to a staging gateway) that the drill drives through its
//! control API: reset at the scenario's start, fault rules added and cleared, journal, receipts
//! and latency read back at the end. Either way the drill sees one clock: a remote provider's
//! journal offsets are moved onto the drill's, measured against its uptime.

use std::time::Duration;

use tokio::time::Instant;

use crate::drill::exchange::{Auth, Exchanger, Observed};
use crate::metrics::Hist;
use crate::mock::config::{FleetConfig, ProviderSpec};
use crate::mock::faults::FaultRule;
use crate::mock::journal::AttemptRecord;
use crate::mock::schedule::RuleReceipt;
use crate::mock::{ProviderEndpoint, ProviderFleet};
use crate::secret::Redacted;

pub use super::fleet_spec::FleetSpec;

/// Deadline of one control-API exchange with a remote provider.
const CONTROL_DEADLINE: Duration = Duration::from_secs(10);
/// Journal records asked for per page.
const PAGE: usize = 2_000;
/// The most bytes one journal page may take (a record is well under 8 KiB).
const PAGE_CAP: usize = 16 * 1024 * 1024;
/// The most records read from one provider's journal (its ring holds at most this many).
const MAX_RECORDS: usize = 1_000_000;
/// The most journal bytes read from the whole fleet at a scenario's end.
const JOURNAL_BUDGET: usize = 256 * 1024 * 1024;
/// How long reading the fleet back may take at a scenario's end.
const COLLECT_DEADLINE: Duration = Duration::from_secs(120);
/// How far a restarted provider clock may be ahead of the drill's (scheduling, loopback).
const CLOCK_SLACK_MS: f64 = 250.0;

/// What a scenario's end reads from the fleet.
#[derive(Default)]
pub struct Collected {
    /// Every provider's journal, merged in arrival order on the drill's clock.
    pub journal: Vec<AttemptRecord>,
    pub receipts: Vec<(String, RuleReceipt)>,
    /// (provider, attempt, ttft, itl).
    pub latency: Vec<(String, Hist, Hist, Hist)>,
    /// Records the providers' journal rings let go of.
    pub dropped: u64,
    /// Handler panics the providers caught.
    pub harness_errors: u64,
    /// What could not be read: the evidence is incomplete, and the scenario fails on it.
    pub unreadable: Vec<(String, String)>,
}

/// The fleet of one scenario.
pub enum Fleet {
    Local(ProviderFleet),
    Remote(RemoteFleet),
}

impl Fleet {
    pub fn endpoints(&self) -> Vec<ProviderEndpoint> {
        match self {
            Fleet::Local(f) => f.endpoints(),
            Fleet::Remote(r) => r.providers.iter().map(|p| p.endpoint.clone()).collect(),
        }
    }

    pub fn spec(&self, name: &str) -> Option<&ProviderSpec> {
        match self {
            Fleet::Local(f) => f.spec(name),
            Fleet::Remote(r) => r.providers.iter().find(|p| p.endpoint.provider == name).map(|p| &p.spec),
        }
    }

    /// Milliseconds on the drill's fleet clock (the clock of journal offsets).
    pub fn elapsed_ms(&self) -> f64 {
        match self {
            Fleet::Local(f) => f.elapsed_ms(),
            Fleet::Remote(r) => crate::mock::journal::ms(r.origin.elapsed()),
        }
    }

    /// Adds rules (a rule naming a provider goes to it, one naming none to every provider).
    pub async fn add_rules(&self, rules: Vec<FaultRule>) -> Result<(), String> {
        match self {
            Fleet::Local(f) => f.add_rules(rules).map_err(|e| e.to_string()),
            Fleet::Remote(r) => r.add_rules(&rules).await,
        }
    }

    pub async fn clear_rules(&self) -> Result<(), String> {
        match self {
            Fleet::Local(f) => {
                f.clear_rules();
                Ok(())
            }
            Fleet::Remote(r) => r.clear().await,
        }
    }

    /// The merged journal so far (`None`: it could not be read, which is never an empty one).
    pub async fn journal(&self) -> Option<Vec<AttemptRecord>> {
        match self {
            // A journal that lost records cannot show that an attempt did not happen.
            Fleet::Local(f) => (f.journal_dropped() == 0).then(|| f.journal()),
            Fleet::Remote(r) => {
                let mut c = Collected::default();
                let read = tokio::time::timeout(COLLECT_DEADLINE, r.read_journals(&mut c)).await;
                (read.is_ok() && c.unreadable.is_empty() && c.dropped == 0).then_some(c.journal)
            }
        }
    }

    /// Everything a scenario's end needs.
    pub async fn collect(&self) -> Collected {
        match self {
            Fleet::Local(f) => Collected {
                journal: f.journal(),
                receipts: f.receipts(),
                latency: f.latency(),
                dropped: f.journal_dropped(),
                harness_errors: f.harness_errors(),
                unreadable: Vec::new(),
            },
            Fleet::Remote(r) => match tokio::time::timeout(COLLECT_DEADLINE, r.collect()).await {
                Ok(c) => c,
                Err(_) => Collected {
                    unreadable: vec![(
                        "*".into(),
                        format!("not read back within {}", crate::duration::Dur(COLLECT_DEADLINE)),
                    )],
                    ..Collected::default()
                },
            },
        }
    }

    /// Stops this run's own fleet; a remote one keeps running, its rules cleared.
    pub async fn shutdown(self) {
        match self {
            Fleet::Local(f) => f.shutdown().await,
            Fleet::Remote(r) => {
                let _ = r.clear().await;
            }
        }
    }
}

/// One provider of a remote fleet.
struct RemoteProvider {
    endpoint: ProviderEndpoint,
    spec: ProviderSpec,
    ex: Exchanger,
    /// Where this provider's clock starts on the drill's clock, in ms (about 0 after a reset).
    shift_ms: f64,
}

/// A fleet in another process, driven through its control API.
pub struct RemoteFleet {
    providers: Vec<RemoteProvider>,
    /// The drill's fleet clock: just before the providers were reset.
    origin: Instant,
    /// (provider, rule id) of every rule this drill loaded and did not clear: each must come
    /// back with its receipt, or the fleet lost it (another run's reset, another replica).
    loaded: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

fn unreadable(seen: &Observed) -> String {
    format!("the control API answered {}", seen.describe())
}

impl RemoteFleet {
    /// The rule ids this drill loaded on `provider` and did not clear.
    fn expected(&self, provider: &str) -> Vec<String> {
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.iter().filter(|(p, _)| p == provider).map(|(_, id)| id.clone()).collect()
    }

    /// The fleet as named and configured, without reaching it: its endpoints, keys and models
    /// (a provider the configuration does not have is left out; `attach` refuses it).
    pub fn describe(spec: &FleetSpec, config: &FleetConfig) -> Self {
        // In the configuration's order: it is the gateway's chain order.
        let providers = config
            .providers
            .iter()
            .filter_map(|s| {
                let e = spec.providers.iter().find(|e| e.provider == s.name)?;
                let ex = Exchanger::new(&e.url, Redacted::default(), None, CONTROL_DEADLINE);
                let endpoint =
                    ProviderEndpoint { provider: e.provider.clone(), dialect: s.dialect, url: e.url.clone() };
                Some(RemoteProvider { endpoint, spec: s.clone(), ex, shift_ms: 0.0 })
            })
            .collect();
        RemoteFleet { providers, origin: Instant::now(), loaded: Default::default() }
    }

    /// Resets every provider of `spec` (rules, journal, quotas, latency, clock), loads the
    /// scenario's rules, and checks each one is the provider the configuration describes.
    pub async fn attach(spec: &FleetSpec, config: &FleetConfig, rules: &[FaultRule]) -> Result<Self, String> {
        if let Some(e) = spec.providers.iter().find(|e| !config.providers.iter().any(|p| p.name == e.provider)) {
            return Err(format!(
                "--fleet names provider {:?}, which the scenario's provider configuration does not have",
                e.provider
            ));
        }
        let mut fleet = Self::describe(spec, config);
        fleet.origin = Instant::now();
        fleet.each(reqwest::Method::POST, "/_gatedrill/reset", None).await?;
        fleet.measure_clocks().await?;
        if !rules.is_empty() {
            fleet.add_rules(rules).await?;
        }
        Ok(fleet)
    }

    async fn clear(&self) -> Result<(), String> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.each(reqwest::Method::DELETE, "/_gatedrill/faults", None).await
    }

    /// Reads each provider's health: it must be the named provider speaking the configured
    /// dialect, with no rule and a clock that restarted at the reset; its uptime places its
    /// clock on the drill's.
    async fn measure_clocks(&mut self) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Health {
            provider: String,
            dialect: String,
            uptime_ms: f64,
            rules: u64,
        }
        let origin = self.origin;
        let reads = self.providers.iter().map(|p| async move {
            let sent = crate::mock::journal::ms(origin.elapsed());
            let seen = p.ex.send(reqwest::Method::GET, "/_gatedrill/health", None, Auth::None).await;
            let back = crate::mock::journal::ms(origin.elapsed());
            (seen, (sent + back) / 2.0)
        });
        let seen = futures::future::join_all(reads).await;
        for (p, (seen, mid)) in self.providers.iter_mut().zip(seen) {
            let name = &p.endpoint.provider;
            let h: Health = seen
                .parse()
                .map_err(|e| format!("provider {name} at {}: health: {} ({e})", p.endpoint.url, seen.describe()))?;
            if h.provider != *name || h.dialect != p.spec.dialect.id() {
                return Err(format!(
                    "provider {name} at {}: it is {:?} speaking {}, the configuration says {} speaking {}",
                    p.endpoint.url,
                    h.provider,
                    h.dialect,
                    name,
                    p.spec.dialect.id()
                ));
            }
            let since_origin = crate::mock::journal::ms(origin.elapsed());
            if !h.uptime_ms.is_finite()
                || h.uptime_ms < 0.0
                || h.uptime_ms > since_origin + CLOCK_SLACK_MS
                || h.rules != 0
            {
                return Err(format!(
                    "provider {name} at {}: not reset (uptime {:.0} ms, {} rules); is it a gatedrill mock or proxy of this version?",
                    p.endpoint.url, h.uptime_ms, h.rules
                ));
            }
            p.shift_ms = (mid - h.uptime_ms).max(0.0);
        }
        Ok(())
    }

    /// The same control request to every provider, concurrently; the first failure, named.
    async fn each(&self, method: reqwest::Method, path: &str, body: Option<&serde_json::Value>) -> Result<(), String> {
        let calls = self.providers.iter().map(|p| {
            let method = method.clone();
            async move { (p, p.ex.send(method, path, body, Auth::None).await) }
        });
        for (p, seen) in futures::future::join_all(calls).await {
            if !seen.is_success() {
                return Err(format!(
                    "provider {} at {}: {path}: {}",
                    p.endpoint.provider,
                    p.endpoint.url,
                    unreadable(&seen)
                ));
            }
        }
        Ok(())
    }

    async fn add_rules(&self, rules: &[FaultRule]) -> Result<(), String> {
        if let Some(r) = rules.iter().find(|r| {
            r.matcher.provider.as_deref().is_some_and(|n| !self.providers.iter().any(|p| p.endpoint.provider == n))
        }) {
            return Err(format!(
                "rule {:?} names provider {:?}, which --fleet does not have",
                r.id, r.matcher.provider
            ));
        }
        for p in &self.providers {
            let mine: Vec<&FaultRule> = rules
                .iter()
                .filter(|r| r.matcher.provider.as_deref().is_none_or(|n| n == p.endpoint.provider))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let body = serde_json::json!({ "rules": mine });
            let seen = p.ex.send(reqwest::Method::POST, "/_gatedrill/faults", Some(&body), Auth::None).await;
            if !seen.is_success() {
                return Err(format!("provider {}: fault rules refused: {}", p.endpoint.provider, unreadable(&seen)));
            }
            let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
            loaded.extend(mine.iter().map(|r| (p.endpoint.provider.clone(), r.id.clone())));
        }
        Ok(())
    }

    /// Every provider's journal, page by page, onto the drill's clock.
    async fn read_journals(&self, into: &mut Collected) {
        #[derive(serde::Deserialize)]
        struct Page {
            records: Vec<AttemptRecord>,
            dropped: u64,
            next_seq: u64,
            rules: Vec<RuleReceipt>,
        }
        let mut budget = JOURNAL_BUDGET;
        let latest = crate::mock::journal::ms(self.origin.elapsed()) + CLOCK_SLACK_MS;
        for p in &self.providers {
            let mut since = 0u64;
            let mut records = Vec::new();
            // Pages are bounded too: a provider that hands out a record at a time cannot hold
            // the drill for a million round trips.
            let mut pages = 0usize;
            let last = loop {
                pages += 1;
                let path = format!("/_gatedrill/journal?since={since}&limit={PAGE}");
                let seen =
                    p.ex.send_bounded(reqwest::Method::GET, &path, None, Auth::None, (CONTROL_DEADLINE, PAGE_CAP))
                        .await;
                budget = budget.saturating_sub(seen.body.len());
                let page: Page = match seen.parse() {
                    Ok(page) => page,
                    Err(e) => {
                        into.unreadable
                            .push((p.endpoint.provider.clone(), format!("journal: {} ({e})", seen.describe())));
                        break None;
                    }
                };
                if let Some(bad) = page.records.iter().find(|r| !plausible(r, &p.endpoint.provider, latest)) {
                    into.unreadable.push((
                        p.endpoint.provider.clone(),
                        format!("journal: record {} is not one this provider could have written", bad.seq),
                    ));
                    break None;
                }
                let end = page.records.last().map(|r| r.seq.saturating_add(1));
                records.extend(page.records.into_iter().filter(|r| r.seq >= since));
                let reached = end.is_none_or(|e| e >= page.next_seq);
                let bounded = records.len() >= MAX_RECORDS || pages > MAX_RECORDS / PAGE || budget == 0;
                if bounded && !reached {
                    let what = format!("journal: more than {} records or {pages} pages", records.len());
                    into.unreadable.push((p.endpoint.provider.clone(), what));
                }
                since = end.unwrap_or(page.next_seq).max(since.saturating_add(1));
                if reached || bounded {
                    break Some((page.dropped, page.rules));
                }
            };
            let Some((dropped, rules)) = last else { continue };
            into.dropped = into.dropped.saturating_add(dropped);
            let mut lost = self.expected(&p.endpoint.provider);
            lost.retain(|id| !rules.iter().any(|r| r.rule.id == *id));
            if !lost.is_empty() {
                into.unreadable.push((
                    p.endpoint.provider.clone(),
                    format!("rules {lost:?} were loaded but the fleet no longer has them (reset by another run?)"),
                ));
            }
            into.receipts.extend(rules.into_iter().map(|r| (p.endpoint.provider.clone(), r)));
            for mut r in records {
                r.t_offset_ms += p.shift_ms;
                into.journal.push(r);
            }
        }
        into.journal.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms).then_with(|| a.provider.cmp(&b.provider)));
    }

    async fn collect(&self) -> Collected {
        let mut c = Collected::default();
        self.read_journals(&mut c).await;
        for p in &self.providers {
            let name = p.endpoint.provider.clone();
            let seen = p.ex.send(reqwest::Method::GET, "/_gatedrill/health", None, Auth::None).await;
            match seen.parse::<serde_json::Value>().ok().and_then(|v| v.get("harness_errors")?.as_u64()) {
                Some(n) => c.harness_errors = c.harness_errors.saturating_add(n),
                None => c.unreadable.push((name.clone(), format!("health: {}", seen.describe()))),
            }
            let seen = p.ex.send(reqwest::Method::GET, "/_gatedrill/latency", None, Auth::None).await;
            match latency_of(&seen) {
                Some((a, t, i)) => c.latency.push((name, a, t, i)),
                None => c.unreadable.push((name, format!("latency: {}", seen.describe()))),
            }
        }
        c
    }
}

/// Whether a journal record could be this provider's since the reset: its name, and finite
/// times inside the drill so far (a record from before a reset, or from a hostile fleet, is not).
fn plausible(r: &AttemptRecord, provider: &str, latest_ms: f64) -> bool {
    let time_ok = |t: f64| t.is_finite() && (0.0..=latest_ms).contains(&t);
    r.provider == provider
        && time_ok(r.t_offset_ms)
        && r.duration_ms.is_none_or(time_ok)
        && r.first_token_ms.is_none_or(time_ok)
}

/// A provider's latency log: exactly its three histograms, each within the bounds gatedrill
/// records with (a log of anything else is not read, so it cannot allocate at will).
fn latency_of(seen: &Observed) -> Option<(Hist, Hist, Hist)> {
    let text = std::str::from_utf8(&seen.body).ok().filter(|_| seen.is_success())?;
    let lines = text.lines().filter(|l| !l.starts_with('#') && !l.starts_with('"') && !l.trim().is_empty()).count();
    if lines != 3 {
        return None;
    }
    let parsed = crate::metrics::hlog::parse(text).ok()?;
    let reference = crate::metrics::new_hist();
    let mut out = std::collections::BTreeMap::new();
    for (tag, _, _, h) in parsed {
        if h.high() > reference.high() || h.sigfig() != reference.sigfig() || out.insert(tag, h).is_some() {
            return None;
        }
    }
    Some((out.remove("attempt")?, out.remove("ttft")?, out.remove("itl")?))
}
