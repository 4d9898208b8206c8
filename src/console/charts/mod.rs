//! Charts drawn on the server as inline SVG over plain data: stacked bars, lines and
//! horizontal (grouped) bars, each with its axes, a legend, a `<title>`, an `aria-label`
//! that says what the chart shows, and the same figures as a table for screen readers and
//! for copying. No script and no `style` attribute (the console's CSP allows neither): only
//! SVG presentation attributes. Labels are text, escaped as all maud output is.

use maud::{Markup, html};

/// Width of every chart's view box; CSS scales it to the card.
const W: f64 = 440.0;
/// Height of the vertical charts' view box.
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
/// Room for the legend.
const TOP: f64 = 30.0;
/// Room for the x labels.
const BOTTOM: f64 = 30.0;
/// At most this many x labels are written; the others are left out evenly.
const MAX_X_LABELS: usize = 6;
/// Horizontal bars: the margin left of the labels and bars, the line of a row's label and
/// the thickness of one bar.
const EDGE: f64 = 8.0;
const LABEL_LINE: f64 = 18.0;
const BAR: f64 = 12.0;
/// Longest row label written in full; longer ones end with `…` (the table has them whole).
const MAX_LABEL_CHARS: usize = 56;

/// Colours that stay apart for the common colour-vision deficiencies (Okabe–Ito).
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9",
];

/// One named series of values, one per label of its [`Chart`] (`None`: no figure there).
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
}

impl Series {
    pub fn new(name: impl Into<String>, color: &'static str, values: Vec<Option<f64>>) -> Self {
        Series {
            name: name.into(),
            color,
            values,
        }
    }
}

/// What a chart shows: the x labels (or the rows of horizontal bars) and the series over
/// them. `summary` is the sentence screen readers hear; `empty` what stands instead of the
/// chart when there is nothing to draw.
pub struct Chart<'a> {
    /// Unique on the page: the ids of the title and the table derive from it.
    pub id: &'a str,
    pub title: String,
    pub summary: String,
    /// Appended to the figures on the axis and in the table (`ms`, `h`, or empty).
    pub unit: &'a str,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    pub empty: &'a str,
}

impl Chart<'_> {
    fn is_empty(&self) -> bool {
        self.labels.is_empty()
            || !self
                .series
                .iter()
                .flat_map(|s| &s.values)
                .any(|v| v.is_some_and(|v| v != 0.0))
    }

    fn value(&self, series: usize, at: usize) -> Option<f64> {
        self.series[series]
            .values
            .get(at)
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
    }
}

/// Bars over the x labels, the series stacked in their order (one series: plain bars).
pub fn stacked_bars(c: &Chart) -> Markup {
    if c.is_empty() {
        return empty(c);
    }
    let n = c.labels.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            (0..c.series.len())
                .filter_map(|s| c.value(s, i))
                .map(|v| v.max(0.0))
                .sum()
        })
        .collect();
    let top = nice_max(totals.iter().copied().fold(0.0, f64::max), whole(c));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let slot = pw / n as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: f64| TOP + ph - v / top * ph;
    let mut rects = Vec::new();
    for i in 0..n {
        let mut base = 0.0;
        for (s, series) in c.series.iter().enumerate() {
            let v = c.value(s, i).unwrap_or(0.0).max(0.0);
            if v > 0.0 {
                let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                let tip = format!("{} · {}: {}", c.labels[i], series.name, figure(v, c.unit));
                rects.push((
                    x,
                    y(base + v),
                    bar,
                    y(base) - y(base + v),
                    series.color,
                    tip,
                ));
                base += v;
            }
        }
    }
    frame(
        c,
        H,
        html! {
            (y_axis(top, c.unit, ph))
            (x_labels(&c.labels, slot))
            @for (x, y, w, h, color, tip) in &rects {
                rect x=(f(*x)) y=(f(*y)) width=(f(*w)) height=(f(h.max(0.5))) fill=(color) {
                    title { (tip) }
                }
            }
        },
    )
}

/// A drawn series: its path, colour and points (x, y, tooltip).
type Line<'a> = (String, &'a str, Vec<(f64, f64, String)>);

