//! Documents of an order: links are issued only for the caller's own order, download real
//! PDFs without a token, and refuse to work once altered or expired.

use chrono::{DateTime, Utc};
use orderdesk::documents::DocumentKind;
use orderdesk::documents::signing::{LinkClaims, LinkKey, sign};
use orderdesk::domain::order::Order;
use serde_json::Value;

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

async fn spawn() -> TestApp {
    spawn_env(vec![]).await
}

async fn spawn_env(extra_env: Vec<(String, String)>) -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        extra_env,
        ..Default::default()
    })
    .await
}

/// A downloaded file: status, content type, disposition and bytes.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    cache_control: String,
    body: Vec<u8>,
}

impl Download {
    fn problem_code(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        v["code"].as_str().unwrap_or_default().to_string()
    }

    /// Whether the PDF shows `text`, as a reader copies it out (see [`pdf_text`]).
    fn contains(&self, text: &str) -> bool {
        pdf_shows(&self.body, text)
    }
}

/// The text of a PDF as a reader copies it out, through its fonts' ToUnicode maps: one line
/// per piece drawn in one face.
pub fn pdf_text(pdf: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("its text extracts")
}

/// Whether `pdf` shows `text`: in one piece, or across the pieces of a line of mixed
/// scripts (a reader puts a line break between them, so that comparison ignores white space).
pub fn pdf_shows(pdf: &[u8], text: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let drawn = pdf_text(pdf);
    drawn.contains(text) || squash(&drawn).contains(&squash(text))
}

/// GETs a link's `url` (a path on the api) with no headers at all.
async fn download(app: &TestApp, url: &str) -> Download {
    let url = if url.starts_with('/') {
        format!("{}{url}", app.api)
    } else {
        url.to_string()
    };
    let res = app.http.get(url).send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    Download {
        status: res.status().as_u16(),
        content_type: header("content-type"),
        disposition: header("content-disposition"),
        cache_control: header("cache-control"),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

fn order_in<'a>(app: &'a TestApp, status: &str) -> &'a Order {
    app.order_in(status)
}

/// The first seeded shipped order whose shipping address is in `country`.
fn shipped_to(app: &TestApp, country: &str) -> Order {
    app.orders
        .iter()
        .find(|o| o.status.as_str() == "shipped" && o.shipping_address.country == country)
        .unwrap_or_else(|| panic!("no shipped order to {country}"))
        .clone()
}

fn assert_pdf_of(d: &Download, order: &Order) {
    assert_eq!(d.status, 200, "{}", String::from_utf8_lossy(&d.body));
    assert_eq!(d.content_type, "application/pdf");
    assert!(d.body.starts_with(b"%PDF-"));
    assert!(
        d.contains(&order.number),
        "the PDF names order {}",
        order.number
    );
    assert!(d.cache_control.contains("no-store"), "{}", d.cache_control);
}

#[tokio::test]
async fn documents_list_links_that_download_real_pdfs() {
    let app = spawn().await;
    // shipping within the seller's country (the demo tenant ships from DE): no customs
    let order = shipped_to(&app, "DE");
    let shipment = &order.shipments[0];
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}/documents", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let links = body["data"].as_array().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = links
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["shipment_id"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("invoice", None),
            ("packing_slip", Some(shipment.id.as_str())),
            ("shipping_label", Some(shipment.id.as_str())),
        ]
    );
    for link in links {
        assert_eq!(link["content_type"], "application/pdf");
        let expires: DateTime<Utc> = link["expires_at"].as_str().unwrap().parse().unwrap();
        assert!(expires > Utc::now(), "{link}");
        let d = download(&app, link["url"].as_str().unwrap()).await;
        assert_pdf_of(&d, &order);
        let filename = link["filename"].as_str().unwrap();
        assert!(d.disposition.contains(filename), "{}", d.disposition);
    }
    let label = download(&app, links[2]["url"].as_str().unwrap()).await;
    assert!(label.contains(&shipment.tracking_number));

    // before anything shipped: the invoice and one packing slip for the whole order
    let confirmed = order_in(&app, "confirmed").clone();
    let token = app.customer_token(TENANT, &confirmed.customer_id);
    let (_, body) = app
        .get(
            &format!("/v1/customer/orders/{}/documents", confirmed.id),
            app.auth(&token, TENANT),
        )
        .await;
    let kinds: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["invoice", "packing_slip"]);
}

