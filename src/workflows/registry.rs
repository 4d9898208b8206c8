//! Loads `workflows.toml`, checks it against the action registration list and answers
//! lookups. Every problem of the file is reported at once, each with `file:line`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context, anyhow};
use toml::Spanned;

use super::actions;
use super::condition::Condition;
use super::spec::{
    ActionRef, DEFAULT_QUEUE, DEFAULT_TIMEOUT_MS, RawFile, RawStep, RawWorkflow, StepSpec,
    WorkflowSpec,
};

/// The validated workflows of one file.
#[derive(Debug, Clone)]
pub struct Registry {
    origin: String,
    workflows: BTreeMap<String, WorkflowSpec>,
}

impl Registry {
    /// Reads and validates the file at `path`.
    pub fn load(path: &str) -> anyhow::Result<Registry> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the workflows file {path}"))?;
        Registry::from_str(&text, path)
    }

    /// Validates `text`; `origin` names it in error messages (usually the file path).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, origin: &str) -> anyhow::Result<Registry> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            anyhow!("{origin}:{line}: {}", e.message().trim())
        })?;
        let mut errors = Vec::new();
        let mut workflows = BTreeMap::new();
        for (kind, wf) in raw.workflows {
            let mut at = |span: Option<std::ops::Range<usize>>, msg: String| {
                let line = span
                    .map(|s| line_of(text, s.start))
                    .unwrap_or_else(|| find_line(text, &kind));
                errors.push(format!("{origin}:{line}: workflow `{kind}`: {msg}"));
            };
            if let Some(spec) = validate_workflow(&kind, wf, &mut at) {
                workflows.insert(kind, spec);
            }
        }
        if !errors.is_empty() {
            return Err(anyhow!(
                "{} error(s) in {origin}:\n  {}",
                errors.len(),
                errors.join("\n  ")
            ));
        }
        Ok(Registry {
            origin: origin.to_string(),
            workflows,
        })
    }

    /// Where the workflows were read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn workflow(&self, kind: &str) -> Option<&WorkflowSpec> {
        self.workflows.get(kind)
    }

    /// Every queue a workflow names, and the bulk items' queue when a workflow starts items,
    /// sorted and without repeats: the queues the workers take and the relay fills. Without
    /// the items' queue here, items of a bulk job in a file where no workflow names it would
    /// wait forever: no worker takes a queue it does not know.
    pub fn queues(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<&str> =
            self.workflows.values().map(|w| w.queue.as_str()).collect();
        let starts_items = self
            .workflows
            .values()
            .flat_map(|w| &w.steps)
            .any(|s| s.action.name == actions::bulk::PROCESS_ITEMS);
        if starts_items {
            names.insert(actions::bulk::ITEM_QUEUE);
        }
        names.into_iter().map(String::from).collect()
    }

    /// Every workflow kind, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.workflows.keys().map(String::as_str)
    }

    /// The steps of `kind` that would run for `input` (their `when` holds), in order; empty
    /// for an unknown kind. Used by dry runs.
    pub fn planned_steps(&self, kind: &str, input: &impl serde::Serialize) -> Vec<String> {
        let Some(wf) = self.workflow(kind) else {
            return Vec::new();
        };
        let Ok(input) = serde_json::to_value(input) else {
            return Vec::new();
        };
        let input = &input;
        (0..wf.steps.len())
            .filter(|&i| wf.step_applies(i, input))
            .map(|i| wf.steps[i].name.clone())
            .collect()
    }
}

type Report<'a> = dyn FnMut(Option<std::ops::Range<usize>>, String) + 'a;

