/**
 * attachAxios(instance, client) — axios interceptors for an authgate client.
 *
 *   import axios from "axios";
 *   import { createClient } from "/static/authgate/authgate.js";
 *   import { attachAxios } from "/static/authgate/axios.js";
 *   const auth = createClient();
 *   const api = axios.create({ baseURL: "/api/" });
 *   const detach = attachAxios(api, auth);
 *
 * Every request gets the credential (Bearer header, or X-CSRFToken on unsafe methods in
 * cookie mode). A 401 makes the client refresh once (single flight, shared with
 * client.fetch and other tabs) and the request is retried once. Returns a function that
 * removes the interceptors.
 */

const RETRIED = "__authgateRetried";
const STALE = "__authgateStale";
const SET_AUTH = "__authgateAuthorization";

function getHeader(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function setHeader(config, name, value) {
  const headers = config.headers;
  if (headers && typeof headers.set === "function") {
    headers.set(name, value);
    return;
  }
  const plain = { ...(headers || {}) };
  for (const k of Object.keys(plain)) if (k.toLowerCase() === name.toLowerCase()) delete plain[k];
  plain[name] = value;
  config.headers = plain;
}

export function attachAxios(instance, client) {
  const requestId = instance.interceptors.request.use((config) => {
    const method = String(config.method || "get").toUpperCase();
    const creds = client.credentialHeaders(method);
    for (const [name, value] of Object.entries(creds)) {
      if (name === "Authorization") {
        const existing = getHeader(config.headers, "Authorization");
        // A header the caller set explicitly wins; one we set earlier (a retry) is replaced.
        if (existing && existing !== config[SET_AUTH]) continue;
        config[SET_AUTH] = value;
      }
      setHeader(config, name, value);
    }
    if (client.mode === "cookie" && config.withCredentials === undefined) {
      // same-origin XHR sends cookies anyway; a cross-origin API needs withCredentials
      config.withCredentials = true;
    }
    if (!config[RETRIED]) config[STALE] = client.staleKey();
    return config;
  });

  const responseId = instance.interceptors.response.use(
    (response) => response,
    async (error) => {
      const config = error && error.config;
      const status = error && error.response && error.response.status;
      if (status !== 401 || !config || config[RETRIED] || !client.isAuthenticated()) throw error;
      config[RETRIED] = true;
      try {
        await client.refresh({ stale: config[STALE] });
      } catch (_) {
        throw error; // refresh failed: the client already signed out and emitted logout
      }
      return instance.request(config);
    },
  );

  return function detach() {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}

export default attachAxios;
