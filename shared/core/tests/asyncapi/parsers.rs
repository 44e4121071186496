//! The server's own parser of each action's `data`: the request type its route hands to
//! `ClientFrame::data`. The match has no catch-all, so a new action does not build until it has
//! one here.

use cirrus_core::error::Error;
use cirrus_core::protocol::{self, Action, ClientFrame, groups, media, messages, pins, social};
use cirrus_core::service::push_devices;
use serde::de::{Deserialize, IgnoredAny};

fn parse<'a, T: Deserialize<'a>>(frame: &ClientFrame<'a>) -> Result<(), Error> {
    frame.data::<T>().map(drop)
}

/// Parses `frame`'s data as `action`'s route does.
pub fn parse_data(action: Action, frame: &ClientFrame<'_>) -> Result<(), Error> {
    match action {
        Action::MsgSend => parse::<protocol::SendRequest>(frame),
        Action::MsgHistory => parse::<protocol::HistoryRequest>(frame),
        Action::MsgRecall => parse::<messages::RecallRequest>(frame),
        Action::MsgEdit => parse::<messages::EditRequest>(frame),
        Action::MsgDelete => parse::<messages::DeleteRequest>(frame),
        Action::MsgSync => parse::<messages::SyncRequest>(frame),
        Action::MsgSignal => parse::<protocol::SignalRequest>(frame),
        Action::MediaUpload => parse::<media::UploadRequest>(frame),
        Action::MediaDownload => parse::<media::DownloadRequest>(frame),
        Action::ConvList => parse::<protocol::ConvListRequest>(frame),
        Action::ConvRead => parse::<protocol::ConvReadRequest>(frame),
        Action::ConvDelete => parse::<protocol::ConvDeleteRequest>(frame),
        Action::ConvPin | Action::ConvUnpin => parse::<pins::PinRequest>(frame),
        Action::ConvPins => parse::<pins::PinsRequest>(frame),
        // These two never read their data.
        Action::SysPing | Action::AuthLogout => parse::<IgnoredAny>(frame),
        Action::PresenceGet | Action::PresenceSubscribe | Action::PresenceUnsubscribe => {
            parse::<protocol::PresenceRequest>(frame)
        }
        Action::PushRegister => parse::<push_devices::RegisterRequest>(frame),
        Action::PushUnregister => parse::<push_devices::UnregisterRequest>(frame),
        Action::ProfileGet => parse::<social::ProfileGetRequest>(frame),
        Action::ProfileSet => parse::<social::ProfileSetRequest>(frame),
        Action::UserSearch => parse::<social::UserSearchRequest>(frame),
        Action::FriendAdd => parse::<social::FriendAddRequest>(frame),
        Action::FriendRequests => parse::<social::FriendRequestsRequest>(frame),
        Action::FriendAccept | Action::FriendReject | Action::FriendWithdraw => {
            parse::<social::PeerRequest>(frame)
        }
        Action::FriendDelete => parse::<social::FriendDeleteRequest>(frame),
        Action::FriendList => parse::<social::FriendListRequest>(frame),
        Action::FriendRemark => parse::<social::FriendRemarkRequest>(frame),
        Action::FriendCheck
        | Action::FriendDismiss
        | Action::BlockAdd
        | Action::BlockRemove
        | Action::BlockCheck => parse::<social::UserIdsRequest>(frame),
        Action::FriendRecommendations | Action::BlockList => parse::<social::PageRequest>(frame),
        Action::NotifyList => parse::<social::NotifyListRequest>(frame),
        Action::GroupCreate => parse::<groups::CreateRequest>(frame),
        Action::GroupDismiss | Action::GroupQuit => parse::<groups::GroupRequest>(frame),
        Action::GroupInfo => parse::<groups::InfoRequest>(frame),
        Action::GroupUpdate => parse::<groups::UpdateRequest>(frame),
        Action::GroupTransfer => parse::<groups::MemberRequest>(frame),
        Action::GroupMembers | Action::GroupRequests => parse::<groups::GroupPageRequest>(frame),
        Action::GroupJoined => parse::<groups::JoinedRequest>(frame),
        Action::GroupSearch => parse::<groups::SearchRequest>(frame),
        Action::GroupInvite | Action::GroupKick => parse::<groups::UsersRequest>(frame),
        Action::GroupApply => parse::<groups::ApplyRequest>(frame),
        Action::GroupRespond => parse::<groups::RespondRequest>(frame),
        Action::GroupSetRole => parse::<groups::SetRoleRequest>(frame),
        Action::GroupMute => parse::<groups::MuteRequest>(frame),
        Action::GroupMuteAll => parse::<groups::MuteAllRequest>(frame),
        Action::GroupMemberUpdate => parse::<groups::MemberUpdateRequest>(frame),
    }
}
