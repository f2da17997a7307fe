-- Revoked bearer tokens, beside the log and never in it: a row with a token id revokes
-- that one token; a row with token_id '' revokes every token of the subject issued at or
-- before revoked_at_s (seconds since the epoch). The service holds the table in memory,
-- reloaded every second, and checks it on every request.
CREATE TABLE token_revocations (
    subject       TEXT   NOT NULL,
    token_id      TEXT   NOT NULL,
    revoked_at_s  BIGINT NOT NULL,
    PRIMARY KEY (subject, token_id)
);
