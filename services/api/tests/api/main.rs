//! The HTTP service against a real database, started in-process on a free port.
//! Every test in `suite` runs on SQLite and on PostgreSQL.

mod helpers;
mod nats;
mod postgres_only;
mod suite;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::suite::$name(crate::helpers::TestApp::postgres().await).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::suite::$name(crate::helpers::TestApp::sqlite().await).await
                }
            )*
        }
    };
}

on_both_backends!(
    health_reports_the_head_of_the_log,
    a_ping_is_committed_and_its_stream_reads_back_with_full_envelopes,
    a_repeated_idempotency_key_returns_the_first_response_and_appends_nothing,
    every_malformed_request_gets_a_specific_problem_and_changes_nothing,
    an_event_of_unknown_type_on_read_is_an_opaque_500,
);
