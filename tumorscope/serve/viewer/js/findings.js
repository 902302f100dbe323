// How a prediction's finding and review state read in the worklist and the study view.
import { fmtNumber, fmtPercent, h } from "./dom.js";

/** The finding of a worklist item (``item.finding``) or of a prediction's ``result``, as one short line. */
export function findingText(finding) {
  if (!finding) return "—";
  if (finding.predicted) {
    return finding.probability == null ? finding.predicted : `${finding.predicted} (${fmtPercent(finding.probability)})`;
  }
  if (finding.tumor_found === null || finding.tumor_found === undefined) return "—";
  if (!finding.tumor_found) return `no tumor (p ${fmtPercent(finding.probability)})`;
  const parts = [`tumor (p ${fmtPercent(finding.probability)})`];
  const lesions = finding.n_lesions ?? finding.n_components;
  if (lesions != null) parts.push(`${lesions} lesion${lesions === 1 ? "" : "s"}`);
  if (finding.volume_mm3 != null) parts.push(`${fmtNumber(finding.volume_mm3)} mm³`);
  else if (finding.volume_pixels != null) parts.push(`${fmtNumber(finding.volume_pixels, 0)} px`);
  return parts.join(" · ");
}

/** A predicted class name of a classification result (the most probable of ``probabilities``). */
export function predictedClass(result) {
  if (!result) return null;
  if (result.predicted) return result.predicted;
  const probs = result.probabilities;
  if (!probs) return null;
  return Object.entries(probs).sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}

export const statusBadge = (status) => h("span", { class: `badge status-${status}` }, status);

export function reviewBadge(review) {
  const state = review?.state ?? "unreviewed";
  const by = review?.last_reviewer ? ` by ${review.last_reviewer}` : "";
  const count = review && review.count > 1 ? ` · ${review.count} reviews` : "";
  const text = `${state}${by}${count}`;
  return h("span", { class: `badge review-${state}`, title: `last review: ${text}` }, text);
}

/** The review summary of a full prediction (``reviews`` list), in the worklist item's shape. */
export function reviewSummary(reviews) {
  const last = reviews?.[reviews.length - 1];
  return { state: last ? last.decision : "unreviewed", count: reviews?.length ?? 0, last_reviewer: last?.reviewer ?? null };
}
