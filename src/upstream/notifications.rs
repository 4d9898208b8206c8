//! The Notifications service (`/notifications`): messages to customers.

use crate::domain::ids::TenantId;
use serde::Serialize;
use serde_json::Value;

use super::{Upstream, UpstreamError};
use crate::config::Service::Notifications;

/// A message for the Notifications service.
#[derive(Debug, Clone, Serialize)]
pub struct Notification<'a> {
    pub order_id: &'a str,
    pub to: &'a str,
    pub template: &'a str,
    pub data: Value,
}

impl Upstream {
    /// `POST /v1/messages`: `{"id":"msg_…"}`.
    pub async fn send_notification(
        &self,
        tenant: &TenantId,
        message: &Notification<'_>,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = self.client().url(Notifications, &["v1", "messages"])?;
        self.client().post(tenant, url, key, message).await
    }
}
