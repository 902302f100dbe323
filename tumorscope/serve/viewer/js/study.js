// The study view: waits for the prediction, loads image / mask / heatmap volumes into NiiVue (fetched with the
// token, handed over as ArrayBuffers), and lays out the toolbar, the finding, the lesions and the review panel.
import { getJSON, getOptionalBytes, predictionPath, request, viewerPath } from "./api.js";
import { h, replace } from "./dom.js";
import { describe, showError } from "./errors.js";
import { viewerToolbar } from "./controls.js";
import { historyPanel, lesionPanel, resultPanel } from "./lesions.js";
import { reviewPanel } from "./review.js";
import { setScreenShortcuts } from "./shortcuts.js";
import { StudyViewer } from "./viewer.js";

const POLL_MS = 1000;
const NO_VIEWER_ROUTE = "this server has no viewer volumes for it (GET …/viewer/image.nii.gz answered 404)";

async function waitDone(id, message, alive) {
  for (;;) {
    const p = await getJSON(predictionPath(id));
    if (p.status === "done" || p.status === "failed" || !alive()) return p;
    message(`Prediction ${p.status}… (this page updates by itself)`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The service's own overlay PNGs, shown when the viewer volumes are not available. */
async function overlayImages(prediction) {
  const names = (prediction.files || []).filter((f) => f.startsWith("overlays/")).slice(0, 12);
  const images = [];
  for (const name of names) {
    const blob = await (await request(`${predictionPath(prediction.id)}/files/${name}`)).blob();
    images.push(h("figure", {}, h("img", { src: URL.createObjectURL(blob), alt: name }), h("figcaption", {}, name)));
  }
  return images;
}

function studyKeys(viewer, review, lesionCount, goToLesion) {
  const section = "Study view";
  let lesion = 0;
  const lesionStep = (d) => { if (lesionCount) { lesion = (lesion + d + lesionCount) % lesionCount; goToLesion(lesion); } };
  const opacity = (d) => viewer.set("opacity", Math.min(1, Math.max(0, Math.round((viewer.state.opacity + d) * 20) / 20)));
  const correcting = (run) => () => { if (viewer.correcting) run(); };
  return [
    { keys: ["ArrowUp", "PageUp"], label: "next slice (or the mouse wheel)", section, run: () => viewer.step(1) },
    { keys: ["ArrowDown", "PageDown"], label: "previous slice", section, run: () => viewer.step(-1) },
    { keys: ["1"], label: "axial", section, run: () => viewer.setPlane("axial") },
    { keys: ["2"], label: "coronal", section, run: () => viewer.setPlane("coronal") },
    { keys: ["3"], label: "sagittal", section, run: () => viewer.setPlane("sagittal") },
    { keys: ["4"], label: "all three planes", section, run: () => viewer.setPlane("multiplanar") },
    { keys: ["r"], label: "reset window/level (right-drag changes it)", section, run: () => viewer.resetWindowLevel() },
    { keys: ["m"], label: "AI mask on/off", section, run: () => viewer.toggle("maskVisible") },
    { keys: ["o"], label: "mask outlined or filled", section, run: () => viewer.toggle("outline") },
    { keys: ["["], label: "overlay more transparent", section, run: () => opacity(-0.1) },
    { keys: ["]"], label: "overlay more opaque", section, run: () => opacity(0.1) },
    { keys: ["h"], label: "heatmap on/off", section, run: () => { if (viewer.heatmap) viewer.toggle("heatmapVisible"); } },
    { keys: ["n"], label: "next lesion", section, run: () => lesionStep(1) },
    { keys: ["p"], label: "previous lesion", section, run: () => lesionStep(-1) },
    { keys: ["c"], label: "correct the mask (start the correction tool)", section: "Correction", run: () => review.startCorrection() },
    { keys: ["b"], label: "brush (paint tumor)", section: "Correction", run: correcting(() => viewer.useTool("brush")) },
    { keys: ["e"], label: "eraser", section: "Correction", run: correcting(() => viewer.useTool("eraser")) },
    { keys: ["Ctrl+z", "z"], label: "undo the last stroke", section: "Correction", run: correcting(() => viewer.undo()) },
  ];
}

function sliceLabel(viewer) {
  if (!viewer.image) return "";
  const { vox, dims } = viewer.location();
  const axis = { coronal: 1, sagittal: 0 }[viewer.plane] ?? 2;
  const value = viewer.nv.volumes[0] ? viewer.lastLocation?.values?.[0]?.value : undefined;
  const shown = value === undefined ? "" : ` · value ${Number(value).toFixed(1)}`;
  return `${viewer.plane} slice ${vox[axis] + 1} / ${dims[axis]} · voxel ${vox.join(", ")}${shown}`;
}

function layout(root) {
  const canvas = h("canvas", { id: "gl", "aria-label": "image viewer" });
  const message = h("div", { class: "canvas-message", role: "status" });
  const parts = { canvas, message, status: h("div", { class: "statusbar", id: "slice-status" }), tools: h("div"),
    side: h("aside", { class: "side" }) };
  root.append(h("div", { class: "study" },
    h("div", { class: "viewer-pane" }, parts.tools, h("div", { class: "canvas-wrap" }, canvas, message), parts.status),
    parts.side));
  parts.say = (text) => { message.hidden = !text; replace(message, text || ""); };
  return parts;
}

/** Fetch the volumes (a classification has no mask or heatmap) and hand them to NiiVue; what is missing, and why. */
async function loadVolumes(viewer, prediction, ui) {
  const isClassification = Boolean(prediction.result?.probabilities);
  const names = isClassification ? ["image.nii.gz"] : ["image.nii.gz", "mask.nii.gz", "heatmap.nii.gz"];
  const [image, mask, heatmap] = await Promise.all(names.map((name) => getOptionalBytes(viewerPath(prediction.id, name))));
  if (image) {
    await viewer.attach(ui.canvas);
    await viewer.loadImage(image, { isVolume: (prediction.files || []).includes("mask.nii.gz") });
    if (mask) await viewer.loadMask(mask);
    if (heatmap) await viewer.loadHeatmap(heatmap);
    viewer.applyOverlays();
    ui.say("");
  } else {
    ui.say(`The image cannot be shown here: ${NO_VIEWER_ROUTE}.`);
    const figures = await overlayImages(prediction);
    if (figures.length) ui.message.append(h("div", { class: "fallback" }, h("p", {}, "The service's overlay images:"), figures));
  }
  const why = (bytes, classification, absent) => (bytes ? null : !image ? "no viewer volumes" : isClassification ? classification : absent);
  return {
    maskMissing: why(mask, "a classification has no mask", "no mask from this server"),
    heatmapMissing: why(heatmap, "a classification has no heatmap here", "heatmap not computed"),
  };
}

/** Toolbar, panels and keys of a done prediction shown in ``viewer``; returns what to undo on leaving. */
function wire(viewer, prediction, ui, missing) {
  const id = prediction.id;
  const lesions = prediction.result?.lesions || [];
  const goToLesion = (n) => { if (viewer.image && lesions[n]?.centroid) viewer.goToVoxel(lesions[n].centroid); };
  const toolbar = viewerToolbar(viewer, missing);
  toolbar.classList.toggle("disabled", !viewer.image);
  const history = h("div");
  const showCorrected = async (review) => {
    const bytes = await getOptionalBytes(viewerPath(id, `corrected/${review.id}.nii.gz`));
    if (!bytes) showError("this server cannot send corrected masks as volumes (…/viewer/corrected answered 404)");
    else if (viewer.image) await viewer.showCorrected(bytes);
  };
  const showHistory = (reviews) => replace(history, historyPanel(reviews, viewer.image ? showCorrected : null));
  const review = reviewPanel(prediction, viewer, {
    canCorrect: Boolean(viewer.mask),
    onSaved: (saved) => {
      getJSON(predictionPath(id)).then((p) => showHistory(p.reviews)).catch((err) => showError(describe(err)));
      if (saved.decision === "correct") showCorrected(saved).catch((err) => showError(describe(err)));
    },
  });
  showHistory(prediction.reviews);
  ui.tools.append(toolbar, review.correctionBar);
  ui.side.append(lesionPanel(prediction, goToLesion) || "", review, history);
  viewer.onChange(() => { ui.status.textContent = sliceLabel(viewer); });
  const unbind = setScreenShortcuts(studyKeys(viewer, review, lesions.length, goToLesion));
  if (viewer.image) goToLesion(0);
  viewer.emit();
  window.tumorscopeViewer = viewer; // for the browser test: maps voxels to canvas pixels
  return () => { unbind(); if (window.tumorscopeViewer === viewer) delete window.tumorscopeViewer; };
}

export async function renderStudy(root, id) {
  let alive = true;
  let unwire = () => {};
  const ui = layout(root);
  const cleanup = () => { alive = false; unwire(); };
  ui.say("Loading…");
  try {
    const prediction = await waitDone(id, ui.say, () => alive);
    if (!alive) return cleanup;
    ui.side.append(resultPanel(prediction));
    if (prediction.status === "failed") {
      ui.say(`The prediction failed: ${prediction.error}`);
      showError(prediction.error, { context: "the prediction failed" });
      return cleanup;
    }
    const viewer = new StudyViewer();
    const missing = await loadVolumes(viewer, prediction, ui);
    if (alive) unwire = wire(viewer, prediction, ui, missing);
  } catch (err) {
    ui.say(`This prediction cannot be shown: ${describe(err)}`);
    throw err;
  }
  return cleanup;
}
