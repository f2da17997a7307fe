//! The states a decision reads: recently used stream states kept in memory with their
//! versions (a cached stream is brought up to date from its version, never re-read whole),
//! indexes of an aggregate's streams, and personal keys from the key store. The cache is
//! never trusted for a decision's safety: every stream read is a condition of the append.

use super::CommandService;
use crate::error::CommandError;
use allweather_domain::personal::PersonKey;
use allweather_domain::{Decide, Decision, Event, Snapshot, State, World};
use allweather_events::StreamId;
use allweather_log::StoredKey;
use anyhow::Context as _;
use lru::LruCache;
use uuid::Uuid;

/// Most streams one decision may read (a guard against a loop in `decide`).
const MAX_STREAMS_PER_DECISION: usize = 16;

/// Events read per page when loading a stream.
const PAGE: u32 = 1_000;

impl CommandService {
    /// Runs `f` (a decision or a query of the domain) until it has every stream and key
    /// it asks for; streams are read from the log when `fresh`, else taken from the cache
    /// when it holds them.
    pub(super) async fn resolve<T>(
        &self,
        f: impl Fn(&World) -> Result<T, Decide>,
        fresh: bool,
    ) -> Result<(World, T), CommandError> {
        let mut world = World::new();
        for _ in 0..=MAX_STREAMS_PER_DECISION {
            match f(&world) {
                Ok(answer) => return Ok((world, answer)),
                Err(Decide::Refused(e)) => return Err(e.into()),
                Err(Decide::Need(stream)) => self.bring_in(&mut world, [stream], fresh).await?,
                Err(Decide::NeedIndex(aggregate)) => {
                    if world.index(aggregate).is_ok() {
                        return Err(anyhow::anyhow!(
                            "decide asked again for the index of {aggregate}"
                        )
                        .into());
                    }
                    let ids = self
                        .inner
                        .log
                        .stream_ids(aggregate)
                        .await?
                        .iter()
                        .filter_map(|id| id.parse().ok())
                        .collect();
                    world.insert_index(aggregate, ids);
                }
                Err(Decide::NeedAll(streams)) => self.bring_in(&mut world, streams, fresh).await?,
                Err(Decide::NeedKey { person_id, create }) => {
                    if world.has_key(person_id) {
                        return Err(anyhow::anyhow!(
                            "decide asked again for the key of person {person_id}"
                        )
                        .into());
                    }
                    let key = self.person_key(person_id, create).await?;
                    world.insert_key(person_id, key);
                }
            }
        }
        Err(anyhow::anyhow!("a decision read more than {MAX_STREAMS_PER_DECISION} streams").into())
    }

    /// Brings `streams` into `world` for a decision; a stream asked for again is a loop in
    /// `decide`, an error.
    async fn bring_in(
        &self,
        world: &mut World,
        streams: impl IntoIterator<Item = StreamId>,
        fresh: bool,
    ) -> Result<(), CommandError> {
        for stream in streams {
            if world.snapshot(&stream).is_some() {
                return Err(
                    anyhow::anyhow!("decide asked again for loaded stream {stream}").into(),
                );
            }
            let snapshot = self.snapshot(&stream, fresh).await?;
            world.insert(stream, snapshot);
        }
        Ok(())
    }

    /// A stream's state for a decision: read from the log when `fresh`, else the cached
    /// one as it is when the cache holds it.
    async fn snapshot(&self, stream: &StreamId, fresh: bool) -> Result<Snapshot, CommandError> {
        let cached = if fresh {
            None
        } else {
            self.cache().get(stream).cloned()
        };
        match cached {
            Some(snapshot) => Ok(snapshot),
            None => self.load(stream).await,
        }
    }

    /// A person's key from the key store (made first if `create`), with a nonce drawn
    /// for this decision alone.
    async fn person_key(&self, person_id: Uuid, create: bool) -> Result<PersonKey, CommandError> {
        let stored = if create {
            self.inner
                .log
                .person_key_or_create(person_id, self.random()?)
                .await?
        } else {
            self.inner.log.person_key(person_id).await?
        };
        Ok(match stored {
            StoredKey::Missing => PersonKey::Unknown,
            StoredKey::Erased => PersonKey::Erased,
            StoredKey::Live(key) => PersonKey::Live {
                key,
                nonce: self.random()?,
            },
        })
    }

