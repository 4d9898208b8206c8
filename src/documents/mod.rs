//! A customer's documents of an order — invoice, packing slips, shipping labels and, for a
//! shipment that leaves the seller's country, customs documents — rendered as PDF from the
//! order itself (`invoice`, `packing_slip`, `label`, `customs` over `pdf`), and the signed
//! links that let anyone holding one download it (`signing`). Pure: no I/O here.

pub mod barcode;
pub mod customs;
pub mod fonts;
mod invoice;
mod label;
mod layout;
pub mod money;
mod packing_slip;
pub mod pdf;
pub mod signing;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::order::{Order, OrderStatus, Shipment};

/// The media type of every document.
pub const CONTENT_TYPE: &str = "application/pdf";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    PackingSlip,
    ShippingLabel,
    /// A cross-border shipment's commercial invoice (for customs).
    CommercialInvoice,
    /// A cross-border shipment's customs declaration (CN22 or CN23).
    CustomsDeclaration,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::PackingSlip => "packing_slip",
            DocumentKind::ShippingLabel => "shipping_label",
            DocumentKind::CommercialInvoice => "commercial_invoice",
            DocumentKind::CustomsDeclaration => "customs_declaration",
        }
    }
}

/// Who sells: the name the documents print and the country the goods ship from (the
/// tenant's `ship_from_country`; customs documents only when it is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub ship_from_country: Option<String>,
}

impl Seller {
    /// A seller whose country is not known: no customs documents.
    pub fn named(name: &str) -> Seller {
        Seller {
            name: name.to_string(),
            ship_from_country: None,
        }
    }
}

/// One document of an order: its kind and, for labels and per-shipment packing slips,
/// the shipment it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub kind: DocumentKind,
    pub shipment_id: Option<String>,
}

impl DocumentRef {
    pub fn invoice() -> DocumentRef {
        DocumentRef {
            kind: DocumentKind::Invoice,
            shipment_id: None,
        }
    }

    pub fn label(shipment_id: &str) -> DocumentRef {
        DocumentRef {
            kind: DocumentKind::ShippingLabel,
            shipment_id: Some(shipment_id.to_string()),
        }
    }
}

/// Every document the order has: the invoice; a packing slip per shipment (or one for the
/// whole order while nothing has shipped, unless it was cancelled); a label per shipment;
/// and when the order ships to another country than the seller's, a commercial invoice and
/// a customs declaration per shipment.
pub fn documents_of(order: &Order, seller: &Seller) -> Vec<DocumentRef> {
    let mut docs = vec![DocumentRef::invoice()];
    if order.shipments.is_empty() {
        if order.status != OrderStatus::Cancelled {
            docs.push(DocumentRef {
                kind: DocumentKind::PackingSlip,
                shipment_id: None,
            });
        }
    } else {
        for s in &order.shipments {
            docs.push(DocumentRef {
                kind: DocumentKind::PackingSlip,
                shipment_id: Some(s.id.clone()),
            });
        }
        docs.extend(order.shipments.iter().map(|s| DocumentRef::label(&s.id)));
        if customs::crosses_border(order, seller) {
            for s in &order.shipments {
                for kind in [
                    DocumentKind::CommercialInvoice,
                    DocumentKind::CustomsDeclaration,
                ] {
                    docs.push(DocumentRef {
                        kind,
                        shipment_id: Some(s.id.clone()),
                    });
                }
            }
        }
    }
    docs
}

/// Whether the order has `doc` (the shipment exists, a slip is of the right kind, customs
/// documents only across a border).
pub fn has_document(order: &Order, seller: &Seller, doc: &DocumentRef) -> bool {
    documents_of(order, seller).contains(doc)
}

/// The download's file name, e.g. `invoice-100001.pdf`, `label-100001-shp_1.pdf`.
pub fn filename(order: &Order, doc: &DocumentRef) -> String {
    let stem = match doc.kind {
        DocumentKind::Invoice => "invoice",
        DocumentKind::PackingSlip => "packing-slip",
        DocumentKind::ShippingLabel => "label",
        DocumentKind::CommercialInvoice => "commercial-invoice",
        DocumentKind::CustomsDeclaration => "customs-declaration",
    };
    let mut name = format!("{stem}-{}", order.number);
    if let Some(shipment) = &doc.shipment_id {
        name.push('-');
        name.push_str(shipment);
    }
    // safe in a Content-Disposition header and on every file system
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    format!("{name}.pdf")
}

/// A credit note or an adjustment of the order's invoice, as Billing lists it: the invoice
/// document shows each and the balance after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceChange {
    pub id: String,
    /// A credit note (less owed); else an adjustment (more owed).
    pub credit: bool,
    pub line_id: Option<String>,
    pub amount_minor: i64,
}

/// The PDF of `doc` for `order`, sold by `seller`; `None` if the order has no such document.
pub fn render(order: &Order, seller: &Seller, doc: &DocumentRef) -> Option<Vec<u8>> {
    render_with(order, seller, doc, &[])
}

/// [`render`], the invoice showing Billing's credit notes and adjustments `changes`.
pub fn render_with(
    order: &Order,
    seller: &Seller,
    doc: &DocumentRef,
    changes: &[InvoiceChange],
) -> Option<Vec<u8>> {
    if !has_document(order, seller, doc) {
        return None;
    }
    let name = seller.name.as_str();
    let shipment = |id: &Option<String>| -> Option<&Shipment> {
        id.as_ref()
            .and_then(|id| order.shipments.iter().find(|s| &s.id == id))
    };
    Some(match doc.kind {
        DocumentKind::Invoice => invoice::render(order, name, changes),
        DocumentKind::PackingSlip => packing_slip::render(order, name, shipment(&doc.shipment_id)),
        DocumentKind::ShippingLabel => label::render(order, name, shipment(&doc.shipment_id)?),
        DocumentKind::CommercialInvoice => {
            customs::commercial_invoice(order, seller, shipment(&doc.shipment_id)?)
        }
        DocumentKind::CustomsDeclaration => {
            customs::declaration(order, seller, shipment(&doc.shipment_id)?)
        }
    })
}

#[cfg(test)]
pub(crate) mod tests;
