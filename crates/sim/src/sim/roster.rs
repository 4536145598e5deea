//! Staff in the simulation: the set-up, snapshots for the domain's context, staff
//! commands, and revocations with their replacements.

use std::collections::BTreeSet;

use chrono::Duration;
use ecoute_domain::staff::{self, StaffCommand};
use ecoute_domain::{
    staff_stream, Context, DomainError, Event, Role, StaffId, StaffSnapshot, TeamId,
};
use ecoute_store::Commit;

use super::commit::{bump, staff_command_name};
use super::types::*;
use super::Sim;
use super::{DAY, HOUR};

impl Sim {
    pub(super) fn plan_setup(&mut self) {
        let mut steps: Vec<PlannedStaffCommand> = Vec::new();
        let teams = self
            .cfg
            .platform_listeners
            .div_ceil(self.cfg.listeners_per_team);
        let team_ids: Vec<TeamId> = (0..teams)
            .map(|_| TeamId::from_uuid(self.rng.uuid()))
            .collect();
        for i in 0..self.cfg.platform_listeners {
            let id = StaffId::from_uuid(self.rng.uuid());
            let team = team_ids.get(i / self.cfg.listeners_per_team).copied();
            steps.push((
                id,
                StaffCommand::Enrol {
                    staff_id: id,
                    roles: BTreeSet::from([Role::PlatformListener]),
                    team,
                },
                None,
            ));
            self.listeners.push(id);
        }
        for role in [Role::Auditor, Role::DataProtectionOfficer] {
            let id = StaffId::from_uuid(self.rng.uuid());
            steps.push((
                id,
                StaffCommand::Enrol {
                    staff_id: id,
                    roles: BTreeSet::from([role]),
                    team: None,
                },
                None,
            ));
        }
        for centre in 0..self.centres.len() {
            let code = self.centres[centre].code;
            let kinds = (0..self.cfg.volunteers_per_centre)
                .map(|_| Kind::Volunteer)
                .chain((0..self.cfg.referents_per_centre).map(|i| {
                    if i == 0 {
                        Kind::Both
                    } else {
                        Kind::Referent
                    }
                }));
            for kind in kinds.collect::<Vec<_>>() {
                let id = StaffId::from_uuid(self.rng.uuid());
                steps.push((
                    id,
                    StaffCommand::Enrol {
                        staff_id: id,
                        roles: kind.roles(),
                        team: None,
                    },
                    None,
                ));
                steps.push((
                    id,
                    StaffCommand::GrantAccreditation(code),
                    Some((centre, kind)),
                ));
            }
        }
        // Spread the set-up over the night before the first calls (09:00).
        let spacing_ms = (8 * HOUR * 1000 / (steps.len() as i64 + 1)).clamp(1, 250);
        for (i, (staff, command, accredits)) in steps.into_iter().enumerate() {
            self.setup.push_back(SetupStep {
                at: self.cfg.start + Duration::milliseconds(i as i64 * spacing_ms),
                staff,
                command,
                accredits,
            });
        }
    }
    pub(super) fn snapshot(&self, id: StaffId) -> Option<StaffSnapshot> {
        if id == self.admin.id {
            return Some(self.admin.clone());
        }
        self.staff.get(&id)?.state.snapshot().cloned()
    }

    pub(super) fn context(
        &self,
        actor: StaffId,
        others: &[StaffId],
    ) -> Result<Context, DomainError> {
        let snapshot = self
            .snapshot(actor)
            .ok_or(DomainError::MissingStaffContext(actor))?;
        let mut ctx = Context::new(self.now, snapshot);
        for id in others {
            if *id != actor {
                let s = self
                    .snapshot(*id)
                    .ok_or(DomainError::MissingStaffContext(*id))?;
                ctx = ctx.with_staff(s);
            }
        }
        Ok(ctx)
    }

    pub(super) fn add_to_centre(&mut self, staff: StaffId, centre: usize, kind: Kind) {
        if let Some(c) = self.centres.get_mut(centre) {
            if matches!(kind, Kind::Volunteer | Kind::Both) {
                c.volunteers.push(staff);
            }
            if matches!(kind, Kind::Referent | Kind::Both) {
                c.referents.push(staff);
            }
        }
    }

    pub(super) fn staff_command(&mut self, id: StaffId, command: StaffCommand) -> Option<Commit> {
        let ctx = Context::new(self.now, self.admin.clone());
        let member = self.staff.entry(id).or_default();
        let version = member.version;
        let events = match staff::decide(&member.state, &command, &ctx) {
            Ok(events) => events,
            Err(e) => {
                self.refuse(staff_command_name(&command), &e);
                return None;
            }
        };
        let all: Vec<Event> = events.iter().cloned().map(Event::from).collect();
        let data = self.encode_all(self.admin.id, *id.as_uuid(), &all)?;
        let commit = Commit {
            appends: vec![self.stream_append(staff_stream(id), version, data)?],
        };
        let member = self.staff.entry(id).or_default();
        member.state = events
            .iter()
            .fold(std::mem::take(&mut member.state), staff::evolve);
        member.version = bump(version, events.len());
        if matches!(command, StaffCommand::Enrol { .. }) {
            self.staff_ids.push(id);
        }
        self.count(&all);
        Some(commit)
    }

    pub(super) fn revoke(&mut self) -> Option<Commit> {
        for _ in 0..8 {
            let ci = self.rng.below(self.centres.len());
            let centre = &self.centres[ci];
            let volunteers_spare = centre.volunteers.len() > 3;
            let referents_spare = centre.referents.len() > 2;
            let mut candidates: Vec<StaffId> = Vec::new();
            for id in centre.volunteers.iter().chain(centre.referents.iter()) {
                let v = centre.volunteers.contains(id);
                let r = centre.referents.contains(id);
                if (!v || volunteers_spare)
                    && (!r || referents_spare)
                    && self.active.get(id).copied().unwrap_or(0) == 0
                    && !candidates.contains(id)
                {
                    candidates.push(*id);
                }
            }
            let Some(staff) = self.rng.pick(&candidates) else {
                continue;
            };
            let code = centre.code;
            let kind = match (
                centre.volunteers.contains(&staff),
                centre.referents.contains(&staff),
            ) {
                (true, true) => Kind::Both,
                (false, true) => Kind::Referent,
                _ => Kind::Volunteer,
            };
            let commit = self.staff_command(staff, StaffCommand::RevokeAccreditation(code))?;
            let centre = &mut self.centres[ci];
            centre.volunteers.retain(|s| *s != staff);
            centre.referents.retain(|s| *s != staff);
            self.stats.revocations += 1;
            let at = self.after(2 * DAY, 20 * DAY);
            self.schedule(at, Action::Enrol { centre: ci, kind });
            return Some(commit);
        }
        None
    }
}
