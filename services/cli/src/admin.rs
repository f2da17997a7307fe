//! `allweather token issue|revoke`, `allweather rules adopt` and `allweather erase beneficiary`.

use crate::config::{Config, Store};
use allweather_api::{CommandService, TokenKey};
use allweather_command::auth::MAX_LIFETIME;
use allweather_command::{Claims, CommandError, CommandReply};
use allweather_domain::command::{AdoptRules, DisableAccount, EraseBeneficiary, InviteAccount};
use allweather_domain::rules::Rules;
use allweather_domain::values::Year;
use allweather_domain::{Command, Principal, Rule};
use allweather_events::Role;
use allweather_log::{Log, Revocation};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print one signed bearer token on stdout.
    Issue {
        /// committee_admin, secretary (with --branch and --member), service_centre, member
        /// (with --member) or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The member the holder is (required for `member` and `secretary`: a secretary
        /// token works while that member is the branch's appointed secretary).
        #[arg(long)]
        member: Option<Uuid>,
        /// The branch a secretary acts for.
        #[arg(long)]
        branch: Option<Uuid>,
        /// How long the token is valid: 90s, 30m, 8h, 7d (at most 366d).
        #[arg(long, default_value = "8h", value_parser = parse_ttl)]
        ttl: Duration,
        /// Who holds the token, recorded as the actor of their events: the person (or
        /// named service) it is for. Required without --member (whose id it defaults to).
        #[arg(long)]
        subject: Option<String>,
    },
    /// Revoke one token, or every token of a holder issued until now. Every running
    /// service refuses them within a second.
    Revoke {
        /// The token to revoke (its holder's other tokens stay valid).
        #[arg(long, conflicts_with = "subject", required_unless_present = "subject")]
        token: Option<String>,
        /// Revoke every token issued to this holder until now (a person who left, a
        /// device lost).
        #[arg(long)]
        subject: Option<String>,
        #[command(flatten)]
        store: Store,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Validate a rules file and append it to the log as `RulesAdopted` for its year.
    Adopt {
        /// The TOML file (see rules/2026.toml).
        file: PathBuf,
        #[command(flatten)]
        store: Store,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    match Role::parse(text) {
        Some(Role::System) | None => {
            Err("one of committee_admin, secretary, service_centre, member, auditor".into())
        }
        Some(role) => Ok(role),
    }
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 90s, 30m, 8h or 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    let ttl = Duration::from_secs(seconds);
    if ttl.is_zero() || ttl > MAX_LIFETIME {
        return Err(format!("{text:?} must be more than 0 and at most 366d"));
    }
    Ok(ttl)
}

pub(crate) async fn token(command: TokenCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let key = config.token_key()?;
    match command {
        TokenCommand::Issue {
            role,
            member,
            branch,
            ttl,
            subject,
        } => issue(&key, role, member, branch, ttl, subject),
        TokenCommand::Revoke {
            token,
            subject,
            store,
        } => revoke(&key, config, &store, token, subject).await,
    }
}

fn issue(
    key: &TokenKey,
    role: Role,
    member: Option<Uuid>,
    branch: Option<Uuid>,
    ttl: Duration,
    subject: Option<String>,
) -> anyhow::Result<ExitCode> {
    match role {
        Role::Member if member.is_none() => bail!("a member token needs --member"),
        Role::Secretary if branch.is_none() || member.is_none() => {
            bail!("a secretary token needs --branch and --member (the appointed secretary)")
        }
        _ => {}
    }
    let subject = match (subject, member) {
        (Some(subject), _) => subject,
        (None, Some(m)) => m.to_string(),
        (None, None) => bail!(
            "a {} token needs --subject: the person or named service who holds it",
            role.as_str()
        ),
    };
    let now = u64::try_from(chrono::Utc::now().timestamp()).context("the clock is before 1970")?;
    let claims = Claims {
        sub: subject,
        role: role.as_str().to_owned(),
        member,
        branch,
        iat: now,
        exp: now + ttl.as_secs(),
        jti: Some(Uuid::now_v7().to_string()),
    };
    // The claims are checked as the service will check them, before anything is printed.
    allweather_command::auth::principal(claims.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", key.issue(&claims)?);
    Ok(ExitCode::SUCCESS)
}

async fn revoke(
    key: &TokenKey,
    config: &Config,
    store: &Store,
    token: Option<String>,
    subject: Option<String>,
) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    let (revocation, said) = match (token, subject) {
        (Some(token), _) => {
            let claims = match key.claims(token.trim()) {
                Ok(claims) => claims,
                Err(e) => {
                    eprintln!("nothing revoked: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let Some(id) = claims.jti else {
                eprintln!(
                    "nothing revoked: the token has no id (it was issued before tokens had one); revoke every token of its holder with --subject {:?}",
                    claims.sub
                );
                return Ok(ExitCode::from(1));
            };
            let said = format!("revoked token {id} of {:?}", claims.sub);
            let revocation = Revocation {
                subject: claims.sub,
                token_id: Some(id),
                revoked_at: now,
            };
            (revocation, said)
        }
        (None, Some(subject)) => (
            Revocation {
                subject: subject.clone(),
                token_id: None,
                revoked_at: now,
            },
            format!("revoked every token of {subject:?} issued until now"),
        ),
        (None, None) => bail!("give --token or --subject"),
    };
    let log = Log::open(config.log(store, true)?).await?;
    let recorded = log.revoke_token(&revocation).await;
    log.shutdown().await;
    recorded?;
    println!("{said}; running services refuse it within a second");
    Ok(ExitCode::SUCCESS)
}

/// The rules in `file` and its text; none (each problem printed) if they are not valid.
pub(crate) fn read_rules(file: &Path) -> anyhow::Result<Option<(Rules, serde_json::Value)>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    match Rules::from_toml_document(&text) {
        Ok(read) => Ok(Some(read)),
        Err(e) => {
            eprintln!("{} is not a valid rules file:", file.display());
            for p in e.0 {
                eprintln!("  {}: {}", p.field, p.message);
            }
            Ok(None)
        }
    }
}

pub(crate) async fn rules(command: RulesCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let RulesCommand::Adopt { file, store } = command;
    let Some((rules, document)) = read_rules(&file)? else {
        return Ok(ExitCode::from(1));
    };
    let adopt = AdoptRules {
        year: Year::new(i64::from(rules.year))?,
        rules: document,
    };
    Ok(match execute_as_admin(config, &store, adopt, None).await {
        Ok(reply) => {
            println!(
                "adopted the rules for {} at position {}",
                rules.year, reply.position
            );
            ExitCode::SUCCESS
        }
        Err(CommandError::Internal(e)) => return Err(e),
        Err(e) => {
            eprintln!("the rules were not adopted: {e}");
            ExitCode::from(1)
        }
    })
}

#[derive(Debug, Subcommand)]
pub(crate) enum EraseCommand {
    /// Erase a person in need: destroy the key their name and contact are sealed with,
    /// in every wish published for them, and record the erasure as an event. Their
    /// details become unreadable in the log and its JetStream mirror (and in database
    /// backups once those expire, since they hold the keys too); the log's chain still
    /// verifies. Running it again after an interruption finishes the erasure; running it
    /// for a person already erased says so and succeeds.
    Beneficiary {
        /// The person (a wish's `beneficiary_id`; by default a wish's own id).
        id: Uuid,
        /// Why (the request or decision it carries out), recorded in the event in clear
        /// for good: name no one in it.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        store: Store,
    },
}

pub(crate) async fn erase(command: EraseCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let EraseCommand::Beneficiary { id, reason, store } = command;
    let erase = EraseBeneficiary {
        beneficiary_id: id,
        reason,
    };
    // One key per person: a second run answers as the first, or finishes it.
    let key = format!("erase-beneficiary-{id}");
    Ok(
        match execute_as_admin(config, &store, erase, Some(&key)).await {
            Ok(reply) => {
                println!(
                    "erased beneficiary {id}: their key is destroyed; the erasure is recorded at position {}",
                    reply.position
                );
                ExitCode::SUCCESS
            }
            // Erased before (by this command with another reason, or over the API).
            Err(CommandError::KeyReused(_)) => {
                println!("beneficiary {id} was already erased");
                ExitCode::SUCCESS
            }
            Err(CommandError::Refused(e)) if e.rule == Rule::AlreadyErased => {
                println!("beneficiary {id} was already erased");
                ExitCode::SUCCESS
            }
            Err(CommandError::Internal(e)) => return Err(e),
            Err(e) => {
                eprintln!("beneficiary {id} was not erased: {e}");
                ExitCode::from(1)
            }
        },
    )
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Give a member (--member) or a committee admin, service centre or auditor (--role)
    /// an account, and print a one-time sign-in code with its address and a QR code. Again
    /// for the same account: a new code, the old one ended (how a forgotten password is
    /// reset). A secretary signs in with their member account.
    Invite {
        /// The member.
        #[arg(long, conflicts_with = "role", required_unless_present = "role")]
        member: Option<Uuid>,
        /// committee_admin, service_centre or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// A role account's id, to give it a new code (a new account when omitted).
        #[arg(long, requires = "role")]
        account: Option<Uuid>,
        /// The platform's address as people reach it, for the printed link.
        #[arg(
            long,
            env = "ALLWEATHER_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        url: String,
        #[command(flatten)]
        store: Store,
    },
    /// Disable an account at once: its sessions end and it cannot sign in until invited
    /// again.
    Disable {
        /// The account (a member's account has the member's id).
        id: Uuid,
        /// Why, recorded in the log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        store: Store,
    },
}

pub(crate) async fn account(command: AccountCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let outcome = match command {
        AccountCommand::Invite {
            member,
            role,
            account,
            url,
            store,
        } => {
            let invite = InviteAccount {
                member_id: member,
                role,
                account_id: account,
            };
            let service = admin_service(config, &store).await?;
            let outcome = service.invite_account(&cli_admin(), invite, None).await;
            service.log().shutdown().await;
            match outcome {
                Ok(invitation) => {
                    let link = format!(
                        "{}/signin?code={}",
                        url.trim_end_matches('/'),
                        invitation.code
                    );
                    let qr = qrcode::QrCode::new(link.as_bytes())
                        .context("make the QR code")?
                        .render::<qrcode::render::unicode::Dense1x2>()
                        .quiet_zone(true)
                        .build();
                    let until = chrono::DateTime::from_timestamp_micros(invitation.expires_at_us)
                        .map(|t| {
                            t.with_timezone(&config.county_offset())
                                .format("%Y-%m-%d %H:%M")
                        })
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!("account {}", invitation.account_id);
                    println!("sign-in code {} (valid until {until})", invitation.code);
                    println!("{link}");
                    println!("{qr}");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => e,
            }
        }
        AccountCommand::Disable { id, reason, store } => {
            let service = admin_service(config, &store).await?;
            let disable = DisableAccount {
                account_id: id,
                reason,
            };
            let outcome = service.disable_account(&cli_admin(), disable, None).await;
            service.log().shutdown().await;
            match outcome {
                Ok(position) => {
                    println!(
                        "account {id} is disabled (position {position}); its sessions have ended"
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => e,
            }
        }
    };
    match outcome {
        CommandError::Internal(e) => Err(e),
        e => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The CLI's committee administrator: whoever can run this command holds the data
/// directory, and so the signing secret.
fn cli_admin() -> Principal {
    Principal {
        subject: "allweather-cli".into(),
        role: Role::CommitteeAdmin,
        member_id: None,
        branch_id: None,
    }
}

/// A command service on the log of `store`.
async fn admin_service(config: &Config, store: &Store) -> Result<CommandService, CommandError> {
    let log = Log::open(config.log(store, true)?)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(CommandService::new(log, config.commands())?)
}

/// Runs one command on the log as the CLI's committee administrator (a log that cannot
/// be opened is an internal error).
async fn execute_as_admin(
    config: &Config,
    store: &Store,
    command: impl Into<Command>,
    idempotency_key: Option<&str>,
) -> Result<CommandReply, CommandError> {
    let service = admin_service(config, store).await?;
    let outcome = service.submit(&cli_admin(), command, idempotency_key).await;
    service.log().shutdown().await;
    outcome
}
