//! What the command service answers besides commands, decided by the domain's read rules
//! on the log's current state: whether a caller may read something at all, a member's
//! dual card, a wish's beneficiary.

use super::CommandService;
use crate::error::CommandError;
use crate::reply::{
    BeneficiaryView, CardView, CommunitySide, QuarterFeedback, SideSignature, Stars, UnitSide,
};
use allweather_domain::Principal;
use allweather_domain::command::DiscloseBeneficiary;
use allweather_domain::permissions::{Read, may_read};
use allweather_domain::personal;
use allweather_domain::values::Year;
use allweather_log::StoredKey;
use anyhow::Context as _;
use uuid::Uuid;

impl CommandService {
    /// Refuses unless `principal` may read `what` as the log stands now, decided by the
    /// domain's read rules ([`allweather_domain::permissions::may_read`]) like a command.
    /// Every query that is not public asks this before it looks anything up.
    pub async fn authorize(&self, principal: &Principal, what: &Read) -> Result<(), CommandError> {
        let ctx = self.ctx(principal, Uuid::nil(), self.inner.log.known_head());
        self.resolve(|world| may_read(world, &ctx, what), true)
            .await
            .map(drop)
    }

    /// Member `member_id`'s dual card of `year` as both sides recorded it, for those the
    /// domain lets read it ([`allweather_domain::dualcard::read`]), with the log position
    /// it reflects at least.
    pub async fn card(
        &self,
        principal: &Principal,
        member_id: Uuid,
        year: Year,
    ) -> Result<CardView, CommandError> {
        let head = self.inner.log.head().await?.position;
        let ctx = self.ctx(principal, member_id, head);
        let (_, card) = self
            .resolve(
                |world| allweather_domain::dualcard::read(world, member_id, year, &ctx).cloned(),
                true,
            )
            .await?;
        let side = |key| {
            card.signed.get(&key).map(|s| SideSignature {
                opinion: s.opinion,
                remarks: s.remarks.clone(),
                signer_id: s.signer_id,
                capacity: s.capacity,
            })
        };
        use allweather_domain::dualcard::SideKey;
        Ok(CardView {
            member_id,
            year,
            position: head,
            unit_branch_id: card.unit_branch_id,
            service_branch_id: card.service_branch_id,
            community: CommunitySide {
                feedback: card
                    .feedback
                    .iter()
                    .map(|(quarter, note)| QuarterFeedback {
                        quarter: *quarter,
                        note: note.clone(),
                    })
                    .collect(),
                stars: card.stars.as_ref().map(|(stars, reason)| Stars {
                    stars: *stars,
                    reason: reason.clone(),
                }),
                signed: side(SideKey::Community),
            },
            unit: UnitSide {
                signed: side(SideKey::Unit),
            },
            complete: card.complete,
        })
    }

    /// The name and contact of a wish's beneficiary, for those who deliver it (the
    /// domain says who: [`allweather_domain::wish::beneficiary`]); a placeholder once
    /// the person is erased. Every showing is first recorded in the log
    /// (`DiscloseBeneficiary`, on the person's stream: who and when, never the details),
    /// and counts against the caller's command rate.
    pub async fn beneficiary(
        &self,
        principal: &Principal,
        wish_id: Uuid,
    ) -> Result<BeneficiaryView, CommandError> {
        let ctx = self.ctx(principal, wish_id, self.inner.log.known_head());
        let (_, sealed) = self
            .resolve(
                |world| allweather_domain::wish::beneficiary(world, wish_id, &ctx),
                true,
            )
            .await?;
        let details = match self.inner.log.person_key(sealed.person_id).await? {
            StoredKey::Live(key) => {
                self.submit(principal, DiscloseBeneficiary { wish_id }, None)
                    .await?;
                Some(personal::open(&sealed, &key).context("open a beneficiary's details")?)
            }
            StoredKey::Erased => None,
            // Details sealed under a key the store never had: the store is out of step
            // with the log (a restore of one without the other), not an erasure.
            StoredKey::Missing => {
                return Err(anyhow::anyhow!(
                    "the key store has no key for person {}, whose details wish {wish_id} carries",
                    sealed.person_id
                )
                .into());
            }
        };
        Ok(match details {
            Some(d) => BeneficiaryView {
                wish_id,
                beneficiary_id: sealed.person_id,
                name: d.name,
                contact: d.contact,
                erased: false,
            },
            None => BeneficiaryView {
                wish_id,
                beneficiary_id: sealed.person_id,
                name: personal::ERASED.to_owned(),
                contact: None,
                erased: true,
            },
        })
    }
}
