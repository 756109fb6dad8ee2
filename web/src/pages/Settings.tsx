import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useParams } from "react-router";

import { call } from "../api/client";
import type { components } from "../api/schema";
import type { ApiKeyIssued, Role, WebhookCreated } from "../api/types";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { useApiKeys, useMembers, useWebhookFailures, useWebhooks } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

// Records over the generated union types: the compiler insists on every role and event the API has.
const ROLE_NAMES: Record<Role, string> = {
  admin: "admin",
  editor: "editor",
  reviewer: "reviewer",
  annotator: "annotator",
  viewer: "viewer",
};
const ROLES = Object.keys(ROLE_NAMES) as Role[];
type EventType = components["schemas"]["WebhookSpec"]["events"][number];
const EVENT_NAMES: Record<EventType, string> = {
  file_ingested: "a file was ingested",
  task_created: "a task was created",
  task_submitted: "a task was submitted",
  review_approved: "a review approved",
  changes_requested: "a review requested changes",
  task_completed: "a file completed its workflow",
  job_completed: "a job completed",
};
const EVENTS = Object.keys(EVENT_NAMES) as EventType[];

export function Settings() {
  const project = useParams().project ?? "";
  return (
    <section className="settings">
      <PageTitle>Project settings</PageTitle>
      <Members project={project} />
      <ApiKeys project={project} />
      <Webhooks project={project} />
    </section>
  );
}

function Members({ project }: { project: string }) {
  const api = useApi();
  const reread = useRefresh();
  const path = { project_string_id: project };
  const members = useMembers(project);
  const refresh = () => reread(keys.members(project));
  const change = useMutation({
    mutationFn: ({ principal, role }: { principal: string; role: Role }) =>
      call(
        api.PATCH("/api/v1/projects/{project_string_id}/members/{principal_id}", {
          params: { path: { ...path, principal_id: principal } },
          body: { role },
        }),
      ),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (principal: string) =>
      call(
        api.DELETE("/api/v1/projects/{project_string_id}/members/{principal_id}", {
          params: { path: { ...path, principal_id: principal } },
        }),
      ),
    onSettled: refresh,
  });
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("annotator");
  const invite = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/members", {
          params: { path },
          body: { username: username.trim(), email: email.trim() || null, role },
        }),
      ),
    onSuccess: () => {
      setUsername("");
      setEmail("");
      void refresh();
    },
  });

  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members and roles</h2>
      {members.isPending ? <Loading what="members" /> : null}
      <ErrorNotice error={members.error ?? change.error ?? remove.error} />
      {members.data ? (
        <table className="table">
          <thead>
            <tr>
              <th>Member</th>
              <th>Role</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.data.members.map((member) => (
              <tr key={member.principal_id}>
                <td>{member.principal_id.replace(/^user:/, "").replace(/^key:/, "API key ")}</td>
                <td>
                  <select
                    aria-label={`Role of ${member.principal_id}`}
                    value={member.role}
                    onChange={(e) => change.mutate({ principal: member.principal_id, role: e.target.value as Role })}
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => {
                      if (window.confirm(`Remove ${member.principal_id} from ${project}?`)) remove.mutate(member.principal_id);
                    }}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form
        className="inline-form"
        aria-label="Invite member"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          invite.mutate();
        }}
      >
        <label>
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          E-mail (for new users)
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={invite.isPending}>
          Add member
        </button>
      </form>
      <ErrorNotice error={invite.error} />
      {invite.data ? (
        <p className="notice ok" role="status">
          {invite.data.principal_id} is now {invite.data.role}
          {invite.data.invited ? "; an invitation with a temporary password was e-mailed" : ""}.
        </p>
      ) : null}
    </section>
  );
}

