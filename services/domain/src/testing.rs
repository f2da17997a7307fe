//! Given / when / then for the domain: a scene of streams built through `decide` itself,
//! a command decided against it, and what it emitted or the rule that refused it.

use crate::command::*;
use crate::error::{Decide, DomainError, Rule};
use crate::event::Event;
use crate::personal::{self, KEY_LEN, NONCE_LEN, PersonKey, Private};
use crate::world::{Decision, Snapshot, State, World};
use crate::{Ctx, Principal, decide};
use allweather_events::{Role, Timestamp};
use chrono::NaiveDate;
use std::collections::HashMap;
use uuid::Uuid;

/// A programme year (a test's literal, known good).
pub fn year(year: i64) -> crate::values::Year {
    crate::values::Year::new(year).expect("a programme year")
}

/// The county's date in the scene: 15 June 2026.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).expect("date")
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

pub fn admin() -> Principal {
    Principal {
        subject: "admin".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    }
}
pub fn secretary(branch: Uuid, member: Uuid) -> Principal {
    Principal {
        subject: member.to_string(),
        role: Role::Secretary,
        member_id: Some(member),
        branch_id: Some(branch),
    }
}
pub fn member(id: Uuid) -> Principal {
    Principal {
        subject: id.to_string(),
        role: Role::Member,
        member_id: Some(id),
        branch_id: None,
    }
}
pub fn centre() -> Principal {
    Principal {
        subject: "centre".into(),
        role: Role::ServiceCentre,
        member_id: None,
        branch_id: None,
    }
}
pub fn system() -> Principal {
    Principal {
        subject: "scheduler".into(),
        role: Role::System,
        member_id: None,
        branch_id: None,
    }
}
pub fn auditor() -> Principal {
    Principal {
        subject: "auditor".into(),
        role: Role::Auditor,
        member_id: None,
        branch_id: None,
    }
}

/// A small county: the 2026 rules, unit branch `unit` with secretary `unit_sec`,
/// service branch `service` with secretary `service_sec`, and member `a` (joined in
/// June 2010) in both.
pub struct Scene {
    pub world: World,
    pub now: Timestamp,
    pub today: NaiveDate,
    pub unit: Uuid,
    pub service: Uuid,
    pub unit_sec: Uuid,
    pub service_sec: Uuid,
    pub a: Uuid,
    pub emitted: Vec<(allweather_events::StreamId, Event)>,
    /// The key store: each person's key, `None` once erased.
    pub keys: HashMap<Uuid, Option<[u8; KEY_LEN]>>,
    next: u128,
}

pub struct When<'s> {
    scene: &'s mut Scene,
    before: World,
    result: Result<Decision, DomainError>,
}

impl Scene {
    pub fn county() -> Scene {
        let mut s = Scene {
            world: World::new(),
            now: Timestamp::parse("2026-06-15T02:00:00Z").expect("now"),
            today: today(),
            unit: Uuid::nil(),
            service: Uuid::nil(),
            unit_sec: Uuid::nil(),
            service_sec: Uuid::nil(),
            a: Uuid::nil(),
            emitted: Vec::new(),
            keys: HashMap::new(),
            next: 0x1000,
        };
        let rules: serde_json::Value =
            toml::from_str(include_str!("../../../rules/2026.toml")).expect("rules");
        s.ok(
            admin(),
            Command::AdoptRules(AdoptRules {
                year: year(2026),
                rules,
            }),
        );
        s.unit = s.branch("Water Bureau branch", "unit");
        s.service = s.branch("East Street service branch", "service");
        s.unit_sec = s.member_of(s.unit, "2001-03-02");
        s.service_sec = s.member_of(s.unit, "2003-04-05");
        s.assign(s.service_sec, s.service);
        s.ok(
            admin(),
            Command::AppointSecretary(AppointSecretary {
                branch_id: s.unit,
                member_id: s.unit_sec,
            }),
        );
        s.ok(
            admin(),
            Command::AppointSecretary(AppointSecretary {
                branch_id: s.service,
                member_id: s.service_sec,
            }),
        );
        s.a = s.member_of(s.unit, "2010-06-01");
        s.assign(s.a, s.service);
        s
    }

