// The viewer's entry point: the hash router between the screens, the header, global keys and error reporting.
import { setUnauthorizedHandler, token } from "./api.js";
import { $, replace } from "./dom.js";
import { clearErrors, installGlobalHandlers, showError } from "./errors.js";
import { renderCard } from "./card.js";
import { renderSignIn } from "./signin.js";
import { renderStudy } from "./study.js";
import { renderWorklist } from "./worklist.js";
import { installShortcuts, toggleHelp } from "./shortcuts.js";

let leaveScreen = () => {};

const ROUTES = [
  [/^#\/study\/([0-9a-f]{1,32})$/, (root, id) => renderStudy(root, id)],
  [/^#\/models\/([A-Za-z0-9._-]{1,64})\/card$/, (root, name) => renderCard(root, name)],
  [/^#\/(worklist)?$/, (root) => renderWorklist(root)],
];

async function route() {
  leaveScreen();
  leaveScreen = () => {};
  clearErrors();
  const root = $("#screen");
  replace(root);
  const signedIn = Boolean(token.get());
  document.body.classList.toggle("signed-in", signedIn);
  if (!signedIn) {
    leaveScreen = renderSignIn(root, () => route()) || (() => {});
    return;
  }
  const hash = location.hash || "#/";
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      try {
        leaveScreen = (await render(root, ...match.slice(1))) || (() => {});
      } catch (err) {
        showError(err.detail ?? err.message, { context: "cannot show this page" });
      }
      return;
    }
  }
  showError(`no such page: ${hash}`);
}

function signOut() {
  token.clear();
  location.hash = "#/";
  route();
}

function start() {
  installGlobalHandlers();
  setUnauthorizedHandler(() => {
    token.clear();
    route(); // clears the page synchronously, before the message below
    showError("the token was refused (expired or removed): sign in again");
  });
  $("#sign-out").addEventListener("click", signOut);
  $("#help-button").addEventListener("click", () => toggleHelp());
  installShortcuts({ worklist: () => { location.hash = "#/"; } });
  window.addEventListener("hashchange", route);
  route();
}

start();
