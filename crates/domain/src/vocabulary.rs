//! The helpline's plain, non-personal vocabulary: kinds of abuse, settings, age bands,
//! relations, outcomes. These values stay in clear so that statistics can use them.

use serde::{Deserialize, Serialize};

/// The kinds of abuse the helpline reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AbuseKind {
    /// Psychological abuse (maltraitance psychologique).
    Psychological,
    /// Physical abuse (maltraitance physique).
    Physical,
    /// Financial abuse (maltraitance financière).
    Financial,
    /// Sexual abuse (maltraitance sexuelle).
    Sexual,
    /// Medical abuse (maltraitance médicale ou médicamenteuse).
    Medical,
    /// Neglect, passive or active (négligence).
    Neglect,
    /// Deprivation or violation of rights (privation ou violation de droits).
    DeprivationOfRights,
}

/// Where the abuse happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Setting {
    /// At home (à domicile).
    Home,
    /// In an institution such as a care home (en établissement).
    Institution,
}

/// Since when the facts have been going on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Since {
    /// Less than a month.
    LessThanAMonth,
    /// Between one month and one year.
    MonthsToAYear,
    /// More than a year.
    MoreThanAYear,
    /// The caller does not know.
    Unknown,
}

/// How often the facts occur.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Frequency {
    /// It happened once.
    Once,
    /// From time to time.
    Occasional,
    /// Every week or so.
    Weekly,
    /// Every day.
    Daily,
    /// The caller does not know.
    Unknown,
}

/// How the facts evolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Evolution {
    /// Getting worse.
    Worsening,
    /// Neither better nor worse.
    Stable,
    /// Getting better.
    Improving,
    /// The caller does not know.
    Unknown,
}

/// Which part of the close circle (entourage proche) a person belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CloseCircle {
    /// Family (famille).
    Family,
    /// A friend (ami).
    Friend,
    /// A neighbour (voisin).
    Neighbour,
}

/// The part a person plays in the situation described by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PersonRole {
    /// The older person suffering the abuse (la victime).
    Victim,
    /// Someone of the victim's close circle (entourage proche).
    CloseCircle(CloseCircle),
    /// A professional who comes in daily (professionnel intervenant au quotidien).
    Professional,
    /// A person implicated in the abuse (personne mise en cause).
    Implicated,
}

/// How a person is related to the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Relation {
    /// The victim themself.
    Themself,
    /// Spouse or partner.
    Spouse,
    /// Son or daughter.
    Child,
    /// Grandchild.
    Grandchild,
    /// Brother or sister.
    Sibling,
    /// Another member of the family.
    OtherFamily,
    /// A friend.
    Friend,
    /// A neighbour.
    Neighbour,
    /// A professional caring for the victim.
    Professional,
    /// Another relation.
    Other,
    /// Not known.
    Unknown,
}

/// An age band, precise enough for statistics and no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AgeBand {
    /// Under 60.
    Under60,
    /// 60 to 69.
    From60To69,
    /// 70 to 79.
    From70To79,
    /// 80 to 89.
    From80To89,
    /// 90 and over.
    From90,
    /// Not known.
    Unknown,
}

/// What a proposed solution consists of (piste de solution).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SolutionKind {
    /// Contacting a professional (a doctor, a lawyer, a social worker…).
    ContactProfessional,
    /// Contacting a service (home help, social services…).
    ContactService,
    /// Contacting an institution (the prosecutor, the regional health agency…).
    ContactInstitution,
    /// Anything else, said in the description.
    Other,
}

/// What came of an attempt to call the caller back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecontactOutcome {
    /// The caller was reached.
    Reached,
    /// Nobody answered; another attempt may follow.
    NoAnswer,
    /// The number is wrong: the caller can no longer be called back.
    WrongNumber,
}

/// Why a case was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CloseReason {
    /// The abuse stopped or the situation is settled.
    Resolved,
    /// The caller does not wish to go further.
    CallerDeclined,
    /// The caller could not be reached and did not call again.
    NoFurtherContact,
    /// The situation is followed by a professional or an institution now.
    Redirected,
    /// Another reason.
    Other,
    /// No activity for the retention period, and nobody recorded a reason to keep
    /// it: closed by the system (the inactive-case retention rule), never by a person.
    Inactive,
}
