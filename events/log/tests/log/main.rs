//! The log's test suite. Every test in `suite` runs on PostgreSQL and on SQLite, each in
//! a world of its own (a fresh database or file); `postgres_only` holds what only one
//! backend can show.
//!
//! A fresh database or file is brought up to date by the log's own migrations when the test
//! opens it, so every test also exercises the migrations. Among them: 4,000 appends
//! interleaved from two appenders with separate pools come out as positions 1..4000 with a
//! valid chain; a tail follows the log while writers commit and a saboteur holds the lock,
//! writes, waits and rolls back, and sees every committed event once, in order; and the
//! append-only triggers refuse `UPDATE` and `DELETE` on `events`.

mod postgres_only;
mod suite;
mod world;

// Each listed suite test, once per backend.
allweather_test_support::on_both_backends!(
    crate::suite;
    postgres = crate::world::World::postgres().await;
    sqlite = crate::world::World::sqlite().await;
    concurrent_appends_get_gapless_positions_and_one_valid_chain,
    two_appenders_in_two_pools_interleave_without_gaps,
    a_live_tail_sees_every_commit_once_in_order_through_slow_and_rolled_back_writes,
    update_and_delete_on_events_are_refused_by_the_database,
    a_stale_expected_version_is_a_version_conflict_and_writes_nothing,
    of_two_appends_expecting_the_same_version_exactly_one_commits,
    an_appender_acts_on_no_stale_version_after_another_appender_wrote,
    a_repeated_command_returns_the_first_result_and_writes_nothing,
    concurrent_repeats_of_one_command_across_appenders_write_once,
    verify_names_the_first_tampered_position,
    streams_read_from_a_version_and_the_log_reads_in_pages,
    invalid_appends_are_refused_before_the_database,
    a_read_only_database_refuses_appends_with_a_clear_error,
    shutdown_commits_what_was_accepted_and_refuses_the_rest,
    reopening_continues_the_chain,
    an_append_to_several_streams_commits_whole_or_not_at_all_and_may_hold_conditions,
    sign_in_codes_and_sessions_are_kept_as_hashes_used_once_and_ended_on_disable,
);
