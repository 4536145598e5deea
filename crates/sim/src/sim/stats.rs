//! What the simulator counts of what it yields: its [`SimStats`] and refusals.

use std::collections::BTreeMap;

use ecoute_domain::call::{CallEvent, Door};
use ecoute_domain::case::CaseEvent;
use ecoute_domain::vocabulary::{PersonRole, Relation, Setting};
use ecoute_domain::{CentreId, Event};

use super::Sim;

/// What the simulator produced so far, counted from the events it yielded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Commits yielded.
    pub commits: u64,
    /// Events yielded.
    pub events: u64,
    /// Events yielded, per event type name.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Calls received (`CallReceived`).
    pub calls: u64,
    /// Calls answered by the national platform.
    pub platform_calls: u64,
    /// Calls that ended without joining a case (information, orientation).
    pub calls_without_case: u64,
    /// Calls linked to an existing case (`CallLinked`).
    pub calls_linked: u64,
    /// Callers who asked to stay anonymous (`AnonymityRequested`).
    pub anonymous_calls: u64,
    /// Callers who refused that their number be kept (`NumberRetentionRefused`).
    pub number_refused: u64,
    /// Facts recorded (`FactsRecorded`).
    pub facts: u64,
    /// Facts recorded with the setting "home".
    pub facts_at_home: u64,
    /// Implicated persons described.
    pub implicated: u64,
    /// Implicated persons who are family of the victim.
    pub implicated_family: u64,
    /// Cases opened (`CaseOpened`).
    pub cases: u64,
    /// Cases opened by the national platform.
    pub cases_opened_by_platform: u64,
    /// Accreditations revoked.
    pub revocations: u64,
    /// Commands the domain refused. The simulator only gives commands it expects to be
    /// accepted, so any refusal is a bug in the simulator; the command is skipped.
    pub refused: u64,
    /// The refusals, by command and error (no personal value in either).
    pub refused_reasons: BTreeMap<String, u64>,
    /// Case steps postponed because no referent could be assigned at that moment.
    pub stalled: u64,
    /// The most calls held in memory at once.
    pub peak_calls_in_memory: usize,
    /// The most cases held in memory at once.
    pub peak_cases_in_memory: usize,
}

pub(super) fn is_family(relation: Relation) -> bool {
    matches!(
        relation,
        Relation::Spouse
            | Relation::Child
            | Relation::Grandchild
            | Relation::Sibling
            | Relation::OtherFamily
    )
}

impl Sim {
    pub(super) fn refuse(&mut self, command: &str, error: &dyn std::fmt::Display) {
        self.stats.refused += 1;
        *self
            .stats
            .refused_reasons
            .entry(format!("{command}: {error}"))
            .or_insert(0) += 1;
    }

    pub(super) fn count(&mut self, events: &[Event]) {
        let s = &mut self.stats;
        s.commits += 1;
        for event in events {
            s.events += 1;
            *s.events_by_type.entry(event.type_name()).or_insert(0) += 1;
            match event {
                Event::Call(CallEvent::CallReceived(e)) => {
                    s.calls += 1;
                    if matches!(e.door, Door::Platform { .. }) {
                        s.platform_calls += 1;
                    }
                }
                Event::Call(CallEvent::AnonymityRequested(_)) => s.anonymous_calls += 1,
                Event::Call(CallEvent::NumberRetentionRefused(_)) => s.number_refused += 1,
                Event::Call(CallEvent::FactsRecorded(e)) => {
                    s.facts += 1;
                    if e.facts.setting == Setting::Home {
                        s.facts_at_home += 1;
                    }
                }
                Event::Call(CallEvent::PersonDescribed(e))
                    if e.person.role == PersonRole::Implicated =>
                {
                    s.implicated += 1;
                    if is_family(e.person.relation) {
                        s.implicated_family += 1;
                    }
                }
                Event::Case(CaseEvent::CaseOpened(e)) => {
                    s.cases += 1;
                    if e.opened_by == CentreId::NationalPlatform {
                        s.cases_opened_by_platform += 1;
                    }
                }
                Event::Case(CaseEvent::CallLinked(_)) => s.calls_linked += 1,
                _ => {}
            }
        }
        s.peak_calls_in_memory = s.peak_calls_in_memory.max(self.calls.len());
        s.peak_cases_in_memory = s.peak_cases_in_memory.max(self.cases.len());
    }
}
