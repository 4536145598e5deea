//! Statistics over real HTTP: exact for the centres whose cases a member may read;
//! for the others, whole months that have ended, small counts hidden and the
//! others rounded to fives, so that no count of one or two points at a person,
//! even by subtracting answers (issue 21, item 15).

mod common;

use std::sync::Arc;

use common::*;
use ecoute_store::ManualClock;
use serde_json::{json, Value};

#[tokio::test]
async fn small_cells_are_suppressed_for_centres_whose_cases_one_may_not_read() {
    let clock = Arc::new(ManualClock::new("2026-11-10T09:00:00Z".parse().unwrap()));
    let c = clock.clone();
    let h = Harness::start_with(move |cfg| cfg.app.clock = c).await;
    let listener = h.enrol(&["PlatformListener"], &[]).await;
    let lyon = h.enrol(&["Volunteer"], &["69"]).await;
    let paris = h.enrol(&["Volunteer"], &["75"]).await;
    let dpo = h.enrol(&["DataProtectionOfficer"], &[]).await;
    // November: one case to Paris, four to Marseille, five to Bordeaux.
    for (centre, n) in [("75", 1), ("13", 4), ("33", 5)] {
        for _ in 0..n {
            transferred_case(&h, &listener, centre).await;
        }
    }
    clock.advance(chrono::Duration::days(22));
    let november = "from=2026-11-01&to=2026-11-30";
    let transferred = |a: &Answer| a.ok()["report"]["cases_transferred_to_centre"].clone();

    // Who may read the cases sees them exact: the platform's listener, for all
    // centres and any period; Paris's volunteer, for Paris.
    let all = h
        .get(&listener, &format!("/v1/statistics?{november}"))
        .await;
    assert_eq!(transferred(&all), json!({"75": 1, "13": 4, "33": 5}));
    assert_eq!(all.ok()["suppressed_below"], Value::Null);
    let own = h
        .get(
            &paris,
            "/v1/statistics?centre=75&from=2026-11-10&to=2026-11-10",
        )
        .await;
    assert_eq!(transferred(&own), json!({"75": 1}));

    // Anyone else: the one case at Paris is hidden, the other counts rounded to
    // fives (Marseille's 4 reads 5: ten calls minus Marseille minus Bordeaux gives
    // nothing exact), and no count per day.
    for member in [&lyon, &dpo] {
        let seen = h.get(member, &format!("/v1/statistics?{november}")).await;
        assert_eq!(seen.ok()["suppressed_below"], 3);
        assert_eq!(transferred(&seen), json!({"75": null, "13": 5, "33": 5}));
        assert_eq!(seen.ok()["report"]["calls_per_day"], json!({}));
        assert_eq!(
            seen.ok()["report"]["calls_by_door"],
            json!({"platform": 10})
        );
        // By default: the last month that has ended.
        let default = h.get(member, "/v1/statistics?centre=75").await;
        assert_eq!(default.ok()["from"], "2026-11-01");
        assert_eq!(default.ok()["to"], "2026-11-30");
        assert_eq!(transferred(&default), json!({"75": null}));
        // A day, a period not made of whole months, a month still running: refused.
        for period in [
            "from=2026-11-10&to=2026-11-10",
            "from=2026-11-02&to=2026-11-30",
            "from=2026-11-01&to=2026-11-29",
            "from=2026-12-01&to=2026-12-31",
        ] {
            h.get(member, &format!("/v1/statistics?centre=75&{period}"))
                .await
                .problem(400, "bad-input");
        }
    }
    h.stop().await;
}
