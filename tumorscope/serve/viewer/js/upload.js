// Upload from the browser: the same inputs as POST /v1/predictions (the service sniffs the kind from the bytes).
import { postForm } from "./api.js";
import { fmtNumber, h } from "./dom.js";
import { describe, showError } from "./errors.js";

export const ACCEPT = ".png,.jpg,.jpeg,.tif,.tiff,.bmp,.nii,.nii.gz,.dcm,.zip";
const EXPLAIN = ["gradcam", "gradcampp", "saliency", "ig", "occlusion"];
const RECENT_KEY = "tumorscope.recent";
const DEFAULT_MODEL = "lgg-flair-seg"; // the service's default for POST /v1/predictions

/** Ids submitted from this tab, newest first (the worklist's fallback when the server cannot list). */
export function recentIds() {
  try {
    return JSON.parse(sessionStorage.getItem(RECENT_KEY) || "[]");
  } catch {
    return [];
  }
}

function remember(id) {
  sessionStorage.setItem(RECENT_KEY, JSON.stringify([id, ...recentIds().filter((x) => x !== id)].slice(0, 50)));
}

/** The upload form; ``onSubmitted(id)`` once the service has accepted the file. */
export function uploadForm(models, onSubmitted) {
  const file = h("input", { id: "upload-file", type: "file", accept: ACCEPT, required: true });
  const model = h("select", { id: "upload-model" },
    models.map((m) => h("option", { value: m.name, selected: m.name === DEFAULT_MODEL }, `${m.name} (${m.task}, ${m.version})`)));
  const explain = h("select", { id: "upload-explain", title: "compute a heatmap with this method (slower)" },
    h("option", { value: "" }, "no heatmap"), EXPLAIN.map((m) => h("option", { value: m }, m)));
  const series = h("input", { id: "upload-series", type: "text", maxlength: 64, placeholder: "only for a zip of several DICOM series" });
  const state = h("span", { class: "hint", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const form = h("form", { class: "card upload", onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const body = new FormData();
    body.append("file", chosen, chosen.name);
    body.append("model", model.value);
    if (explain.value) body.append("explain", explain.value);
    if (series.value.trim()) body.append("series", series.value.trim());
    submit.disabled = true;
    state.textContent = `uploading ${chosen.name} (${fmtNumber(chosen.size / 1024 ** 2)} MB)…`;
    try {
      const answer = await postForm("/v1/predictions", body);
      remember(answer.id);
      state.textContent = `submitted: ${answer.status}`;
      onSubmitted(answer.id);
    } catch (err) {
      state.textContent = "";
      showError(describe(err), { context: `upload of ${chosen.name} refused` });
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, "New prediction"),
  h("div", { class: "fields" },
    h("label", {}, "Image ", file),
    h("label", {}, "Model ", model),
    h("label", {}, "Heatmap ", explain),
    h("label", {}, "DICOM series ", series)),
  h("p", { class: "hint" }, "PNG, JPEG, TIFF, BMP slices; NIfTI (.nii, .nii.gz); a DICOM file; or a zip of a DICOM series, ",
    "a kaggle_3m patient folder or one NIfTI."),
  h("div", { class: "actions" }, submit, state));
  return form;
}
