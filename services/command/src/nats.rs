//! Commands over NATS: request/reply on `{prefix}.cmd.{CommandName}`, in the queue group
//! `aw-command` so that several service instances share the load. The body and the reply
//! are the same JSON as over HTTP; the token is in the `Authorization` header;
//! `Nats-Msg-Id` is the idempotency key; a refusal replies with the same problem body and
//! a `Status` header holding the HTTP status.
//!
//! A requester that gets no reply (an instance died, a subscription's buffer overflowed)
//! repeats the request with the same `Nats-Msg-Id`: the command then replays instead of
//! running twice.

use crate::CommandService;
use crate::auth::{TokenKey, bearer};
use crate::http::MAX_BODY_BYTES;
use crate::problem::ApiError;
use futures::StreamExt;
use std::future::Future;

/// The queue group every command service instance joins.
pub const QUEUE_GROUP: &str = "aw-command";

/// Answers commands until `shutdown` completes; requests being handled then are finished.
pub async fn serve_commands(
    service: CommandService,
    key: TokenKey,
    client: async_nats::Client,
    prefix: &str,
    shutdown: impl Future<Output = ()>,
) -> Result<(), async_nats::SubscribeError> {
    let mut requests = client
        .queue_subscribe(format!("{prefix}.cmd.*"), QUEUE_GROUP.into())
        .await?;
    let mut in_flight = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            request = requests.next() => match request {
                Some(request) => {
                    in_flight.spawn(answer(service.clone(), key.clone(), client.clone(), request));
                }
                None => break,
            },
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    let _ = requests.unsubscribe().await;
    while in_flight.join_next().await.is_some() {}
    Ok(())
}

async fn answer(
    service: CommandService,
    key: TokenKey,
    client: async_nats::Client,
    request: async_nats::Message,
) {
    let Some(reply) = request.reply.clone() else {
        tracing::debug!(subject = %request.subject, "a command without a reply subject is ignored");
        return;
    };
    let name = request
        .subject
        .as_str()
        .rsplit('.')
        .next()
        .unwrap_or_default();
    let header = |name: &str| {
        request
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str())
    };
    let outcome = async {
        let principal = key.verify(bearer(header("Authorization"))?)?;
        if request.payload.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        service
            .execute(
                &principal,
                name,
                header(async_nats::header::NATS_MESSAGE_ID.as_ref()),
                &request.payload,
            )
            .await
            .map_err(ApiError::from)
    }
    .await;
    let sent = match outcome {
        Ok(body) => {
            client
                .publish(reply, serde_json::to_vec(&body).unwrap_or_default().into())
                .await
        }
        Err(e) => {
            let (status, body) = e.problem();
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Status", status.as_u16().to_string().as_str());
            headers.insert("Content-Type", "application/problem+json");
            client
                .publish_with_headers(
                    reply,
                    headers,
                    serde_json::to_vec(&body).unwrap_or_default().into(),
                )
                .await
        }
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not send a command's reply; the requester will repeat it");
    }
}
