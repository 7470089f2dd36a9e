/**
 * Type declarations of axios.js: axios interceptors for an authgate client. Structural
 * types only, so that they need no particular axios version's declarations.
 */
import type { AuthgateClient } from "./authgate.js";

/** The part of an axios instance the adapter uses. */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: any) => any): number; eject(id: number): void };
    response: { use(onFulfilled: (response: any) => any, onRejected: (error: any) => any): number; eject(id: number): void };
  };
  request(config: any): Promise<any>;
}

/** Adds the credential and the refresh-once-and-retry to `instance`; returns `detach`. */
export function attachAxios(instance: AxiosLike, client: AuthgateClient): () => void;
export default attachAxios;
