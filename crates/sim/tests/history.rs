//! The simulator's promises: the same seed gives the same commits; the history loads into
//! a store with every command accepted by the domain, in realistic proportions; every
//! stored event decodes.

use ecoute_domain::event::{fold_call, fold_case, fold_staff};
use ecoute_domain::{decode, Event};
use ecoute_sim::{load, load_batched, LoadReport, Sim, SimConfig};
use ecoute_store::{EventStore, MemoryStore, StoreConfig};

fn config(seed: u64, days: u32) -> SimConfig {
    SimConfig::with_seed_and_days(seed, days)
}

fn assert_no_refusal(report: &LoadReport) {
    assert_eq!(
        report.refused, 0,
        "the simulator gave commands the domain refused: {:#?}",
        report.stats.refused_reasons
    );
}

#[test]
fn same_seed_same_commits_other_seed_other_commits() {
    let a: Vec<_> = Sim::new(config(1, 3)).expect("valid config").collect();
    let b: Vec<_> = Sim::new(config(1, 3)).expect("valid config").collect();
    let c: Vec<_> = Sim::new(config(2, 3)).expect("valid config").collect();
    assert!(a.len() > 1000, "{} commits", a.len());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn invalid_configs_are_refused() {
    for bad in [
        SimConfig {
            centres: 0,
            ..SimConfig::default()
        },
        SimConfig {
            centres: 102,
            ..SimConfig::default()
        },
        SimConfig {
            volunteers_per_centre: 2,
            ..SimConfig::default()
        },
        SimConfig {
            calls_per_day: f64::NAN,
            ..SimConfig::default()
        },
        SimConfig {
            new_case_share: 0.7,
            repeat_call_share: 0.5,
            ..SimConfig::default()
        },
    ] {
        assert!(Sim::new(bad).is_err());
    }
}

#[tokio::test]
async fn several_seeds_load_with_no_refused_command_and_every_event_decodes() {
    for seed in [1, 2, 3, 42] {
        let store = MemoryStore::in_memory(StoreConfig::default());
        let report = load_batched(&store, config(seed, 15), None, 64)
            .await
            .expect("loads");
        assert_no_refusal(&report);
        assert_eq!(report.head, report.events);
        // Every stored event decodes, and the folds of the streams hold together.
        let mut from = 0;
        let mut decoded = 0u64;
        let mut by_stream: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
        loop {
            let events = store.read_all(from, 4096).await.expect("reads");
            if events.is_empty() {
                break;
            }
            for e in &events {
                let schema = u16::try_from(e.schema_version).expect("small version");
                let event = decode(&e.event_type, schema, &e.payload).expect("decodes");
                assert_eq!(event.type_name(), e.event_type);
                assert!(e.metadata.actor.is_some());
                by_stream
                    .entry(e.stream_id.to_string())
                    .or_default()
                    .push(event);
                decoded += 1;
            }
            from = events.last().map(|e| e.position + 1).unwrap_or(from);
        }
        assert_eq!(decoded, report.events);
        let (mut calls, mut cases, mut staff) = (0, 0, 0);
        for (stream, events) in &by_stream {
            if stream.starts_with("call-") {
                assert!(fold_call(events).is_received());
                calls += 1;
            } else if stream.starts_with("case-") {
                assert!(fold_case(events).case_id().is_some());
                cases += 1;
            } else {
                assert!(fold_staff(events).snapshot().is_some());
                staff += 1;
            }
        }
        assert_eq!(calls, report.calls);
        assert_eq!(cases, report.cases);
        assert!(staff > 600);
        for kind in [
            "CaseTransferred",
            "ReferentAssigned",
            "RecontactAttempted",
            "SolutionProposed",
            "ConsentGiven",
            "ActionTaken",
            "CaseClosed",
            "CallLinked",
        ] {
            assert!(
                report.events_by_type.get(kind).copied().unwrap_or(0) > 0,
                "seed {seed}: no {kind} in {:?}",
                report.events_by_type
            );
        }
    }
}

#[tokio::test]
async fn batched_load_appends_the_same_events_as_the_sequential_load() {
    let sequential = MemoryStore::in_memory(StoreConfig::default());
    let a = load(&sequential, config(9, 30), Some(20_000))
        .await
        .expect("loads");
    let batched = MemoryStore::in_memory(StoreConfig::default());
    let b = load_batched(&batched, config(9, 30), Some(20_000), 64)
        .await
        .expect("loads");
    assert_no_refusal(&a);
    assert_eq!(a, b);
    assert!(a.events >= 20_000 && a.events < 20_010, "{}", a.events);
    assert_eq!(b.head, b.events);
    assert!(batched.verify().await.expect("verifies").is_ok());
}

/// One simulated year at the default volumes. Too long for a debug build, so it
/// is compiled only into release test builds (`cargo test --release -p ecoute-sim`);
/// `a_month_in_realistic_proportions` checks the same proportions in every build.
#[cfg(not(debug_assertions))]
#[tokio::test]
async fn a_year_in_realistic_proportions() {
    let store = MemoryStore::in_memory(StoreConfig::default());
    let started = std::time::Instant::now();
    let report = load_batched(&store, config(2024, 365), None, 64)
        .await
        .expect("loads");
    let elapsed = started.elapsed();
    eprintln!(
        "a year: {} events, {} commits in {:.1?} ({:.0} events/s)\n{:#?}",
        report.events,
        report.commits,
        elapsed,
        report.events as f64 / elapsed.as_secs_f64(),
        report.stats
    );
    check_proportions(&report, 365.0);
}

#[tokio::test]
async fn a_month_in_realistic_proportions() {
    let store = MemoryStore::in_memory(StoreConfig::default());
    let report = load_batched(&store, config(7, 30), None, 64)
        .await
        .expect("loads");
    check_proportions(&report, 30.0);
}

/// Scaled to `days`: about 60,000 calls and 13,000 cases a year, 97% of calls and of
/// cases by the platform, about 73% at home, the implicated person most often family.
fn check_proportions(report: &LoadReport, days: f64) {
    assert_no_refusal(report);
    let s = &report.stats;
    let year = 365.0 / days;
    let calls = report.calls as f64 * year;
    let cases = report.cases as f64 * year;
    assert!(
        (54_000.0..=66_000.0).contains(&calls),
        "{calls} calls a year"
    );
    assert!(
        (11_050.0..=14_950.0).contains(&cases),
        "{cases} cases a year"
    );
    let platform = report.cases_opened_by_platform as f64 / report.cases as f64;
    assert!(
        platform >= 0.95,
        "{platform} of cases opened by the platform"
    );
    let answered = s.platform_calls as f64 / s.calls as f64;
    assert!(
        (0.95..=0.99).contains(&answered),
        "{answered} of calls answered by the platform"
    );
    let home = s.facts_at_home as f64 / s.facts as f64;
    assert!((0.68..=0.78).contains(&home), "{home} at home");
    let family = s.implicated_family as f64 / s.implicated as f64;
    assert!(family > 0.5, "{family} of implicated persons are family");
    let anonymous = s.anonymous_calls as f64 / s.calls as f64;
    assert!((0.03..=0.3).contains(&anonymous), "{anonymous} anonymous");
    assert!(s.calls_linked > 0 && s.calls_without_case > 0);
    assert!(report.events_by_type.contains_key("CaseReopened"));
    assert!(report.events_by_type.contains_key("AwaitingCallBack"));
    assert!(report.events_by_type.contains_key("ConsentWithdrawn"));
    assert!(report.events_by_type.contains_key("ConsentRefused"));
    assert!(report.events_by_type.contains_key("AccreditationRevoked"));
}
