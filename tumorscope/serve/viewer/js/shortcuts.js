// Keyboard shortcuts: global ones plus those of the current screen, and the help overlay (?) that lists them.
import { $, h, replace } from "./dom.js";

const GLOBAL = [
  { keys: ["?"], label: "show or hide this help", section: "General", run: () => toggleHelp() },
  { keys: ["Escape"], label: "close this help", section: "General", run: () => toggleHelp(false) },
  { keys: ["g"], label: "go to the worklist", section: "General", run: null },
];
let screenKeys = [];

const NOT_TYPED = ["checkbox", "radio", "range", "button", "submit", "file"];
const typing = (el) => el && (el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName)
  || (el.tagName === "INPUT" && !NOT_TYPED.includes(el.type)));
const keyName = (k) => ({ ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→", Escape: "Esc", " ": "Space" }[k] ?? k);

function matches(binding, event) {
  return binding.keys.some((k) => {
    if (k.startsWith("Ctrl+")) return (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === k.slice(5).toLowerCase();
    return !event.ctrlKey && !event.metaKey && !event.altKey && event.key === k;
  });
}

/** Bindings [{keys, label, section, run}] of the current screen; returns the function that removes them. */
export function setScreenShortcuts(bindings) {
  screenKeys = bindings;
  renderHelp();
  return () => { if (screenKeys === bindings) { screenKeys = []; renderHelp(); } };
}

function renderHelp() {
  const sections = new Map();
  for (const b of [...screenKeys, ...GLOBAL]) {
    if (!sections.has(b.section)) sections.set(b.section, []);
    sections.get(b.section).push(b);
  }
  replace($("#help-body"), [...sections].map(([section, list]) => h("section", {},
    h("h3", {}, section),
    h("dl", {}, list.flatMap((b) => [
      h("dt", {}, b.keys.map((k) => h("kbd", {}, keyName(k)))),
      h("dd", {}, b.label)])))));
}

export function toggleHelp(show) {
  const help = $("#help");
  const open = show ?? help.hidden;
  help.hidden = !open;
  if (open) $("#help-close").focus();
}

export function installShortcuts({ worklist }) {
  GLOBAL.find((b) => b.keys[0] === "g").run = worklist;
  $("#help-close").addEventListener("click", () => toggleHelp(false));
  $("#help").addEventListener("click", (event) => { if (event.target.id === "help") toggleHelp(false); });
  renderHelp();
  document.addEventListener("keydown", (event) => {
    if (typing(document.activeElement) && event.key !== "Escape") return;
    const helpOpen = !$("#help").hidden;
    const list = helpOpen ? GLOBAL : [...screenKeys, ...GLOBAL];
    const binding = list.find((b) => matches(b, event));
    if (!binding) return;
    event.preventDefault();
    if (event.key === "Escape" && helpOpen) toggleHelp(false);
    else binding.run(event);
  });
}
