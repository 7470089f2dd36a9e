/**
 * Type declarations of authgate.js, the browser client of the authgate API
 * (hand-written; the module itself is plain JavaScript with no build step).
 */

/** The user as the API returns it (`/api/auth/me/`, login). Projects may add fields. */
export interface User {
  id: number;
  username: string;
  email: string;
  is_staff?: boolean;
  email_verified?: boolean;
  /** An address asked for with `changeEmail()`, not yet proved: it becomes `email` once the link mailed to it is used ("" when none). */
  pending_email?: string;
  [field: string]: unknown;
}

/** One signed-in device, from `GET /api/auth/sessions/`. */
export interface Session {
  id: string;
  device: string;
  ip: string | null;
  user_agent: string;
  created_at: string;
  last_used_at: string;
  current: boolean;
}

/** One security event of the user's own, from `GET /api/auth/activity/`. */
export interface ActivityEvent {
  id: number;
  kind: string;
  kind_display: string;
  created_at: string;
  reason: string;
  ip: string | null;
  user_agent: string;
  session_id: string | null;
  username: string;
  details: Record<string, unknown>;
}

/** A page of a paginated list. */
export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** `POST /api/auth/login/`: the tokens (bearer mode only), the session and the user. */
export interface LoginResponse {
  access?: string;
  refresh?: string;
  session_id: string;
  user: User;
  [field: string]: unknown;
}

/** `POST /api/auth/token/refresh/`: a new pair (bearer mode) or `{detail}` (cookie mode). */
export interface RefreshResponse {
  access?: string;
  refresh?: string;
  detail?: string;
}

export interface DetailResponse {
  detail: string;
  sessions_ended?: number;
  [field: string]: unknown;
}

/** W3C WebAuthn Level 3 JSON forms, as the API sends and takes them (opaque here: they go
 *  to `PublicKeyCredential.parse*OptionsFromJSON()` and come back from `credential.toJSON()`). */
export type PublicKeyCredentialCreationOptionsJSON = { challenge: string; rp: { id?: string; name: string }; [field: string]: unknown };
export type PublicKeyCredentialRequestOptionsJSON = { challenge: string; rpId?: string; [field: string]: unknown };
export type PublicKeyCredentialJSONForm = { id: string; rawId: string; type: "public-key"; response: Record<string, unknown>; [field: string]: unknown };

/** A second factor of the account, from `GET /api/auth/mfa/`. */
export interface FactorMethod {
  type: "totp" | "webauthn" | (string & {});
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface MfaStatus {
  methods: FactorMethod[];
  recovery_codes_remaining: number;
}

/** The `body` of an AuthError with code "mfa_required" (and, without `mfa_token`,
 *  "reauthentication_required"): what to prove, and the key's request options. */
export interface MfaChallenge {
  detail: string;
  code: "mfa_required" | "reauthentication_required";
  mfa_token?: string;
  methods: string[];
  webauthn?: { publicKey: PublicKeyCredentialRequestOptionsJSON };
}

export interface TotpSetup {
  secret: string;
  otpauth_url: string;
  /** An inline SVG of the QR code of `otpauth_url`. */
  qr_svg: string;
}

export interface RecoveryCodes {
  /** Shown this once; each works once. */
  recovery_codes: string[];
}

export interface PasskeyAdded {
  id: string;
  name: string;
  /** With the account's first factor only. */
  recovery_codes?: string[];
}

export interface Reauthenticated {
  auth_time: number;
  amr: string[];
}

/** Where the client's WebAuthn ceremonies happen (default: navigator.credentials). */
export interface WebAuthnAdapter {
  create(publicKey: PublicKeyCredentialCreationOptionsJSON): Promise<PublicKeyCredentialJSONForm>;
  get(publicKey: PublicKeyCredentialRequestOptionsJSON): Promise<PublicKeyCredentialJSONForm>;
}

/** One proof of a second step: a code, a key's answer, or request options to ask the key here. */
export type FactorProof =
  | { code: string; credential?: never; publicKey?: never }
  | { credential: PublicKeyCredentialJSONForm; code?: never; publicKey?: never }
  | { publicKey: PublicKeyCredentialRequestOptionsJSON; code?: never; credential?: never };

/** Storage-like object (localStorage's subset the client uses). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export type Mode = "bearer" | "cookie";

export interface ClientOptions {
  /** Where the authgate endpoints live (default "/api/auth/"); absolute for another site. */
  baseUrl?: string;
  /** "bearer" (default): tokens in storage; "cookie": tokens in HttpOnly cookies. */
  mode?: Mode;
  /** Default: localStorage, or per-tab memory when it is unavailable. */
  storage?: StorageLike | null;
  /** Namespace of the storage keys, the refresh lock and the channel (default "authgate"). */
  storageKey?: string;
  /** fetch's `credentials` in cookie mode ("same-origin"; "include" for a cross-origin API). */
  credentials?: RequestCredentials;
  csrfCookieName?: string;
  csrfHeaderName?: string;
  /** How the CSRF token is read (default: the `csrftoken` cookie). */
  csrfToken?: () => string | null | undefined;
  /** Injectable for tests and non-browser hosts; `null` turns the feature off. */
  fetch?: typeof globalThis.fetch;
  locks?: { request(name: string, options: { mode: "exclusive" }, fn: () => Promise<unknown>): Promise<unknown> } | null;
  BroadcastChannel?: (new (name: string) => { postMessage(message: unknown): void; close(): void; onmessage: ((event: { data: unknown }) => void) | null }) | null;
  eventTarget?: { addEventListener(type: "storage", listener: (event: StorageEvent) => void): void; removeEventListener(type: "storage", listener: (event: StorageEvent) => void): void } | null;
  indexedDB?: IDBFactory | null;
  /** WebAuthn ceremonies (default: the browser's navigator.credentials with the JSON forms). */
  webauthn?: WebAuthnAdapter;
}

