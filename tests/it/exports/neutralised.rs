//! CSV exports and spreadsheets: free text that starts like a formula is written behind a
//! single quote, so finance's spreadsheet shows it instead of running it.

use serde_json::json;

use super::{download, export, spawn};

#[tokio::test]
async fn a_cell_that_starts_like_a_formula_is_exported_behind_a_quote() {
    let (app, _dir) = spawn(1).await;
    let (a, b) = (app.orders[0].id.to_string(), app.orders[1].id.to_string());
    for (id, email, external_ref) in [(&a, "=1+2@x.io", "@SUM(1)"), (&b, "-2+3@x.io", "\tref")] {
        sqlx::query(
            "UPDATE order_views
             SET email = $2, doc = jsonb_set(doc, '{external_ref}', to_jsonb($3::text))
             WHERE id = $1",
        )
        .bind(id)
        .bind(email)
        .bind(external_ref)
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    let result = export(
        &app,
        json!({"format": "csv", "columns": ["id", "email", "external_ref", "total_minor"]}),
    )
    .await;
    let text = String::from_utf8(download(&app, &result).await).unwrap();
    let row = |id: &str| {
        text.lines()
            .find(|l| l.split(',').next() == Some(id))
            .unwrap_or_else(|| panic!("{id} in {text}"))
            .to_string()
    };
    let total = |id: &str| {
        let o = app.orders.iter().find(|o| o.id.as_str() == id).unwrap();
        o.totals.total_minor.to_string()
    };
    assert_eq!(row(&a), format!("{a},'=1+2@x.io,'@SUM(1),{}", total(&a)));
    assert_eq!(row(&b), format!("{b},'-2+3@x.io,'\tref,{}", total(&b)));
    // the other orders' cells as they are
    let other = app
        .orders
        .iter()
        .find(|o| o.id != app.orders[0].id && o.id != app.orders[1].id);
    let other = other.unwrap();
    assert!(row(other.id.as_str()).contains(&format!(",{},", other.email)));
}
