//! Why a command is refused. Messages are lowercase, state the rule, and never hold a
//! personal value.

use crate::centre::{CentreId, DepartementCode};
use crate::ids::{CallId, CaseId, SolutionId, StaffId, SubjectId, TokenId};
use crate::staff::Role;
use thiserror::Error;

/// Every reason the domain refuses a command or a value. A refused command produces no
/// event.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DomainError {
    // Values.
    /// A centre code that names no centre.
    #[error("{code:?} is not a centre: a centre is a département code 01–95 (not 20), 2A, 2B, 971–974 or 976, or \"national\"")]
    InvalidCentre {
        /// The code given, cut to eight characters.
        code: String,
    },
    /// A volunteer pair of one person.
    #[error("a volunteer pair is two distinct volunteers, not the same one twice")]
    SameVolunteerTwice,
    /// A free text with nothing in it.
    #[error("the {field} is empty")]
    EmptyText {
        /// The field.
        field: &'static str,
    },
    /// A free text too long to record.
    #[error("the {field} is longer than {max} characters")]
    TextTooLong {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// A phone number that is not one.
    #[error("a callback number has 3 to 20 digits, with spaces, dots or dashes and an optional leading +")]
    InvalidPhoneNumber,
    /// A personal value marked with another subject than the one it belongs to.
    #[error("the personal value in {field} is marked with the wrong subject")]
    SubjectMismatch {
        /// The field.
        field: &'static str,
    },
    /// A personal value about a subject that is not a person of this call or case.
    #[error("subject {0} is not a person of this call or case")]
    UnknownSubject(SubjectId),

    // Context.
    /// The caller did not supply a staff snapshot the command needs.
    #[error("the context holds no snapshot of staff member {0}; the caller must supply it")]
    MissingStaffContext(StaffId),
    /// The caller did not supply a call summary the command needs.
    #[error("the context holds no summary of call {0}; the caller must supply it")]
    MissingCallContext(CallId),

    // Staff.
    /// Staff commands are an administrator's.
    #[error("only an administrator manages staff, roles and accreditations")]
    NotAnAdministrator,
    /// Removing the role or the last token of the last administrator who can act:
    /// nobody could manage staff any more.
    #[error("this is the last administrator who can act: enrol another one first (or recover locally, see docs/operations.md)")]
    LastAdministrator,
    /// An administrator granting themself a role or an accreditation.
    #[error("a role or an accreditation is granted by another administrator, not to oneself")]
    GrantToSelf,
    /// Enrolling a member twice.
    #[error("this member of staff is already enrolled")]
    StaffAlreadyEnrolled,
    /// A command on a member never enrolled.
    #[error("this member of staff was never enrolled")]
    StaffNotEnrolled,
    /// Enrolling a member with no role.
    #[error("a member of staff holds at least one role")]
    NoRole,
    /// A platform listener without a team.
    #[error("a platform listener works within a team: join a team first")]
    ListenerWithoutTeam,
    /// Joining the team one is in.
    #[error("this member is already in that team")]
    AlreadyInTeam,
    /// Granting a role held.
    #[error("the role {0:?} is already held")]
    RoleAlreadyHeld(Role),
    /// Revoking a role not held.
    #[error("the role {0:?} is not held")]
    RoleNotHeld(Role),
    /// Accrediting someone who is neither volunteer nor referent.
    #[error("only volunteers and referents are accredited at a centre")]
    AccreditationNeedsVolunteer,
    /// Accrediting twice at a centre.
    #[error("already accredited at centre {0}")]
    AlreadyAccredited(DepartementCode),
    /// Revoking an accreditation not held.
    #[error("not accredited at centre {0}")]
    NotAccredited(DepartementCode),
    /// A command carried a personal value already sealed or erased: commands carry
    /// values in clear, and the store seals them.
    #[error("{field} must be given in clear")]
    NotInClear {
        /// The field.
        field: &'static str,
    },
    /// The deadline named is not armed (it was kept, re-armed, or never set).
    #[error("that deadline is not armed: the case has moved on")]
    DeadlineNotArmed,
    /// The deadline is not due yet.
    #[error("that deadline is not due yet")]
    DeadlineNotDue,
    /// The deadline was already recorded as missed.
    #[error("that deadline was already missed")]
    DeadlineAlreadyMissed,
    /// Only the data-protection officer answers a subject's rights.
    #[error("only the data-protection officer handles data-access and erasure")]
    NotTheDataProtectionOfficer,
    /// Erasing a subject twice.
    #[error("subject {0} was already erased")]
    SubjectAlreadyErased(SubjectId),
    /// Issuing a token id twice.
    #[error("token {0} was already issued")]
    TokenAlreadyIssued(TokenId),
    /// Revoking a token that is not in force.
    #[error("token {0} is not in force for this member")]
    UnknownToken(TokenId),

    // Calls.
    /// Receiving a call twice.
    #[error("this call was already received")]
    CallAlreadyReceived,
    /// A command on a call never received.
    #[error("this call was never received")]
    CallNotReceived,
    /// A platform call answered by someone who is not a platform listener.
    #[error("a platform call is answered by a platform listener, and {0} is not one")]
    NotAPlatformListener(StaffId),
    /// A centre call answered by someone who is not a volunteer.
    #[error("a centre call is answered by two volunteers, and {0} is not a volunteer")]
    NotAVolunteer(StaffId),
    /// Someone acting for a centre where they are not accredited now.
    #[error("{staff} is not accredited at centre {centre} now, and so cannot act for it")]
    NotAccreditedAtCentre {
        /// Who.
        staff: StaffId,
        /// The centre.
        centre: CentreId,
    },
    /// The partner named for a centre call cannot answer calls at that centre (not
    /// said why: another member's roles are not the actor's to learn).
    #[error("the partner named cannot answer calls at this centre with you")]
    PartnerCannotAnswer,
    /// Someone recording a call they did not take, or no longer may act for.
    #[error("only who answered a call, and may still act for its centre, records it")]
    ActorNotAnswerer,
    /// Asking for anonymity twice.
    #[error("the caller already asked to stay anonymous")]
    AlreadyAnonymous,
    /// Refusing number retention twice.
    #[error("the caller already refused that the number be kept")]
    NumberRetentionAlreadyRefused,
    /// Recording a number after the caller refused that it be kept.
    #[error(
        "the caller refused that the number be kept: no callback number is recorded for this call"
    )]
    NumberRetentionRefused,
    /// Recording a name or address of a caller who asked to stay anonymous.
    #[error("the caller asked to stay anonymous: no name or address is recorded for the caller")]
    AnonymousCaller,
    /// Facts without any kind of abuse.
    #[error("facts name at least one kind of abuse")]
    NoAbuseKind,
    /// Ending a call twice.
    #[error("this call has already ended")]
    CallAlreadyEnded,
    /// Ending a call at a time before it was received.
    #[error("a call cannot end before it was received")]
    EndedBeforeReceived,
    /// Joining a call to a case before it ended.
    #[error("a call joins a case once it has ended")]
    CallNotEnded,
    /// A call already part of a case, which is sealed.
    #[error("this call is already attached to case {0}; what follows is recorded on the case")]
    CallAlreadyAttached(CaseId),

    // Cases.
    /// Opening a case twice.
    #[error("this case is already open")]
    CaseAlreadyOpened,
    /// A command on a case never opened.
    #[error("this case was never opened")]
    CaseNotOpened,
    /// A command other than reopening on a closed case.
    #[error("the case is closed: it accepts nothing but reopening or a new call")]
    CaseIsClosed,
    /// Reopening a case that is not closed.
    #[error("only a closed case is reopened")]
    CaseNotClosed,
    /// Someone acting on a case of a centre they may not act for.
    #[error("{staff} may not act on a case held by centre {centre}: only the platform's listeners and the volunteers accredited at that centre may")]
    NotAllowedOnCase {
        /// Who.
        staff: StaffId,
        /// The centre holding the case.
        centre: CentreId,
    },
    /// The member named as referent cannot follow cases at the case's centre now
    /// (not said why: another member's roles are not the actor's to learn).
    #[error("the member named cannot follow cases at this centre")]
    CannotFollowCasesHere,
    /// Transferring a case that a centre opened.
    #[error("only a case opened by the national platform is transferred")]
    NotOpenedByPlatform,
    /// Transferring a case twice.
    #[error("the case was already transferred to centre {0}; only the platform reassigns it")]
    AlreadyTransferred(DepartementCode),
    /// Reassigning a case never transferred.
    #[error("the case was never transferred: transfer it before reassigning it")]
    NotTransferred,
    /// Reassigning a case to the centre that holds it.
    #[error("the case is already held by centre {0}")]
    SameCentre(DepartementCode),
    /// Naming a referent for a case still at the national platform.
    #[error("the case is still at the national platform: transfer it to a centre before naming a referent")]
    CaseNotAtACentre,
    /// Naming a referent who is not one.
    #[error("{0} is not a referent")]
    NotAReferent(StaffId),
    /// Naming a referent who took a call of the case.
    #[error("{0} took a call of this case: a referent looks at it with a fresh eye")]
    ReferentTookACall(StaffId),
    /// Naming the referent already named.
    #[error("{0} is already the referent of this case")]
    AlreadyReferent(StaffId),
    /// A referent's command on a case with no referent.
    #[error("the case has no referent yet")]
    NoReferent,
    /// A referent's command given by someone else.
    #[error("{0} is not the referent of this case; only the referent follows it")]
    NotTheReferent(StaffId),
    /// Calling back a caller who left no usable number.
    #[error("no number is kept to call the caller back: the case awaits the caller's call-back")]
    NoNumberToCall,
    /// Marking twice that the case waits for the caller.
    #[error("the case already awaits the caller's call-back")]
    AlreadyAwaitingCallBack,
    /// Proposing a solution with an id already used.
    #[error("solution {0} was already proposed")]
    SolutionExists(SolutionId),
    /// A command about a solution never proposed.
    #[error("solution {0} was never proposed in this case")]
    UnknownSolution(SolutionId),
    /// Recording a consent that stands already.
    #[error("the caller's consent to solution {0} was already given")]
    ConsentAlreadyGiven(SolutionId),
    /// Recording a refusal that stands already.
    #[error("the caller already refused solution {0}")]
    ConsentAlreadyRefused(SolutionId),
    /// Recording a refusal over a standing consent.
    #[error("the caller consented to solution {0}: record a withdrawal, not a refusal")]
    ConsentStands(SolutionId),
    /// Withdrawing a consent never given.
    #[error("no consent to solution {0} stands, so none can be withdrawn")]
    NoConsentToWithdraw(SolutionId),
    /// Acting on a solution without the caller's consent.
    #[error(
        "nothing is done without the caller's prior consent, and none stands for solution {0}"
    )]
    NoConsent(SolutionId),
    /// Linking a call twice.
    #[error("call {0} is already part of this case")]
    CallAlreadyLinked(CallId),
    // Retention.
    /// A retention step whose rule is off or not due (yet, or any more).
    #[error("no retention rule is due for this now: the period has not run, the rule is off, or the step was taken")]
    RetentionNotDue,
    /// Keeping a case that is not flagged for inactivity.
    #[error("the case is not flagged for inactivity: there is nothing to keep it from")]
    NotFlaggedInactive,
    /// Closing a case as inactive by hand.
    #[error("only the inactive-case retention rule closes a case as inactive")]
    ClosedAsInactiveOnlyByRetention,
    /// A command on a call whose persons the retention rule erased.
    #[error("the persons of this call were erased by the retention rule: it accepts nothing more")]
    CallErasedByRetention,
    /// A retention decision that names a subject whose stream was not read.
    #[error("the state of subject {0} was not supplied")]
    MissingSubjectContext(SubjectId),
}