    pub fn id(&mut self) -> Uuid {
        self.next += 1;
        Uuid::from_u128(self.next)
    }

    pub fn branch(&mut self, name: &str, kind: &str) -> Uuid {
        let id = self.id();
        let kind = serde_json::from_value(serde_json::json!(kind)).expect("kind");
        self.ok(
            admin(),
            Command::RegisterBranch(RegisterBranch {
                branch_id: Some(id),
                name: name.into(),
                kind,
                community: None,
            }),
        );
        id
    }

    pub fn member_of(&mut self, unit: Uuid, joined_on: &str) -> Uuid {
        let id = self.id();
        self.ok(
            admin(),
            Command::RegisterMember(RegisterMember {
                member_id: Some(id),
                name: format!("member {id}"),
                unit_branch_id: unit,
                joined_on: date(joined_on),
                cadre: None,
            }),
        );
        id
    }

    pub fn assign(&mut self, member: Uuid, service: Uuid) {
        self.ok(
            admin(),
            Command::AssignServiceBranch(AssignServiceBranch {
                member_id: member,
                service_branch_id: service,
            }),
        );
    }

    /// Runs a command that must succeed, as part of the scene.
    #[track_caller]
    pub fn ok(&mut self, who: Principal, command: Command) -> Decision {
        self.when(who, command).then_ok()
    }

    /// Decides `command` as `who`; streams never written are loaded empty, as the
    /// handler finds them in the log, and keys come from the scene's key store.
    pub fn when(&mut self, who: Principal, command: Command) -> When<'_> {
        let ctx = self.ctx(who);
        let before = self.world.clone();
        let result = self.resolve(|world| decide(world, &command, &ctx));
        if let Ok(decision) = &result {
            for person in &decision.erase_keys {
                self.keys.insert(*person, None);
            }
            for (stream, events) in &decision.writes {
                self.world.apply(stream, events);
                self.emitted
                    .extend(events.iter().map(|e| (stream.clone(), e.clone())));
            }
        }
        When {
            scene: self,
            before,
            result,
        }
    }

    /// The context of a command or query by `who` now.
    pub fn ctx(&mut self, who: Principal) -> Ctx {
        Ctx {
            now: self.now,
            today: self.today,
            principal: who,
            // The scene's log holds what it emitted: positions 1 to that many.
            head: self.emitted.len() as u64,
            new_id: self.id(),
        }
    }

    /// Runs `f` (a decision or a query) against the scene, bringing in what it asks for
    /// as the handler does.
    pub fn resolve<T>(
        &mut self,
        f: impl Fn(&World) -> Result<T, Decide>,
    ) -> Result<T, DomainError> {
        let mut world = self.world.clone();
        loop {
            match f(&world) {
                Ok(d) => return Ok(d),
                Err(Decide::Refused(e)) => return Err(e),
                Err(Decide::Need(stream)) => {
                    assert!(
                        world.snapshot(&stream).is_none(),
                        "decide asked twice for {stream}"
                    );
                    let state = State::empty(&stream).expect("a domain stream");
                    world.insert(stream, Snapshot { version: 0, state });
                }
                Err(Decide::NeedIndex(aggregate)) => {
                    let ids = self
                        .world
                        .streams()
                        .filter(|(id, snap)| id.aggregate() == aggregate && snap.version > 0)
                        .filter_map(|(id, _)| id.id().parse().ok())
                        .collect();
                    world.insert_index(aggregate, ids);
                }
                Err(Decide::NeedAll(streams)) => {
                    for stream in streams {
                        assert!(
                            world.snapshot(&stream).is_none(),
                            "decide asked twice for {stream}"
                        );
                        let state = State::empty(&stream).expect("a domain stream");
                        world.insert(stream, Snapshot { version: 0, state });
                    }
                }
                Err(Decide::NeedKey { person_id, create }) => {
                    assert!(
                        !world.has_key(person_id),
                        "decide asked twice for the key of {person_id}"
                    );
                    if create && !self.keys.contains_key(&person_id) {
                        let mut key = [0; KEY_LEN];
                        key[..16].copy_from_slice(person_id.as_bytes());
                        self.keys.insert(person_id, Some(key));
                    }
                    let mut nonce = [0; NONCE_LEN];
                    nonce[..16].copy_from_slice(self.id().as_bytes());
                    let key = match self.keys.get(&person_id) {
                        None => PersonKey::Unknown,
                        Some(None) => PersonKey::Erased,
                        Some(Some(key)) => PersonKey::Live { key: *key, nonce },
                    };
                    world.insert_key(person_id, key);
                }
            }
        }
    }
}

