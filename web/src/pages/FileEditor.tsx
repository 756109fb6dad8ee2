import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useBlocker, useParams, useSearchParams } from "react-router";

import { ApiError, call } from "../api/client";
import type { AnnotationsView, AnnotationVersionView, PacketInstance } from "../api/types";
import { Dialog, ErrorNotice, Loading, formatDate } from "../components/common";
import { Editor } from "../editor/Editor";
import { type Shape, fromPacket, toPacket } from "../editor/instances";
import { VideoEditor } from "../editor/video/VideoEditor";
import { useAnnotationHistory, useAnnotations, useFile } from "../hooks/files";
import { keys } from "../hooks/keys";
import { useSchema } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { usePredictionOverlay } from "../models/PredictionOverlay";
import { scoreFromLink, scoreLinkEntry } from "../models/overlay";
import { useApi } from "../services";

/** The file's versions (the history route also answers per-instance history, which has another shape). */
function versionsOf(history: unknown[] | undefined): AnnotationVersionView[] {
  return (history ?? []).filter(
    (entry): entry is AnnotationVersionView =>
      typeof entry === "object" &&
      entry !== null &&
      "created_by" in entry &&
      "instance_list" in entry &&
      Array.isArray((entry as AnnotationVersionView).instance_list),
  );
}

