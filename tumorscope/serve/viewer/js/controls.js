// The viewer toolbar: planes, window/level, mask overlay (on/off, outline, opacity), heatmap, corrected mask.
import { fmtNumber, h } from "./dom.js";

function checkbox(id, label, onchange, title) {
  const input = h("input", { id, type: "checkbox", onchange: () => onchange(input.checked) });
  return { input, label: h("label", { for: id, title }, input, ` ${label}`) };
}

/** The toolbar for ``viewer``; it follows the viewer's state on every change. */
export function viewerToolbar(viewer, { heatmapMissing, maskMissing }) {
  const planeButtons = ["axial", "coronal", "sagittal", "multiplanar"].map((plane, i) =>
    h("button", { dataset: { plane }, title: `${plane} (${i + 1})`, onclick: () => viewer.setPlane(plane) }, plane));
  const planes = h("div", { class: "group planes", role: "group", "aria-label": "planes" }, planeButtons);

  const win = h("input", { id: "wl-window", type: "number", step: "any", "aria-label": "window", class: "num" });
  const lev = h("input", { id: "wl-level", type: "number", step: "any", "aria-label": "level", class: "num" });
  const applyWL = () => viewer.setWindowLevel(Number(win.value), Number(lev.value));
  win.addEventListener("change", applyWL);
  lev.addEventListener("change", applyWL);
  const wl = h("div", { class: "group", role: "group", "aria-label": "window and level", title: "or drag with the right mouse button" },
    h("label", {}, "W ", win), h("label", {}, "L ", lev),
    h("button", { onclick: () => viewer.resetWindowLevel(), title: "reset window/level (R)" }, "Reset"));

  const mask = checkbox("ov-mask", "mask", (on) => viewer.set("maskVisible", on), "AI mask on/off (M)");
  const outline = checkbox("ov-outline", "outline", (on) => viewer.set("outline", on), "outline instead of filled (O)");
  const heat = checkbox("ov-heatmap", "heatmap", (on) => viewer.set("heatmapVisible", on), "heatmap on/off (H)");
  const corrected = checkbox("ov-corrected", "correction", (on) => viewer.set("correctedVisible", on), "the shown correction on/off");
  const opacity = h("input", { id: "ov-opacity", type: "range", min: 0, max: 1, step: 0.05, "aria-label": "overlay opacity",
    oninput: () => viewer.set("opacity", Number(opacity.value)) });
  const overlays = h("div", { class: "group", role: "group", "aria-label": "overlays" },
    mask.label, outline.label, h("label", { title: "overlay opacity ([ and ])" }, "opacity ", opacity), heat.label, corrected.label);
  if (maskMissing) {
    for (const c of [mask, outline]) c.input.disabled = true;
    mask.label.title = maskMissing;
  }
  heat.input.disabled = Boolean(heatmapMissing);
  if (heatmapMissing) heat.label.append(h("span", { class: "hint", id: "heatmap-missing" }, ` (${heatmapMissing})`));

  const bar = h("div", { class: "toolbar viewer-tools" }, planes, wl, overlays);
  const sync = () => {
    for (const b of planeButtons) {
      b.classList.toggle("active", b.dataset.plane === viewer.plane);
      b.disabled = viewer.isSingleSlice && b.dataset.plane !== "axial";
    }
    if (viewer.image && document.activeElement !== win && document.activeElement !== lev) {
      const { window, level } = viewer.windowLevel();
      win.value = fmtNumber(window, 1).replaceAll(",", "");
      lev.value = fmtNumber(level, 1).replaceAll(",", "");
    }
    mask.input.checked = viewer.state.maskVisible && !maskMissing;
    outline.input.checked = viewer.state.outline;
    heat.input.checked = viewer.state.heatmapVisible;
    corrected.input.checked = viewer.state.correctedVisible;
    corrected.label.hidden = !viewer.corrected;
    opacity.value = viewer.state.opacity;
  };
  viewer.onChange(sync);
  sync();
  return bar;
}
