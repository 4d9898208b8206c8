//! Deterministic demo data: the same counts always give the same customers and orders, in
//! every status. The product's seeder writes them into the read model and the binary hands
//! the same orders to the sandbox crate; the rules' unit tests use them as fixtures.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::ids::{CustomerId, OrderId, TenantId};
use crate::order::{
    Address, FraudState, Order, OrderLine, OrderNote, OrderStatus, Payment, RiskAssessment,
    Shipment, ShipmentLine, Totals,
};
use crate::settings::TenantSettings;

/// A small deterministic generator (splitmix64), so data never depends on a crate's RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A SKU, its name, its price and its customs data (HS code, country of origin).
type Product = (
    &'static str,
    &'static str,
    i64,
    Option<(&'static str, &'static str)>,
);

/// The demo catalog: SKU, name, price, and the customs data the Orders service has for
/// it — HS code and country of origin — or none (the planter: customs documents print
/// "not declared" for it).
const PRODUCTS: [Product; 12] = [
    (
        "SKU-TSHIRT-M",
        "Organic T-shirt (M)",
        2499,
        Some(("6109.10", "PT")),
    ),
    (
        "SKU-TSHIRT-L",
        "Organic T-shirt (L)",
        2499,
        Some(("6109.10", "PT")),
    ),
    ("SKU-HOODIE", "Zip hoodie", 5999, Some(("6110.20", "TR"))),
    ("SKU-MUG", "Stoneware mug", 1499, Some(("6912.00", "DE"))),
    ("SKU-BOTTLE", "Steel bottle", 2199, Some(("7323.93", "CN"))),
    ("SKU-CAP", "Canvas cap", 1899, Some(("6505.00", "VN"))),
    (
        "SKU-SOCKS",
        "Wool socks, 2 pairs",
        1299,
        Some(("6115.94", "IT")),
    ),
    ("SKU-TOTE", "Tote bag", 999, Some(("4202.22", "IN"))),
    (
        "SKU-NOTEBOOK",
        "Dot-grid notebook",
        1199,
        Some(("4820.10", "JP")),
    ),
    ("SKU-PEN", "Fountain pen", 3499, Some(("9608.30", "DE"))),
    ("SKU-LAMP", "Desk lamp", 7999, Some(("9405.21", "PL"))),
    ("SKU-PLANT", "Ceramic planter", 2799, None),
];
/// Where demo customers live: eight streets in each of eight cities, written as each
/// country writes them (`{n}` is the house number), in Latin, Greek and Japanese script. A
/// street is home to about 1.6 % of the customers, so a search for one finds a small part
/// of the orders, as in a real shop, not all of them.
struct City {
    name: &'static str,
    postal_code: &'static str,
    country: &'static str,
    streets: [&'static str; 8],
    names: Names,
}

/// How the people of a city are named: given names, family names, whether a middle
/// initial is written, and whether the family name comes first.
struct Names {
    given: &'static [&'static str],
    family: &'static [&'static str],
    initials: &'static [&'static str],
    family_first: bool,
}

const LATIN: Names = Names {
    given: &[
        "Ada", "Ben", "Chloé", "David", "Emma", "Felix", "Greta", "Hugo", "Inès", "Jonas", "Klara",
        "Lucas", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Samuel", "Tessa", "Victor", "Wanda",
        "Xavier", "Yara", "Zoë",
    ],
    family: &[
        "Müller", "Dubois", "de Vries", "Huber", "Smith", "Johnson", "Schmidt", "Martin", "Jansen",
        "Wagner", "Brown", "Bernard", "Bakker", "Gruber", "Taylor", "Fischer", "Petit", "Visser",
        "Bauer", "Wilson", "Weber", "Durand", "Smit", "Pichler", "Davies", "Becker", "Leroy",
        "Meijer", "Moser", "Evans",
    ],
    initials: &[
        "A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "V",
        "W",
    ],
    family_first: false,
};

const GREEK: Names = Names {
    given: &[
        "Γιώργος",
        "Μαρία",
        "Νίκος",
        "Ελένη",
        "Κώστας",
        "Αικατερίνη",
        "Δημήτρης",
        "Σοφία",
        "Γιάννης",
        "Άννα",
    ],
    family: &[
        "Παπαδάκη",
        "Οικονόμου",
        "Γεωργίου",
        "Νικολάου",
        "Αντωνίου",
        "Ιωάννου",
        "Δημητρίου",
        "Καραγιάννη",
        "Βασιλείου",
        "Μαυρίδη",
    ],
    initials: &[
        "Α", "Β", "Γ", "Δ", "Ε", "Θ", "Κ", "Λ", "Μ", "Ν", "Π", "Σ", "Τ", "Χ",
    ],
    family_first: false,
};

