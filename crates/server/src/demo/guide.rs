//! The guide `ecoute demo` prints: what was loaded, a token per role, a few `curl`
//! commands to try.

use std::fmt::Write as _;

use ecoute_domain::Role;

use super::{DemoMember, DemoSummary};

impl DemoSummary {
    fn first_with(&self, role: Role, centre: Option<&str>) -> Option<&DemoMember> {
        self.staff.iter().find(|m| {
            m.roles.contains(&role) && centre.is_none_or(|c| m.centres.iter().any(|x| x == c))
        })
    }

    /// A short guide: the base URL, a token per role and a few `curl` commands.
    pub fn guide(&self) -> String {
        let base = &self.base_url;
        let centre = &self.sample_centre;
        let referent = self
            .sample_referent
            .and_then(|id| self.staff.iter().find(|m| m.staff_id == id))
            .or_else(|| self.first_with(Role::Referent, Some(centre)));
        let volunteer = self
            .staff
            .iter()
            .find(|m| m.roles == [Role::Volunteer] && m.centres.iter().any(|c| c == centre));
        let mut g = String::new();
        let c = &self.counts;
        let _ = writeln!(g);
        let _ = writeln!(g, "ecoute demo — {base}");
        let _ = writeln!(
            g,
            "loaded {} calls ({} at the national platform, {} at centres; {} without a case, \
             {} from callers calling again) and {} cases ({} opened by the platform, {} by \
             centres) in {:.1} s, {} requests",
            c.calls,
            c.platform_calls,
            c.centre_calls,
            c.calls_without_case,
            c.calls_linked,
            c.cases,
            c.cases - c.cases_opened_by_centres,
            c.cases_opened_by_centres,
            self.elapsed.as_secs_f64(),
            self.requests
        );
        let _ = writeln!(
            g,
            "{} referents assigned, {} call-back attempts, {} solutions ({} consented, {} \
             refused, {} withdrawn), {} actions, {} cases closed, {} reopened by a new call, \
             {} awaiting transfer at the platform",
            c.referents_assigned,
            c.recontacts,
            c.solutions,
            c.consents_given,
            c.consents_refused,
            c.consents_withdrawn,
            c.actions,
            c.closed,
            c.reopened,
            c.awaiting_transfer
        );
        let _ = writeln!(g);
        let _ = writeln!(
            g,
            "bearer tokens, shown this once (the data directory keeps only their digests):"
        );
        let mut line = |var: &str, who: String, m: Option<&DemoMember>, token: Option<&str>| {
            if let Some(token) = token.or(m.map(|m| m.token.as_str())) {
                let id = m.map(|m| format!("  (staff id {})", m.staff_id));
                let _ = writeln!(
                    g,
                    "  # {who}{}\n  export {var}={token}",
                    id.unwrap_or_default()
                );
            }
        };
        line(
            "ECOUTE_ADMIN",
            "administrator".into(),
            None,
            Some(&self.admin_token),
        );
        line(
            "ECOUTE_LISTENER",
            "platform listener".into(),
            self.first_with(Role::PlatformListener, None),
            None,
        );
        line(
            "ECOUTE_VOLUNTEER",
            format!("volunteer, centre {centre}"),
            volunteer,
            None,
        );
        line(
            "ECOUTE_REFERENT",
            format!("referent, centre {centre}"),
            referent,
            None,
        );
        line(
            "ECOUTE_AUDITOR",
            "auditor".into(),
            self.first_with(Role::Auditor, None),
            None,
        );
        line(
            "ECOUTE_DPO",
            "data-protection officer".into(),
            self.first_with(Role::DataProtectionOfficer, None),
            None,
        );
        let _ = writeln!(g, "  # the referent's centre\n  export CENTRE={centre}");
        if let Some(r) = referent {
            let _ = writeln!(
                g,
                "  # the referent's staff id\n  export REFERENT_ID={}",
                r.staff_id
            );
        }
        if let Some(case) = self.sample_case {
            let _ = writeln!(
                g,
                "  # a case of the referent's centre\n  export CASE={case}"
            );
        }
        let _ = writeln!(g);
        let _ = writeln!(g, "try:");
        let _ = writeln!(
            g,
            "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/centres/{centre}/queue"
        );
        if let Some(r) = referent {
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/staff/{}/caseload",
                r.staff_id
            );
        }
        if let Some(case) = self.sample_case {
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_AUDITOR\" -H \"X-Purpose: audit\" \
                 {base}/v1/cases/{case}/history"
            );
            let _ = writeln!(
                g,
                "  curl -s -H \"Authorization: Bearer $ECOUTE_REFERENT\" {base}/v1/cases/{case}/timeline"
            );
        }
        let _ = writeln!(
            g,
            "  curl -s -H \"Authorization: Bearer $ECOUTE_AUDITOR\" {base}/v1/statistics"
        );
        let _ = writeln!(g, "  curl -s {base}/v1/openapi.json   # every route");
        g
    }
}
