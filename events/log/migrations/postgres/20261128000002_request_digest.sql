-- The digest of the request each command came from (its name and body), so that a key
-- reused for a different request is told apart from a true repeat. NULL for commands
-- appended without one (recorded before this column, or by tools).
ALTER TABLE commands ADD COLUMN request_digest BYTEA
    CHECK (request_digest IS NULL OR length(request_digest) = 32);
