/** Reads of projects and of a project's own settings: datasets, label schema, members, API keys, webhooks. */
import { useQuery } from "@tanstack/react-query";

import { call } from "../api/client";
import { useApi } from "../services";
import { keys } from "./keys";

export function useProjects() {
  const api = useApi();
  return useQuery({ queryKey: keys.projects(), queryFn: () => call(api.GET("/api/v1/projects")) });
}

export function useDatasets(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.datasets(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/datasets", { params: { path: { project_string_id: project } } })),
  });
}

/** The label schema: the labels (in order, with colours) and the attribute groups. */
export function useSchema(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.schema(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/schema", { params: { path: { project_string_id: project } } })),
  });
}

export function useMembers(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.members(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/members", { params: { path: { project_string_id: project } } })),
  });
}

export function useApiKeys(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.apiKeys(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/api-keys", { params: { path: { project_string_id: project } } })),
  });
}

export function useWebhooks(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.webhooks(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/webhooks", { params: { path: { project_string_id: project } } })),
  });
}

/** A webhook's failed deliveries; nothing is read while `webhookId` is null. */
export function useWebhookFailures(project: string, webhookId: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: keys.webhookFailures(project, webhookId),
    enabled: webhookId !== null,
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/webhooks/{webhook_id}/failures", {
          params: { path: { project_string_id: project, webhook_id: webhookId ?? "" } },
        }),
      ),
  });
}
