// Review: Accept / Reject with a comment, or Correct: edit the AI mask on NiiVue's drawing layer (brush, eraser,
// undo) and save it through POST /v1/predictions/{id}/review as multipart decision=correct, comment, mask (NIfTI).
import { postForm, postJSON, predictionPath } from "./api.js";
import { fmtNumber, fmtTime, h, replace } from "./dom.js";
import { describe, showError } from "./errors.js";

const MAX_COMMENT = 10000;

/** The review panel of a finished prediction, with its correction toolbar as ``.correctionBar`` (for the page to
 * place by the canvas) and ``.startCorrection()``. ``onSaved(review)`` after each saved review. */
export function reviewPanel(prediction, viewer, { canCorrect, onSaved }) {
  const id = prediction.id;
  const comment = h("textarea", { id: "review-comment", rows: 3, maxlength: MAX_COMMENT, placeholder: "comment (optional)" });
  const result = h("p", { class: "hint", role: "status", id: "review-result" });
  const size = h("input", { id: "brush-size", type: "range", min: 1, max: 15, value: 3, "aria-label": "brush size",
    oninput: () => viewer.setBrushSize(Number(size.value)) });
  const tools = {
    brush: h("button", { id: "tool-brush", onclick: () => viewer.useTool("brush"), title: "paint tumor (B)" }, "Brush"),
    eraser: h("button", { id: "tool-eraser", onclick: () => viewer.useTool("eraser"), title: "erase (E)" }, "Eraser"),
    undo: h("button", { id: "tool-undo", onclick: () => viewer.undo(), title: "undo the last stroke (Ctrl+Z)" }, "Undo"),
  };
  const save = h("button", { id: "save-correction", class: "primary", onclick: () => saveCorrection() }, "Save correction");
  const cancel = h("button", { id: "cancel-correction", onclick: () => stop() }, "Cancel");
  const toolbar = h("div", { class: "toolbar correction", hidden: true, role: "toolbar", "aria-label": "correction tools" },
    h("strong", {}, "Correcting the AI mask"), tools.brush, tools.eraser, tools.undo, h("label", {}, "size ", size), save, cancel,
    h("span", { class: "hint" }, "left button paints; the review comment is saved with it"));
  const buttons = {
    accept: h("button", { id: "review-accept", class: "accept", onclick: () => decide("accept") }, "Accept"),
    reject: h("button", { id: "review-reject", class: "reject", onclick: () => decide("reject") }, "Reject"),
    correct: h("button", { id: "review-correct", onclick: () => start(), disabled: !canCorrect,
      title: canCorrect ? "edit the mask, then save it as the correction (C)" : "nothing to correct: no mask is shown" }, "Correct…"),
  };

  function busy(flag) {
    for (const b of [...Object.values(buttons), save]) b.disabled = flag || (b === buttons.correct && !canCorrect);
  }

  function saved(review, what) {
    const dice = review.edit_dice == null ? "" : ` · edit Dice ${fmtNumber(review.edit_dice, 3)}`;
    replace(result, `${what} saved as review #${review.id} by ${review.reviewer} at ${fmtTime(review.created_at)}${dice}`);
    comment.value = "";
    onSaved(review);
  }

  async function decide(decision) {
    busy(true);
    try {
      saved(await postJSON(`${predictionPath(id)}/review`, { decision, comment: comment.value }), decision);
    } catch (err) {
      showError(describe(err), { context: `${decision} not saved` });
    } finally {
      busy(false);
    }
  }

  async function start() {
    try {
      await viewer.startCorrection();
    } catch (err) {
      showError(describe(err), { context: "cannot start the correction" });
      return;
    }
    toolbar.hidden = false;
    buttons.correct.disabled = true;
    panel.classList.add("correcting");
  }

  function stop() {
    viewer.stopCorrection();
    toolbar.hidden = true;
    buttons.correct.disabled = !canCorrect;
    panel.classList.remove("correcting");
  }

  async function saveCorrection() {
    busy(true);
    try {
      const bytes = await viewer.exportCorrection();
      const form = new FormData();
      form.append("decision", "correct");
      form.append("comment", comment.value);
      form.append("mask", new Blob([bytes], { type: "application/octet-stream" }), "correction.nii");
      const review = await postForm(`${predictionPath(id)}/review`, form);
      stop();
      saved(review, "correction");
    } catch (err) {
      showError(describe(err), { context: "correction not saved" });
    } finally {
      busy(false);
    }
  }

  viewer.onChange(() => {
    if (!viewer.correcting) return;
    tools.brush.classList.toggle("active", viewer.tool === "brush");
    tools.eraser.classList.toggle("active", viewer.tool === "eraser");
    tools.undo.disabled = viewer.undoDepth === 0;
  });

  const panel = h("section", { class: "panel review" },
    h("h2", {}, "Review"),
    comment,
    h("div", { class: "actions" }, buttons.accept, buttons.reject, buttons.correct),
    result);
  panel.correctionBar = toolbar; // shown above the canvas while correcting
  panel.startCorrection = () => { if (canCorrect && !viewer.correcting) start(); };
  return panel;
}
