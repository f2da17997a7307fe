//! Campaigns: reservoir resettlement, clean-up, the village service street, festivals.

use crate::command::{CloseCampaign, LaunchCampaign};
use crate::ctx::Ctx;
use crate::error::{Decide, Rule, ensure};
use crate::event::{CampaignClosed, CampaignLaunched, Event};
use crate::permissions::require_role;
use crate::values::{self, CampaignKind};
use crate::world::{Decision, World, streams};
use allweather_events::Role;
use chrono::NaiveDate;
use uuid::Uuid;

/// A campaign's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaign {
    /// Launched (the stream exists).
    pub launched: bool,
    /// Its kind.
    pub kind: Option<CampaignKind>,
    /// First and last day.
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Closed.
    pub closed: bool,
}

impl Campaign {
    /// Evolve.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::CampaignLaunched(e) => {
                self.launched = true;
                self.kind = Some(e.kind);
                self.dates = Some((e.starts_on, e.ends_on));
            }
            Event::CampaignClosed(_) => self.closed = true,
            _ => {}
        }
    }
}

/// The launched campaign `id`, or why not.
pub(crate) fn existing(world: &World, id: Uuid) -> Result<&Campaign, Decide> {
    let campaign: &Campaign = world.get(streams::campaign(id))?;
    ensure(campaign.launched, Rule::CampaignNotFound, || {
        format!("there is no campaign {id}")
    })?;
    Ok(campaign)
}

pub(crate) fn launch(world: &World, c: &LaunchCampaign, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "launching a campaign")?;
    let id = c.campaign_id.unwrap_or(ctx.new_id);
    let stream = streams::campaign(id);
    let campaign: &Campaign = world.get(stream.clone())?;
    ensure(!campaign.launched, Rule::AlreadyExists, || {
        format!("campaign {id} is already launched")
    })?;
    let name = values::text("name", &c.name, values::TEXT_NAME)?;
    ensure(c.starts_on <= c.ends_on, Rule::DatesOutOfOrder, || {
        format!(
            "the campaign ends ({}) before it starts ({})",
            c.ends_on, c.starts_on
        )
    })
    .map_err(|e| e.on("ends_on"))?;
    Ok(Decision::to(
        stream,
        vec![Event::CampaignLaunched(CampaignLaunched {
            name,
            kind: c.kind,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
        })],
    ))
}

pub(crate) fn close(world: &World, c: &CloseCampaign, ctx: &Ctx) -> Result<Decision, Decide> {
    require_role(ctx, &[Role::CommitteeAdmin], "closing a campaign")?;
    let campaign = existing(world, c.campaign_id)?;
    ensure(!campaign.closed, Rule::CampaignAlreadyClosed, || {
        format!("campaign {} is already closed", c.campaign_id)
    })?;
    Ok(Decision::to(
        streams::campaign(c.campaign_id),
        vec![Event::CampaignClosed(CampaignClosed {
            closed_on: ctx.today,
        })],
    ))
}
