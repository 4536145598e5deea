//! A lending library on ecoute's engine: no helpline type, the same store, command
//! runner and projection runtime.
//!
//! Each book lives in a stream `book-<id>`; a pure decider lends and takes back;
//! a projection counts the books each member holds. Run it with
//! `cargo run -p ecoute-engine --example library`; `tests/library.rs` runs it in CI.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecoute_engine::{
    BoxError, Codec, Decider, Encoded, EngineError, Envelope, Ids, NoHooks, Request, Runner,
    RunnerConfig,
};
use ecoute_projections::{text_key, ModelDb, ModelTx, Projection, Runtime, RuntimeConfig};
use ecoute_store::{EventStore, RecordedEvent, SledStore, StoreConfig, SystemClock};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happens to a book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BookEvent {
    /// The library bought it.
    Acquired { title: String, at: DateTime<Utc> },
    /// A member borrowed it.
    Lent { member: String, at: DateTime<Utc> },
    /// It came back.
    Returned { member: String, at: DateTime<Utc> },
}

/// What may be asked of a book.
#[derive(Debug, Clone)]
pub enum BookCommand {
    Acquire(String),
    Lend(String),
    Return,
}

/// Where a book stands.
#[derive(Debug, Default)]
pub struct BookState {
    title: Option<String>,
    borrower: Option<String>,
}

/// Why a command is refused.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("the library already has this book")]
    AlreadyAcquired,
    #[error("no such book")]
    NoSuchBook,
    #[error("the book is lent to someone else")]
    AlreadyLent,
    #[error("the book is not lent")]
    NotLent,
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Never(#[from] ecoute_engine::Never),
}

/// The book decider.
pub struct Book;

impl Decider for Book {
    type Id = Uuid;
    type State = BookState;
    type Event = BookEvent;
    type Command = BookCommand;
    type Context = DateTime<Utc>;
    type Error = LibraryError;

    fn stream(id: &Uuid) -> String {
        format!("book-{id}")
    }

    fn evolve(mut state: BookState, event: &BookEvent) -> BookState {
        match event {
            BookEvent::Acquired { title, .. } => state.title = Some(title.clone()),
            BookEvent::Lent { member, .. } => state.borrower = Some(member.clone()),
            BookEvent::Returned { .. } => state.borrower = None,
        }
        state
    }

    fn decide(
        state: &BookState,
        command: &BookCommand,
        now: &DateTime<Utc>,
    ) -> Result<Vec<BookEvent>, LibraryError> {
        let at = *now;
        match (command, &state.title, &state.borrower) {
            (BookCommand::Acquire(_), Some(_), _) => Err(LibraryError::AlreadyAcquired),
            (BookCommand::Acquire(title), None, _) => Ok(vec![BookEvent::Acquired {
                title: title.clone(),
                at,
            }]),
            (_, None, _) => Err(LibraryError::NoSuchBook),
            (BookCommand::Lend(_), _, Some(_)) => Err(LibraryError::AlreadyLent),
            (BookCommand::Lend(member), _, None) => Ok(vec![BookEvent::Lent {
                member: member.clone(),
                at,
            }]),
            (BookCommand::Return, _, None) => Err(LibraryError::NotLent),
            (BookCommand::Return, _, Some(member)) => Ok(vec![BookEvent::Returned {
                member: member.clone(),
                at,
            }]),
        }
    }
}

/// The library has one kind of stream: its events are the books'.
impl Envelope<Book> for BookEvent {
    fn as_event(&self) -> Option<&BookEvent> {
        Some(self)
    }
}

/// Books' events in bincode, named by their variant.
pub struct BookCodec;

fn decode(stored: &RecordedEvent) -> Result<BookEvent, BoxError> {
    let (event, _) =
        bincode::serde::decode_from_slice(&stored.payload, bincode::config::standard())?;
    Ok(event)
}

impl Codec for BookCodec {
    type Event = BookEvent;

    fn encode(&self, event: &BookEvent) -> Result<Encoded, BoxError> {
        let type_name = match event {
            BookEvent::Acquired { .. } => "Acquired",
            BookEvent::Lent { .. } => "Lent",
            BookEvent::Returned { .. } => "Returned",
        };
        Ok(Encoded {
            type_name: type_name.into(),
            schema_version: 1,
            payload: bincode::serde::encode_to_vec(event, bincode::config::standard())?,
        })
    }

