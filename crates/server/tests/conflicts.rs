//! A command that loses the optimistic race to another writer of the log is decided
//! again on fresh state, a bounded number of times, then answered with a conflict.
//! The other writer appends straight to the store, as another process would.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ecoute_domain::staff::{self, StaffCommand, StaffEnrolled, StaffEvent, TeamJoined};
use ecoute_domain::{
    encode, staff_stream, Context, Event, Role, StaffId, StaffMembers, StaffSnapshot, TeamId,
};
use ecoute_server::app::{Actor, Append};
use ecoute_server::{App, AppConfig, AppError, MasterKey};
use ecoute_store::{EventData, EventStore, ExpectedVersion, StreamId};
use uuid::Uuid;

fn admin() -> StaffSnapshot {
    StaffSnapshot::new(
        StaffId::from_uuid(Uuid::from_u128(1)),
        [Role::Administrator],
    )
}

/// Appends one staff event to the member's stream behind the server's back.
fn interfere(app: &App, member: StaffId, event: StaffEvent) {
    let enc = encode(&Event::Staff(event)).unwrap();
    let data = EventData::new(
        Uuid::new_v4(),
        enc.type_name,
        u32::from(enc.schema_version),
        enc.payload,
    );
    let stream = StreamId::new(staff_stream(member)).unwrap();
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(
                app.store()
                    .append_to_stream(stream, ExpectedVersion::Any, vec![data]),
            )
            .unwrap();
    });
}

async fn open(retries: usize) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AppConfig::new(dir.path(), MasterKey::generate().unwrap());
    config.retries = retries;
    let app = App::open(config).await.unwrap();
    (dir, app)
}

/// Enrol the member if absent, else grant them the auditor role.
fn decide(
    loaded: &ecoute_server::app::Loaded,
    now: chrono::DateTime<chrono::Utc>,
    member: StaffId,
) -> Result<Vec<Append>, AppError> {
    let (state, expected) = loaded.fold::<StaffMembers>(&member);
    let command = if state.snapshot().is_none() {
        StaffCommand::Enrol {
            staff_id: member,
            roles: BTreeSet::from([Role::Volunteer]),
            team: None,
        }
    } else {
        StaffCommand::GrantRole(Role::Auditor)
    };
    let events = staff::decide(&state, &command, &Context::new(now, admin()))?;
    Ok(vec![Append::new(staff_stream(member), expected, events)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_race_is_decided_again_on_fresh_state() {
    let (_dir, app) = open(5).await;
    let member = StaffId::from_uuid(Uuid::new_v4());
    let actor = Actor::new(admin(), "test".into(), Uuid::new_v4(), None, None);
    let attempts = AtomicUsize::new(0);
    let outcome = app
        .run(
            &actor,
            "test".into(),
            vec![staff_stream(member)],
            |loaded, now| {
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Someone else enrols the member first.
                    interfere(
                        &app,
                        member,
                        StaffEvent::StaffEnrolled(StaffEnrolled {
                            staff_id: member,
                            roles: BTreeSet::from([Role::Volunteer]),
                            team: None,
                            at: now,
                        }),
                    );
                }
                decide(loaded, now, member)
            },
        )
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        outcome.events,
        ["RoleGranted"],
        "decided on the state the winner left"
    );
    assert!(app
        .metrics()
        .render(0, [])
        .contains("ecoute_command_conflicts_total 1"));
    app.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_lost_every_time_is_a_conflict_and_appends_nothing() {
    let (_dir, app) = open(2).await;
    let app = Arc::new(app);
    let member = StaffId::from_uuid(Uuid::new_v4());
    let actor = Actor::new(admin(), "test".into(), Uuid::new_v4(), None, None);
    let attempts = AtomicUsize::new(0);
    let result = app
        .run(
            &actor,
            "test".into(),
            vec![staff_stream(member)],
            |loaded, now| {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                let event = if n == 0 {
                    StaffEvent::StaffEnrolled(StaffEnrolled {
                        staff_id: member,
                        roles: BTreeSet::from([Role::Volunteer]),
                        team: None,
                        at: now,
                    })
                } else {
                    StaffEvent::TeamJoined(TeamJoined {
                        team: TeamId::from_uuid(Uuid::from_u128(n as u128)),
                        at: now,
                    })
                };
                interfere(&app, member, event);
                decide(loaded, now, member)
            },
        )
        .await;
    assert!(matches!(result, Err(AppError::Conflict(_))), "{result:?}");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "the first try and two retries"
    );
    // Only the other writer's three events are in the log.
    let events = app
        .read_stream(&staff_stream(member))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.event_type != "RoleGranted"));
    app.close().await.unwrap();
}