/// Clear text, as the events of tests are written (and as [`Scene::in_clear`] opens what
/// decisions sealed).
impl From<&str> for Private {
    fn from(text: &str) -> Private {
        Private::Clear(text.to_owned())
    }
}

impl Scene {
    /// `events` with the free text they sealed opened with the scene's keys, to compare
    /// with events written in clear.
    pub fn in_clear<'e>(&self, events: impl Iterator<Item = &'e Event>) -> Vec<Event> {
        let open = |text: &mut Private| {
            if let Private::Sealed(sealed) = text {
                let key = self
                    .keys
                    .get(&sealed.person_id)
                    .copied()
                    .flatten()
                    .expect("sealed under a live key of the scene");
                *text = Private::Clear(personal::open_text(sealed, &key).expect("opens"));
            }
        };
        events
            .map(|e| {
                let mut e = e.clone();
                match &mut e {
                    Event::HouseholdRegistered(x) => open(&mut x.hardship),
                    Event::HouseholdVisited(x) => open(&mut x.notes),
                    Event::ConcernRaised(x) => open(&mut x.description),
                    Event::WishFulfilled(x) => open(&mut x.evidence),
                    _ => {}
                }
                e
            })
            .collect()
    }
}

impl When<'_> {
    /// What was decided; a refusal must have left the world as it was.
    #[track_caller]
    pub fn outcome(self) -> Result<Decision, DomainError> {
        if self.result.is_err() {
            assert_eq!(
                self.scene.world, self.before,
                "a refused command changed the world"
            );
        }
        self.result
    }

    #[track_caller]
    pub fn then_ok(self) -> Decision {
        match self.result {
            Ok(d) => d,
            Err(e) => panic!("expected the command to pass, it was refused: {e}"),
        }
    }

    /// The command passed and emitted exactly these events, payloads and all, in order.
    #[track_caller]
    pub fn then_emitted(self, expected: &[Event]) -> Decision {
        let scene = &*self.scene;
        let d = match self.result {
            Ok(d) => d,
            Err(e) => panic!("expected the command to pass, it was refused: {e}"),
        };
        assert_eq!(scene.in_clear(d.events()), expected, "emitted events");
        d
    }

    /// The command passed and emitted exactly the events `expected` makes of its decision
    /// (for ids the decision draws, such as a new record's).
    #[track_caller]
    pub fn then_emitted_by(self, expected: impl FnOnce(&Decision) -> Vec<Event>) -> Decision {
        let scene = &*self.scene;
        let d = match self.result {
            Ok(d) => d,
            Err(e) => panic!("expected the command to pass, it was refused: {e}"),
        };
        let want = expected(&d);
        assert_eq!(scene.in_clear(d.events()), want, "emitted events");
        d
    }

    /// The command passed and emitted exactly these event types, in order (for events
    /// whose payload a test cannot write out: sealed details, drawn nonces).
    #[track_caller]
    pub fn then_emits(self, types: &[&str]) -> Decision {
        let d = self.then_ok();
        let got: Vec<&str> = d.events().map(Event::event_type).collect();
        assert_eq!(got, types, "emitted events");
        d
    }

    /// The command was refused by `rule`, and nothing changed.
    #[track_caller]
    pub fn then_refused(self, rule: Rule) -> DomainError {
        match self.result {
            Ok(d) => panic!(
                "expected {rule:?}, the command passed: {:?}",
                d.events().map(Event::event_type).collect::<Vec<_>>()
            ),
            Err(e) => {
                assert_eq!(e.rule, rule, "refused by the wrong rule: {e}");
                assert_eq!(
                    self.scene.world, self.before,
                    "a refused command changed the world"
                );
                e
            }
        }
    }
}