#[tokio::test]
async fn invoice_and_label_links() {
    let app = spawn().await;
    let order = order_in(&app, "delivered").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let h = || app.auth(&token, TENANT);

    let (status, link) = app
        .get(&format!("/v1/customer/orders/{}/invoice", order.id), h())
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["kind"], "invoice");
    assert_eq!(link["filename"], format!("invoice-{}.pdf", order.number));
    let d = download(&app, link["url"].as_str().unwrap()).await;
    assert_pdf_of(&d, &order);
    assert!(d.contains(&format!("INV-{}", order.number)));

    let shipment = &order.shipments[0];
    let (status, link) = app
        .get(
            &format!("/v1/customer/orders/{}/label/{}", order.id, shipment.id),
            h(),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["kind"], "shipping_label");
    assert_eq!(link["shipment_id"], shipment.id.as_str());
    let d = download(&app, link["url"].as_str().unwrap()).await;
    assert_pdf_of(&d, &order);
    assert!(d.contains(&shipment.tracking_number));

    // an unknown shipment, and a shipment of the same customer's other order
    let other = app
        .orders
        .iter()
        .find(|o| o.customer_id == order.customer_id && o.id != order.id && !o.shipments.is_empty())
        .expect("the customer has another shipped order");
    for shipment_id in ["shp_nope", other.shipments[0].id.as_str()] {
        let (status, body) = app
            .get(
                &format!("/v1/customer/orders/{}/label/{shipment_id}", order.id),
                h(),
            )
            .await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["code"], "shipment.not_found");
    }
    // an order without shipments has no label
    let confirmed = app
        .orders
        .iter()
        .find(|o| o.customer_id == order.customer_id && o.shipments.is_empty())
        .unwrap();
    let (status, _) = app
        .get(
            &format!("/v1/customer/orders/{}/label/{}", confirmed.id, shipment.id),
            h(),
        )
        .await;
    assert_eq!(status, 404);
}

fn issuing_paths(order: &Order) -> Vec<String> {
    let shipment = order.shipments.first().map_or("shp_x", |s| s.id.as_str());
    vec![
        format!("/v1/customer/orders/{}/documents", order.id),
        format!("/v1/customer/orders/{}/invoice", order.id),
        format!("/v1/customer/orders/{}/label/{shipment}", order.id),
    ]
}

#[tokio::test]
async fn links_need_a_token_and_the_callers_own_order() {
    let app = spawn().await;
    let order = order_in(&app, "shipped").clone();
    let stranger = app
        .orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap();
    let stranger = app.customer_token(TENANT, &stranger);
    // the same customer id in another tenant is another customer
    let other_tenant = app.customer_token(OTHER_TENANT, &order.customer_id);
    for path in issuing_paths(&order) {
        let (status, body) = app.get(&path, reqwest::header::HeaderMap::new()).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["code"], "auth.missing_token");

        let (status, body) = app.get(&path, app.auth(&stranger, TENANT)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("order.not_found")),
            "{path}"
        );

        let (status, body) = app.get(&path, app.auth(&other_tenant, OTHER_TENANT)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("order.not_found")),
            "{path}"
        );
    }
}

fn claims_for(order: &Order, expires_at: i64) -> LinkClaims {
    LinkClaims {
        tenant_id: order.tenant_id.clone(),
        customer_id: order.customer_id.clone(),
        order_id: order.id.clone(),
        kind: DocumentKind::Invoice,
        shipment_id: None,
        expires_at,
    }
}

