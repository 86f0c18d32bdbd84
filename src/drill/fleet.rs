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

/// What a scenario's end reads from the fleet.
#[derive(Default)]
pub struct Collected {
    /// Every provider's journal, merged in arrival order on the drill's clock.
    pub journal: Vec<AttemptRecord>,
    pub receipts: Vec<(String, RuleReceipt)>,
    /// (provider, attempt, ttft, itl).
    pub latency: Vec<(String, Hist, Hist, Hist)>,
    pub dropped: u64,
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
            Fleet::Remote(r) => r.each(reqwest::Method::DELETE, "/_gatedrill/faults", None).await.map(|_| ()),
        }
    }

    /// The merged journal so far (`None`: it could not be read, which is never an empty one).
    pub async fn journal(&self) -> Option<Vec<AttemptRecord>> {
        match self {
            Fleet::Local(f) => Some(f.journal()),
            Fleet::Remote(r) => {
                let mut c = Collected::default();
                r.read_journals(&mut c).await;
                c.unreadable.is_empty().then_some(c.journal)
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
            Fleet::Remote(r) => r.collect().await,
        }
    }

    /// Stops this run's own fleet; a remote one keeps running, its rules cleared.
    pub async fn shutdown(self) {
        match self {
            Fleet::Local(f) => f.shutdown().await,
            Fleet::Remote(r) => {
                let _ = r.each(reqwest::Method::DELETE, "/_gatedrill/faults", None).await;
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
}

fn unreadable(seen: &Observed) -> String {
    format!("the control API answered {}", seen.describe())
}

impl RemoteFleet {
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
        RemoteFleet { providers, origin: Instant::now() }
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

    /// Reads each provider's health: it must be the named provider speaking the configured
    /// dialect; its uptime places its clock on the drill's.
    async fn measure_clocks(&mut self) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Health {
            provider: String,
            dialect: String,
            uptime_ms: f64,
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
                let page: Page = match seen.parse() {
                    Ok(page) => page,
                    Err(e) => {
                        into.unreadable
                            .push((p.endpoint.provider.clone(), format!("journal: {} ({e})", seen.describe())));
                        break None;
                    }
                };
                let end = page.records.last().map(|r| r.seq + 1);
                records.extend(page.records.into_iter().filter(|r| r.seq >= since));
                let reached = end.is_none_or(|e| e >= page.next_seq);
                let bounded = records.len() >= MAX_RECORDS || pages > MAX_RECORDS / PAGE;
                if bounded && !reached {
                    let what = format!("journal: more than {} records or {pages} pages", records.len());
                    into.unreadable.push((p.endpoint.provider.clone(), what));
                }
                since = end.unwrap_or(page.next_seq).max(since + 1);
                if reached || bounded {
                    break Some((page.dropped, page.rules));
                }
            };
            let Some((dropped, rules)) = last else { continue };
            into.dropped += dropped;
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
                Some(n) => c.harness_errors += n,
                None => c.unreadable.push((name.clone(), format!("health: {}", seen.describe()))),
            }
            let seen = p.ex.send(reqwest::Method::GET, "/_gatedrill/latency", None, Auth::None).await;
            let text = std::str::from_utf8(&seen.body).unwrap_or_default();
            match (seen.is_success(), crate::metrics::hlog::parse(text)) {
                (true, Ok(parsed)) => {
                    let mut all = crate::metrics::hlog::merge_parsed(parsed);
                    let mut take = |tag: &str| all.remove(tag).unwrap_or_else(crate::metrics::new_hist);
                    c.latency.push((name, take("attempt"), take("ttft"), take("itl")));
                }
                _ => c.unreadable.push((name, format!("latency: {}", seen.describe()))),
            }
        }
        c
    }
}
