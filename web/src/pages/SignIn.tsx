import { type FormEvent, useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";

import { NewPasswordRequired } from "../auth/session";
import { errorMessage } from "../components/common";
import { useServices, useSession } from "../services";

function safeNext(value: string | null): string {
  // only paths of this site: never an absolute URL someone put in the link
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

export function SignIn() {
  const { auth } = useServices();
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [challenge, setChallenge] = useState<NewPasswordRequired | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (session && !busy) {
    return <Navigate to={next} replace />;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (challenge) {
        await auth.setNewPassword(challenge, newPassword);
      } else {
        await auth.signIn(username.trim(), password);
      }
      navigate(next, { replace: true });
    } catch (caught) {
      if (caught instanceof NewPasswordRequired) {
        setChallenge(caught);
      } else {
        setError(errorMessage(caught));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Annolake</h1>
        {challenge ? (
          <>
            <p>Choose a new password for {challenge.username}.</p>
            <label>
              New password
              <input
                type="password"
                autoComplete="new-password"
                value={newPassword}
                onChange={(e) => setNewPassword(e.target.value)}
                required
              />
            </label>
          </>
        ) : (
          <>
            <label>
              Username
              <input
                name="username"
                autoComplete="username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                required
                autoFocus
              />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                required
              />
            </label>
          </>
        )}
        {error ? (
          <p className="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : challenge ? "Set password and sign in" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
