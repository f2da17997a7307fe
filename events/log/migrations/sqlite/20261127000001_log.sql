-- The append log. Positions are assigned by the single writer under SQLite's write lock
-- (BEGIN IMMEDIATE), so they are gapless and in commit order. Events are immutable.

CREATE TABLE events (
    position        INTEGER PRIMARY KEY CHECK (position > 0),
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version > 0),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version > 0),
    occurred_at_us  INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    recorded_at_us  INTEGER NOT NULL,
    command_id      BLOB    NOT NULL,
    correlation_id  BLOB    NOT NULL,
    actor_id        TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    payload         TEXT    NOT NULL, -- canonical JSON, exactly the hashed bytes
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
) STRICT;

CREATE TABLE streams (
    stream_id      TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    last_position  INTEGER NOT NULL
) STRICT;

CREATE TABLE commands (
    command_id      BLOB    PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    first_position  INTEGER NOT NULL,
    last_position   INTEGER NOT NULL,
    recorded_at_us  INTEGER NOT NULL
) STRICT;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the log is append-only: UPDATE on table events is refused'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the log is append-only: DELETE on table events is refused'); END;
CREATE TRIGGER commands_no_update BEFORE UPDATE ON commands
BEGIN SELECT RAISE(ABORT, 'the log is append-only: UPDATE on table commands is refused'); END;
CREATE TRIGGER commands_no_delete BEFORE DELETE ON commands
BEGIN SELECT RAISE(ABORT, 'the log is append-only: DELETE on table commands is refused'); END;
