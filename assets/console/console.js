// orderdesk console: live progress from server-sent events, and buttons that call the
// admin API with the session's cookie, its CSRF token and an Idempotency-Key, asking for a
// step-up when the API answers auth.sudo_required. No framework, no build step.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function notice(text, isError) {
  const el = document.getElementById("notice");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

// Resolves true once a sudo token was accepted, false when the agent cancelled.
function stepUp() {
  const dialog = document.getElementById("step-up");
  const form = document.getElementById("step-up-form");
  const error = document.getElementById("step-up-error");
  const token = document.getElementById("sudo-token");
  error.textContent = "";
  token.value = "";
  return new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener("submit", onSubmit);
      document.getElementById("step-up-cancel").removeEventListener("click", onCancel);
      dialog.close();
      resolve(ok);
    };
    const onCancel = () => done(false);
    const onSubmit = async (e) => {
      e.preventDefault();
      const res = await fetch("/console/sudo", {
        method: "POST",
        credentials: "same-origin",
        headers: { "x-csrf-token": csrf(), "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: token.value }),
      });
      if (res.status === 204) return done(true);
      const problem = await res.json().catch(() => ({}));
      error.textContent = problem.detail || "The token was not accepted.";
    };
    form.addEventListener("submit", onSubmit);
    document.getElementById("step-up-cancel").addEventListener("click", onCancel);
    dialog.showModal();
    token.focus();
  });
}

// Calls the admin API as the signed-in agent; the same key is sent again after a step-up,
// so the API answers a repeated action from its idempotency record.
async function callApi(method, url, body, key) {
  const headers = { "x-csrf-token": csrf(), "content-type": "application/json" };
  if (key) headers["idempotency-key"] = key;
  const send = () => fetch(url, { method, credentials: "same-origin", headers,
                                   body: body === undefined ? undefined : JSON.stringify(body) });
  let res = await send();
  let problem = null;
  if (res.status === 403) {
    problem = await res.clone().json().catch(() => null);
    if (problem && problem.code === "auth.sudo_required") {
      if (!(await stepUp())) return { ok: false, problem: { detail: "Cancelled: no step-up token given." } };
      res = await send();
    }
  }
  const data = await res.json().catch(() => null);
  return res.ok ? { ok: true, data } : { ok: false, problem: data || { detail: res.statusText } };
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-api]");
  if (!button) return;
  e.preventDefault();
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  const [method, url] = button.dataset.api.split(" ");
  let body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
  const reasonInput = button.dataset.reasonFrom && document.getElementById(button.dataset.reasonFrom);
  if (reasonInput && reasonInput.value.trim()) body.reason = reasonInput.value.trim();
  button.disabled = true;
  notice("Working…");
  const result = await callApi(method, url, body, button.dataset.key);
  button.disabled = false;
  if (!result.ok) {
    const p = result.problem || {};
    notice(`Refused: ${p.detail || p.title || "error"}${p.code ? ` (${p.code})` : ""}`, true);
    return;
  }
  notice(button.dataset.done || "Done.");
  if (button.dataset.then === "reload") setTimeout(() => window.location.reload(), 500);
});

function progressText(p) {
  if (!p) return "";
  let text = p.total > 0 ? `${p.done} / ${p.total} ${p.unit}` : `${p.done} ${p.unit}`;
  if (p.failed) text += ` · ${p.failed} failed`;
  if (p.eta_seconds !== undefined && p.eta_seconds !== null) text += ` · ETA ${p.eta_seconds}s`;
  return text;
}

// Shows one job's state on every element that names it (data-job="<id>").
function showJob(job) {
  document.querySelectorAll(`[data-job="${CSS.escape(job.id)}"]`).forEach((el) => {
    const percent = job.progress.percent ?? (job.progress.total > 0 ? 100 * job.progress.done / job.progress.total : 0);
    const bar = el.querySelector("progress");
    if (bar) bar.value = Math.min(100, percent);
    const label = el.querySelector(".label");
    if (label) label.textContent = progressText(job.progress);
    el.querySelectorAll('[data-field="status"]').forEach((s) => {
      s.textContent = job.status;
      s.className = `status status-${job.status}`;
    });
  });
}

// Every element with data-live-stream opens that server-sent events stream; `job` events
// update the page, `end` closes it (and reloads a page that asks for it, to show results).
function openStreams() {
  document.querySelectorAll("[data-live-stream]").forEach((el) => {
    const source = new EventSource(el.dataset.liveStream, { withCredentials: true });
    source.addEventListener("job", (e) => showJob(JSON.parse(e.data)));
    source.addEventListener("end", () => {
      source.close();
      if (el.dataset.reloadOnEnd !== undefined) setTimeout(() => window.location.reload(), 300);
    });
  });
}

document.addEventListener("DOMContentLoaded", openStreams);
