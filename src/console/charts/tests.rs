//! The charts' SVG: well formed, accessible, scaled, escaped, and empty when there is nothing.

use super::*;

fn chart(labels: &[&str], series: Vec<Series>) -> Chart<'static> {
    Chart {
        id: "c",
        title: "Runs <per> minute".into(),
        summary: "12 runs & more".into(),
        unit: "",
        labels: labels.iter().map(|l| l.to_string()).collect(),
        series,
        empty: "Nothing yet.",
    }
}

/// Every tag opened is closed in order (or closes itself), and no text holds a raw `<`
/// or an unescaped `&`: what a browser's XML-strict SVG reading needs.
fn assert_well_formed(markup: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut rest = markup;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "unescaped & in {text:?}"
            );
        }
        let end = rest[start..].find('>').expect("a tag ends") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "a < inside the tag {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "closing {name}");
        } else if !tag.ends_with('/') && !tag.starts_with('!') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            open.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

fn svg_of(markup: &str) -> &str {
    let start = markup.find("<svg").expect("an svg");
    let end = markup.find("</svg>").expect("its end") + "</svg>".len();
    &markup[start..end]
}

fn count(markup: &str, needle: &str) -> usize {
    markup.matches(needle).count()
}

#[test]
fn stacked_bars_are_well_formed_accessible_svg_with_a_table() {
    let c = chart(
        &["10:00", "10:01", "10:02"],
        vec![
            Series::new("succeeded", PALETTE[2], vec![Some(3.0), None, Some(1.0)]),
            Series::new("failed", PALETTE[3], vec![Some(1.0), Some(2.0), None]),
        ],
    );
    let out = stacked_bars(&c).into_string();
    assert_well_formed(&out);
    let svg = svg_of(&out);
    assert!(svg.contains(r#"role="img""#));
    assert!(svg.contains(r#"aria-label="12 runs &amp; more""#));
    assert!(svg.contains("<title>Runs &lt;per&gt; minute</title>"));
    // one rect per non-zero figure, two for the legend
    assert_eq!(count(svg, "<rect"), 4 + 2);
    // the table has a row per label and the figures
    assert_eq!(count(&out, "<th scope=\"row\">"), 3);
    assert!(out.contains("<td class=\"num\">–</td>"));
}

#[test]
fn the_tallest_stack_reaches_the_nice_top_of_the_scale() {
    let c = chart(
        &["a", "b"],
        vec![
            Series::new("x", PALETTE[0], vec![Some(3.0), Some(1.0)]),
            Series::new("y", PALETTE[1], vec![Some(2.0), Some(0.0)]),
        ],
    );
    let out = stacked_bars(&c).into_string();
    // total 5 → top 8 (whole steps of 2): the y axis says so, and 5 of 8 is that share
    // of the plot's height
    assert!(out.contains(">8</text>") && out.contains(">6</text>"));
    let plot = H - TOP - BOTTOM;
    let top_of_a = TOP + plot - 5.0 / 8.0 * plot;
    assert!(
        out.contains(&format!("y=\"{}\"", f(top_of_a))),
        "{top_of_a}: {out}"
    );
}

#[test]
fn labels_are_escaped_everywhere() {
    let c = Chart {
        labels: vec!["<script>alert(1)</script>".into()],
        ..chart(
            &[],
            vec![Series::new("a\"b<c", PALETTE[0], vec![Some(2.0)])],
        )
    };
    for out in [stacked_bars(&c), lines(&c), horizontal_bars(&c)] {
        let out = out.into_string();
        assert_well_formed(&out);
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("a\"b<c"), "{out}");
        assert!(out.contains("&lt;script&gt;"));
    }
}

#[test]
fn empty_data_is_a_message_not_a_chart() {
    let none = chart(&[], vec![]);
    let zeros = chart(
        &["a", "b"],
        vec![Series::new("x", PALETTE[0], vec![Some(0.0), None])],
    );
    for c in [none, zeros] {
        for out in [stacked_bars(&c), lines(&c), horizontal_bars(&c)] {
            let out = out.into_string();
            assert_well_formed(&out);
            assert!(!out.contains("<svg"));
            assert!(out.contains("Nothing yet."));
        }
    }
}

#[test]
fn a_missing_value_breaks_the_line() {
    let c = chart(
        &["a", "b", "c", "d"],
        vec![Series::new(
            "p50",
            PALETTE[0],
            vec![Some(1.0), Some(2.0), None, Some(4.0)],
        )],
    );
    let out = lines(&c).into_string();
    assert_well_formed(&out);
    let d = out
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(d.matches('M').count(), 2, "{d}");
    assert_eq!(d.matches('L').count(), 1, "{d}");
    assert_eq!(count(&out, "<circle"), 3);
}

#[test]
fn horizontal_bars_scale_to_the_longest_and_shorten_long_labels() {
    let c = chart(
        &[
            "short",
            "a_rather_long_workflow · and_its_step_with_a_rather_long_name",
        ],
        vec![
            Series::new("p50", PALETTE[5], vec![Some(50.0), Some(5.0)]),
            Series::new("p95", PALETTE[0], vec![Some(100.0), Some(10.0)]),
        ],
    );
    let out = horizontal_bars(&c).into_string();
    assert_well_formed(&out);
    let pw = W - EDGE - RIGHT;
    assert!(out.contains(&format!("width=\"{}\"", f(pw))), "{out}");
    assert!(out.contains(&format!("width=\"{}\"", f(pw / 2.0))));
    assert!(out.contains("a_rather_long_workflow · and_its_step_with_a_rather_lon…"));
    assert!(
        out.contains(
            "<title>a_rather_long_workflow · and_its_step_with_a_rather_long_name</title>"
        )
    );
}

#[test]
fn scales_and_figures_read_as_people_write_them() {
    assert_eq!(nice_max(0.0, true), 4.0);
    assert_eq!(nice_max(f64::NAN, false), 4.0);
    // counts: whole steps of at least one
    assert_eq!(nice_max(2.0, true), 4.0);
    assert_eq!(nice_max(7.0, true), 8.0);
    assert_eq!(nice_max(9.0, true), 20.0);
    assert_eq!(nice_max(60.0, true), 80.0);
    // measures: steps of 1, 2, 2.5 or 5
    assert_eq!(nice_max(92.0, false), 100.0);
    assert_eq!(nice_max(9.0, false), 10.0);
    assert_eq!(nice_max(0.3, false), 0.4);
    assert_eq!(nice_max(2400.0, false), 4000.0);
    assert_eq!(figure(3.0, ""), "3");
    assert_eq!(figure(2.5, "ms"), "2.5 ms");
    assert_eq!(figure(0.25, ""), "0.25");
    assert_eq!(figure(12.34, "h"), "12.3 h");
    assert_eq!(figure(1234.6, "ms"), "1235 ms");
}
