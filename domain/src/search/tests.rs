//! Parsing and validating searches: what is accepted, and how each refusal is named.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::error::*;
use super::page::sort_in;
use super::*;

fn request(v: Value) -> SearchRequest {
    serde_json::from_value(v).expect("a request of the right shape")
}

fn parse(v: Value) -> Result<Search, Vec<SearchError>> {
    Search::parse(&request(v))
}

fn errors(v: Value) -> Vec<SearchError> {
    parse(v).expect_err("refused")
}

fn cond(field: Field, op: Op, value: Operand) -> Filter {
    Filter::Condition(Condition { field, op, value })
}

#[test]
fn the_issue_example_parses_into_its_tree() {
    let s = parse(json!({
        "filter": {"and": [{"status": {"in": ["confirmed", "on_hold"]}},
                           {"placed_at": {"gte": "2026-01-01T00:00:00Z"}},
                           {"not": {"tags": {"contains": "vip"}}}]},
        "text": "Market Street",
        "sort": [{"field": "placed_at", "dir": "desc"}],
        "aggregations": {"by_status": {"terms": "status"},
                         "revenue": {"sum": "total_minor", "by": "currency"},
                         "per_day": {"histogram": "placed_at", "interval": "day"}},
        "limit": 50, "cursor": null
    }))
    .unwrap();
    let jan = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        s.criteria.filter,
        Some(Filter::And(vec![
            cond(
                Field::Status,
                Op::In,
                Operand::Texts(vec!["confirmed".into(), "on_hold".into()])
            ),
            cond(Field::PlacedAt, Op::Gte, Operand::Time(jan)),
            Filter::Not(Box::new(cond(
                Field::Tags,
                Op::Contains,
                Operand::Text("vip".into())
            ))),
        ]))
    );
    assert_eq!(s.criteria.text.as_deref(), Some("Market Street"));
    assert_eq!(
        s.sort,
        [SortKey {
            field: Field::PlacedAt,
            dir: Direction::Desc
        }]
    );
    let names: Vec<&str> = s.aggregations.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["by_status", "per_day", "revenue"]);
    assert_eq!(
        s.aggregations[1].aggregation,
        Aggregation::Histogram {
            field: Field::PlacedAt,
            interval: Interval::Day
        }
    );
    assert_eq!((s.limit, s.after.clone()), (50, None));
}

#[test]
fn defaults_newest_first_fifty_and_no_filter() {
    let s = parse(json!({})).unwrap();
    assert_eq!(s.sort, [page::DEFAULT_SORT]);
    assert_eq!(s.limit, DEFAULT_LIMIT);
    assert_eq!(s.criteria, Criteria::default());
    // blank text is no text
    assert_eq!(parse(json!({"text": "   "})).unwrap().criteria.text, None);
}

#[test]
fn several_operators_on_one_field_are_a_range() {
    let s = parse(json!({"filter": {"total_minor": {"gte": 1000, "lt": 5000}}})).unwrap();
    assert_eq!(
        s.criteria.filter,
        Some(Filter::And(vec![
            cond(Field::TotalMinor, Op::Gte, Operand::Int(1000)),
            cond(Field::TotalMinor, Op::Lt, Operand::Int(5000)),
        ]))
    );
}

#[test]
fn every_operator_of_every_field_takes_a_value_of_its_type() {
    for field in Field::ALL {
        for &op in field.operators() {
            let value = match (op, field.kind()) {
                (Op::Exists, _) | (_, FieldKind::Boolean) => json!(true),
                (Op::In, _) => json!([sample(field)]),
                (_, FieldKind::Integer) => json!(4999),
                (_, FieldKind::Time) => json!("2026-02-01T10:00:00+01:00"),
                _ => json!(sample(field)),
            };
            let filter = json!({ field.name(): { op.name(): value } });
            let s = parse(json!({ "filter": filter }))
                .unwrap_or_else(|e| panic!("{} {}: {e:?}", field.name(), op.name()));
            let Some(Filter::Condition(c)) = s.criteria.filter else {
                panic!("one condition")
            };
            assert_eq!((c.field, c.op), (field, op));
        }
    }
}

fn sample(field: Field) -> &'static str {
    match field {
        Field::Currency => "EUR",
        _ => field.closed_values().map(|v| v[0]).unwrap_or("x-1"),
    }
}