fn validate_workflow(kind: &str, wf: RawWorkflow, at: &mut Report<'_>) -> Option<WorkflowSpec> {
    let mut ok = true;
    if wf.steps.is_empty() {
        at(None, "has no steps".into());
        ok = false;
    }
    let queue = match wf.queue {
        None => DEFAULT_QUEUE.to_string(),
        Some(q) if super::spec::is_queue_name(q.get_ref()) => q.into_inner(),
        Some(q) => {
            at(
                Some(q.span()),
                format!("queue {:?} must match [a-z][a-z0-9_]{{0,31}}", q.get_ref()),
            );
            ok = false;
            String::new()
        }
    };
    let on_finish = wf
        .on_finish
        .and_then(|a| resolve(&a, "on_finish action", at));
    let mut names = HashSet::new();
    let mut steps = Vec::new();
    for step in wf.steps {
        let name = step.name.get_ref().clone();
        if !names.insert(name.clone()) {
            at(
                Some(step.name.span()),
                format!("step `{name}` is declared twice"),
            );
            ok = false;
        }
        match validate_step(step, at) {
            Some(s) => steps.push(s),
            None => ok = false,
        }
    }
    ok.then(|| WorkflowSpec {
        kind: kind.to_string(),
        description: wf.description,
        queue,
        steps,
        on_finish,
    })
}

fn validate_step(step: RawStep, at: &mut Report<'_>) -> Option<StepSpec> {
    let name = step.name.get_ref().clone();
    let mut ok = true;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        at(
            Some(step.name.span()),
            format!("step name {name:?} must match [A-Za-z0-9_]+"),
        );
        ok = false;
    }
    let action = resolve(&step.action, &format!("step `{name}`: action"), at);
    let compensate = match &step.compensate {
        Some(c) => {
            let r = resolve(c, &format!("step `{name}`: compensate action"), at);
            ok &= r.is_some();
            r
        }
        None => None,
    };
    let when = match &step.when {
        Some(w) => match Condition::parse(w.get_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                at(Some(w.span()), format!("step `{name}`: {e}"));
                ok = false;
                None
            }
        },
        None => None,
    };
    let retry = step
        .retry
        .as_ref()
        .map(|r| *r.get_ref())
        .unwrap_or_default();
    if let Some(r) = &step.retry {
        let p = r.get_ref();
        if p.max_attempts == 0 || p.base_ms == 0 || p.max_delay_ms < p.base_ms {
            at(
                Some(r.span()),
                format!(
                    "step `{name}`: retry needs max_attempts >= 1, base_ms >= 1 and \
                     max_delay_ms >= base_ms"
                ),
            );
            ok = false;
        }
    }
    let timeout_ms = step.timeout_ms.as_ref().map(|t| *t.get_ref());
    if timeout_ms == Some(0) {
        at(
            step.timeout_ms.as_ref().map(Spanned::span),
            format!("step `{name}`: timeout_ms must be > 0"),
        );
        ok = false;
    }
    let action = action?;
    ok.then(|| StepSpec {
        name,
        action,
        retry,
        timeout: Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
        compensate,
        when,
        critical: step.critical.unwrap_or(true),
    })
}