export function FileEditor() {
  const api = useApi();
  const queryClient = useQueryClient();
  const refresh = useRefresh();
  const params = useParams();
  const project = params.project ?? "";
  const fileId = params.fileId ?? "";
  const [search] = useSearchParams();
  const path = { project_string_id: project, file_id: fileId };
  const [dirty, setDirty] = useState(false);
  const [conflict, setConflict] = useState<ApiError | null>(null);
  const [showHistory, setShowHistory] = useState(false);
  const [viewing, setViewing] = useState<AnnotationVersionView | null>(null);

  const file = useFile(project, fileId);
  const schema = useSchema(project);
  const annotations = useAnnotations(project, fileId);
  const history = useAnnotationHistory(project, fileId, showHistory);
  const overlay = usePredictionOverlay(project, fileId, search.get("model") ?? "", scoreFromLink(search.get("score")));
  const save = useMutation({
    mutationFn: (instances: PacketInstance[]) =>
      call(
        api.PUT("/api/v1/projects/{project_string_id}/files/{file_id}/annotations", {
          params: { path },
          body: { version: annotations.data?.version ?? 0, instance_list: instances },
        }),
      ),
    onSuccess: (saved) => {
      const view: AnnotationsView = { file_id: saved.file_id, version: saved.version, instance_list: saved.instance_list };
      queryClient.setQueryData(keys.annotations(project, fileId), view);
      void refresh(keys.annotationHistory(project, fileId));
      void refresh(keys.labelCounts(project));
      void refresh(keys.files(project));
    },
    onError: (error) => {
      if (error instanceof ApiError && error.status === 409) {
        setConflict(error);
      }
    },
  });

  // Unsaved edits: ask before leaving, inside the app (router) and out of it (reload, close, another site).
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (blocker.state !== "blocked") return;
    if (window.confirm("Leave this file? Your unsaved changes will be lost.")) blocker.proceed();
    else blocker.reset();
  }, [blocker]);
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const initial = useMemo(() => annotations.data?.instance_list.map((i) => fromPacket(i)) ?? [], [annotations.data]);
  const viewed = useMemo(() => viewing?.instance_list.map((i) => fromPacket(i)) ?? [], [viewing]);
  const onChange = useCallback((_: Shape[], isDirty: boolean) => setDirty(isDirty), []);
  const onVideoChange = useCallback((isDirty: boolean) => setDirty(isDirty), []);

  async function reload() {
    setConflict(null);
    save.reset();
    await queryClient.refetchQueries({ queryKey: keys.annotations(project, fileId) });
  }

  const dataset = search.get("dataset");
  // the way back keeps the explorer's query, and the model and score as this page has them now
  const explorerSearch = new URLSearchParams({
    ...(search.get("q") ? { q: search.get("q") ?? "" } : {}),
    ...(overlay.model ? { model: overlay.model, ...scoreLinkEntry(overlay.minScore) } : {}),
  }).toString();
  const back = dataset
    ? `/p/${project}/datasets/${encodeURIComponent(dataset)}${explorerSearch ? `?${explorerSearch}` : ""}`
    : `/p/${project}/datasets`;

  if (file.isPending || schema.isPending || annotations.isPending) {
    return <Loading what="the file" />;
  }
  if (file.error || schema.error || annotations.error) {
    return <ErrorNotice error={file.error ?? schema.error ?? annotations.error} />;
  }
  const record = file.data;
  const size = { width: record.width ?? 0, height: record.height ?? 0 };
  const video = record.media_type === "video" && record.video ? record.video : null;
  return (
    <section className="file-editor">
      <div className="editor-head">
        <Link to={back}>← Back to {dataset ?? "datasets"}</Link>
        <h1>{record.original_name}</h1>
        <span className="meta">
          {size.width}×{size.height} ·{" "}
          {video ? `${video.frame_count} frames · ${video.fps.toFixed(2)} fps · ${video.duration_s.toFixed(1)} s · ` : null}
          <span role="status" aria-live="polite">
            {viewing
              ? `viewing version ${viewing.version} (read-only)`
              : `version ${annotations.data.version}${dirty ? " · unsaved changes" : save.isSuccess ? " · saved" : ""}`}
          </span>
        </span>
        <button type="button" onClick={() => setShowHistory((s) => !s)} aria-expanded={showHistory}>
          History
        </button>
      </div>
      {record.status_reason ? (
        // A ready file can carry a note from its ingest: e.g. a sidecar that arrived late and was refused.
        <p className="notice warn" role="note" aria-label="Ingest note">
          {record.status_reason}
        </p>
      ) : null}
      <FileMetadata metadata={record.metadata} />
      {save.error && !(save.error instanceof ApiError && save.error.status === 409) ? (
        <ErrorNotice error={save.error} title="Not saved" />
      ) : null}
      {video ? null : overlay.controls}
      <div className="file-editor-body">
        {video ? (
          <VideoEditor
            project={project}
            fileId={fileId}
            frameCount={video.frame_count}
            fps={video.fps}
            size={size}
            labels={schema.data.labels}
            attributeGroups={schema.data.attribute_groups}
            initial={viewing ? viewing.instance_list : annotations.data.instance_list}
            resetKey={viewing ? `history-${viewing.version}` : `current-${annotations.data.version}-${annotations.dataUpdatedAt}`}
            readOnly={viewing !== null}
            onChange={viewing ? undefined : onVideoChange}
            primary={viewing ? undefined : { label: "Save", busy: save.isPending, run: (instances) => save.mutate(instances) }}
            extraActions={
              viewing ? (
                <button type="button" onClick={() => setViewing(null)}>
                  Back to the current version
                </button>
              ) : undefined
            }
          />
        ) : viewing ? (
          <Editor
            imageUrl={record.media_url}
            imageSize={size}
            labels={schema.data.labels}
            attributeGroups={schema.data.attribute_groups}
            initial={viewed}
            resetKey={`history-${viewing.version}`}
            readOnly
            extraActions={
              <button type="button" onClick={() => setViewing(null)}>
                Back to the current version
              </button>
            }
          />
        ) : (
          <Editor
            imageUrl={record.media_url}
            imageSize={size}
            labels={schema.data.labels}
            attributeGroups={schema.data.attribute_groups}
            initial={initial}
            resetKey={`current-${annotations.data.version}-${annotations.dataUpdatedAt}`}
            layers={overlay.layers}
            onChange={onChange}
            primary={{ label: "Save", busy: save.isPending, run: (shapes) => save.mutate(shapes.map(toPacket)) }}
          />
        )}
        {showHistory ? (
          <aside className="history" aria-labelledby="history-title">
            <h2 id="history-title">History</h2>
            {history.isPending ? <Loading what="history" /> : null}
            <ErrorNotice error={history.error} />
            <ol reversed>
              {versionsOf(history.data?.history)
                .reverse()
                .map((entry) => (
                  <li key={entry.version}>
                    <button
                      type="button"
                      className="link"
                      aria-pressed={viewing?.version === entry.version}
                      onClick={() => setViewing(entry.version === annotations.data.version ? null : entry)}
                    >
                      Version {entry.version}
                    </button>
                    <span className="hint">
                      {entry.created_by} · {formatDate(entry.created_at)} · {entry.source} ·{" "}
                      {entry.instance_list.length} instances
                      {entry.deleted.length ? `, ${entry.deleted.length} removed` : ""}
                    </span>
                  </li>
                ))}
            </ol>
          </aside>
        ) : null}
      </div>
      <Dialog title="Someone else saved this file" open={conflict !== null} onClose={() => setConflict(null)}>
        {conflict ? (
          <div className="conflict">
            <p>
              {String(conflict.details.changed_by ?? "Someone")} saved version {String(conflict.details.current_version ?? "?")}
              {conflict.details.changed_at ? ` at ${formatDate(String(conflict.details.changed_at))}` : ""} while you were
              editing version {annotations.data.version}. Your changes were not saved.
            </p>
            <p>Reload to see their version; your unsaved edits will be discarded.</p>
            <div className="actions">
              <button type="button" className="primary" onClick={() => void reload()}>
                Reload their version
              </button>
              <button type="button" onClick={() => setConflict(null)}>
                Keep my edits for now
              </button>
            </div>
          </div>
        ) : null}
      </Dialog>
    </section>
  );
}

/** The file's user metadata (what `file.metadata.<key>` queries match), read-only, folded by default. */
function FileMetadata({ metadata }: { metadata: Record<string, unknown> }) {
  const entries = Object.entries(metadata);
  if (entries.length === 0) {
    return null;
  }
  return (
    <details className="file-metadata">
      <summary>Metadata ({entries.length})</summary>
      <dl aria-label="Metadata">
        {entries.map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