const JAPANESE: Names = Names {
    given: &[
        "花子",
        "太郎",
        "陽菜",
        "蓮",
        "結衣",
        "悠真",
        "さくら",
        "大翔",
        "美咲",
        "翔太",
        "葵",
        "湊",
    ],
    family: &[
        "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田",
        "山田",
    ],
    initials: &[],
    family_first: true,
};

const CITIES: [City; 8] = [
    City {
        name: "Berlin",
        postal_code: "10115",
        country: "DE",
        streets: [
            "Torstraße {n}",
            "Chausseestraße {n}",
            "Invalidenstraße {n}",
            "Friedrichstraße {n}",
            "Oranienstraße {n}",
            "Kastanienallee {n}",
            "Schönhauser Allee {n}",
            "Karl-Marx-Allee {n}",
        ],
        names: LATIN,
    },
    City {
        name: "Paris",
        postal_code: "75001",
        country: "FR",
        streets: [
            "{n} Rue de Rivoli",
            "{n} Rue Saint-Honoré",
            "{n} Quai du Louvre",
            "{n} Rue Oberkampf",
            "{n} Boulevard Voltaire",
            "{n} Rue de la Roquette",
            "{n} Avenue Parmentier",
            "{n} Rue des Martyrs",
        ],
        names: LATIN,
    },
    City {
        name: "Amsterdam",
        postal_code: "1012",
        country: "NL",
        streets: [
            "Damrak {n}",
            "Kalverstraat {n}",
            "Nieuwendijk {n}",
            "Prinsengracht {n}",
            "Herengracht {n}",
            "Keizersgracht {n}",
            "Haarlemmerstraat {n}",
            "Utrechtsestraat {n}",
        ],
        names: LATIN,
    },
    City {
        name: "Vienna",
        postal_code: "1010",
        country: "AT",
        streets: [
            "Graben {n}",
            "Kärntner Straße {n}",
            "Herrengasse {n}",
            "Mariahilfer Straße {n}",
            "Praterstraße {n}",
            "Wiedner Hauptstraße {n}",
            "Landstraßer Hauptstraße {n}",
            "Josefstädter Straße {n}",
        ],
        names: LATIN,
    },
    City {
        name: "San Francisco",
        postal_code: "94103",
        country: "US",
        streets: [
            "{n} Market Street",
            "{n} Mission Street",
            "{n} Valencia Street",
            "{n} Castro Street",
            "{n} Haight Street",
            "{n} Divisadero Street",
            "{n} Geary Boulevard",
            "{n} Irving Street",
        ],
        names: LATIN,
    },
    City {
        name: "Αθήνα",
        postal_code: "105 63",
        country: "GR",
        streets: [
            "Ερμού {n}",
            "Αιόλου {n}",
            "Σταδίου {n}",
            "Πανεπιστημίου {n}",
            "Ακαδημίας {n}",
            "Πατησίων {n}",
            "Μητροπόλεως {n}",
            "Αθηνάς {n}",
        ],
        names: GREEK,
    },
    City {
        name: "東京都",
        postal_code: "100-0005",
        country: "JP",
        streets: [
            "千代田区丸の内 {n}-1",
            "中央区銀座 {n}-2",
            "渋谷区神南 {n}-3",
            "新宿区西新宿 {n}-4",
            "港区六本木 {n}-5",
            "台東区浅草 {n}-6",
            "文京区本郷 {n}-7",
            "品川区大崎 {n}-8",
        ],
        names: JAPANESE,
    },
    City {
        name: "London",
        postal_code: "NW1 6XE",
        country: "GB",
        streets: [
            "{n} Baker Street",
            "{n} Camden High Street",
            "{n} Marylebone Road",
            "{n} Oxford Street",
            "{n} Kingsland Road",
            "{n} Brick Lane",
            "{n} Portobello Road",
            "{n} Upper Street",
        ],
        names: LATIN,
    },
];

/// The name and shipping address of the `customer`-th demo customer: the city from the
/// customer's number, then the street and house number, so neighbours share a street; the
/// name is drawn (deterministically) from the city's names, so few customers share one.
fn demo_address(customer: usize) -> Address {
    let city = &CITIES[customer % CITIES.len()];
    let rest = customer / CITIES.len();
    let street = city.streets[rest % city.streets.len()];
    let number = 1 + rest / city.streets.len() % 150;
    Address {
        name: demo_name(&city.names, customer),
        line1: street.replace("{n}", &number.to_string()),
        line2: None,
        city: city.name.into(),
        postal_code: city.postal_code.into(),
        country: city.country.into(),
    }
}