/// One line per series over the x labels; a missing value breaks its line.
pub fn lines(c: &Chart) -> Markup {
    if c.is_empty() {
        return empty(c);
    }
    let n = c.labels.len();
    let max = (0..c.series.len())
        .flat_map(|s| (0..n).filter_map(move |i| c.value(s, i)))
        .fold(0.0, f64::max);
    let top = nice_max(max, whole(c));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let slot = pw / n as f64;
    let x = |i: usize| LEFT + slot * i as f64 + slot / 2.0;
    let y = |v: f64| TOP + ph - v.max(0.0) / top * ph;
    let paths: Vec<Line> = c
        .series
        .iter()
        .enumerate()
        .map(|(s, series)| {
            let mut d = String::new();
            let mut pen_down = false;
            let mut dots = Vec::new();
            for i in 0..n {
                match c.value(s, i) {
                    Some(v) => {
                        d.push_str(&format!(
                            "{}{} {} ",
                            if pen_down { "L" } else { "M" },
                            f(x(i)),
                            f(y(v))
                        ));
                        pen_down = true;
                        let tip =
                            format!("{} · {}: {}", c.labels[i], series.name, figure(v, c.unit));
                        dots.push((x(i), y(v), tip));
                    }
                    None => pen_down = false,
                }
            }
            (d.trim_end().to_string(), series.color, dots)
        })
        .collect();
    frame(
        c,
        H,
        html! {
            (y_axis(top, c.unit, ph))
            (x_labels(&c.labels, slot))
            @for (d, color, dots) in &paths {
                @if !d.is_empty() {
                    path d=(d) fill="none" stroke=(color) stroke-width="2" stroke-linejoin="round" {}
                }
                @for (cx, cy, tip) in dots {
                    circle cx=(f(*cx)) cy=(f(*cy)) r="2.5" fill=(color) { title { (tip) } }
                }
            }
        },
    )
}

/// One row per label — the label written above its bars, across the chart's width, so
/// long names stay readable on a phone — with a bar per series, in the order given: for
/// rankings such as the slowest steps or the failing services.
pub fn horizontal_bars(c: &Chart) -> Markup {
    if c.is_empty() {
        return empty(c);
    }
    let k = c.series.len().max(1);
    let rows = c.labels.len();
    let row = LABEL_LINE + BAR * k as f64 + 8.0;
    let height = TOP + row * rows as f64 + 22.0;
    let max = (0..c.series.len())
        .flat_map(|s| (0..rows).filter_map(move |i| c.value(s, i)))
        .fold(0.0, f64::max);
    let top = nice_max(max, whole(c));
    let (left, pw) = (EDGE, W - EDGE - RIGHT);
    let x = |v: f64| left + v.max(0.0) / top * pw;
    let axis_y = TOP + row * rows as f64;
    frame(
        c,
        height,
        html! {
            g aria-hidden="true" {
                @for t in 0..=4 {
                    @let v = top * t as f64 / 4.0;
                    @let anchor = match t { 0 => "start", 4 => "end", _ => "middle" };
                    line x1=(f(x(v))) x2=(f(x(v))) y1=(f(TOP)) y2=(f(axis_y)) stroke="#d0d7de" stroke-width="1" {}
                    text x=(f(x(v))) y=(f(axis_y + 16.0)) text-anchor=(anchor) font-size="12" fill="#57606a" { (figure(v, c.unit)) }
                }
            }
            @for (i, label) in c.labels.iter().enumerate() {
                @let row_y = TOP + row * i as f64;
                text x=(f(left)) y=(f(row_y + LABEL_LINE - 4.0)) font-size="13" fill="#1b1f24" {
                    (shorten(label))
                    title { (label) }
                }
                @for (s, series) in c.series.iter().enumerate() {
                    @if let Some(v) = c.value(s, i) {
                        @let bar_y = row_y + LABEL_LINE + BAR * s as f64;
                        rect x=(f(left)) y=(f(bar_y)) width=(f((x(v) - left).max(1.0))) height=(f(BAR - 2.0)) fill=(series.color) {
                            title { (label) " · " (series.name) ": " (figure(v, c.unit)) }
                        }
                    }
                }
            }
        },
    )
}

/// The empty state: the chart's title and why nothing is drawn.
fn empty(c: &Chart) -> Markup {
    html! {
        figure.chart id=(c.id) {
            figcaption.chart-title { (c.title) }
            p.empty.muted data-empty="" { (c.empty) }
        }
    }
}

