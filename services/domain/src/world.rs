//! Streams, states, and the snapshot of them a command is decided against.
//!
//! `decide(world, command, ctx) -> Result<Decision, Decide>` reads the states it needs from
//! a [`World`], a snapshot of streams at known versions. When something it needs is not
//! there it says so, and the handler brings it in and decides again (decide is pure, so
//! deciding twice is harmless): a stream (`Decide::Need`); the ids of every stream of an
//! aggregate (`Decide::NeedIndex`, listed from the log's `streams` table — closing a year
//! needs every member), and then many streams at once (`Decide::NeedAll`); or a person's
//! key (`Decide::NeedKey`). The index is not a condition of the append: a member
//! registered meanwhile is not in it. A [`Decision`] is events per stream, the command's
//! own stream first, and the keys to destroy before the append (an erasure); every stream
//! in the world, written or only read, becomes a condition of the append at the version
//! it was read.

use crate::error::Decide;
use crate::event::Event;
use crate::personal::PersonKey;
use crate::{
    account, appraisal, branch, campaign, dualcard, household, member, personal, service, wish,
    year,
};
use allweather_events::StreamId;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::fmt::Display;
use uuid::Uuid;

/// Stream names: `{aggregate}-{id}`.
pub mod streams {
    use super::*;

    fn stream(aggregate: &str, id: impl Display) -> StreamId {
        // Aggregate names are lowercase words and ids are UUIDs, years and dates joined
        // by `-`: always a valid stream id.
        StreamId::parse(format!("{aggregate}-{id}")).expect("a well-formed stream id")
    }

    /// `branch-{id}`
    pub fn branch(id: Uuid) -> StreamId {
        stream("branch", id)
    }
    /// `member-{id}`
    pub fn member(id: Uuid) -> StreamId {
        stream("member", id)
    }
    /// `claims-{member}`: the member's open claims.
    pub fn claims(member: Uuid) -> StreamId {
        stream("claims", member)
    }
    /// `dualcard-{member}-{year}`
    pub fn dualcard(member: Uuid, year: i32) -> StreamId {
        stream("dualcard", format!("{member}-{year}"))
    }
    /// `wish-{id}`
    pub fn wish(id: Uuid) -> StreamId {
        stream("wish", id)
    }
    /// `servicerecord-{id}`
    pub fn service_record(id: Uuid) -> StreamId {
        stream("servicerecord", id)
    }
    /// `serviceday-{member}-{date}`: the member's entries of one day.
    pub fn service_day(member: Uuid, date: NaiveDate) -> StreamId {
        stream("serviceday", format!("{member}-{date}"))
    }
    /// `household-{id}`
    pub fn household(id: Uuid) -> StreamId {
        stream("household", id)
    }
    /// `campaign-{id}`
    pub fn campaign(id: Uuid) -> StreamId {
        stream("campaign", id)
    }
    /// `appraisal-{member}-{year}`
    pub fn appraisal(member: Uuid, year: i32) -> StreamId {
        stream("appraisal", format!("{member}-{year}"))
    }
    /// `account-{id}`: a person's account on the platform.
    pub fn account(id: Uuid) -> StreamId {
        stream("account", id)
    }
    /// `rules-{year}`
    pub fn rules(year: i32) -> StreamId {
        stream("rules", year)
    }
    /// `beneficiary-{person}`: a person in need named in wishes (only their erasure is
    /// recorded here; their details travel sealed in the wishes).
    pub fn beneficiary(person: Uuid) -> StreamId {
        stream("beneficiary", person)
    }
}

/// An aggregate's state: built by `evolve` from its stream's events, which holds no rules.
pub trait Aggregate: Default + Clone + PartialEq + std::fmt::Debug {
    /// The stream's aggregate name.
    const NAME: &'static str;
    /// Folds one event in. Events of other aggregates are ignored.
    fn evolve(&mut self, event: &Event);
    /// This aggregate's state inside a [`State`].
    fn of(state: &State) -> Option<&Self>;
    /// Wraps the state.
    fn into_state(self) -> State;
}

