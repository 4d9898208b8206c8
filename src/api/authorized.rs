//! [`Authorized`]: the agent extractor that also checks one permission, so an admin
//! handler's signature says what its caller must be allowed to do.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::api::auth::Agent;
use crate::auth::{Permission, Verifier};
use crate::error::{Error, Result};

/// A permission as a type, for [`Authorized`]: the markers are in [`can`].
pub trait Grant: Send + Sync {
    const PERMISSION: Permission;
}

/// An agent whose roles grant `P` (403 `auth.forbidden` naming it otherwise), checked
/// before the rest of the request is read. Derefs to the [`Agent`].
pub struct Authorized<P: Grant> {
    pub agent: Agent,
    permission: PhantomData<P>,
}

impl<P: Grant> Deref for Authorized<P> {
    type Target = Agent;

    fn deref(&self) -> &Agent {
        &self.agent
    }
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
    P: Grant,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let agent = Agent::from_request_parts(parts, state).await?;
        agent.require(P::PERMISSION)?;
        Ok(Authorized {
            agent,
            permission: PhantomData,
        })
    }
}

/// The permissions as types: `Authorized<can::OrdersRead>`.
pub mod can {
    use super::{Grant, Permission};

    macro_rules! grants {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("[`Permission::", stringify!($name), "`] as a type.")]
            pub struct $name;
            impl Grant for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    // the permissions some handler requires; add one when an endpoint needs it
    grants!(
        OrdersRead,
        OrdersSearch,
        OrdersEdit,
        OrdersHold,
        OrdersLegalHold,
        OrdersBulk,
        OrdersCancelApprove,
        OrdersCancelForce,
        AuditRead,
        FraudReview,
        JobsRead,
        JobsRetry,
        JobsCancel,
        TenantSettingsWrite,
        KeysManage,
        WebhooksManage,
        CustomersImpersonate,
        ApprovalsDecide,
        Reconcile,
        QueuesWork,
        OrdersExport,
        GdprExport,
        OrdersRefund,
        PaymentsRead,
        PaymentsCapture,
        ReturnsApprove,
        ReturnsInspect,
        OrdersFulfil
    );
}