#[tokio::test]
async fn tampered_malformed_and_expired_links_are_refused() {
    let app = spawn().await;
    let order = order_in(&app, "confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (_, link) = app
        .get(
            &format!("/v1/customer/orders/{}/invoice", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    let url = link["url"].as_str().unwrap().to_string();
    let (base, link_token) = url.rsplit_once('/').unwrap();
    let (payload, mac) = link_token.split_once('.').unwrap();

    // one character of the payload or of the signature changed
    let flip = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    for tampered in [
        format!("{}.{mac}", flip(payload)),
        format!("{payload}.{}", flip(mac)),
    ] {
        let d = download(&app, &format!("{base}/{tampered}")).await;
        assert_eq!(d.status, 403);
        assert_eq!(d.problem_code(), "download.invalid_signature");
    }
    // a fresh payload signed with a key that is not the server's
    let forged = sign(
        &LinkKey::derive(b"not-the-servers-download-secret"),
        &claims_for(&order, Utc::now().timestamp() + 600),
    );
    let d = download(&app, &format!("{base}/{forged}")).await;
    assert_eq!(
        (d.status, d.problem_code().as_str()),
        (403, "download.invalid_signature")
    );

    for garbage in ["nonsense", "a.b", "abc.%25%25"] {
        let d = download(&app, &format!("{base}/{garbage}")).await;
        assert_eq!(
            (d.status, d.problem_code().as_str()),
            (400, "download.malformed"),
            "{garbage}"
        );
    }

    // signed with the server's key, but expired a minute ago
    let key = LinkKey::derive(&app.config.download_secret);
    let expired = sign(&key, &claims_for(&order, Utc::now().timestamp() - 60));
    let d = download(&app, &format!("{base}/{expired}")).await;
    assert_eq!(
        (d.status, d.problem_code().as_str()),
        (403, "download.expired")
    );

    // the untouched link still works
    assert_pdf_of(&download(&app, &url).await, &order);

    // a valid signature over a shipment the order does not have finds nothing
    let mut claims = claims_for(&order, Utc::now().timestamp() + 600);
    claims.kind = DocumentKind::ShippingLabel;
    claims.shipment_id = Some("shp_nope".into());
    let d = download(&app, &format!("{base}/{}", sign(&key, &claims))).await;
    assert_eq!(
        (d.status, d.problem_code().as_str()),
        (404, "document.not_found")
    );
}

#[tokio::test]
async fn links_are_absolute_when_the_public_url_is_configured() {
    let app = spawn_env(vec![
        (
            "ORDERDESK_PUBLIC_URL".into(),
            "https://api.shop.example/".into(),
        ),
        ("ORDERDESK_DOWNLOAD_TTL_SECS".into(), "120".into()),
    ])
    .await;
    let order = order_in(&app, "confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let (_, link) = app
        .get(
            &format!("/v1/customer/orders/{}/invoice", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    let url = link["url"].as_str().unwrap();
    let path = url
        .strip_prefix("https://api.shop.example/v1/downloads/")
        .unwrap_or_else(|| panic!("absolute link: {url}"));
    let expires: DateTime<Utc> = link["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires <= Utc::now() + chrono::Duration::seconds(120),
        "{link}"
    );
    assert_pdf_of(
        &download(&app, &format!("/v1/downloads/{path}")).await,
        &order,
    );
}

/// Eight customers: one in each demo city, Athens (GR) and Tokyo (JP) among them.
async fn spawn_worldwide(settings: orderdesk::domain::settings::TenantSettings) -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        customers: 8,
        orders: 48,
        settings,
        ..Default::default()
    })
    .await
}

/// The kinds (and shipments) of the order's documents, as `customer` lists them.
async fn list(app: &TestApp, order: &Order) -> Vec<Value> {
    let token = app.customer_token(TENANT, &order.customer_id);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}/documents", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn kinds(links: &[Value]) -> Vec<&str> {
    links.iter().map(|l| l["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_cross_border_shipment_gets_customs_documents_a_domestic_one_none() {
    let app = spawn_worldwide(orderdesk::seed::demo_settings()).await;
    for (country, address_text) in [("JP", "東京都"), ("GR", "Αθήνα")] {
        let order = shipped_to(&app, country);
        let shipment = &order.shipments[0];
        let links = list(&app, &order).await;
        assert_eq!(
            kinds(&links),
            vec![
                "invoice",
                "packing_slip",
                "shipping_label",
                "commercial_invoice",
                "customs_declaration"
            ],
            "{country}"
        );
        for link in &links[3..] {
            assert_eq!(link["shipment_id"], shipment.id.as_str());
            let d = download(&app, link["url"].as_str().unwrap()).await;
            assert_pdf_of(&d, &order);
            assert!(d.disposition.contains(link["filename"].as_str().unwrap()));
            let a = &order.shipping_address;
            for text in [a.name.as_str(), a.line1.as_str(), address_text] {
                assert!(d.contains(text), "{country}: {text}");
            }
            for line in &order.lines {
                let hs = line.hs_code.as_deref().unwrap_or("not declared");
                assert!(d.contains(hs), "{country}: {hs} of {}", line.sku);
            }
        }
        let declaration = download(&app, links[4]["url"].as_str().unwrap()).await;
        assert!(declaration.contains("CUSTOMS DECLARATION CN2"));
        let invoice = download(&app, links[3]["url"].as_str().unwrap()).await;
        assert!(invoice.contains("COMMERCIAL INVOICE") && invoice.contains("Sale"));
    }
    let domestic = list(&app, &shipped_to(&app, "DE")).await;
    assert_eq!(
        kinds(&domestic),
        vec!["invoice", "packing_slip", "shipping_label"]
    );
}

#[tokio::test]
async fn without_a_ship_from_country_there_are_no_customs_documents() {
    let settings = orderdesk::domain::settings::TenantSettings {
        ship_from_country: None,
        ..orderdesk::seed::demo_settings()
    };
    let app = spawn_worldwide(settings).await;
    let order = shipped_to(&app, "JP");
    let links = list(&app, &order).await;
    assert_eq!(
        kinds(&links),
        vec!["invoice", "packing_slip", "shipping_label"]
    );
    // a link signed for a customs document finds nothing to render
    let key = LinkKey::derive(&app.config.download_secret);
    let mut claims = claims_for(&order, Utc::now().timestamp() + 600);
    claims.kind = DocumentKind::CustomsDeclaration;
    claims.shipment_id = Some(order.shipments[0].id.clone());
    let d = download(&app, &format!("/v1/downloads/{}", sign(&key, &claims))).await;
    assert_eq!(
        (d.status, d.problem_code().as_str()),
        (404, "document.not_found")
    );
}

#[tokio::test]
async fn another_customers_customs_documents_are_not_found() {
    let app = spawn_worldwide(orderdesk::seed::demo_settings()).await;
    let order = shipped_to(&app, "JP");
    let stranger = app
        .orders
        .iter()
        .map(|o| o.customer_id.clone())
        .find(|c| *c != order.customer_id)
        .unwrap();
    let token = app.customer_token(TENANT, &stranger);
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}/documents", order.id),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found"))
    );
    // a validly signed link naming the order under another customer finds nothing
    let key = LinkKey::derive(&app.config.download_secret);
    let mut claims = claims_for(&order, Utc::now().timestamp() + 600);
    claims.customer_id = stranger;
    claims.kind = DocumentKind::CommercialInvoice;
    claims.shipment_id = Some(order.shipments[0].id.clone());
    let d = download(&app, &format!("/v1/downloads/{}", sign(&key, &claims))).await;
    assert_eq!(
        (d.status, d.problem_code().as_str()),
        (404, "document.not_found")
    );
}
