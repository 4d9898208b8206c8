//! What the calling agent may do: the console asks once and shows only what applies.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Agent;
use crate::domain::ids::TenantId;

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionOut {
    /// e.g. `orders.read`: the scope an admin operation names in the OpenAPI document.
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyPermissionsOut {
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub agent_id: String,
    pub roles: Vec<&'static str>,
    /// Every permission one of the roles grants, in the permissions table's order.
    pub permissions: Vec<PermissionOut>,
}

impl MyPermissionsOut {
    fn of(agent: Agent) -> Self {
        let permissions = agent
            .permissions()
            .into_iter()
            .map(|p| PermissionOut {
                name: p.as_str(),
                description: p.description(),
            })
            .collect();
        MyPermissionsOut {
            roles: agent.roles.iter().map(|r| r.as_str()).collect(),
            tenant_id: agent.tenant_id,
            agent_id: agent.agent_id,
            permissions,
        }
    }
}

/// The calling agent's roles and the permissions they grant. Any agent may ask.
#[utoipa::path(get, path = "/v1/admin/permissions/me", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = MyPermissionsOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn my_permissions(agent: Agent) -> Json<MyPermissionsOut> {
    Json(MyPermissionsOut::of(agent))
}
