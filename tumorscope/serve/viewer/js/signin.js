// Sign in with an API token (`tumorscope users add NAME`); it is kept in sessionStorage for this tab only.
import { ApiError, request, token } from "./api.js";
import { h } from "./dom.js";
import { describe, showError } from "./errors.js";

export function renderSignIn(root, onSignedIn) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "ts_…", "aria-describedby": "token-help", size: 60 });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    submit.disabled = true;
    try {
      await request("/v1/models", { bearer: value, notify: false });
      token.set(value);
      onSignedIn();
    } catch (err) {
      const why = err instanceof ApiError && err.status === 401 ? "this token is not valid" : describe(err);
      showError(why, { context: "sign-in failed" });
    } finally {
      submit.disabled = false;
    }
  } },
  h("h1", {}, "Sign in"),
  h("label", { for: "token" }, "API token"),
  input,
  h("p", { id: "token-help", class: "hint" },
    "Your token was printed once by ", h("code", {}, "tumorscope users add NAME"),
    ". It is kept only in this browser tab and sent with every request to this service."),
  submit);
  root.append(form);
  input.focus();
}