function SecretOnce({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="notice secret" role="alert">
      <p>
        <strong>{title}</strong> It is shown this once: store it now.
      </p>
      <code aria-label="Secret">{secret}</code>
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(secret).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

function ApiKeys({ project }: { project: string }) {
  const api = useApi();
  const reread = useRefresh();
  const path = { project_string_id: project };
  const refresh = () => reread(keys.apiKeys(project));
  const apiKeys = useApiKeys(project);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [issued, setIssued] = useState<ApiKeyIssued | null>(null);
  const create = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/projects/{project_string_id}/api-keys", { params: { path }, body: { name, role } })),
    onSuccess: (result) => {
      setIssued(result);
      setName("");
      void refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (clientId: string) =>
      call(
        api.DELETE("/api/v1/projects/{project_string_id}/api-keys/{client_id}", {
          params: { path: { ...path, client_id: clientId } },
        }),
      ),
    onSettled: refresh,
  });

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="hint">For the SDK and scripts: HTTP Basic with the client id and secret.</p>
      {apiKeys.isPending ? <Loading what="API keys" /> : null}
      <ErrorNotice error={apiKeys.error ?? revoke.error} />
      {issued ? (
        <SecretOnce
          title={`Secret of ${issued.name} (${issued.client_id}).`}
          secret={issued.client_secret}
          onDone={() => setIssued(null)}
        />
      ) : null}
      {apiKeys.data ? (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Client id</th>
              <th>Role</th>
              <th>Created</th>
              <th>Last used</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {apiKeys.data.api_keys.map((k) => (
              <tr key={k.client_id} className={k.revoked_at ? "revoked" : undefined}>
                <td>{k.name}</td>
                <td>
                  <code>{k.client_id}</code>
                </td>
                <td>{k.role}</td>
                <td>{formatDate(k.created_at)}</td>
                <td>{formatDate(k.last_used_at)}</td>
                <td>
                  {k.revoked_at ? (
                    `revoked ${formatDate(k.revoked_at)}`
                  ) : (
                    <button
                      type="button"
                      onClick={() => {
                        if (window.confirm(`Revoke ${k.name}? Programs using it stop working.`)) revoke.mutate(k.client_id);
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form
        className="inline-form"
        aria-label="Create API key"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="training cluster" />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={create.isPending}>
          Create API key
        </button>
      </form>
      <ErrorNotice error={create.error} />
    </section>
  );
}

function Webhooks({ project }: { project: string }) {
  const api = useApi();
  const reread = useRefresh();
  const path = { project_string_id: project };
  const refresh = () => reread(keys.webhooks(project));
  const hooks = useWebhooks(project);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<EventType[]>(["task_completed"]);
  const [created, setCreated] = useState<WebhookCreated | null>(null);
  const [failuresOf, setFailuresOf] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/webhooks", {
          params: { path },
          body: { url: url.trim(), events, description },
        }),
      ),
    onSuccess: (result) => {
      setCreated(result);
      setUrl("");
      setDescription("");
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      call(
        api.DELETE("/api/v1/projects/{project_string_id}/webhooks/{webhook_id}", {
          params: { path: { ...path, webhook_id: id } },
        }),
      ),
    onSettled: refresh,
  });
  const failures = useWebhookFailures(project, failuresOf);

  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <p className="hint">Signed POSTs (Annolake-Signature: HMAC-SHA256 of timestamp and body) when these events happen.</p>
      {hooks.isPending ? <Loading what="webhooks" /> : null}
      <ErrorNotice error={hooks.error ?? remove.error} />
      {created ? (
        <SecretOnce
          title={`Signing secret of the webhook to ${created.webhook.url}.`}
          secret={created.secret}
          onDone={() => setCreated(null)}
        />
      ) : null}
      {hooks.data && hooks.data.webhooks.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>Description</th>
              <th>Created</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {hooks.data.webhooks.map((hook) => (
              <tr key={hook.webhook_id}>
                <td>
                  <code>{hook.url}</code>
                </td>
                <td>{hook.events.join(", ")}</td>
                <td>{hook.description}</td>
                <td>{formatDate(hook.created_at)}</td>
                <td>
                  <button type="button" onClick={() => setFailuresOf(failuresOf === hook.webhook_id ? null : hook.webhook_id)}>
                    Failed deliveries
                  </button>
                  <button type="button" onClick={() => remove.mutate(hook.webhook_id)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : hooks.data ? (
        <p className="hint">No webhooks.</p>
      ) : null}
      {failuresOf ? (
        <div className="card" aria-label="Failed deliveries">
          <h3>Failed deliveries</h3>
          <ErrorNotice error={failures.error} />
          {failures.data && failures.data.failures.length === 0 ? <p>None.</p> : null}
          <ul>
            {failures.data?.failures.map((f) => (
              <li key={f.failure_id}>
                {formatDate(f.failed_at)} · {f.event_type} · {f.attempts} attempts · {f.last_error}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <form
        className="inline-form"
        aria-label="Add webhook"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <label>
          URL
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/hooks" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <fieldset className="events">
          <legend>Events</legend>
          {EVENTS.map((event) => (
            <label key={event} className="check" title={EVENT_NAMES[event]}>
              <input
                type="checkbox"
                checked={events.includes(event)}
                onChange={(e) => setEvents(e.target.checked ? [...events, event] : events.filter((x) => x !== event))}
              />
              {event}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={create.isPending || events.length === 0}>
          Add webhook
        </button>
      </form>
      <ErrorNotice error={create.error} />
    </section>
  );
}
