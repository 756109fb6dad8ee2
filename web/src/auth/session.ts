/**
 * Signing in to the Cognito user pool (USER_PASSWORD_AUTH over HTTPS, the web client has no secret) with the
 * AWS SDK, keeping the tokens in localStorage so a reload stays signed in, refreshing the ID token before it
 * expires, and signing out (revoking the refresh token).
 */
import type {
  AuthenticationResultType,
  CognitoIdentityProviderClient,
} from "@aws-sdk/client-cognito-identity-provider";

import type { RuntimeConfig } from "../config";

const STORAGE_KEY = "annolake.session";
/** Refresh this long before the ID token expires. */
const REFRESH_MARGIN_MS = 60_000;

export interface Session {
  username: string;
  idToken: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/** Cognito asks for a new password (an invited user's first sign-in). */
export class NewPasswordRequired extends Error {
  readonly username: string;
  readonly challengeSession: string;

  constructor(username: string, challengeSession: string) {
    super("choose a new password");
    this.username = username;
    this.challengeSession = challengeSession;
  }
}

export class SignInError extends Error {}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "NotAuthorizedException" || error.name === "UserNotFoundException") {
      return "Incorrect username or password.";
    }
    if (error.name === "PasswordResetRequiredException") {
      return "Your password must be reset; ask a project admin.";
    }
    if (error.name === "InvalidPasswordException") {
      return error.message;
    }
    return `Sign-in failed: ${error.message}`;
  }
  return "Sign-in failed.";
}

export class Auth {
  private client: Promise<CognitoIdentityProviderClient> | null = null;
  private readonly clientId: string;
  private session: Session | null;
  private refreshing: Promise<Session | null> | null = null;
  private readonly listeners = new Set<(session: Session | null) => void>();

  constructor(
    private readonly config: RuntimeConfig,
    private readonly storage: Storage = window.localStorage,
  ) {
    this.clientId = config.userPoolClientId;
    this.session = this.load();
  }

  /** The AWS SDK's Cognito client, loaded when first needed (a signed-in reload does not need it). */
  private async sdk() {
    const sdk = await import("@aws-sdk/client-cognito-identity-provider");
    this.client ??= Promise.resolve(
      new sdk.CognitoIdentityProviderClient({
        region: this.config.region,
        // InitiateAuth, RespondToAuthChallenge and GlobalSignOut are unsigned: no AWS credentials are involved.
        endpoint: this.config.cognitoEndpoint,
      }),
    );
    return { sdk, client: await this.client };
  }

  get current(): Session | null {
    return this.session;
  }

  subscribe(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(username: string, password: string): Promise<Session> {
    let result;
    try {
      const { sdk, client } = await this.sdk();
      result = await client.send(
        new sdk.InitiateAuthCommand({
          AuthFlow: "USER_PASSWORD_AUTH",
          ClientId: this.clientId,
          AuthParameters: { USERNAME: username, PASSWORD: password },
        }),
      );
    } catch (error) {
      throw new SignInError(describe(error));
    }
    if (result.ChallengeName === "NEW_PASSWORD_REQUIRED" && result.Session) {
      throw new NewPasswordRequired(username, result.Session);
    }
    if (!result.AuthenticationResult) {
      throw new SignInError(`Sign-in needs ${result.ChallengeName ?? "a step"} this app does not support.`);
    }
    return this.store(username, result.AuthenticationResult);
  }

  async setNewPassword(challenge: NewPasswordRequired, password: string): Promise<Session> {
    let result;
    try {
      const { sdk, client } = await this.sdk();
      result = await client.send(
        new sdk.RespondToAuthChallengeCommand({
          ChallengeName: "NEW_PASSWORD_REQUIRED",
          ClientId: this.clientId,
          Session: challenge.challengeSession,
          ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: password },
        }),
      );
    } catch (error) {
      throw new SignInError(describe(error));
    }
    if (!result.AuthenticationResult) {
      throw new SignInError("Cognito did not accept the new password.");
    }
    return this.store(challenge.username, result.AuthenticationResult);
  }

  /** A valid ID token (refreshed if about to expire), or null when signed out. */
  async idToken(): Promise<string | null> {
    const session = this.session;
    if (!session) {
      return null;
    }
    if (session.expiresAt - Date.now() > REFRESH_MARGIN_MS) {
      return session.idToken;
    }
    this.refreshing ??= this.refresh(session).finally(() => {
      this.refreshing = null;
    });
    return (await this.refreshing)?.idToken ?? null;
  }

  async signOut(): Promise<void> {
    const session = this.session;
    this.clear();
    if (session) {
      try {
        const { sdk, client } = await this.sdk();
        await client.send(new sdk.GlobalSignOutCommand({ AccessToken: session.accessToken }));
      } catch {
        // the tokens are gone from this browser either way; they also expire on their own
      }
    }
  }

  /** Forget the session (the API said the token is no longer valid). */
  clear(): void {
    this.session = null;
    this.storage.removeItem(STORAGE_KEY);
    this.emit();
  }

  private async refresh(session: Session): Promise<Session | null> {
    try {
      const { sdk, client } = await this.sdk();
      const result = await client.send(
        new sdk.InitiateAuthCommand({
          AuthFlow: "REFRESH_TOKEN_AUTH",
          ClientId: this.clientId,
          AuthParameters: { REFRESH_TOKEN: session.refreshToken },
        }),
      );
      if (!result.AuthenticationResult) {
        throw new Error("no tokens");
      }
      return this.store(session.username, {
        ...result.AuthenticationResult,
        RefreshToken: result.AuthenticationResult.RefreshToken ?? session.refreshToken,
      });
    } catch {
      this.clear();
      return null;
    }
  }

  private store(username: string, result: AuthenticationResultType): Session {
    if (!result.IdToken || !result.AccessToken || !result.RefreshToken) {
      throw new SignInError("Cognito returned no tokens.");
    }
    this.session = {
      username,
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken,
      expiresAt: Date.now() + (result.ExpiresIn ?? 3600) * 1000,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.session));
    this.emit();
    return this.session;
  }

  private load(): Session | null {
    try {
      const raw = this.storage.getItem(STORAGE_KEY);
      const parsed = raw ? (JSON.parse(raw) as Partial<Session>) : null;
      if (
        parsed &&
        typeof parsed.username === "string" &&
        typeof parsed.idToken === "string" &&
        typeof parsed.accessToken === "string" &&
        typeof parsed.refreshToken === "string" &&
        typeof parsed.expiresAt === "number"
      ) {
        return parsed as Session;
      }
    } catch {
      // a corrupt entry: start signed out
    }
    return null;
  }

  private emit(): void {
    for (const listener of this.listeners) {
      listener(this.session);
    }
  }
}