    fn decode(&self, stored: &RecordedEvent) -> Result<BookEvent, BoxError> {
        decode(stored)
    }
}

/// How many books each member holds.
struct Loans;

impl Projection<BookEvent> for Loans {
    fn name(&self) -> &'static str {
        "loans"
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(
        &self,
        _: &RecordedEvent,
        event: &BookEvent,
        model: &mut ModelTx<'_>,
    ) -> ecoute_projections::Result<()> {
        let (member, change) = match event {
            BookEvent::Lent { member, .. } => (member, 1i64),
            BookEvent::Returned { member, .. } => (member, -1),
            BookEvent::Acquired { .. } => return Ok(()),
        };
        let key = text_key(format_args!("member/{member}"));
        model.update(&key, |held: &mut Option<i64>| {
            *held.get_or_insert(0) += change
        })
    }
}

/// Runs the library's day in `dir`; returns the loans per member, as the read model
/// holds them once it caught up.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<Vec<(String, i64)>> {
    let store: Arc<dyn EventStore> =
        Arc::new(SledStore::open(dir.join("log"), StoreConfig::default())?);
    let runner = Runner::new(
        store.clone(),
        BookCodec,
        NoHooks,
        Arc::new(SystemClock),
        RunnerConfig::default(),
    );
    let decoder: ecoute_projections::Decoder<BookEvent> =
        Arc::new(|e: &RecordedEvent| decode(e).map(Some).map_err(|e| e.to_string()));
    let runtime = Runtime::start(
        store.clone(),
        ModelDb::open(dir.join("models"))?,
        decoder,
        vec![Arc::new(Loans)],
        RuntimeConfig::default(),
    )?;

    let request = |ids: Ids| Request {
        target: "library".into(),
        actor: Some("librarian".into()),
        correlation_id: Uuid::new_v4(),
        ids,
        fingerprint: None,
    };
    let ask = |command: BookCommand| {
        move |_: &BookState, now: DateTime<Utc>| Ok::<_, LibraryError>((command.clone(), now))
    };
    let books: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for (book, title) in books.iter().zip(["Le Horla", "Bel-Ami", "Une vie"]) {
        runner
            .handle::<Book, LibraryError, _>(
                &request(Ids::random()),
                book,
                ask(BookCommand::Acquire(title.into())),
            )
            .await?;
    }
    for (book, member) in books.iter().zip(["alice", "alice", "bob"]) {
        runner
            .handle::<Book, LibraryError, _>(
                &request(Ids::random()),
                book,
                ask(BookCommand::Lend(member.into())),
            )
            .await?;
    }
    // A book already lent is refused, and nothing is appended.
    let refused = runner
        .handle::<Book, LibraryError, _>(
            &request(Ids::random()),
            &books[0],
            ask(BookCommand::Lend("bob".into())),
        )
        .await;
    anyhow::ensure!(
        matches!(refused, Err(LibraryError::AlreadyLent)),
        "{refused:?}"
    );
    // A return sent twice with one idempotency key is made once.
    let key = Ids::from_key(b"librarian", "return-1");
    let first = runner
        .handle::<Book, LibraryError, _>(&request(key.clone()), &books[1], ask(BookCommand::Return))
        .await?;
    let again = runner
        .handle::<Book, LibraryError, _>(&request(key), &books[1], ask(BookCommand::Return))
        .await?;
    anyhow::ensure!(again.replayed && again.first_position == first.first_position);

    runtime.wait_for(store.head().await?).await?;
    let loans = runtime.reader("loans")?;
    let mut held = Vec::new();
    for member in ["alice", "bob"] {
        let n: i64 = loans
            .get(&text_key(format_args!("member/{member}")))?
            .unwrap_or(0);
        held.push((member.to_string(), n));
    }
    runtime.stop()?;
    Ok(held)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for (member, n) in run(dir.path()).await? {
        println!("{member} holds {n} book(s)");
    }
    Ok(())
}
