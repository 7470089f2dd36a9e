/**
 * Type declarations of react.js: a `useAuth(client)` hook for an authgate client. React
 * is passed in (the module imports nothing), so these types need no React declarations.
 */
import type { AuthgateClient, ClientState } from "./authgate.js";

/** The part of React the hook uses (React 16.8 and later). */
export interface ReactLike {
  useMemo<T>(factory: () => T, deps: readonly unknown[]): T;
  useCallback<T extends (...args: any[]) => any>(callback: T, deps: readonly unknown[]): T;
  useSyncExternalStore?: <T>(subscribe: (onChange: () => void) => () => void, getSnapshot: () => T, getServerSnapshot?: () => T) => T;
  useState?: (...args: any[]) => any;
  useEffect?: (...args: any[]) => any;
}

export interface UseAuthResult extends ClientState {
  login: AuthgateClient["login"];
  logout: AuthgateClient["logout"];
  logoutAll: AuthgateClient["logoutAll"];
  register: AuthgateClient["register"];
  refresh: AuthgateClient["refresh"];
  me: AuthgateClient["me"];
  fetch: AuthgateClient["fetch"];
  client: AuthgateClient;
}

export type UseAuth = (client: AuthgateClient) => UseAuthResult;

/** The hook bound to this React; re-renders on login, logout (any tab), refresh, user changes. */
export function makeUseAuth(React: ReactLike): UseAuth;
/** The hook for `globalThis.React`. */
export function useAuth(client: AuthgateClient): UseAuthResult;
export default makeUseAuth;
