//! The demo's proportions and made-up French words.

use ecoute_domain::vocabulary::{
    AbuseKind, AgeBand, CloseCircle, PersonRole, Relation, SolutionKind,
};

pub(super) const ABUSE_KINDS: [(AbuseKind, f64); 7] = [
    (AbuseKind::Psychological, 0.40),
    (AbuseKind::Financial, 0.22),
    (AbuseKind::Physical, 0.14),
    (AbuseKind::Neglect, 0.12),
    (AbuseKind::DeprivationOfRights, 0.06),
    (AbuseKind::Medical, 0.03),
    (AbuseKind::Sexual, 0.03),
];

pub(super) const VICTIM_AGES: [(AgeBand, f64); 5] = [
    (AgeBand::From60To69, 0.1),
    (AgeBand::From70To79, 0.25),
    (AgeBand::From80To89, 0.4),
    (AgeBand::From90, 0.2),
    (AgeBand::Unknown, 0.05),
];

/// Who calls: (role, relation to the victim, age band), weighted.
pub(super) const CALLERS: [((PersonRole, Relation, AgeBand), f64); 7] = [
    (
        (PersonRole::Victim, Relation::Themself, AgeBand::Unknown),
        0.26,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Child,
            AgeBand::Under60,
        ),
        0.3,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Grandchild,
            AgeBand::Under60,
        ),
        0.06,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Family),
            Relation::Sibling,
            AgeBand::From70To79,
        ),
        0.05,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Neighbour),
            Relation::Neighbour,
            AgeBand::From60To69,
        ),
        0.12,
    ),
    (
        (
            PersonRole::CloseCircle(CloseCircle::Friend),
            Relation::Friend,
            AgeBand::From70To79,
        ),
        0.06,
    ),
    (
        (
            PersonRole::Professional,
            Relation::Professional,
            AgeBand::Under60,
        ),
        0.15,
    ),
];

/// An implicated person: (relation, age band, lives with the victim, words).
pub(super) type Implicated = (Relation, AgeBand, Option<bool>, &'static str);

/// The implicated person at home.
pub(super) const IMPLICATED_AT_HOME: [(Implicated, f64); 7] = [
    (
        (
            Relation::Child,
            AgeBand::Under60,
            Some(true),
            "le fils, revenu vivre chez sa mère depuis son licenciement",
        ),
        0.25,
    ),
    (
        (
            Relation::Child,
            AgeBand::From60To69,
            Some(false),
            "la fille, qui gère les comptes et ne laisse rien voir",
        ),
        0.2,
    ),
    (
        (
            Relation::Spouse,
            AgeBand::From80To89,
            Some(true),
            "le conjoint, épuisé, qui crie et bouscule",
        ),
        0.14,
    ),
    (
        (
            Relation::Grandchild,
            AgeBand::Under60,
            Some(false),
            "un petit-fils qui passe réclamer de l'argent",
        ),
        0.1,
    ),
    (
        (
            Relation::OtherFamily,
            AgeBand::Under60,
            Some(false),
            "une nièce qui a obtenu une procuration",
        ),
        0.08,
    ),
    (
        (
            Relation::Professional,
            AgeBand::Under60,
            Some(false),
            "l'aide à domicile, pressée, qui laisse la personne au lit",
        ),
        0.13,
    ),
    (
        (
            Relation::Neighbour,
            AgeBand::From60To69,
            Some(false),
            "un voisin qui fait les courses et garde la monnaie",
        ),
        0.1,
    ),
];

/// The implicated person in an institution.
pub(super) const IMPLICATED_IN_INSTITUTION: [Implicated; 3] = [
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "un soignant de l'équipe de nuit, parle durement",
    ),
    (
        Relation::Professional,
        AgeBand::Under60,
        Some(false),
        "la direction de l'établissement, qui ne répond pas aux courriers",
    ),
    (
        Relation::Child,
        AgeBand::From60To69,
        Some(false),
        "le fils, qui a fait vendre la maison sans l'accord de sa mère",
    ),
];

pub(super) const OTHERS: [(PersonRole, Relation, &str); 4] = [
    (
        PersonRole::Professional,
        Relation::Professional,
        "l'infirmière libérale qui passe chaque matin",
    ),
    (
        PersonRole::Professional,
        Relation::Professional,
        "le médecin traitant, pas encore informé",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Family),
        Relation::Child,
        "une autre fille, qui vit loin et s'inquiète",
    ),
    (
        PersonRole::CloseCircle(CloseCircle::Neighbour),
        Relation::Neighbour,
        "la voisine de palier, qui entend des cris",
    ),
];