#[test]
fn an_unknown_field_is_named_with_every_field_that_exists() {
    let e = errors(
        json!({"filter": {"and": [{"status": {"eq": "confirmed"}}, {"colour": {"eq": "red"}}]}}),
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].code, UNKNOWN_FIELD);
    assert_eq!(e[0].path, "filter.and[1].colour");
    assert!(e[0].message.contains("`colour`"), "{}", e[0].message);
    assert!(e[0].allowed.contains(&"tracking_number") && e[0].allowed.contains(&"and"));
    assert_eq!(e[0].allowed.len(), Field::ALL.len() + 3);
}

#[test]
fn an_operator_the_field_lacks_is_named_with_the_ones_it_takes() {
    let e = errors(json!({"filter": {"status": {"like": "conf%"}}}));
    assert_eq!(e[0].code, UNKNOWN_OPERATOR);
    assert_eq!(e[0].path, "filter.status.like");
    assert_eq!(e[0].allowed, ["eq", "in"]);
    // a real operator on the wrong kind of field is just as unknown there
    let e = errors(json!({"filter": {"placed_at": {"contains": "2026"}}}));
    assert_eq!(
        (e[0].code, e[0].allowed.clone()),
        (UNKNOWN_OPERATOR, vec!["gte", "lte", "gt", "lt"])
    );
    let e = errors(json!({"filter": {"status": "confirmed"}}));
    assert_eq!(e[0].code, UNKNOWN_OPERATOR);
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let e = errors(json!({
        "filter": {"or": [{"colour": {"eq": 1}}, {"status": {"eq": "lost"}}, {"total_minor": {"gte": "ten"}}]},
        "sort": [{"field": "email"}],
        "limit": 0
    }));
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "filter.or[0].colour",
            "filter.or[1].status.eq",
            "filter.or[2].total_minor.gte",
            "sort[0].field",
            "limit"
        ]
    );
    assert_eq!(e[1].code, INVALID_VALUE);
    assert!(e[1].allowed.contains(&"on_hold"));
    assert_eq!(e[3].allowed, ["placed_at", "updated_at", "total_minor"]);
}

#[test]
fn values_must_have_the_fields_type() {
    for bad in [
        json!({"placed_at": {"gte": "yesterday"}}),
        json!({"total_minor": {"gte": 10.5}}),
        json!({"on_hold": {"eq": "yes"}}),
        json!({"tags": {"exists": "true"}}),
        json!({"currency": {"eq": "euro"}}),
        json!({"email": {"eq": ""}}),
        json!({"email": {"contains": "ab"}}),
        json!({"status": {"in": []}}),
        json!({"and": []}),
        json!({"not": [{"status": {"eq": "confirmed"}}]}),
        json!({"status": {"eq": "confirmed"}, "channel": {"eq": "web"}}),
        json!({}),
    ] {
        let e = errors(json!({ "filter": bad }));
        assert!(e.iter().all(|e| e.code == INVALID_VALUE), "{bad}: {e:?}");
    }
}

#[test]
fn depth_leaves_and_list_sizes_are_bounded() {
    let mut deep = json!({"status": {"eq": "confirmed"}});
    for _ in 0..MAX_DEPTH - 1 {
        deep = json!({ "not": deep });
    }
    assert!(
        parse(json!({ "filter": deep })).is_ok(),
        "{MAX_DEPTH} deep is fine"
    );
    let deeper = json!({"filter": {"not": deep}});
    assert_eq!(errors(deeper)[0].code, TOO_COMPLEX);

    let leaves = |n: usize| json!({"filter": {"or": (0..n).map(|i| json!({"number": {"eq": i.to_string()}})).collect::<Vec<_>>()}});
    assert!(parse(leaves(MAX_LEAVES)).is_ok());
    let e = errors(leaves(MAX_LEAVES + 1));
    assert_eq!((e.len(), e[0].code), (1, TOO_COMPLEX));

    let values = |n: usize| json!({"filter": {"id": {"in": (0..n).map(|i| format!("ord_{i}")).collect::<Vec<_>>()}}});
    assert!(parse(values(MAX_IN_VALUES)).is_ok());
    assert_eq!(errors(values(MAX_IN_VALUES + 1))[0].code, TOO_COMPLEX);

    assert_eq!(
        errors(json!({"text": "x".repeat(MAX_TEXT_LEN + 1)}))[0].code,
        TOO_COMPLEX
    );
    assert_eq!(errors(json!({"limit": MAX_LIMIT + 1}))[0].path, "limit");
    assert!(parse(json!({"limit": MAX_LIMIT})).is_ok());
}

