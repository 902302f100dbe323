// The study view's side panels: result (finding, model with a link to its card, warnings), lesions, reviews.
import { fmtNumber, fmtPercent, fmtTime, h } from "./dom.js";
import { findingText, predictedClass, reviewBadge, reviewSummary } from "./findings.js";

/** The finding, the model that made it (with a link to its card), when, and any warnings. */
export function resultPanel(prediction) {
  const r = prediction.result || {};
  const finding = { ...r, predicted: predictedClass(r), n_lesions: r.lesions?.length ?? r.n_components };
  return h("section", { class: "panel result" },
    h("h2", {}, "Result"),
    prediction.status === "done" && h("p", { id: "finding", class: "big" }, findingText(finding)),
    h("p", {}, "Model ", h("a", { id: "model-card", href: `#/models/${encodeURIComponent(prediction.model)}/card`,
      title: "the model card" }, prediction.model), " ", h("span", { class: "hint" }, prediction.model_version)),
    h("p", { class: "hint" }, `submitted ${fmtTime(prediction.created_at)}, finished ${fmtTime(prediction.finished_at)}`),
    r.dice_vs_ground_truth != null && h("p", { class: "hint" }, `Dice against the upload's own masks: ${fmtNumber(r.dice_vs_ground_truth, 3)}`),
    (r.warnings || []).map((w) => h("p", { class: "notice" }, w)));
}

/** Lesions (result.lesions, largest first); a row's button moves the crosshair to the lesion's centroid. */
export function lesionPanel(prediction, goTo) {
  const lesions = prediction.result?.lesions;
  if (!lesions) {
    const r = prediction.result || {};
    if (r.predicted || r.probabilities) return null; // a classification has no lesions
    return h("section", { class: "panel lesions" }, h("h2", {}, "Lesions"),
      h("p", { class: "notice" }, "This server's result has no lesion list (summary.json without \"lesions\")."));
  }
  const rows = lesions.map((l, n) => h("tr", { dataset: { lesion: l.id } },
    h("td", {}, h("button", { class: "link", title: "go to this lesion (N / P)", onclick: () => goTo(n) }, `#${l.id}`)),
    h("td", { class: "num" }, l.volume_mm3 == null ? `${fmtNumber(l.voxels, 0)} vox` : `${fmtNumber(l.volume_mm3)} mm³`),
    h("td", { class: "num" }, fmtPercent(l.max_probability)),
    h("td", { class: "num" }, l.slices ? `${l.slices[0] + 1}–${l.slices[1] + 1}` : "—")));
  return h("section", { class: "panel lesions" },
    h("h2", {}, `Lesions (${lesions.length})`),
    lesions.length === 0 ? h("p", {}, "No lesion.")
      : h("table", { class: "list compact", id: "lesion-table" },
        h("thead", {}, h("tr", {}, ["", "Volume", "Max p", "Slices"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)),
    lesions.some((l) => l.volume_mm3 == null) && h("p", { class: "hint" }, "No physical spacing in this input: sizes in voxels."));
}

/** Reviews so far, oldest first; a correction can be shown on the canvas with ``show(review)``. */
export function historyPanel(reviews, show) {
  return h("section", { class: "panel history" },
    h("h2", {}, "Reviews ", reviewBadge(reviewSummary(reviews))),
    reviews.length === 0 ? h("p", { class: "hint" }, "Not reviewed yet.")
      : h("ol", { id: "review-history" }, reviews.map((r) => h("li", {},
        h("strong", {}, r.decision), ` by ${r.reviewer}, ${fmtTime(r.created_at)}`,
        r.comment && h("q", {}, r.comment),
        r.decision === "correct" && show && h("button", { class: "link", onclick: () => show(r) }, "show")))));
}