macro_rules! states {
    ($($variant:ident($ty:ty) = $name:literal),* $(,)?) => {
        /// The state of any stream.
        #[derive(Debug, Clone, PartialEq)]
        pub enum State { $(#[doc = concat!("A `", $name, "-…` stream.")] $variant($ty),)* }

        impl State {
            /// The empty state of a stream, by its aggregate name; `None` for streams the
            /// domain does not own.
            pub fn empty(stream: &StreamId) -> Option<State> {
                match stream.aggregate() {
                    $($name => Some(State::$variant(<$ty>::default())),)*
                    _ => None,
                }
            }

            /// Folds one event in.
            pub fn evolve(&mut self, event: &Event) {
                match self { $(State::$variant(s) => s.apply(event),)* }
            }
        }

        $(
            impl Aggregate for $ty {
                const NAME: &'static str = $name;
                fn evolve(&mut self, event: &Event) { self.apply(event) }
                fn of(state: &State) -> Option<&Self> {
                    match state { State::$variant(s) => Some(s), _ => None }
                }
                fn into_state(self) -> State { State::$variant(self) }
            }
        )*
    };
}

states! {
    Branch(branch::Branch) = "branch",
    Member(member::Member) = "member",
    Claims(wish::Claims) = "claims",
    DualCard(dualcard::DualCard) = "dualcard",
    Wish(wish::Wish) = "wish",
    ServiceRecord(service::ServiceRecord) = "servicerecord",
    ServiceDay(service::ServiceDay) = "serviceday",
    Household(household::Household) = "household",
    Campaign(campaign::Campaign) = "campaign",
    Year(year::YearState) = "rules",
    Appraisal(appraisal::Appraisal) = "appraisal",
    Beneficiary(personal::Beneficiary) = "beneficiary",
    Account(account::Account) = "account",
}

/// A stream's state and the version it is at.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// How many events it has (0: the stream does not exist).
    pub version: u64,
    /// The state they fold to.
    pub state: State,
}

/// The streams a decision reads, at the versions read, and the keys of the people whose
/// details it seals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct World {
    streams: HashMap<StreamId, Snapshot>,
    keys: HashMap<Uuid, PersonKey>,
    indexes: HashMap<&'static str, Vec<Uuid>>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a stream's snapshot in (replacing what was there).
    pub fn insert(&mut self, stream: StreamId, snapshot: Snapshot) {
        self.streams.insert(stream, snapshot);
    }

    /// Puts a person's key in, as the key store holds it.
    pub fn insert_key(&mut self, person_id: Uuid, key: PersonKey) {
        self.keys.insert(person_id, key);
    }

    /// A person's key, or a request to bring it (made first if `create`).
    pub fn key(&self, person_id: Uuid, create: bool) -> Result<&PersonKey, Decide> {
        self.keys
            .get(&person_id)
            .ok_or(Decide::NeedKey { person_id, create })
    }

    /// Puts the ids of every stream of `aggregate` in, as the log lists them.
    pub fn insert_index(&mut self, aggregate: &'static str, ids: Vec<Uuid>) {
        self.indexes.insert(aggregate, ids);
    }

    /// The ids of every stream of `aggregate`, or a request to list them. (A list is not
    /// a condition of the append: a stream begun after it was read is not in it.)
    pub fn index(&self, aggregate: &'static str) -> Result<&[Uuid], Decide> {
        self.indexes
            .get(aggregate)
            .map(Vec::as_slice)
            .ok_or(Decide::NeedIndex(aggregate))
    }

    /// Refuses to go on until every one of `streams` is loaded, asking for all the
    /// missing ones at once.
    pub fn need_all(&self, streams: impl IntoIterator<Item = StreamId>) -> Result<(), Decide> {
        let missing: Vec<StreamId> = streams
            .into_iter()
            .filter(|s| !self.streams.contains_key(s))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Decide::NeedAll(missing))
        }
    }

    /// Whether a person's key was brought in.
    pub fn has_key(&self, person_id: Uuid) -> bool {
        self.keys.contains_key(&person_id)
    }

    /// A stream's snapshot, if loaded.
    pub fn snapshot(&self, stream: &StreamId) -> Option<&Snapshot> {
        self.streams.get(stream)
    }

    /// Every loaded stream.
    pub fn streams(&self) -> impl Iterator<Item = (&StreamId, &Snapshot)> {
        self.streams.iter()
    }

    /// Applies events appended to `stream` (creating its empty state if needed): what a
    /// handler does after a commit, and what tests do to set the scene.
    pub fn apply(&mut self, stream: &StreamId, events: &[Event]) {
        let Some(empty) = State::empty(stream) else {
            return;
        };
        let snapshot = self.streams.entry(stream.clone()).or_insert(Snapshot {
            version: 0,
            state: empty,
        });
        for e in events {
            snapshot.state.evolve(e);
            snapshot.version += 1;
        }
    }

    /// The state of aggregate `A` in `stream`, or a request to load it.
    pub fn get<A: Aggregate>(&self, stream: StreamId) -> Result<&A, Decide> {
        match self.streams.get(&stream) {
            Some(s) => A::of(&s.state).ok_or(Decide::Need(stream)),
            None => Err(Decide::Need(stream)),
        }
    }
}

/// What a command decided: events per stream, the first stream first. All are appended
/// atomically, each stream at the version it was decided against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Events per stream; the first stream is the aggregate the command created or
    /// acted on.
    pub writes: Vec<(StreamId, Vec<Event>)>,
    /// People whose keys are destroyed before the events are appended.
    pub erase_keys: Vec<Uuid>,
}

impl Decision {
    /// Events for the command's own stream.
    pub fn to(stream: StreamId, events: Vec<Event>) -> Self {
        Decision {
            writes: vec![(stream, events)],
            erase_keys: Vec::new(),
        }
    }

    /// And the destruction of a person's key, before the append.
    pub fn erasing(mut self, person_id: Uuid) -> Self {
        self.erase_keys.push(person_id);
        self
    }

    /// The id of the aggregate the command created or acted on: the id part of its
    /// first stream (`dualcard-{member}-{year}` → `{member}-{year}`).
    pub fn id(&self) -> &str {
        self.writes.first().map_or("", |(s, _)| s.id())
    }

    /// And events for a further stream.
    pub fn and(mut self, stream: StreamId, events: Vec<Event>) -> Self {
        self.writes.push((stream, events));
        self
    }

    /// Every event, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.writes.iter().flat_map(|(_, e)| e)
    }
}