#[test]
fn aggregations_name_unknown_kinds_fields_and_members() {
    let e = errors(json!({"aggregations": {"x": {"average": "total_minor"}}}));
    assert_eq!(
        (e[0].code, e[0].allowed.clone()),
        (UNKNOWN_AGGREGATION, vec!["terms", "sum", "histogram"])
    );
    let e = errors(json!({"aggregations": {"x": {"terms": "email"}}}));
    assert_eq!(
        (e[0].code, e[0].path.as_str()),
        (UNKNOWN_FIELD, "aggregations.x.terms")
    );
    assert!(e[0].allowed.contains(&"status"));
    let e = errors(json!({"aggregations": {"x": {"sum": "total_minor"}}}));
    assert_eq!(
        (e[0].path.as_str(), e[0].allowed.clone()),
        ("aggregations.x.by", vec!["currency"])
    );
    let e = errors(json!({"aggregations": {"x": {"histogram": "placed_at", "interval": "hour"}}}));
    assert_eq!(e[0].allowed, ["day", "week", "month"]);
    let e = errors(json!({"aggregations": {"x": {"terms": "status", "interval": "day"}}}));
    assert_eq!(
        (e[0].code, e[0].path.as_str()),
        (UNKNOWN_AGGREGATION, "aggregations.x.interval")
    );
    let e = errors(json!({"aggregations": {"x": {"terms": "status", "size": 1000}}}));
    assert_eq!(e[0].path, "aggregations.x.size");
    let many: serde_json::Map<String, Value> = (0..=MAX_AGGREGATIONS)
        .map(|i| (format!("a{i}"), json!({"terms": "status"})))
        .collect();
    assert_eq!(errors(json!({ "aggregations": many }))[0].code, TOO_COMPLEX);
}

#[test]
fn a_cursor_works_only_for_the_search_that_made_it() {
    let req = json!({"filter": {"status": {"eq": "confirmed"}}, "sort": [{"field": "total_minor", "dir": "desc"}]});
    let s = parse(req.clone()).unwrap();
    let pos = Position {
        values: vec![SortValue::Int(4999)],
        id: "ord_000042".into(),
    };
    let cursor = s.cursor_after(&pos);
    let mut next = req.clone();
    next["cursor"] = json!(cursor);
    next["limit"] = json!(10); // another page size is the same search
    assert_eq!(parse(next).unwrap().after, Some(pos));

    for other in [
        json!({"filter": {"status": {"eq": "shipped"}}, "sort": [{"field": "total_minor", "dir": "desc"}]}),
        json!({"filter": {"status": {"eq": "confirmed"}}, "sort": [{"field": "total_minor"}]}),
        json!({"filter": {"status": {"eq": "confirmed"}}, "sort": [{"field": "total_minor", "dir": "desc"}], "text": "Berlin"}),
    ] {
        let mut with = other;
        with["cursor"] = json!(cursor);
        let e = errors(with);
        assert_eq!((e[0].code, e[0].path.as_str()), (INVALID_CURSOR, "cursor"));
        assert!(e[0].message.contains("another filter"), "{}", e[0].message);
    }
    let e = errors(json!({"cursor": "not-a-cursor"}));
    assert_eq!(e[0].code, INVALID_CURSOR);
}

#[test]
fn sort_keys_are_known_distinct_and_few() {
    let s = Search::parse(&SearchRequest {
        sort: Some(sort_in(
            json!([{"field": "total_minor"}, {"field": "placed_at", "dir": "desc"}]),
        )),
        ..SearchRequest::default()
    })
    .unwrap();
    assert_eq!(s.sort.len(), 2);
    assert_eq!(s.tiebreak(), Direction::Desc);
    let e =
        errors(json!({"sort": [{"field": "placed_at"}, {"field": "placed_at", "dir": "desc"}]}));
    assert_eq!(e[0].path, "sort[1].field");
    let four = json!({"sort": [{"field": "placed_at"}, {"field": "updated_at"}, {"field": "total_minor"}, {"field": "placed_at"}]});
    assert_eq!(errors(four)[0].code, TOO_COMPLEX);
}

#[test]
fn unknown_top_level_members_are_refused_by_the_request_type() {
    let e = serde_json::from_value::<SearchRequest>(json!({"filtr": {}})).unwrap_err();
    assert!(
        e.to_string().contains("filtr") && e.to_string().contains("aggregations"),
        "{e}"
    );
}