fn demo_name(names: &Names, customer: usize) -> String {
    let mut rng = Rng(0x4E41_4D45 ^ customer as u64);
    let mut pick = |list: &[&'static str]| list[rng.below(list.len() as u64) as usize];
    let (given, family) = (pick(names.given), pick(names.family));
    match (names.family_first, names.initials.is_empty()) {
        (true, _) => format!("{family} {given}"),
        (false, true) => format!("{given} {family}"),
        (false, false) => format!("{given} {}. {family}", pick(names.initials)),
    }
}

const CARRIERS: [&str; 3] = ["DHL", "UPS", "PostNL"];
const CHANNELS: [&str; 5] = ["web", "app", "web", "pos", "marketplace"];

/// Every status appears; open statuses are more common, as in a real shop.
const STATUS_CYCLE: [OrderStatus; 12] = [
    OrderStatus::Confirmed,
    OrderStatus::Pending,
    OrderStatus::Delivered,
    OrderStatus::Shipped,
    OrderStatus::Confirmed,
    OrderStatus::PartiallyShipped,
    OrderStatus::OnHold,
    OrderStatus::Cancelled,
    OrderStatus::Delivered,
    OrderStatus::Closed,
    OrderStatus::Confirmed,
    OrderStatus::Shipped,
];

pub fn customer_id(i: usize) -> CustomerId {
    CustomerId::new(format!("cus_{:04}", i + 1))
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// `orders` orders spread over `customers` customers of `tenant`.
pub fn demo_orders(tenant: &TenantId, customers: usize, orders: usize) -> Vec<Order> {
    demo_orders_iter(tenant, customers, orders).collect()
}

/// The orders of [`demo_orders`] one at a time, for loads too large to hold at once.
pub fn demo_orders_iter(
    tenant: &TenantId,
    customers: usize,
    orders: usize,
) -> impl Iterator<Item = Order> + '_ {
    let customers = customers.max(1);
    let mut rng = Rng(0x0D0E_5EED ^ (customers as u64) << 20);
    let spacing = spacing(orders);
    // the offset `i / customers` gives each customer orders in every status, even when the
    // number of customers is a multiple of the cycle's length
    (0..orders).map(move |i| {
        demo_order(
            tenant,
            i,
            i % customers,
            STATUS_CYCLE[(i + i / customers) % STATUS_CYCLE.len()],
            base_time() + spacing * i as i32,
            &mut rng,
        )
    })
}

/// Time between two orders: 37 minutes, or less when that would spread the orders over
/// more than two years (a million orders come about a minute apart, as in a busy shop).
fn spacing(orders: usize) -> Duration {
    let two_years = Duration::days(730).num_seconds();
    Duration::seconds((37 * 60).min(two_years / orders.max(1) as i64))
}

/// One order with `status`, deterministic in (`tenant`, `i`) and the generator state.
fn demo_order(
    tenant: &TenantId,
    i: usize,
    customer: usize,
    status: OrderStatus,
    placed_at: DateTime<Utc>,
    rng: &mut Rng,
) -> Order {
    let currency = ["EUR", "EUR", "USD", "GBP"][customer % 4];
    let n_lines = 1 + rng.below(4) as usize;
    let lines: Vec<OrderLine> = (0..n_lines)
        .map(|l| {
            let (sku, name, price, customs) = PRODUCTS[(rng.below(PRODUCTS.len() as u64)) as usize];
            let qty = 1 + rng.below(3) as i32;
            OrderLine {
                id: format!("lin_{:06}_{}", i + 1, l + 1),
                sku: sku.into(),
                name: name.into(),
                qty,
                unit_price_minor: price,
                total_minor: price * qty as i64,
                hs_code: customs.map(|(hs, _)| hs.into()),
                origin_country: customs.map(|(_, origin)| origin.into()),
            }
        })
        .collect();
    let subtotal: i64 = lines.iter().map(|l| l.total_minor).sum();
    let shipping = if subtotal >= 5000 { 0 } else { 499 };
    let tax = subtotal / 5;
    let total = subtotal + shipping + tax;
    let payment_status = match status {
        OrderStatus::Pending => "authorized",
        OrderStatus::Cancelled => "refunded",
        _ => "captured",
    };
    let refunded = if status == OrderStatus::Cancelled {
        total
    } else {
        0
    };
    let shipped_lines: &[OrderLine] = match status {
        OrderStatus::PartiallyShipped => &lines[..1],
        OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Closed => &lines,
        _ => &[],
    };
    let delivered = matches!(status, OrderStatus::Delivered | OrderStatus::Closed);
    let shipments = if shipped_lines.is_empty() {
        vec![]
    } else {
        let shipped_at = placed_at + Duration::hours(20);
        vec![Shipment {
            id: format!("shp_{:06}_1", i + 1),
            carrier: CARRIERS[i % CARRIERS.len()].into(),
            tracking_number: format!("TRK{:010}", 7_000_000_000u64 + (i as u64) * 7919),
            status: if delivered {
                "delivered".into()
            } else {
                "in_transit".into()
            },
            lines: shipped_lines
                .iter()
                .map(|l| ShipmentLine {
                    line_id: l.id.clone(),
                    qty: l.qty,
                })
                .collect(),
            shipped_at: Some(shipped_at),
            eta: Some(shipped_at + Duration::days(3)),
            delivered_at: delivered.then(|| shipped_at + Duration::days(2)),
        }]
    };
    let marks = demo_marks(i);
    let mut order = Order {
        id: OrderId::new(format!("ord_{:06}", i + 1)),
        tenant_id: tenant.clone(),
        number: format!("{}", 100_001 + i),
        customer_id: customer_id(customer),
        email: format!("{}@example.test", customer_id(customer)),
        status,
        currency: currency.into(),
        placed_at,
        lines,
        totals: Totals {
            subtotal_minor: subtotal,
            shipping_minor: shipping,
            tax_minor: tax,
            total_minor: total,
        },
        payments: vec![Payment {
            id: format!("pay_{:06}", i + 1),
            status: payment_status.into(),
            method: "card".into(),
            amount_minor: total,
            refunded_minor: refunded,
            refunds: vec![],
            captures: vec![],
            settlement: None,
        }],
        shipments,
        shipping_address: demo_address(customer),
        version: 1,
        updated_at: placed_at,
        cancel_reason: None,
        channel: Some(marks.channel.into()),
        external_ref: marks.external_ref,
        tags: marks.tags,
        fraud_state: marks.fraud_state,
        notes: marks.notes,
        risk: None,
    };
    order.risk = demo_risk(&order);
    order
}

/// The demo's risk rules: each triggered rule adds its weight; an order none triggers has
/// no assessment (most orders). A function of the order alone, so the read model and the
/// sandbox, seeded with the same documents, agree.
/// A rule's name, whether it triggers on an order, and its weight in the score.
type RiskRule = (&'static str, fn(&Order) -> bool, u8);

const RISK_RULES: [RiskRule; 3] = [
    ("high_value", |o| o.totals.total_minor >= 35_000, 45),
    (
        "many_units",
        |o| o.lines.iter().map(|l| l.qty).sum::<i32>() >= 9,
        30,
    ),
    ("flagged_before", |o| o.fraud_state.is_some(), 35),
];

fn demo_risk(order: &Order) -> Option<RiskAssessment> {
    let hits: Vec<_> = RISK_RULES.iter().filter(|(_, hit, _)| hit(order)).collect();
    if hits.is_empty() {
        return None;
    }
    // a spread of 0..=9 from the order number, so equal rule sets do not tie everywhere
    let spread = order.number.bytes().last().map_or(0, |b| b % 10);
    let score = hits.iter().map(|(_, _, w)| *w as u32).sum::<u32>() + spread as u32;
    Some(RiskAssessment {
        score: score.min(RiskAssessment::MAX_SCORE as u32) as u8,
        rules: hits.iter().map(|(name, _, _)| name.to_string()).collect(),
    })
}

/// What the shop and its agents attached to a demo order besides its commerce.
struct DemoMarks {
    channel: &'static str,
    external_ref: Option<String>,
    tags: Vec<String>,
    fraud_state: Option<FraudState>,
    notes: Vec<OrderNote>,
}

/// Channel, reference, tags, fraud state and notes of the `i`-th order: a function of `i`
/// alone, so they leave the generator's sequence (and so every other field) as it was.
fn demo_marks(i: usize) -> DemoMarks {
    let channel = CHANNELS[i % CHANNELS.len()];
    let mut tags = Vec::new();
    if i.is_multiple_of(7) {
        tags.push("vip".to_string());
    }
    if i % 5 == 2 {
        tags.push("gift".to_string());
    }
    let fraud_state = match i % 50 {
        17 => Some(FraudState::Review),
        33 => Some(FraudState::Cleared),
        _ => None,
    };
    let notes = match i % 13 {
        3 => vec![OrderNote {
            body: "Customer asked to leave the parcel with the neighbour".into(),
        }],
        _ => vec![],
    };
    DemoMarks {
        channel,
        external_ref: (channel == "marketplace").then(|| format!("MKT-{:08}", 40_000_000 + i)),
        tags,
        fraud_state,
        notes,
    }
}

/// Settings of the demo tenant: long cancellation and return windows, since demo orders
/// are dated in the past and the walk-through cancels and returns some.
pub fn demo_settings() -> TenantSettings {
    TenantSettings {
        cancel_window_minutes: 60 * 24 * 365 * 10,
        return_window_days: 3650,
        // orders to the other seven cities (Tokyo and Athens among them) cross a border
        ship_from_country: Some("DE".into()),
        ..TenantSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_shops_keep_37_minutes_and_a_million_orders_fit_in_two_years() {
        let tenant = TenantId::new("demo");
        let a = demo_orders(&tenant, 60, 600);
        assert_eq!(a[1].placed_at - a[0].placed_at, Duration::minutes(37));
        assert_eq!(a[0].placed_at, base_time());
        let step = spacing(1_000_000);
        assert!(step < Duration::minutes(37) && step * 1_000_000 <= Duration::days(730));
        let streamed: Vec<Order> = demo_orders_iter(&tenant, 60, 600).collect();
        assert_eq!(streamed, a);
    }

    #[test]
    fn some_orders_carry_a_risk_assessment_within_range() {
        let orders = demo_orders(&TenantId::new("demo"), 6, 200);
        let risky: Vec<_> = orders.iter().filter_map(|o| o.risk.as_ref()).collect();
        assert!(risky.len() > 5 && risky.len() < 150, "{}", risky.len());
        for r in risky {
            assert!(r.score <= RiskAssessment::MAX_SCORE && !r.rules.is_empty());
        }
        let rules = |name: &str| {
            orders
                .iter()
                .flat_map(|o| &o.risk)
                .any(|r| r.rules.iter().any(|x| x == name))
        };
        assert!(rules("high_value") && rules("many_units") && rules("flagged_before"));
    }

    #[test]
    fn names_and_addresses_vary_over_streets_cities_and_scripts() {
        let addresses: Vec<Address> = (0..50_000).map(demo_address).collect();
        let mut per_street = std::collections::HashMap::<(&str, String), usize>::new();
        let mut per_name = std::collections::HashMap::<&str, usize>::new();
        for a in &addresses {
            let street = a
                .line1
                .trim_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == '-');
            *per_street
                .entry((a.city.as_str(), street.to_string()))
                .or_default() += 1;
            *per_name.entry(a.name.as_str()).or_default() += 1;
        }
        assert_eq!(per_street.len(), 64, "{per_street:?}");
        let most = per_street.values().max().unwrap();
        assert!(*most * 50 < addresses.len(), "a street holds {most}");
        let market: Vec<_> = addresses
            .iter()
            .filter(|a| a.line1.contains("Market Street"))
            .collect();
        assert!(market.iter().all(|a| a.city == "San Francisco"));
        assert!(market.len() * 50 < addresses.len(), "{}", market.len());
        assert!(per_name.len() > 10_000, "{} names", per_name.len());
        for city in ["Αθήνα", "東京都", "Berlin", "Paris"] {
            assert!(addresses.iter().any(|a| a.city == city), "{city}");
        }
        // the test tenant's six customers include a Market Street and a Greek address
        let first: Vec<Address> = (0..6).map(demo_address).collect();
        assert!(first.iter().any(|a| a.line1 == "1 Market Street"));
        assert!(first.iter().any(|a| a.line1 == "Ερμού 1"));
    }

    #[test]
    fn same_counts_same_data_and_every_status() {
        let a = demo_orders(&TenantId::new("demo"), 60, 600);
        let b = demo_orders(&TenantId::new("demo"), 60, 600);
        assert_eq!(a, b);
        for s in OrderStatus::ALL {
            assert!(a.iter().any(|o| o.status == s), "no order in {s:?}");
        }
        assert!(
            a.iter()
                .filter(|o| o.status == OrderStatus::Shipped)
                .all(|o| !o.shipments.is_empty())
        );
        assert_eq!(
            a.iter()
                .map(|o| &o.customer_id)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            60
        );
        let first: std::collections::HashSet<_> = a
            .iter()
            .filter(|o| o.customer_id == "cus_0001")
            .map(|o| o.status)
            .collect();
        assert!(
            first.len() >= 8,
            "the demo customer has orders in every status: {first:?}"
        );
        assert!(a.iter().all(|o| o.totals.total_minor
            == o.lines.iter().map(|l| l.total_minor).sum::<i64>()
                + o.totals.shipping_minor
                + o.totals.tax_minor));
    }
}
