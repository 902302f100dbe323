// The service's REST API, same origin: every call carries the signed-in token as a Bearer header.
const TOKEN_KEY = "tumorscope.token";

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(`${path}: ${status} ${detail}`);
    this.status = status;
    this.detail = detail;
    this.path = path;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called with the ApiError of any 401, so the page can return to sign-in. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function detailOf(body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return "no detail";
}

/** fetch() with the token; resolves to the Response when 2xx, else throws an ApiError with the server's detail
 * (a 401 also goes to the unauthorized handler unless ``notify`` is false). */
export async function request(path, { method = "GET", body, headers = {}, bearer = token.get(), notify = true } = {}) {
  const all = { ...headers };
  if (bearer) all.Authorization = `Bearer ${bearer}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    all["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers: all, body: payload, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, `the service cannot be reached (${err.message})`, path);
  }
  if (response.ok) return response;
  let detail;
  try {
    detail = detailOf(await response.json());
  } catch {
    detail = response.statusText;
  }
  const error = new ApiError(response.status, detail, path);
  if (response.status === 401 && notify) onUnauthorized(error);
  throw error;
}

export const getJSON = async (path) => (await request(path)).json();
export const postJSON = async (path, body) => (await request(path, { method: "POST", body })).json();
export const postForm = async (path, form, headers = {}) =>
  (await request(path, { method: "POST", body: form, headers })).json();

/** The bytes at ``path``, or null when the server answers 404 (a route or file that is not there). */
export async function getOptionalBytes(path) {
  try {
    return await (await request(path)).arrayBuffer();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Same as getOptionalBytes for text (a model card). */
export async function getOptionalText(path) {
  try {
    return await (await request(path)).text();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export const predictionPath = (id) => `/v1/predictions/${encodeURIComponent(id)}`;
export const viewerPath = (id, name) => `${predictionPath(id)}/viewer/${name}`;
