//! One request decided for many: `IssueDualCard` for all members, one decision per member
//! (which also keeps every append under the log's 100-event limit).

use super::CommandService;
use crate::error::CommandError;
use crate::reply::{CommandReply, Skipped};
use allweather_domain::command::IssueDualCard;
use allweather_domain::values::Year;
use allweather_domain::{Command, Principal};
use uuid::Uuid;

impl CommandService {
    /// `IssueDualCard` with `all_members`: a committee admin's one request, decided as
    /// one `IssueDualCard` per registered member, each under a command id derived from
    /// the request's and the member's (so a repeat of the request repeats each and
    /// appends nothing). A member the rules refuse a card (one already issued, no
    /// service branch) is skipped and reported with the rule.
    pub(super) async fn issue_cards_in_bulk(
        &self,
        principal: &Principal,
        command_id: Uuid,
        year: Year,
    ) -> Result<CommandReply, CommandError> {
        let head = self.inner.log.known_head();
        let ctx = self.ctx(principal, command_id, head);
        self.resolve(
            |world| allweather_domain::dualcard::may_issue_in_bulk(world, year, &ctx),
            true,
        )
        .await?;
        let mut issued = Vec::new();
        let mut skipped = Vec::new();
        let mut events = Vec::new();
        let mut position = 0;
        for id in self.inner.log.stream_ids("member").await? {
            let Ok(member_id) = id.parse::<Uuid>() else {
                continue;
            };
            let key = Uuid::new_v5(&command_id, member_id.as_bytes()).to_string();
            let body = Command::from(IssueDualCard {
                member_id: Some(member_id),
                year,
                all_members: None,
            })
            .body()
            .to_string();
            match Box::pin(self.run(principal, "IssueDualCard", Some(&key), body.as_bytes())).await
            {
                Ok(reply) => {
                    issued.push(member_id);
                    position = position.max(reply.position);
                    events.extend(reply.events);
                }
                Err(CommandError::Refused(e)) => skipped.push(Skipped {
                    member_id,
                    rule: e.rule.name().to_owned(),
                    detail: e.detail,
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(CommandReply {
            command_id,
            position,
            id: String::new(),
            events,
            issued: Some(issued),
            skipped: Some(skipped),
            signin_code: None,
        })
    }
}
