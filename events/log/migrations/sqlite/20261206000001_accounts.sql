-- The platform's credentials, beside the log and never in it (nor in the mirror, nor in
-- a backup of the events): the log records who was given which role (AccountInvited);
-- these tables hold how they sign in. A sign-in code and a session are kept only as the
-- SHA-256 of their secret; a password only as its argon2id hash.
CREATE TABLE accounts (
    account_id       BLOB     PRIMARY KEY,
    role             TEXT   NOT NULL,
    member_id        BLOB     UNIQUE,
    -- Chosen with the first password; unique, compared in lower case.
    login            TEXT   UNIQUE,
    password_hash    TEXT,
    disabled         INTEGER  NOT NULL DEFAULT 0,
    -- Failed sign-ins since the last success, and the lock-out they earned.
    failures         INTEGER     NOT NULL DEFAULT 0,
    locked_until_us  INTEGER,
    created_at_us    INTEGER     NOT NULL
) STRICT;

CREATE TABLE signin_codes (
    code_hash      BLOB  PRIMARY KEY,
    account_id     BLOB  NOT NULL REFERENCES accounts (account_id),
    issued_at_us   INTEGER  NOT NULL,
    expires_at_us  INTEGER  NOT NULL,
    used_at_us     INTEGER
) STRICT;
CREATE INDEX signin_codes_account ON signin_codes (account_id);

CREATE TABLE sessions (
    session_hash   BLOB    PRIMARY KEY,
    account_id     BLOB    NOT NULL REFERENCES accounts (account_id),
    -- The token every form of the session carries (CSRF).
    csrf           TEXT  NOT NULL,
    created_at_us  INTEGER    NOT NULL,
    expires_at_us  INTEGER    NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
