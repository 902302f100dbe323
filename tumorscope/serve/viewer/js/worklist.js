// The worklist: predictions with status, model, finding and review state (GET /v1/predictions), and upload.
import { ApiError, getJSON, predictionPath } from "./api.js";
import { fmtTime, h, replace } from "./dom.js";
import { describe, showError } from "./errors.js";
import { findingText, predictedClass, reviewBadge, reviewSummary, statusBadge } from "./findings.js";
import { recentIds, uploadForm } from "./upload.js";

const PAGE = 50;
const REFRESH_MS = 3000;
const STATUSES = ["", "queued", "running", "done", "failed"];

const openStudy = (id) => { location.hash = `#/study/${id}`; };

/** A worklist item (the shape of GET /v1/predictions) made from a full prediction, for the fallback list. */
function itemOf(p) {
  const r = p.result || {};
  return { id: p.id, status: p.status, model: p.model, model_version: p.model_version, created_at: p.created_at,
    finding: { ...r, predicted: predictedClass(r), n_lesions: r.lesions?.length ?? r.n_components },
    review: reviewSummary(p.reviews) };
}

async function listed(status, offset) {
  const query = new URLSearchParams({ limit: PAGE, offset });
  if (status) query.set("status", status);
  try {
    return { ...(await getJSON(`/v1/predictions?${query}`)), fallback: false };
  } catch (err) {
    // 404/405: a server without the list route (issue 27's backend): list what this tab submitted
    if (!(err instanceof ApiError) || ![404, 405].includes(err.status)) throw err;
    const items = [];
    for (const id of recentIds()) {
      try {
        items.push(itemOf(await getJSON(predictionPath(id))));
      } catch (inner) {
        if (!(inner instanceof ApiError && inner.status === 404)) throw inner;
      }
    }
    const shown = items.filter((it) => !status || it.status === status);
    return { total: shown.length, items: shown, fallback: true };
  }
}

function row(item) {
  const open = h("a", { href: `#/study/${item.id}`, class: "open", "aria-label": `open prediction ${item.id}` }, "Open");
  return h("tr", { dataset: { id: item.id }, tabindex: 0, onclick: (e) => { if (e.target !== open) openStudy(item.id); },
    onkeydown: (e) => { if (e.key === "Enter") openStudy(item.id); } },
  h("td", {}, fmtTime(item.created_at)),
  h("td", {}, statusBadge(item.status)),
  h("td", {}, item.model, h("span", { class: "hint" }, ` ${item.model_version ?? ""}`)),
  h("td", { class: "finding" }, item.status === "done" ? findingText(item.finding) : "—"),
  h("td", {}, reviewBadge(item.review)),
  h("td", { class: "id" }, h("code", {}, item.id.slice(0, 8)), " ", open));
}

export async function renderWorklist(root) {
  const models = await getJSON("/v1/models");
  let status = "", offset = 0, timer = null, alive = true;
  const body = h("tbody");
  const note = h("p", { class: "hint", role: "status" });
  const pager = h("div", { class: "pager" });
  const filter = h("select", { id: "status-filter", "aria-label": "status", onchange: () => { status = filter.value; offset = 0; load(); } },
    STATUSES.map((s) => h("option", { value: s }, s || "any status")));
  const openId = h("input", { id: "open-id", placeholder: "prediction id", size: 34, pattern: "[0-9a-f]{32}" });

  async function load() {
    clearTimeout(timer);
    let page;
    try {
      page = await listed(status, offset);
    } catch (err) {
      showError(describe(err), { context: "cannot load the worklist" });
      return;
    }
    if (!alive) return;
    replace(body, page.items.length ? page.items.map(row)
      : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No predictions yet: upload an image above.")));
    replace(note, page.fallback
      ? "This server does not list predictions (no GET /v1/predictions): showing the ones submitted from this tab."
      : `${page.total} prediction${page.total === 1 ? "" : "s"}`);
    replace(pager,
      h("button", { disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "‹ Newer"),
      h("span", {}, page.total ? `${offset + 1}–${offset + page.items.length} of ${page.total}` : ""),
      h("button", { disabled: offset + PAGE >= page.total, onclick: () => { offset += PAGE; load(); } }, "Older ›"));
    if (page.items.some((it) => it.status === "queued" || it.status === "running")) timer = setTimeout(load, REFRESH_MS);
  }

  root.append(
    h("div", { class: "worklist" },
      uploadForm(models, openStudy),
      h("section", { class: "card" },
        h("div", { class: "toolbar" },
          h("h2", {}, "Worklist"), filter,
          h("form", { class: "open-id", onsubmit: (e) => { e.preventDefault(); if (openId.value) openStudy(openId.value.trim()); } },
            openId, h("button", { type: "submit" }, "Open")),
          h("button", { onclick: load, title: "reload" }, "Refresh")),
        note,
        h("table", { class: "list" },
          h("thead", {}, h("tr", {}, ["Submitted", "Status", "Model", "Finding", "Review", "Id"].map((t) => h("th", { scope: "col" }, t)))),
          body),
        pager)));
  await load();
  return () => { alive = false; clearTimeout(timer); };
}