/// The `<figure>` around a chart: its caption, the SVG (title, legend, `body`) and the table
/// of the same figures.
fn frame(c: &Chart, height: f64, body: Markup) -> Markup {
    let title_id = format!("{}-title", c.id);
    html! {
        figure.chart id=(c.id) {
            figcaption.chart-title id=(title_id) { (c.title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {} {}", f(W), f(height)))
                role="img" aria-label=(c.summary) preserveAspectRatio="xMidYMid meet" {
                title { (c.title) }
                desc { (c.summary) }
                (legend(&c.series))
                (body)
            }
            details.chart-data {
                summary { "Figures" }
                div.table-wrap {
                    table aria-labelledby=(title_id) {
                        thead { tr {
                            th scope="col" { "" }
                            @for s in &c.series { th scope="col" class="num" { (s.name) } }
                        } }
                        tbody {
                            @for (i, label) in c.labels.iter().enumerate() {
                                tr {
                                    th scope="row" { (label) }
                                    @for s in 0..c.series.len() {
                                        td.num { @if let Some(v) = c.value(s, i) { (figure(v, c.unit)) } @else { "–" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The series' names and colours along the top.
fn legend(series: &[Series]) -> Markup {
    // each entry gets room for its name at about 8.5 units a character (a phone draws them larger)
    let mut x = LEFT;
    let entries: Vec<(f64, &Series)> = series
        .iter()
        .map(|s| {
            let at = x;
            x += 26.0 + 8.5 * s.name.chars().count() as f64;
            (at, s)
        })
        .collect();
    html! {
        g aria-hidden="true" {
            @for (x, s) in &entries {
                rect x=(f(*x)) y="8" width="12" height="12" rx="2" fill=(s.color) {}
                text x=(f(x + 16.0)) y="19" font-size="13" fill="#1b1f24" { (s.name) }
            }
        }
    }
}

/// The y axis of a vertical chart: gridlines and figures at quarters of `top`.
fn y_axis(top: f64, unit: &str, ph: f64) -> Markup {
    html! {
        g aria-hidden="true" {
            @for t in 0..=4 {
                @let v = top * t as f64 / 4.0;
                @let y = TOP + ph - ph * t as f64 / 4.0;
                line x1=(f(LEFT)) x2=(f(W - RIGHT)) y1=(f(y)) y2=(f(y)) stroke=(if t == 0 { "#57606a" } else { "#d0d7de" }) stroke-width="1" {}
                text x=(f(LEFT - 4.0)) y=(f(y + 4.0)) text-anchor="end" font-size="12" fill="#57606a" { (figure(v, unit)) }
            }
        }
    }
}

/// At most [`MAX_X_LABELS`] of the labels, evenly spaced, under the plot.
fn x_labels(labels: &[String], slot: f64) -> Markup {
    let every = labels.len().div_ceil(MAX_X_LABELS).max(1);
    html! {
        g aria-hidden="true" {
            @for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
                text x=(f(LEFT + slot * i as f64 + slot / 2.0)) y=(f(H - BOTTOM + 16.0)) text-anchor="middle" font-size="12" fill="#57606a" { (label) }
            }
        }
    }
}

/// The top of a scale drawn in quarters: four times the smallest of 1, 2, 2.5, 5 × 10ⁿ
/// that reaches `max` (for whole figures, a whole step of at least 1, so no tick reads 0.5
/// of a run). 4 when there is nothing to show.
pub fn nice_max(max: f64, whole: bool) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 4.0;
    }
    let quarter = max / 4.0;
    let magnitude = 10f64.powf(quarter.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .filter(|s| !whole || (*s >= 1.0 && s.fract() == 0.0))
        .find(|s| *s >= quarter * (1.0 - 1e-12))
        .unwrap_or(if whole {
            (10.0 * magnitude).max(1.0)
        } else {
            10.0 * magnitude
        });
    4.0 * step
}

/// Whether every figure of the chart is a whole number (counts).
fn whole(c: &Chart) -> bool {
    c.series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .all(|v| v.fract() == 0.0)
}

/// A figure as people write it: whole numbers without decimals, small ones with two.
pub fn figure(v: f64, unit: &str) -> String {
    let n = if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    let n = match n.contains('.') {
        true => n.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => n,
    };
    match unit {
        "" => n,
        u => format!("{n} {u}"),
    }
}

/// A coordinate with one decimal.
fn f(v: f64) -> String {
    format!("{v:.1}")
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests;
