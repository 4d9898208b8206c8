//! The Tracking service (`/tracking`): the carrier's live view of a parcel.

use super::{UpstreamError, UpstreamReader};
use crate::config::Service::Tracking;
use crate::domain::ids::TenantId;
use crate::domain::tracking::Tracking as Parcel;

impl UpstreamReader {
    /// `GET /v1/trackings/{tracking_number}`; a number the carrier has not scanned yet is a
    /// permanent 404 `tracking.not_found`.
    pub async fn track_shipment(
        &self,
        tenant: &TenantId,
        tracking_number: &str,
    ) -> Result<Parcel, UpstreamError> {
        let url = self
            .client
            .url(Tracking, &["v1", "trackings", tracking_number])?;
        self.client.get(tenant, url).await
    }
}
