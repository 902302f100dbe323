// The page's error area: every load error is shown here (never a blank canvas), and uncaught errors too.
import { $, h } from "./dom.js";

export function showError(message, { context } = {}) {
  const area = $("#errors");
  const text = context ? `${context}: ${message}` : message;
  if ([...area.children].some((el) => el.dataset.text === text)) return;
  const item = h("div", { class: "error", role: "alert", dataset: { text } }, h("span", {}, text),
    h("button", { class: "link", "aria-label": "dismiss", onclick: () => item.remove() }, "×"));
  area.append(item);
}

export function clearErrors() {
  $("#errors").replaceChildren();
}

export const describe = (err) => (err && err.detail ? `${err.detail} (HTTP ${err.status})` : String(err?.message ?? err));

export function installGlobalHandlers() {
  window.addEventListener("error", (event) => showError(event.message, { context: "script error" }));
  window.addEventListener("unhandledrejection", (event) => showError(describe(event.reason), { context: "error" }));
}
