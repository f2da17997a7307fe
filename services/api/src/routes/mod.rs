//! The HTTP routes, one module per resource, and the one list of query routes from which
//! both the router and the OpenAPI document are built:
//! - `service`: the dashboard, `/healthz`, `/metrics`, the OpenAPI document and schemas;
//! - `streams`: a stream's raw events; `events`: every new event as Server-Sent Events;
//! - `leaderboards`, `wishes`, `cards`, `integrity`: the read models and the log's reads;
//! - `rankings`, `assessments`, `figures`: the year's judgement, live or as of the past
//!   (`asof`);
//! - `extract`: the caller, a checked query, a path id; `params`: the value types of
//!   query parameters.
//!
//! Every query's parameters are a type (`Valid<…Query>`), every answer a type; the
//! document's parameter and response schemas come from those same types. A query given
//! `min_position` (a command's reply position) waits up to 5 s for its read model to
//! apply it, then answers 503 with `Retry-After`.

pub(crate) mod asof;
pub(crate) mod assessments;
mod cards;
mod events;
pub(crate) mod extract;
mod figures;
mod integrity;
mod leaderboards;
pub(crate) mod params;
pub(crate) mod rankings;
mod service;
mod streams;
mod wishes;

use crate::AppState;
use crate::problem::ApiError;
use allweather_projections::Progress;
use axum::Router;
use axum::handler::Handler;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::sync::Arc;
use std::time::Duration;

/// A parameter outside the query string: its name, meaning and schema.
pub(crate) struct Param {
    pub name: &'static str,
    pub meaning: &'static str,
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

/// A query route: what the OpenAPI document says of it, and its handler.
pub(crate) struct QueryRoute {
    /// The path, with `{name}` for its parameter.
    pub path: &'static str,
    /// What it answers.
    pub summary: &'static str,
    /// Who may ask.
    pub access: &'static str,
    /// Whether it takes only a signed-in caller (a bearer token), or anyone too.
    pub signed_in: bool,
    /// The path's parameter.
    pub path_param: Option<Param>,
    /// A header it reads besides the token.
    pub header: Option<Param>,
    /// The schema of its query string: each property a parameter.
    pub query: Option<fn(&mut SchemaGenerator) -> Schema>,
    /// Pairs of its query parameters a request gives one of, not both.
    pub exclusive: &'static [(&'static str, &'static str)],
    /// The media type of a 200 answer.
    pub content: &'static str,
    /// The schema of a 200 answer, for JSON.
    pub answer: Option<fn(&mut SchemaGenerator) -> Schema>,
    handler: axum::routing::MethodRouter<AppState>,
}

impl QueryRoute {
    /// `GET path` answered by `handler`, as plain text until said otherwise.
    fn get<H, T>(path: &'static str, handler: H) -> QueryRoute
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        QueryRoute {
            path,
            summary: "",
            access: "anyone",
            signed_in: false,
            path_param: None,
            header: None,
            query: None,
            exclusive: &[],
            content: "text/plain",
            answer: None,
            handler: axum::routing::get(handler),
        }
    }

    fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    fn access(mut self, access: &'static str) -> Self {
        self.access = access;
        self
    }

    /// It answers only a signed-in caller (its handler takes a `Caller`).
    fn signed_in(mut self) -> Self {
        self.signed_in = true;
        self
    }

    /// Its path holds a `P` named `name`.
    fn path_param<P: JsonSchema>(mut self, name: &'static str, meaning: &'static str) -> Self {
        self.path_param = Some(Param {
            name,
            meaning,
            schema: P::json_schema,
        });
        self
    }

    /// It reads the header `name`, of the schema `schema` makes.
    fn header(
        mut self,
        name: &'static str,
        meaning: &'static str,
        schema: fn(&mut SchemaGenerator) -> Schema,
    ) -> Self {
        self.header = Some(Param {
            name,
            meaning,
            schema,
        });
        self
    }

    /// Its query string is `Q`'s fields, with `Q`'s rules across them.
    fn query<Q: JsonSchema + extract::Check>(mut self) -> Self {
        self.query = Some(Q::json_schema);
        self.exclusive = Q::EXCLUSIVE;
        self
    }

