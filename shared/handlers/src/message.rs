//! The message routes (`msg.*`, `conv.*`, `sys.*` and `$default`): one reply frame per request.

use crate::context::caller;
use crate::deps::Deps;
use crate::response;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use cirrus_core::error::{Error, Result};
use cirrus_core::protocol::messages::{Deleted, Recalled, SyncReply, SyncedConversation as SyncedView};
use cirrus_core::protocol::{
    Action, ClientFrame, ConvListReply, ConversationView, HistoryReply, PingReply, PresenceReply, reply_err,
    reply_ok,
};
use cirrus_core::service::Caller;

/// Routes `msg.send`, `msg.history`, `conv.list`, `conv.read`, `sys.ping` and `$default`: runs the
/// action named in the frame and returns the reply frame as the route response body.
#[tracing::instrument(level = "debug", skip_all, fields(connection = ?request.request_context.connection_id))]
pub async fn message(deps: &Deps, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let body = request.body.as_deref().unwrap_or_default();
    let reply = match ClientFrame::parse(body) {
        Ok(frame) => {
            let req_id = frame.req_id.as_deref();
            match run(deps, &request, &frame).await {
                Ok(reply) => reply,
                Err(err) => {
                    log_failure(frame.action.as_deref(), &err);
                    reply_err(req_id, &err)
                }
            }
        }
        Err(err) => reply_err(None, &err),
    };
    // An empty reply (logout's, already posted) sends no frame.
    response(200, (!reply.is_empty()).then_some(reply))
}

fn log_failure(action: Option<&str>, err: &Error) {
    if err.is_internal() {
        tracing::error!(action, error = ?err, "request failed");
    } else {
        tracing::debug!(action, code = %err.code(), "request refused");
    }
}

async fn run(
    deps: &Deps,
    request: &ApiGatewayWebsocketProxyRequest,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let name = frame
        .action
        .as_deref()
        .ok_or_else(|| Error::MissingField("action".to_owned()))?;
    let action =
        Action::from_name(name).ok_or_else(|| Error::UnknownAction(name.chars().take(64).collect()))?;
    let caller = caller(request)?;
    if caller.guest && !action.open_to_guests(deps.limits.accounts.guest_c2c) {
        return Err(Error::GuestNotAllowed(action.name()));
    }
    dispatch(deps, &caller, action, frame).await
}

async fn dispatch(deps: &Deps, caller: &Caller, action: Action, frame: &ClientFrame<'_>) -> Result<String> {
    let req_id = frame.req_id.as_deref();
    match action {
        Action::MsgSend => {
            let ack = deps.messages.send(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &ack))
        }
        Action::MsgHistory => {
            let page = deps.messages.history(caller, frame.data()?).await?;
            let messages = page.messages.iter().map(|m| m.view(&caller.user)).collect();
            Ok(reply_ok(
                req_id,
                &HistoryReply {
                    messages,
                    complete: page.complete,
                },
            ))
        }
        Action::MsgRecall => {
            let message = deps.messages.recall(caller, frame.data()?).await?;
            let recall = message
                .recalled
                .as_ref()
                .ok_or_else(|| Error::store("a recalled message came back without its recall"))?;
            Ok(reply_ok(
                req_id,
                &Recalled {
                    conversation_id: message.to.conversation_for(&message.from, &caller.user),
                    msg_id: &message.msg_id,
                    seq: message.seq,
                    recalled_by: &recall.by,
                    time: recall.time,
                },
            ))
        }
        Action::MsgDelete => {
            let (conversation_id, seqs) = deps.messages.delete(caller, frame.data()?).await?;
            Ok(reply_ok(
                req_id,
                &Deleted {
                    conversation_id: &conversation_id,
                    seqs: &seqs,
                },
            ))
        }
        Action::MsgSync => {
            let synced = deps.messages.sync(caller, frame.data()?).await?;
            let conversations = synced
                .iter()
                .map(|conversation| SyncedView {
                    conversation_id: &conversation.conversation_id,
                    last_seq: conversation.last_seq,
                    read_seq: conversation.read_seq,
                    unread: conversation.last_seq.saturating_sub(conversation.read_seq),
                    messages: conversation
                        .page
                        .messages
                        .iter()
                        .map(|m| m.view(&caller.user))
                        .collect(),
                    complete: conversation.page.complete,
                })
                .collect();
            Ok(reply_ok(req_id, &SyncReply { conversations }))
        }
        Action::ConvList => {
            let page = deps.conversations.list(caller, frame.data()?).await?;
            let conversations = page
                .entries
                .iter()
                .map(|entry| ConversationView {
                    conversation_id: &entry.conversation_id,
                    r#type: entry.conversation_id.kind(),
                    peer: entry.conversation_id.peer(),
                    last_message: entry.last_message.as_ref().map(|m| m.view(&caller.user)),
                    last_seq: entry.last_seq,
                    read_seq: entry.read_seq,
                    unread: entry.unread(),
                    updated_at: entry.updated_at,
                })
                .collect();
            Ok(reply_ok(
                req_id,
                &ConvListReply {
                    conversations,
                    cursor: page.cursor,
                },
            ))
        }
        Action::ConvRead => {
            deps.conversations.read(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::ConvDelete => {
            deps.conversations.delete(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &serde_json::json!({})))
        }
        Action::PresenceGet => {
            let users = deps.presence.get(frame.data()?).await?;
            Ok(reply_ok(req_id, &PresenceReply { users }))
        }
        Action::PresenceSubscribe => {
            let reply = deps.presence.subscribe(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &reply))
        }
        Action::PresenceUnsubscribe => {
            let reply = deps.presence.unsubscribe(caller, frame.data()?).await?;
            Ok(reply_ok(req_id, &reply))
        }
        Action::AuthLogout => {
            deps.accounts.logout(caller).await?;
            let reply = reply_ok(req_id, &serde_json::json!({}));
            // The reply goes out before the close, so it is posted rather than returned.
            if let Some(connection) = &caller.connection {
                deps.gateway.post(connection, reply.into()).await?;
                deps.gateway.close(connection).await?;
            }
            Ok(String::new())
        }
        Action::SysPing => Ok(reply_ok(
            req_id,
            &PingReply {
                time: deps.clock.now_ms(),
            },
        )),
        Action::MediaUpload | Action::MediaDownload => {
            crate::media::dispatch(deps, caller, action, frame).await
        }
        other => crate::social::dispatch(deps, caller, other, frame).await,
    }
}