pub(super) const OLD_FIRST_NAMES: [(&str, &str); 16] = [
    ("Mme", "Jeanne"),
    ("Mme", "Monique"),
    ("Mme", "Simone"),
    ("Mme", "Denise"),
    ("Mme", "Paulette"),
    ("Mme", "Yvette"),
    ("Mme", "Colette"),
    ("Mme", "Odette"),
    ("Mme", "Germaine"),
    ("Mme", "Madeleine"),
    ("M.", "Marcel"),
    ("M.", "René"),
    ("M.", "Lucien"),
    ("M.", "Roger"),
    ("M.", "André"),
    ("M.", "Georges"),
];

pub(super) const CALLER_WORDS: [&str; 6] = [
    "parle doucement, a peur d'être entendu",
    "appelle depuis le téléphone d'une voisine",
    "n'en a encore parlé à personne",
    "très inquiet, souhaite être conseillé avant d'agir",
    "hésite, craint les conséquences pour la famille",
    "appelle sur le conseil de son médecin",
];

pub(super) const VICTIM_WORDS: [&str; 6] = [
    "vit seule depuis le décès de son mari",
    "ne sort plus de chez elle",
    "perd un peu la mémoire",
    "en établissement depuis deux ans",
    "très attachée à son fils, refuse de porter plainte",
    "se déplace avec un déambulateur",
];

pub(super) const CALLER_NOTES: [&str; 6] = [
    "a pleuré pendant l'appel, veut réfléchir",
    "demande que personne ne vienne sans prévenir",
    "souhaite être rappelé plutôt le matin",
    "ne veut pas porter plainte",
    "veut des conseils avant de parler à la famille",
    "rassuré d'avoir pu en parler",
];

pub(super) const VICTIM_NOTES: [&str; 6] = [
    "la carte bancaire lui a été retirée",
    "l'infirmière a remarqué des bleus la semaine dernière",
    "les repas ne sont pas toujours donnés",
    "inquiète pour sa maison",
    "la situation dure depuis des mois",
    "n'a plus accès à son courrier",
];

pub(super) const SHORT_NOTES: [&str; 4] = [
    "demande des informations sur les mesures de protection juridique",
    "rappelle pour donner des nouvelles",
    "cherche les coordonnées d'une association locale",
    "veut savoir comment se passe un signalement",
];

pub(super) const ANALYSES: [&str; 6] = [
    "abus financier par un proche, isolement ; proposer le service social",
    "épuisement de l'aidant ; un accueil de jour soulagerait",
    "pression psychologique d'un enfant vivant au domicile",
    "négligence en établissement ; la famille s'inquiète",
    "procuration peut-être détournée ; conseil juridique nécessaire",
    "solitude et peur ; l'appelant a besoin d'être soutenu pour agir",
];

/// (kind, proposal, first action once consented).
pub(super) const SOLUTIONS: [(SolutionKind, &str, &str); 6] = [
    (
        SolutionKind::ContactService,
        "contacter le service social de la mairie",
        "courrier au service social avec l'accord de l'appelant",
    ),
    (
        SolutionKind::ContactProfessional,
        "en parler au médecin traitant",
        "appel au médecin traitant avec l'appelant",
    ),
    (
        SolutionKind::ContactProfessional,
        "consulter un avocat au sujet de la procuration",
        "liste des permanences d'avocats envoyée à l'appelant",
    ),
    (
        SolutionKind::ContactInstitution,
        "alerter l'agence régionale de santé sur l'établissement",
        "signalement transmis à l'agence régionale de santé",
    ),
    (
        SolutionKind::ContactService,
        "demander une aide à domicile au département",
        "aide au dossier de demande d'aide à domicile",
    ),
    (
        SolutionKind::ContactInstitution,
        "écrire au procureur de la République",
        "courrier au procureur rédigé avec l'appelant",
    ),
];

pub(super) const FOLLOW_UPS: [&str; 3] = [
    "point avec l'appelant une semaine après",
    "relance du service sans réponse",
    "rendez-vous obtenu, l'appelant s'y rend accompagné",
];
