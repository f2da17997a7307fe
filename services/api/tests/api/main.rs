//! The HTTP service against a real database, started in-process on a free port.
//! Every test in `suite` runs on SQLite and on PostgreSQL.

mod contract;
mod nats;
mod platform;
mod postgres_only;
mod slow;
mod suite;

use allweather_test_support::TestApp;

allweather_test_support::on_both_backends!(
    crate::suite;
    postgres = TestApp::postgres().await;
    sqlite = TestApp::sqlite().await;
    health_reports_the_head_of_the_log,
    a_command_is_committed_and_its_stream_reads_back_with_full_envelopes,
    a_repeated_idempotency_key_returns_the_first_response_and_appends_nothing_and_a_reused_one_is_refused,
    every_refused_request_gets_its_status_and_code_and_changes_nothing,
    an_event_of_unknown_type_on_read_is_an_opaque_500,
    every_command_of_the_domain_is_served_and_reads_its_body,
    live_events_stream_new_envelopes_and_resume_after_the_last_event_id,
    metrics_count_commands_batches_lag_and_stream_clients,
    the_openapi_document_lists_every_command_and_route_and_each_is_served,
    a_beneficiary_is_sealed_in_the_log_shown_to_deliverers_and_erased_for_good,
    every_answer_carries_the_security_headers_and_none_is_stored_by_a_cache,
    an_earlier_releases_clear_text_about_a_household_is_shown_as_erased_once_it_is,
);

/// The published contract against the running service, on both backends.
mod platform_tests {
    use allweather_test_support::TestApp;

    allweather_test_support::on_both_backends!(
        crate::platform;
        postgres = TestApp::postgres().await;
        sqlite = TestApp::sqlite().await;
        a_member_signs_in_with_a_code_and_works_on_their_page_through_commands,
        every_role_does_its_years_work_through_its_pages,
    );
}

mod contract_tests {
    use allweather_test_support::TestApp;

    allweather_test_support::on_both_backends!(
        crate::contract;
        postgres = TestApp::postgres().await;
        sqlite = TestApp::sqlite().await;
        every_documented_request_is_taken_and_every_answer_matches_its_schema,
    );
}
