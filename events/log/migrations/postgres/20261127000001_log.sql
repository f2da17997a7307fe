-- The append log. Positions are assigned by the single writer under an advisory lock,
-- so they are gapless and in commit order. Events are immutable: see the triggers.

CREATE TABLE events (
    position        BIGINT  PRIMARY KEY CHECK (position > 0),
    event_id        UUID    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  BIGINT  NOT NULL CHECK (stream_version > 0),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version > 0),
    occurred_at_us  BIGINT  NOT NULL, -- microseconds since the Unix epoch, UTC
    recorded_at_us  BIGINT  NOT NULL,
    command_id      UUID    NOT NULL,
    correlation_id  UUID    NOT NULL,
    actor_id        TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    payload         TEXT    NOT NULL, -- canonical JSON, exactly the hashed bytes (not JSONB, which reorders)
    prev_hash       BYTEA   NOT NULL CHECK (length(prev_hash) = 32),
    hash            BYTEA   NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

-- The current version of every stream, for optimistic concurrency.
CREATE TABLE streams (
    stream_id      TEXT   PRIMARY KEY,
    version        BIGINT NOT NULL,
    last_position  BIGINT NOT NULL
);

-- Every command that appended, for idempotency: a repeat returns these positions.
CREATE TABLE commands (
    command_id      UUID   PRIMARY KEY,
    stream_id       TEXT   NOT NULL,
    first_position  BIGINT NOT NULL,
    last_position   BIGINT NOT NULL,
    recorded_at_us  BIGINT NOT NULL
);

CREATE FUNCTION allweather_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the log is append-only: % on table % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION allweather_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION allweather_refuse_change();
CREATE TRIGGER commands_append_only BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION allweather_refuse_change();
CREATE TRIGGER commands_no_truncate BEFORE TRUNCATE ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION allweather_refuse_change();
