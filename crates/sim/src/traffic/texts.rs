//! The made-up French names and the words listeners and referents write, drawn by every
//! consumer of the traffic model. Nothing here names a real person.

use ecoute_domain::vocabulary::SolutionKind;

use crate::rng::Rng;

/// First names, for made-up people of any age.
pub const FIRST_NAMES: [&str; 24] = [
    "Jeanne",
    "Marie",
    "Monique",
    "Simone",
    "Denise",
    "Paulette",
    "Yvette",
    "Colette",
    "Odette",
    "Suzanne",
    "Germaine",
    "Madeleine",
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "René",
    "Marcel",
    "Louis",
    "Robert",
    "Roger",
    "Henri",
    "Lucien",
    "Georges",
];

/// Titles and first names of older people.
pub const OLD_FIRST_NAMES: [(&str, &str); 16] = [
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

/// Surnames, for made-up people.
pub const SURNAMES: [&str; 24] = [
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
];

/// Street names, for made-up addresses.
pub const STREETS: [&str; 10] = [
    "rue des Lilas",
    "avenue Jean Jaurès",
    "rue de la République",
    "chemin des Vignes",
    "place de l'Église",
    "rue Victor Hugo",
    "boulevard Pasteur",
    "impasse des Tilleuls",
    "rue du Moulin",
    "allée des Peupliers",
];

/// What the listener notes of the caller.
pub const CALLER_WORDS: [&str; 6] = [
    "parle doucement, a peur d'être entendu",
    "appelle depuis le téléphone d'une voisine",
    "n'en a encore parlé à personne",
    "très inquiet, souhaite être conseillé avant d'agir",
    "hésite, craint les conséquences pour la famille",
    "appelle sur le conseil de son médecin",
];

/// What the listener notes of the victim.
pub const VICTIM_WORDS: [&str; 6] = [
    "vit seule depuis le décès de son mari",
    "ne sort plus de chez elle",
    "perd un peu la mémoire",
    "en établissement depuis deux ans",
    "très attachée à son fils, refuse de porter plainte",
    "se déplace avec un déambulateur",
];

/// Listening notes about the caller.
pub const CALLER_NOTES: [&str; 6] = [
    "a pleuré pendant l'appel, veut réfléchir",
    "demande que personne ne vienne sans prévenir",
    "souhaite être rappelé plutôt le matin",
    "ne veut pas porter plainte",
    "veut des conseils avant de parler à la famille",
    "rassuré d'avoir pu en parler",
];

/// Listening notes about the victim.
pub const VICTIM_NOTES: [&str; 6] = [
    "la carte bancaire lui a été retirée",
    "l'infirmière a remarqué des bleus la semaine dernière",
    "les repas ne sont pas toujours donnés",
    "inquiète pour sa maison",
    "la situation dure depuis des mois",
    "n'a plus accès à son courrier",
];

/// Notes of a short call: information, or a caller calling again.
pub const SHORT_NOTES: [&str; 4] = [
    "demande des informations sur les mesures de protection juridique",
    "rappelle pour donner des nouvelles",
    "cherche les coordonnées d'une association locale",
    "veut savoir comment se passe un signalement",
];

/// A whole listening note of a first call (about 300 characters), for loads that send
/// one long note rather than several short ones.
pub const LONG_NOTE: &str = "Appelle pour sa mère, 84 ans, qui vit seule depuis le décès \
de son mari. Le fils aîné passe chaque semaine, garde la carte bancaire et crie quand elle \
demande où va l'argent; elle n'ose plus sortir et dit avoir peur de lui. L'appelante habite \
loin, se sent impuissante et demande ce qu'elle peut faire sans que sa mère le sache.";

/// A referent's analysis.
pub const ANALYSES: [&str; 8] = [
    "abus financier par un proche, isolement ; proposer le service social",
    "épuisement de l'aidant ; un accueil de jour soulagerait",
    "pression psychologique d'un enfant vivant au domicile",
    "négligence en établissement ; la famille s'inquiète",
    "procuration peut-être détournée ; conseil juridique nécessaire",
    "conflit familial autour de l'héritage",
    "violences physiques signalées par un voisin ; évaluer l'urgence",
    "solitude et peur ; l'appelant a besoin d'être soutenu pour agir",
];

/// (kind, proposal, first action once consented). The demo's six, each kind twice
/// (the sim weighted service 40, professional 30, institution 20, other 10).
pub const SOLUTIONS: [(SolutionKind, &str, &str); 6] = [
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

/// Actions after the first one on a consented solution.
pub const FOLLOW_UPS: [&str; 3] = [
    "point avec l'appelant une semaine après",
    "relance du service sans réponse",
    "rendez-vous obtenu, l'appelant s'y rend accompagné",
];

/// A name such as "Jean Dubois".
pub fn name(rng: &mut Rng) -> String {
    let first = rng.choose(&FIRST_NAMES);
    let last = rng.choose(&SURNAMES);
    format!("{first} {last}")
}

/// An older person's name, such as "Mme Jeanne Durand".
pub fn old_name(rng: &mut Rng) -> String {
    let (title, first) = *rng.choose(&OLD_FIRST_NAMES);
    let last = rng.choose(&SURNAMES);
    format!("{title} {first} {last}")
}

/// One of `items` (not empty), as a `String`.
pub fn any(rng: &mut Rng, items: &[&str]) -> String {
    rng.choose(items).to_string()
}
