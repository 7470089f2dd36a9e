/**
 * React binding for an authgate client — thin and optional.
 *
 *   import React from "react";
 *   import { makeUseAuth } from "/static/authgate/react.js";
 *   const useAuth = makeUseAuth(React);
 *   function Profile({ client }) {
 *     const { isAuthenticated, user, login, logout } = useAuth(client);
 *     ...
 *   }
 *
 * (No import of "react" here, so the file loads in a browser without a bundler or import
 * map. `useAuth(client)` alone works when React is on globalThis.React.)
 *
 * The hook re-renders on login, logout (also from another tab), refresh and user
 * changes. It returns { mode, isAuthenticated, user, sessionId, login, logout, logoutAll,
 * register, refresh, me, fetch, client }.
 */

const cache = new WeakMap();

export function makeUseAuth(React) {
  if (!React) throw new TypeError("authgate/react: makeUseAuth(React) needs React");
  if (cache.has(React)) return cache.get(React);
  const { useMemo, useCallback } = React;

  const useStore = typeof React.useSyncExternalStore === "function"
    ? (client) => React.useSyncExternalStore(
      useCallback((cb) => client.subscribe(cb), [client]),
      client.getState,
      client.getState,
    )
    : (client) => {
      // React < 18 fallback
      const [state, setState] = React.useState(client.getState);
      React.useEffect(() => {
        setState(client.getState());
        return client.subscribe(() => setState(client.getState()));
      }, [client]);
      return state;
    };

  function useAuth(client) {
    const state = useStore(client);
    return useMemo(() => ({
      ...state,
      login: client.login,
      logout: client.logout,
      logoutAll: client.logoutAll,
      register: client.register,
      refresh: client.refresh,
      me: client.me,
      fetch: client.fetch,
      client,
    }), [state, client]);
  }

  cache.set(React, useAuth);
  return useAuth;
}

export function useAuth(client) {
  const React = globalThis.React;
  if (!React) throw new Error("authgate/react: call makeUseAuth(React) (globalThis.React is not set)");
  return makeUseAuth(React)(client);
}

export default makeUseAuth;
