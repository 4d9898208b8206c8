//! The one-screen summary every run ends with — each figure, its target and its ratio to what
//! it is compared with in the same run — and the same as JSON (`--json FILE`), so results can
//! be compared across commits.

use std::path::Path;

use serde_json::{Value, json};

/// One figure of the summary (a median over the samples).
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable key for comparing runs, e.g. `a.runs_per_sec.1_worker`.
    pub key: &'static str,
    /// What it is, for people: `(a) 3-step runs/s, 1 worker process`.
    pub label: String,
    pub value: f64,
    /// `runs/s`, `ms`, `rps`, `×`, …
    pub unit: &'static str,
    /// The target as words: `≥ 2× BullMQ chain, same run`.
    pub target: String,
    /// What the ratio divides by, e.g. `BullMQ chain, same run` and its median.
    pub compared_with: Option<(String, f64)>,
    /// `value / compared_with`.
    pub ratio: Option<f64>,
    /// Whether the target was met; `None` when it cannot be judged in this run (or the
    /// figure is a peer's).
    pub met: Option<bool>,
    /// A peer's figure, measured for the ratios of others.
    pub peer: bool,
}

impl Figure {
    /// A figure judged on its own value.
    pub fn absolute(
        key: &'static str,
        label: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: impl Into<String>,
        met: bool,
    ) -> Figure {
        Figure {
            key,
            label: label.into(),
            value,
            unit,
            target: target.into(),
            compared_with: None,
            ratio: None,
            met: Some(met),
            peer: false,
        }
    }

    /// A peer's figure (BullMQ), measured in this run so that others are compared with it.
    pub fn peer(
        key: &'static str,
        label: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Figure {
        Figure {
            key,
            label: label.into(),
            value,
            unit,
            target: "measured in this run".into(),
            compared_with: None,
            ratio: None,
            met: None,
            peer: true,
        }
    }

    /// A figure judged by its ratio to `base` (`None`: not measured in this run), met when
    /// `ok(ratio)`.
    #[allow(clippy::too_many_arguments)]
    pub fn relative(
        key: &'static str,
        label: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: impl Into<String>,
        base: Option<(String, f64)>,
        ok: impl Fn(f64) -> bool,
    ) -> Figure {
        let ratio = base.as_ref().map(|(_, b)| value / b);
        Figure {
            key,
            label: label.into(),
            value,
            unit,
            target: target.into(),
            compared_with: base,
            ratio,
            met: ratio.map(ok),
            peer: false,
        }
    }
}

// column widths of the table, in characters
const LABEL: usize = 40;
const VALUE: usize = 15;
const TARGET: usize = 36;
const RATIO: usize = 7;

/// Everything the run measured, in order.
#[derive(Debug, Default)]
pub struct Summary {
    pub figures: Vec<Figure>,
    /// Facts that qualify the figures (a peer not measured and why, the load, …).
    pub notes: Vec<String>,
    /// Free-form facts for the JSON (peer versions, repeat count, …).
    pub context: serde_json::Map<String, Value>,
}

impl Summary {
    pub fn push(&mut self, f: Figure) {
        self.figures.push(f);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table, one line per figure.
    pub fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }

    /// The table's lines: a peer's row says it is one (it has no target of its own); a
    /// figure judged by a ratio shows the ratio, one judged on its own value shows none.
    fn lines(&self) -> Vec<String> {
        let mut out = vec![
            "\nsummary: medians; ratios are to figures measured in this same run".to_string(),
            format!(
                "  {:<LABEL$} {:>VALUE$}  {:<TARGET$} {:>RATIO$}  verdict",
                "figure", "value", "target", "ratio"
            ),
        ];
        for f in &self.figures {
            let ratio = f.ratio.map_or("—".to_string(), |r| format!("{r:.2}×"));
            let verdict = match (f.met, f.peer) {
                (_, true) => "peer",
                (Some(true), _) => "met",
                (Some(false), _) => "MISSED",
                (None, _) => "not judged",
            };
            let ratio = if f.peer { String::new() } else { ratio };
            out.push(format!(
                "  {:<LABEL$} {:>VALUE$}  {:<TARGET$} {:>RATIO$}  {verdict}",
                f.label,
                value(f.value, f.unit),
                f.target,
                ratio
            ));
        }
        for n in &self.notes {
            out.push(format!("  * {n}"));
        }
        out
    }