    /// A stream's state: from the cache, brought up to date with the events after the
    /// cached version; else read whole.
    async fn load(&self, stream: &StreamId) -> Result<Snapshot, CommandError> {
        let cached = self.cache().get(stream).cloned();
        let mut snapshot = match cached {
            Some(s) => s,
            None => Snapshot {
                version: 0,
                state: State::empty(stream)
                    .ok_or_else(|| anyhow::anyhow!("{stream} is not a stream of the domain"))?,
            },
        };
        loop {
            let events = self
                .inner
                .log
                .read_stream(stream, snapshot.version + 1, PAGE)
                .await?;
            for envelope in &events {
                let payload = self
                    .inner
                    .catalog
                    .decode(envelope)
                    .context("decode a stored event")?;
                let event =
                    Event::from_stored(&envelope.event_type, payload).with_context(|| {
                        format!(
                            "read the {} at position {}",
                            envelope.event_type, envelope.position
                        )
                    })?;
                snapshot.state.evolve(&event);
                snapshot.version = envelope.stream_version;
            }
            if events.len() < PAGE as usize {
                break;
            }
        }
        self.cache().put(stream.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// Keeps the states a committed decision left behind.
    pub(super) fn remember(&self, mut world: World, decision: &Decision) {
        for (stream, events) in &decision.writes {
            world.apply(stream, events);
        }
        let mut cache = self.cache();
        for (stream, events) in &decision.writes {
            if let (false, Some(s)) = (events.is_empty(), world.snapshot(stream)) {
                cache.put(stream.clone(), s.clone());
            }
        }
    }

    /// Random bytes for a key or a nonce.
    fn random<const N: usize>(&self) -> Result<[u8; N], CommandError> {
        let mut bytes = [0; N];
        (self.inner.options.entropy)(&mut bytes)?;
        Ok(bytes)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<StreamId, Snapshot>> {
        // A panic while holding the lock leaves at worst a stale entry, which the next
        // load brings up to date from the log: the poison carries no risk.
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::CommandOptions;
    use allweather_domain::Principal;
    use allweather_domain::world::streams;
    use allweather_events::Role;
    use allweather_log::{Log, LogOptions};

    #[tokio::test]
    async fn a_cached_stream_is_brought_up_to_date_from_its_version_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
            .await
            .unwrap();
        let service = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let reply = service
            .execute(
                &admin,
                "RegisterBranch",
                None,
                br#"{"name":"Water Bureau","kind":"unit"}"#,
            )
            .await
            .unwrap();
        let branch: Uuid = reply.id.parse().unwrap();
        let stream = streams::branch(branch);
        assert_eq!(
            service.cache().peek(&stream).map(|s| s.version),
            Some(1),
            "the committed state is cached"
        );

        // Another instance appends to the stream: the next load reads only that event.
        let other = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        other
            .execute(
                &admin,
                "DesignateDemonstrationSite",
                None,
                format!(r#"{{"branch_id":"{branch}","year":2025,"level":"county"}}"#).as_bytes(),
            )
            .await
            .unwrap();
        let mut stale = service.cache().peek(&stream).cloned().unwrap();
        assert_eq!(stale.version, 1);
        // Poison the cached state in a way only a re-read would repair: a cached name the
        // log never held stays, proving the load started from the cache.
        if let State::Branch(b) = &mut stale.state {
            b.name = "from the cache".into();
        }
        service.cache().put(stream.clone(), stale);
        let loaded = service.load(&stream).await.unwrap();
        assert_eq!(loaded.version, 2);
        let State::Branch(b) = &loaded.state else {
            panic!("a branch")
        };
        assert_eq!(b.name, "from the cache");
        assert!(b.site_years.contains(&2025), "the new event was applied");
        log.shutdown().await;
    }

    #[tokio::test]
    async fn a_decision_on_a_stale_cached_state_fails_its_append_and_is_decided_on_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(LogOptions::sqlite_file(&dir.path().join("log.db")))
            .await
            .unwrap();
        let service = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let other = CommandService::new(log.clone(), CommandOptions::default()).unwrap();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::CommitteeAdmin,
            member_id: None,
            branch_id: None,
        };
        let branch = Uuid::now_v7();
        let designate =
            format!(r#"{{"branch_id":"{branch}","year":2025,"level":"county"}}"#).into_bytes();

        // A refusal from the cache is not final: `service` caches the branch as not yet
        // registered, `other` registers it, and `service`'s next command on it is accepted.
        let refused = service
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap_err();
        assert!(matches!(refused, CommandError::Refused(_)), "{refused:?}");
        let stream = streams::branch(branch);
        assert_eq!(service.cache().peek(&stream).map(|s| s.version), Some(0));
        other
            .execute(
                &admin,
                "RegisterBranch",
                None,
                format!(r#"{{"branch_id":"{branch}","name":"Water Bureau","kind":"unit"}}"#)
                    .as_bytes(),
            )
            .await
            .unwrap();
        service
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap();
        assert_eq!(log.head().await.unwrap().position, 2);

        // A success from the cache is not final either: `other`'s cache still holds the
        // branch before the designation, and designating again is refused, from the log.
        assert_eq!(other.cache().peek(&stream).map(|s| s.version), Some(1));
        let again = other
            .execute(&admin, "DesignateDemonstrationSite", None, &designate)
            .await
            .unwrap_err();
        let CommandError::Refused(e) = &again else {
            panic!("a refusal, not {again:?}")
        };
        assert_eq!(e.rule, allweather_domain::Rule::SiteAlreadyDesignated);
        assert_eq!(log.head().await.unwrap().position, 2, "nothing appended");
        log.shutdown().await;
    }
}