/** Why the client signed out. */
export type LogoutReason = "logout" | "logout_all" | "session_ended" | "account_deleted" | "other_tab" | (string & {});
export type EventSource = "local" | "other_tab";

export interface LoginEvent {
  user: User | null;
  session_id: string | null;
  source: EventSource;
}

export interface LogoutEvent {
  reason: LogoutReason;
  source: EventSource;
}

export interface RefreshEvent {
  source: EventSource;
}

export type ChangeEvent =
  | ({ type: "login" } & LoginEvent)
  | ({ type: "logout" } & LogoutEvent)
  | ({ type: "refresh" } & RefreshEvent)
  | { type: "user"; user: User | null };

/** Immutable snapshot; the same object until something changes (for useSyncExternalStore). */
export interface ClientState {
  readonly mode: Mode;
  readonly isAuthenticated: boolean;
  readonly user: User | null;
  readonly sessionId: string | null;
}

/** Removes the listener. */
export type Unsubscribe = () => void;

export interface AuthgateClient {
  readonly mode: Mode;
  readonly baseUrl: string;
  login(credentials: { username: string; password: string; device?: string }): Promise<LoginResponse>;
  /** The user model's USERNAME_FIELD, email and REQUIRED_FIELDS, and the password: every field given is sent. */
  register(account: { username?: string; email?: string; password: string; [field: string]: unknown }): Promise<User>;
  /** Ends this session on the server and locally; never throws. `null` when signed out. */
  logout(): Promise<DetailResponse | { ok: false; detail?: string; code?: string; [field: string]: unknown } | null>;
  logoutAll(): Promise<DetailResponse>;
  /** Rotates the tokens; concurrent calls (also from other tabs) share one rotation. */
  refresh(options?: { stale?: string | null }): Promise<RefreshResponse>;
  me(): Promise<User>;
  /** window.fetch with the credential added; on a 401 refreshes once and retries once. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** A JSON call relative to baseUrl; throws AuthError on a non-2xx answer. */
  request<T = unknown>(path: string, options?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<T>;
  sessions(): Promise<Session[]>;
  /** The user's own security events, newest first. */
  activity(options?: { page?: number; pageSize?: number }): Promise<Page<ActivityEvent>>;
  endSession(id: string): Promise<null>;
  changePassword(passwords: { old_password: string; new_password: string }): Promise<DetailResponse>;
  /** Staff only. */
  invalidateAllTokens(options?: { include_static_tokens?: boolean }): Promise<DetailResponse>;
  /** Mails a reset link; the same answer whether or not an account has `email`. */
  requestPasswordReset(request: { email: string }): Promise<DetailResponse>;
  /** Sets a new password from a reset link's `uid` and `token`; every session of that user ends. */
  confirmPasswordReset(reset: { uid: string; token: string; new_password: string }): Promise<DetailResponse>;
  /** Whose password a reset link would reset, without using it; `invalid_link` when it no longer works. */
  checkPasswordResetLink(link: { uid: string; token: string }): Promise<{ username: string; email: string }>;
  /** Verifies the address from a verification link's `uid` and `token` (a link mailed to a pending address makes it the email). */
  verifyEmail(link: { uid: string; token: string }): Promise<DetailResponse>;
  /** Mails a new verification link to the signed-in user. */
  resendVerification(): Promise<DetailResponse>;
  /** Asks to change the signed-in user's address (the current password is required); returns the user, whose
   * `email` is unchanged and `pending_email` the new address until the link mailed to it is used. */
  changeEmail(change: { email: string; password: string }): Promise<User>;
  /** Deletes the signed-in user's account (the current password is required); signs out. */
  deleteAccount(confirm: { password: string }): Promise<null>;
  /** The account's second factors and recovery codes left. */
  mfaStatus(): Promise<MfaStatus>;
  /** Starts TOTP set-up (nothing is on until confirmTotp). */
  setupTotp(): Promise<TotpSetup>;
  /** Turns TOTP on with a first code; answers the recovery codes, shown this once. */
  confirmTotp(confirm: { code: string }): Promise<RecoveryCodes>;
  /** Turns TOTP off (needs a recent proof: AuthError "reauthentication_required" otherwise). */
  disableTotp(): Promise<null>;
  regenerateRecoveryCodes(): Promise<RecoveryCodes>;
  /** The second step of a login (after AuthError "mfa_required"); signs in like login(). */
  verifyMfa(step: { mfa_token: string } & FactorProof): Promise<LoginResponse>;
  /** Renews this session's recent authentication. */
  reauthenticate(proof: FactorProof | { password: string }): Promise<Reauthenticated>;
  /** Asks this device's security key or passkey to answer request options. */
  getAssertion(publicKey: PublicKeyCredentialRequestOptionsJSON): Promise<PublicKeyCredentialJSONForm>;
  /** Registers a security key or passkey of this device. */
  addPasskey(options?: { name?: string }): Promise<PasskeyAdded>;
  removePasskey(id: string): Promise<null>;
  /** Passwordless login with a passkey of this device. */
  loginWithPasskey(options?: { device?: string }): Promise<LoginResponse>;
  isAuthenticated(): boolean;
  getUser(): User | null;
  getSessionId(): string | null;
  /** The access token (bearer mode); always null in cookie mode. */
  getAccessToken(): string | null;
  getState(): ClientState;
  subscribe(listener: (event: ChangeEvent) => void): Unsubscribe;
  onLogin(listener: (event: LoginEvent) => void): Unsubscribe;
  onLogout(listener: (event: LogoutEvent) => void): Unsubscribe;
  onRefresh(listener: (event: RefreshEvent) => void): Unsubscribe;
  /** Headers carrying the credential for a request of `method` (used by the adapters). */
  credentialHeaders(method?: string): Record<string, string>;
  /** What a request is sent with, so a later 401 can tell whether someone rotated since. */
  staleKey(): string | null;
  /** Stops listening to other tabs. */
  close(): void;
}

/** Thrown for any non-2xx answer, or a network failure (status 0, code "network_error"). */
export class AuthError extends Error {
  constructor(message: string, options?: {
    status?: number; code?: string | null; detail?: string | null; reason?: string | null;
    body?: unknown; response?: Response | null; retryAfter?: number | null; cause?: unknown;
  });
  name: "AuthError";
  status: number;
  /** The API's stable code: "invalid_credentials", "throttled", "token_not_valid",
   *  "mfa_required", "reauthentication_required", "invalid_code", … and, from the client's
   *  WebAuthn ceremonies, "webauthn_unsupported", "webauthn_cancelled", "webauthn_failed". */
  code: string | null;
  detail: string | null;
  /** For token errors: "malformed", "expired", "revoked", "wrong_type", "user_inactive". */
  reason: string | null;
  body: unknown;
  response: Response | null;
  /** Seconds, from `Retry-After` (429). */
  retryAfter: number | null;
}

/** Builds an AuthError from a fetch Response (reads its body). */
export function errorFromResponse(response: Response): Promise<AuthError>;

export function createClient(options?: ClientOptions): AuthgateClient;
export default createClient;
