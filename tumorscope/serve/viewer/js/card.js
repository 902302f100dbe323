// A model's card (GET /v1/models/{name}/card, markdown shown as text) beside its entry in GET /v1/models.
import { getJSON, getOptionalText } from "./api.js";
import { fmtNumber, h } from "./dom.js";

function facts(model) {
  const metrics = Object.entries(model.metrics || {}).filter(([, v]) => typeof v === "number");
  return h("dl", { class: "facts" },
    h("dt", {}, "Version"), h("dd", {}, model.version),
    h("dt", {}, "Task"), h("dd", {}, model.task),
    h("dt", {}, "Source"), h("dd", {}, model.source),
    h("dt", {}, "Classes"), h("dd", {}, (model.classes || []).join(", ") || "—"),
    h("dt", {}, "Weights SHA-256"), h("dd", {}, h("code", {}, model.weights_sha256)),
    metrics.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, fmtNumber(v, 3))]));
}

export async function renderCard(root, name) {
  const [models, text] = await Promise.all([getJSON("/v1/models"), getOptionalText(`/v1/models/${encodeURIComponent(name)}/card`)]);
  const model = models.find((m) => m.name === name);
  root.append(h("section", { class: "card model-card" },
    h("p", {}, h("a", { href: "#/" }, "‹ Worklist")),
    h("h1", {}, `Model ${name}`),
    model ? facts(model) : h("p", { class: "notice" }, `${name} is not installed on this service any more.`),
    text === null
      ? h("p", { class: "notice" }, "This server does not serve model cards (no GET /v1/models/{name}/card).")
      : h("pre", { class: "card-text" }, text)));
}
