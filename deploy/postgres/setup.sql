-- The allweather database on a PostgreSQL server (13 or later; tested on 15).
-- Run once as a superuser:  psql -f deploy/postgres/setup.sql
-- then give the services  DATABASE_URL=postgres://allweather:PASSWORD@HOST/allweather
-- The log's tables and the read models' are created by the services themselves (sqlx
-- migrations for the log; each projector its own tables), in this one database.
CREATE ROLE allweather LOGIN PASSWORD 'change-me';
CREATE DATABASE allweather OWNER allweather ENCODING 'UTF8';
-- Durability is the log's promise: keep the server's defaults fsync = on and
-- synchronous_commit = on (an acknowledged command is on disk). A streaming replica with
-- synchronous_standby_names protects against the loss of the host as well.
ALTER DATABASE allweather SET synchronous_commit = on;
-- UPDATE and DELETE on events are refused by triggers the migrations install; an auditor's
-- read-only role can be granted on top:
--   CREATE ROLE allweather_audit LOGIN PASSWORD '…';
--   GRANT CONNECT ON DATABASE allweather TO allweather_audit;
--   (after the first start) GRANT SELECT ON ALL TABLES IN SCHEMA public TO allweather_audit;