fn resolve(name: &Spanned<String>, what: &str, at: &mut Report<'_>) -> Option<ActionRef> {
    match actions::find(name.get_ref()) {
        Some(run) => Some(ActionRef {
            name: name.get_ref().clone(),
            run,
        }),
        None => {
            at(
                Some(name.span()),
                format!(
                    "{what} `{}` is not registered (known: {})",
                    name.get_ref(),
                    actions::names().collect::<Vec<_>>().join(", ")
                ),
            );
            None
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line that declares a workflow, when no span is at hand.
fn find_line(text: &str, kind: &str) -> usize {
    text.lines()
        .position(|l| l.contains(&format!("workflows.{kind}")))
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GOOD: &str = r#"
[workflows.demo]
[[workflows.demo.steps]]
name = "a"
action = "noop"
compensate = "noop"

[[workflows.demo.steps]]
name = "b"
action = "noop"
when = "input.go"
critical = false
timeout_ms = 50
retry = { max_attempts = 2, base_ms = 10, max_delay_ms = 100 }
"#;

    #[test]
    fn a_valid_file_loads() {
        let r = Registry::from_str(GOOD, "wf.toml").unwrap();
        let wf = r.workflow("demo").unwrap();
        assert_eq!(wf.steps.len(), 2);
        assert!(!wf.steps[1].critical);
        assert_eq!(wf.steps[1].timeout, Duration::from_millis(50));
        assert_eq!(wf.steps[1].retry.max_attempts, 2);
        assert_eq!(wf.steps[0].compensate.as_ref().unwrap().name, "noop");
        assert_eq!(r.planned_steps("demo", &json!({"go": true})), ["a", "b"]);
        assert_eq!(r.planned_steps("demo", &json!({})), ["a"]);
        assert!(r.planned_steps("nope", &json!({})).is_empty());
        assert_eq!(wf.queue, "interactive", "the default queue");
        assert_eq!(r.queues(), ["interactive"]);
    }

    #[test]
    fn queues_are_declared_per_workflow_and_checked() {
        let text = GOOD.replace(
            "[workflows.demo]\n",
            "[workflows.demo]\nqueue = \"exports\"\n",
        );
        let r = Registry::from_str(&text, "wf.toml").unwrap();
        assert_eq!(r.workflow("demo").unwrap().queue, "exports");
        assert_eq!(r.queues(), ["exports"]);
        // a workflow that starts bulk items brings their queue, named or not
        let starts_items = text.replace(
            "name = \"b\"\naction = \"noop\"",
            "name = \"b\"\naction = \"bulk.process_items\"",
        );
        assert_ne!(starts_items, text);
        let r = Registry::from_str(&starts_items, "wf.toml").unwrap();
        assert_eq!(r.queues(), ["bulk", "exports"]);
        for bad in ["Exports", "", "bulk-jobs", "1st", &"q".repeat(33)] {
            let text = GOOD.replace(
                "[workflows.demo]\n",
                &format!("[workflows.demo]\nqueue = {bad:?}\n"),
            );
            let e = Registry::from_str(&text, "wf.toml")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("wf.toml:3:") && e.contains("must match"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn unknown_actions_are_named_with_file_and_line() {
        let text = GOOD.replace("compensate = \"noop\"", "compensate = \"undo.everything\"");
        let text = text.replace(
            "action = \"noop\"\nwhen",
            "action = \"does.not_exist\"\nwhen",
        );
        let e = Registry::from_str(&text, "wf.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wf.toml:6:"), "{e}");
        assert!(e.contains("undo.everything"), "{e}");
        assert!(e.contains("wf.toml:10:"), "{e}");
        assert!(e.contains("does.not_exist"), "{e}");
        assert!(e.contains("2 error(s)"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let text = GOOD.replace("critical = false", "critcal = false");
        let e = Registry::from_str(&text, "wf.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wf.toml:12:") && e.contains("critcal"), "{e}");

        let text = GOOD.replace("when = \"input.go\"", "when = \"go\"");
        let e = Registry::from_str(&text, "wf.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wf.toml:11:") && e.contains("input."), "{e}");

        let text = GOOD.replace("max_attempts = 2", "max_attempts = 0");
        let e = Registry::from_str(&text, "wf.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wf.toml:14:") && e.contains("max_attempts"),
            "{e}"
        );

        let text = GOOD.replace("name = \"b\"", "name = \"a\"");
        let e = Registry::from_str(&text, "wf.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("declared twice"), "{e}");
    }

    #[test]
    fn the_shipped_workflows_file_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows.toml");
        let r = Registry::load(path).unwrap();
        let input = json!({"order_id": "o1", "refund": true, "restock": false});
        assert_eq!(
            r.planned_steps("cancel_order", &input),
            [
                "check_eligibility",
                "cancel_at_orders",
                "refund",
                "notify_customer"
            ]
        );
        assert!(r.workflow("diagnostic_noop3").is_some());
    }
}
