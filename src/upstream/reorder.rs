//! The reads behind a reorder plan, across two services: each SKU's catalog entry (Orders)
//! and stock (Inventory), planned by `domain::reorder::plan`.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::{UpstreamError, UpstreamReader};
use crate::domain::order::{Order, OrderLine};
use crate::domain::reorder::{self, ReorderPlan, SkuNow};

/// Upstream reads of one reorder plan run at most this many at a time.
const PLAN_CONCURRENCY: usize = 8;

impl UpstreamReader {
    /// Reads the catalog entry and stock of each SKU of `lines` (a few at a time) and plans
    /// the reorder with `domain::reorder::plan`. Reads only.
    pub async fn reorder_plan(
        &self,
        order: &Order,
        lines: &[&OrderLine],
    ) -> Result<ReorderPlan, UpstreamError> {
        let mut skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
        skus.sort_unstable();
        skus.dedup();
        let tenant = &order.tenant_id;
        // owned SKUs: a closure over borrowed ones is not general enough for a Send future
        let now: HashMap<String, SkuNow> = futures::stream::iter(skus)
            .map(|sku: String| async move {
                let (catalog, on_hand) = futures::try_join!(
                    self.catalog_item(tenant, &sku, &order.currency),
                    self.stock_on_hand(tenant, &sku)
                )?;
                Ok::<_, UpstreamError>((sku, SkuNow { catalog, on_hand }))
            })
            .buffer_unordered(PLAN_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(reorder::plan(order, lines, &now))
    }
}
