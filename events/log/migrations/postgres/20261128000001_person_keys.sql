-- The keys that seal the personal details of people in need (a wish's beneficiary).
-- Beside the log, never in it: destroying a key (an erasure) makes what it sealed
-- unreadable in the log and its mirror, while the log itself stays untouched.
-- A destroyed key leaves its row (key NULL), so that no new key is ever made for an
-- erased person.
CREATE TABLE person_keys (
    person_id      UUID   PRIMARY KEY,
    key            BYTEA  CHECK (length(key) = 32),
    created_at_us  BIGINT NOT NULL,
    erased_at_us   BIGINT,
    CHECK ((key IS NULL) = (erased_at_us IS NOT NULL))
);
