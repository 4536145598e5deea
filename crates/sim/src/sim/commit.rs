//! Encoding what the domain decided into the commits the simulator yields: expected
//! versions, event data and metadata, stream ids.

use std::collections::BTreeMap;

use ecoute_domain::call::CallCommand;
use ecoute_domain::case::CaseCommand;
use ecoute_domain::staff::StaffCommand;
use ecoute_domain::{encode, Event, StaffId};
use ecoute_store::{EventData, ExpectedVersion, Metadata, StreamAppend, StreamId};
use uuid::Uuid;

use super::Sim;

pub(super) fn expected(version: Option<u64>) -> ExpectedVersion {
    match version {
        None => ExpectedVersion::NoStream,
        Some(v) => ExpectedVersion::Exact(v),
    }
}

pub(super) fn bump(version: Option<u64>, n: usize) -> Option<u64> {
    if n == 0 {
        return version;
    }
    let n = n as u64;
    Some(version.map_or(n - 1, |v| v + n))
}

pub(super) fn call_command_name(c: &CallCommand) -> &'static str {
    match c {
        CallCommand::Receive { .. } => "Receive",
        CallCommand::RequestAnonymity => "RequestAnonymity",
        CallCommand::RefuseNumberRetention => "RefuseNumberRetention",
        CallCommand::RecordCallbackNumber(_) => "RecordCallbackNumber",
        CallCommand::DescribePerson(_) => "DescribePerson",
        CallCommand::RecordFacts(_) => "RecordFacts",
        CallCommand::AddNote(_) => "AddNote",
        CallCommand::End => "End",
        CallCommand::AttachToCase { .. } => "AttachToCase",
        CallCommand::EraseByRetention => "EraseByRetention",
    }
}

pub(super) fn case_command_name(c: &CaseCommand) -> &'static str {
    match c {
        CaseCommand::Open { .. } => "Open",
        CaseCommand::LinkCall(_) => "LinkCall",
        CaseCommand::Transfer(_) => "Transfer",
        CaseCommand::Reassign(_) => "Reassign",
        CaseCommand::AssignReferent(_) => "AssignReferent",
        CaseCommand::RecordAnalysis(_) => "RecordAnalysis",
        CaseCommand::AttemptRecontact(_) => "AttemptRecontact",
        CaseCommand::AwaitCallBack => "AwaitCallBack",
        CaseCommand::ProposeSolution { .. } => "ProposeSolution",
        CaseCommand::RecordConsent { .. } => "RecordConsent",
        CaseCommand::TakeAction { .. } => "TakeAction",
        CaseCommand::Close(_) => "Close",
        CaseCommand::Reopen => "Reopen",
        CaseCommand::MissDeadline { .. } => "MissDeadline",
        CaseCommand::Keep(_) => "Keep",
        CaseCommand::Retention(_) => "Retention",
    }
}

pub(super) fn staff_command_name(c: &StaffCommand) -> &'static str {
    match c {
        StaffCommand::Enrol { .. } => "Enrol",
        StaffCommand::GrantRole(_) => "GrantRole",
        StaffCommand::RevokeRole(_) => "RevokeRole",
        StaffCommand::JoinTeam(_) => "JoinTeam",
        StaffCommand::GrantAccreditation(_) => "GrantAccreditation",
        StaffCommand::RevokeAccreditation(_) => "RevokeAccreditation",
        StaffCommand::IssueToken { .. } => "IssueToken",
        StaffCommand::RevokeToken(_) => "RevokeToken",
    }
}

impl Sim {
    pub(super) fn encode_all(
        &mut self,
        actor: StaffId,
        correlation: Uuid,
        events: &[Event],
    ) -> Option<Vec<EventData>> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let encoded = match encode(event) {
                Ok(e) => e,
                Err(e) => {
                    self.refuse("encode", &e);
                    return None;
                }
            };
            let data = EventData::new(
                self.rng.uuid(),
                encoded.type_name,
                u32::from(encoded.schema_version),
                encoded.payload,
            )
            .with_metadata(Metadata {
                correlation_id: Some(correlation),
                causation_id: None,
                actor: Some(actor.to_string()),
                extra: BTreeMap::new(),
            });
            out.push(data);
        }
        Some(out)
    }

    pub(super) fn stream_append(
        &mut self,
        stream: String,
        version: Option<u64>,
        events: Vec<EventData>,
    ) -> Option<StreamAppend> {
        match StreamId::new(stream) {
            Ok(stream) => Some(StreamAppend {
                stream,
                expected: expected(version),
                events,
            }),
            Err(e) => {
                self.refuse("stream id", &e);
                None
            }
        }
    }
}
