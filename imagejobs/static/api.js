// The GraphQL API over HTTP, with the session's token when auth is on.

const TOKEN_KEY = "imagejobs.token";
const ENDPOINT = "/graphql";

/** The service wants a token, or refused the one it was given. */
export class AuthRequired extends Error {}

/** The service answered with GraphQL errors; `codes` holds their codes. */
export class ApiError extends Error {
  constructor(message, codes = []) {
    super(message);
    this.codes = codes;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keep the token for this browser tab's session only. */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  capabilitiesPromise = null;
}

export function authHeader() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** Run one query or mutation; resolve to its data or throw. */
export async function gql(query, variables = {}) {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeader() },
    body: JSON.stringify({ query, variables }),
  });
  if (response.status === 401) throw new AuthRequired("the service wants a token");
  const body = await readJson(response);
  if (body.errors && body.errors.length) throw asError(body.errors);
  return body.data;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    throw new ApiError(`the service answered HTTP ${response.status}`);
  }
}

function asError(errors) {
  const codes = errors.map((e) => (e.extensions || {}).code).filter(Boolean);
  if (codes.includes("UNAUTHENTICATED")) return new AuthRequired(errors[0].message);
  return new ApiError(errors.map((e) => e.message).join("; "), codes);
}

const CAPABILITIES = `{
  __schema {
    mutationType { fields { name } }
    subscriptionType { fields { name } }
  }
}`;

let capabilitiesPromise = null;

/**
 * Which optional operations this service has, by introspection:
 * {jobProgress, cancelJob, retryJob}. When introspection is refused,
 * every optional feature is off and the page polls.
 */
export function capabilities() {
  capabilitiesPromise ??= gql(CAPABILITIES).then(readCapabilities, (error) => {
    capabilitiesPromise = null;
    if (error instanceof AuthRequired) throw error;
    return readCapabilities({ __schema: {} });
  });
  return capabilitiesPromise;
}

function readCapabilities(data) {
  const names = (type) => new Set(((type || {}).fields || []).map((f) => f.name));
  const mutations = names(data.__schema.mutationType);
  const subscriptions = names(data.__schema.subscriptionType);
  return {
    jobProgress: subscriptions.has("jobProgress"),
    cancelJob: mutations.has("cancelJob"),
    retryJob: mutations.has("retryJob"),
  };
}