    /// The JSON written by `--json`.
    pub fn to_json(&self) -> Value {
        let figures: Vec<Value> = self
            .figures
            .iter()
            .map(|f| {
                json!({
                    "key": f.key,
                    "label": f.label,
                    "value": f.value,
                    "unit": f.unit,
                    "target": f.target,
                    "compared_with": f.compared_with.as_ref().map(|(what, v)| json!({"what": what, "value": v})),
                    "ratio": f.ratio,
                    "met": f.met,
                    "peer": f.peer,
                })
            })
            .collect();
        json!({
            "date": chrono::Utc::now().to_rfc3339(),
            "commit": git_commit(),
            "machine": {
                "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
                "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            },
            "context": self.context,
            "figures": figures,
            "notes": self.notes,
        })
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text + "\n")?;
        println!("  summary written to {}", path.display());
        Ok(())
    }
}

/// `1,647 runs/s`, `0.84 ms`, `0.44 /run`; a count (no unit) as a whole number: `0`.
fn value(v: f64, unit: &str) -> String {
    let n = if !v.is_finite() {
        "—".to_string()
    } else if v.abs() >= 100.0 || (unit.is_empty() && v.fract() == 0.0) {
        thousands(v.round() as i64)
    } else {
        format!("{v:.2}")
    };
    format!("{n} {unit}").trim_end().to_string()
}

fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The commit the bench was built from, `-dirty` when the tree had changes; `None` outside
/// a git checkout.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_printed_with_thousands_separators_or_two_decimals() {
        assert_eq!(value(1647.4, "runs/s"), "1,647 runs/s");
        assert_eq!(value(1_234_567.0, "rps"), "1,234,567 rps");
        assert_eq!(value(0.844, "ms"), "0.84 ms");
        assert_eq!(value(f64::NAN, "ms"), "— ms");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(value(0.0, ""), "0");
        assert_eq!(value(3.0, ""), "3");
        assert_eq!(value(1.0, "/run"), "1.00 /run");
    }

    #[test]
    fn rows_line_up_and_peers_are_marked_as_such() {
        let mut s = Summary::default();
        s.push(Figure::peer(
            "d.bullmq_jobs_per_sec",
            "(d) BullMQ drain of 20k jobs",
            13_935.4,
            "jobs/s",
        ));
        s.push(Figure::relative(
            "d.runs_per_sec",
            "(d) 20k backlog drained, runs/s",
            15_001.0,
            "runs/s",
            "≥ 1× BullMQ drain",
            Some(("BullMQ drain, same run".into(), 13_935.4)),
            |r| r >= 1.0,
        ));
        s.push(Figure::absolute(
            "d.worker_deaths",
            "(d) apalis worker deaths",
            0.0,
            "",
            "0",
            true,
        ));
        let lines = s.lines();
        let rows = &lines[2..];
        assert!(rows[0].contains("13,935 jobs/s") && rows[0].trim_end().ends_with("peer"));
        assert!(!rows[0].contains('×'), "a peer has no ratio: {}", rows[0]);
        assert!(rows[1].contains("15,001 runs/s") && rows[1].contains("1.08×"));
        assert!(rows[1].trim_end().ends_with("met"));
        // the value column ends at the same character in every row
        let end = |l: &str, v: &str| l[..l.find(v).unwrap() + v.len()].chars().count();
        assert_eq!(
            end(&rows[0], "13,935 jobs/s"),
            end(&rows[1], "15,001 runs/s")
        );
        assert_eq!(end(&rows[0], "13,935 jobs/s"), end(&rows[2], " 0 ") - 1);
    }

    #[test]
    fn a_relative_figure_is_judged_only_when_its_base_was_measured() {
        let f = Figure::relative(
            "k",
            "x",
            3000.0,
            "runs/s",
            "≥ 2×",
            Some(("p".into(), 1000.0)),
            |r| r >= 2.0,
        );
        assert_eq!((f.ratio, f.met), (Some(3.0), Some(true)));
        let f = Figure::relative("k", "x", 3000.0, "runs/s", "≥ 2×", None, |r| r >= 2.0);
        assert_eq!((f.ratio, f.met), (None, None));
        let mut s = Summary::default();
        s.push(f);
        s.note("BullMQ not measured");
        let j = s.to_json();
        assert_eq!(j["figures"][0]["met"], Value::Null);
        assert_eq!(j["figures"][0]["value"], 3000.0);
        assert_eq!(j["notes"][0], "BullMQ not measured");
    }
}