    /// It answers `R` as JSON.
    fn answers<R: JsonSchema>(mut self) -> Self {
        self.content = "application/json";
        self.answer = Some(|generator| generator.subschema_for::<R>());
        self
    }

    /// It answers with `content` (a page, a text format, an event stream).
    fn content(mut self, content: &'static str) -> Self {
        self.content = content;
        self
    }
}

/// Every query route.
pub(crate) fn queries() -> Vec<QueryRoute> {
    [
        service::routes(),
        streams::routes(),
        leaderboards::routes(),
        rankings::routes(),
        assessments::routes(),
        figures::routes(),
        cards::routes(),
        wishes::routes(),
        integrity::routes(),
        events::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub(crate) fn router(state: AppState) -> anyhow::Result<Router> {
    let routes = queries()
        .into_iter()
        .fold(Router::new(), |router, q| router.route(q.path, q.handler))
        .merge(allweather_command::http::router(
            state.commands.clone(),
            state.tokens.clone(),
        ))
        .merge(crate::pages::router());
    let limited = (state.anonymous.clone(), state.tokens.clone());
    let routes = routes.layer(axum::middleware::from_fn_with_state(
        limited,
        anonymous_rate,
    ));
    // Outermost, so that every answer carries the headers, a refusal of the rate too.
    Ok(secure(routes, &service::content_security_policy())?
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state))
}

/// Queries without a valid token (`/api/…`), counted per client address against the
/// limiter: over its rate, 429 with `Retry-After`. A header that is not a valid token
/// counts as none. The signed-in are counted by their token's command rate and by what
/// they may read, not here; the page, the published documents, `/healthz` and `/metrics`
/// are not counted. An IPv6 client is counted by its /64, the block one client holds.
async fn anonymous_rate(
    axum::extract::State((limiter, tokens)): axum::extract::State<(
        Option<Arc<AddressLimiter>>,
        allweather_command::TokenKey,
    )>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let Some(limiter) = limiter.filter(|_| request.uri().path().starts_with("/api/")) else {
        return next.run(request).await;
    };
    let signed_in = matches!(
        tokens.principal_of(request.headers().get(axum::http::header::AUTHORIZATION)),
        Ok(Some(_))
    );
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_of(c.0.ip()));
    if let (Some(peer), false) = (peer, signed_in)
        && let Err(not_until) = limiter.check_key(&peer)
    {
        use governor::clock::Clock as _;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return ApiError::from(allweather_command::CommandError::TooManyRequests {
            retry_after: retry_after.max(1),
        })
        .into_response();
    }
    next.run(request).await
}

/// The client an address stands for: an IPv4 address, or an IPv6 address's /64.
fn client_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// A rate per client address.
pub(crate) type AddressLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

/// The headers every answer carries: stored by no cache (answers carry people's details
/// and read rights; a route may say otherwise), not sniffed as another type, framed by no
/// page, sending no referrer, and the content security policy `csp`.
fn secure<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    csp: &str,
) -> anyhow::Result<Router<S>> {
    use axum::http::{HeaderName, HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let fixed: [(HeaderName, &str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    let mut routes = routes
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(csp)?,
        ));
    for (name, value) in fixed {
        routes = routes.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    Ok(routes)
}

/// Longest a query waits for its read model to reach `min_position`.
const MIN_POSITION_WAIT: Duration = Duration::from_secs(5);

/// Waits until `progress` has applied `min_position`, or answers 503.
pub(crate) async fn reach(progress: &Progress, min_position: Option<u64>) -> Result<(), ApiError> {
    match min_position {
        Some(p) if !progress.reached(p, MIN_POSITION_WAIT).await => {
            Err(ApiError::unavailable(format!(
                "the read model has applied position {} and did not reach {p} in time; retry",
                progress.position()
            )))
        }
        _ => Ok(()),
    }
}

/// A read model that could not be read: an internal error.
pub(crate) fn read_error(e: sqlx::Error) -> ApiError {
    ApiError::from(anyhow::Error::new(e).context("query a read model"))
}
