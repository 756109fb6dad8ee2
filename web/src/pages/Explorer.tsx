import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { ApiError } from "../api/client";
import type { LabelCounts, ListedFileView } from "../api/types";
import { ErrorNotice, Loading, PageTitle } from "../components/common";
import { formatDuration } from "../editor/video/time";
import type { ColourOf } from "../editor/palette";
import { useFileCount, useFilePages, useLabelCounts } from "../hooks/files";
import { useModels } from "../hooks/models";
import { useDatasets, useSchema } from "../hooks/project";
import { type Vocabulary, quoteName } from "../query/complete";
import { BoxRects, useLabelColours } from "../models/Boxes";
import { scoreFromLink, scoreLinkEntry, shownBoxes } from "../models/overlay";
import { PredictionControls } from "../models/PredictionControls";
import { QueryBar } from "../query/QueryBar";

const TILE_WIDTH = 176;
const ROW_HEIGHT = 196;
const PREFETCH_ROWS = 8; // fetch the next page while this many rows are still ahead (about two screens)

export function Explorer() {
  const params = useParams();
  const project = params.project ?? "";
  const dataset = params.dataset ?? "";
  const [search, setSearch] = useSearchParams();
  const q = search.get("q") ?? "";
  /** the model whose predictions the thumbnails show ("" for none); in the URL, so a link keeps it */
  const model = search.get("model") ?? "";
  /** the score below which its predictions are hidden; in the URL too (`score`, absent at 0) */
  const minScore = scoreFromLink(search.get("score"));
  const models = useModels(project);
  const withRuns = models.data?.filter((m) => m.latest_run) ?? [];
  const colourOf = useLabelColours(project);

  const schema = useSchema(project);
  const datasets = useDatasets(project);
  const vocabulary: Vocabulary = useMemo(
    () => ({
      labels: schema.data?.labels.map((label) => label.name) ?? [],
      attributes:
        schema.data?.attribute_groups.map((group) => ({ name: group.name, kind: group.kind, options: group.options ?? [] })) ??
        [],
      datasets: datasets.data?.datasets.map((d) => d.name) ?? [],
    }),
    [schema.data, datasets.data],
  );

  const count = useFileCount(project, dataset, q);
  /** how many files the grid has been scrolled to: the next page is sized to reach them */
  const wanted = useRef(0);
  const files = useFilePages(project, dataset, q, model, () => wanted.current);
  // The chart reads every file's summary: it waits for the first page of thumbnails, so on a large
  // dataset it does not compete with what the person sees first.
  const labelCounts = useLabelCounts(project, dataset, q, files.isSuccess);
  const all = useMemo(() => files.data?.pages.flatMap((page) => page.files) ?? [], [files.data]);
  const queryError = count.error instanceof ApiError && count.error.code === "invalid_query" ? count.error : null;

  function navigate(nextQuery: string, nextModel: string, nextScore = minScore, replace = false) {
    setSearch(
      {
        ...(nextQuery ? { q: nextQuery } : {}),
        ...(nextModel ? { model: nextModel, ...scoreLinkEntry(nextScore) } : {}),
      },
      { replace },
    );
  }
  const runQuery = (next: string) => navigate(next, model);

  return (
    <section className="explorer">
      <PageTitle
        actions={
          <>
            <Link to={`/p/${project}/datasets/${encodeURIComponent(dataset)}/upload`}>Upload files</Link>
          </>
        }
      >
        {dataset}
      </PageTitle>
      <QueryBar value={q} vocabulary={vocabulary} error={queryError} onSubmit={runQuery} />
      {withRuns.length > 0 || model ? (
        <PredictionControls
          models={withRuns}
          model={model}
          onModel={(next) => navigate(q, next)}
          minScore={minScore}
          onMinScore={(next) => navigate(q, model, next, true)}
        >
          <span className="hint" role="status">
            {model && files.data?.pages[0] && files.data.pages[0].predictions_run == null
              ? `${model} has no finished run yet: nothing to draw`
              : "dashed, over each thumbnail"}
          </span>
        </PredictionControls>
      ) : null}
      {!queryError ? <ErrorNotice error={count.error ?? files.error} /> : null}
      <div className="explorer-body">
        <div className="explorer-main">
          <p className="result-count" role="status" aria-live="polite">
            {count.data === undefined
              ? count.isPending
                ? "Counting…"
                : ""
              : `${count.data.toLocaleString()} ${count.data === 1 ? "file" : "files"}${q ? " match" : ""}`}
          </p>
          {files.isPending && !queryError ? <Loading what="files" /> : null}
          {!queryError && files.data ? (
            <ThumbnailGrid
              files={all}
              total={count.data}
              project={project}
              dataset={dataset}
              query={q}
              model={model}
              overlay={model ? { minScore, colourOf } : null}
              hasMore={files.hasNextPage}
              loadingMore={files.isFetchingNextPage}
              loadMore={(upTo) => {
                wanted.current = upTo;
                void files.fetchNextPage();
              }}
            />
          ) : null}
        </div>
        <LabelChart
          counts={labelCounts.data}
          counting={labelCounts.isPending && !files.isError}
          onPick={(name) => runQuery(`labels.${quoteName(name)} >= 1`)}
        />
      </div>
    </section>
  );
}

function ThumbnailGrid({
  files,
  total,
  project,
  dataset,
  query,
  model,
  overlay,
  hasMore,
  loadingMore,
  loadMore,
}: {
  files: ListedFileView[];
  /** how many files the listing holds, once counted: the grid is that tall, so a scroll can jump far ahead */
  total: number | undefined;
  project: string;
  dataset: string;
  query: string;
  /** the model picked for the overlay ("" none): the file editor opens with it */
  model: string;
  /** a model's predictions, drawn dashed over the thumbnails from `minScore` up (null: none picked) */
  overlay: { minScore: number; colourOf: ColourOf } | null;
  hasMore: boolean;
  loadingMore: boolean;
  /** fetch the next page, sized to reach the `upTo`th file */
  loadMore: (upTo: number) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  useEffect(() => {
    const element = scroller.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(([entry]) => entry && setWidth(entry.contentRect.width));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const columns = Math.max(1, Math.floor(width / TILE_WIDTH));
  const rows = Math.ceil(files.length / columns);
  const virtualizer = useVirtualizer({
    count: hasMore ? Math.max(rows + 1, Math.ceil((total ?? 0) / columns)) : rows,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 4,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items[items.length - 1]?.index ?? 0;
  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= rows - PREFETCH_ROWS) {
      loadMore((lastIndex + 1 + PREFETCH_ROWS) * columns);
    }
  }, [hasMore, loadingMore, lastIndex, rows, columns, loadMore]);
  const link = (file: ListedFileView) => {
    const back = new URLSearchParams({
      dataset,
      ...(query ? { q: query } : {}),
      ...(model ? { model, ...scoreLinkEntry(overlay?.minScore ?? 0) } : {}),
    });
    return `/p/${project}/files/${file.file_id}?${back.toString()}`;
  };

  if (files.length === 0) {
    return <p className="empty">No files{query ? " match this query" : " in this dataset yet"}.</p>;
  }
  return (
    <div ref={scroller} className="grid-scroller" aria-label="Files" role="list" tabIndex={0}>
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {items.map((row) => {
          const start = row.index * columns;
          const rowFiles = files.slice(start, start + columns);
          return (
            <div
              key={row.key}
              className="grid-row"
              style={{ transform: `translateY(${row.start}px)`, height: ROW_HEIGHT }}
            >
              {row.index >= rows ? (
                <p className="loading" role={row.index === rows ? "status" : undefined}>
                  Loading more…
                </p>
              ) : (
                rowFiles.map((file) => {
                  // a video's predictions are per frame: its poster thumbnail draws none
                  const predicted = overlay && !file.video ? shownBoxes(file.predictions, overlay.minScore) : null;
                  return (
                    <div key={file.file_id} role="listitem" className="tile-item">
                      <Link to={link(file)} className={`tile ${file.status}`}>
                        <span className="tile-media" data-predicted={predicted?.length}>
                          {file.thumbnail_url ? (
                            <img src={file.thumbnail_url} alt={file.original_name} loading="lazy" decoding="async" />
                          ) : (
                            <span className="no-thumb">{file.status === "quarantined" ? "quarantined" : file.status}</span>
                          )}
                          {overlay && predicted && file.thumbnail_url && file.width && file.height ? (
                            <svg
                              className="tile-predictions"
                              viewBox={`0 0 ${file.width} ${file.height}`}
                              preserveAspectRatio="xMidYMid meet"
                              aria-hidden="true"
                            >
                              <BoxRects boxes={predicted} side="prediction" colourOf={overlay.colourOf} />
                            </svg>
                          ) : null}
                          {predicted ? <span className="predicted-count">{predicted.length} predicted</span> : null}
                          {file.video ? (
                            <span className="duration" aria-label={`Video, ${file.video.frame_count} frames`}>
                              ▶ {formatDuration(file.video.duration_s)}
                            </span>
                          ) : null}
                        </span>
                        <span className="tile-name">{file.original_name}</span>
                        <span className="tile-labels">
                          {Object.entries(file.label_counts)
                            .filter(([, n]) => n > 0)
                            .map(([name, n]) => `${name} ${n}`)
                            .join(" · ")}
                        </span>
                      </Link>
                    </div>
                  );
                })
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}

function LabelChart({
  counts,
  counting,
  onPick,
}: {
  counts: LabelCounts | undefined;
  counting: boolean;
  onPick: (label: string) => void;
}) {
  if (!counts) {
    return (
      <aside className="label-chart" aria-label="Files per label">
        <h2>Files per label</h2>
        {counting ? (
          <p className="hint" role="status">
            Counting…
          </p>
        ) : null}
      </aside>
    );
  }
  const max = Math.max(1, ...counts.labels.map((label) => label.files));
  return (
    <aside className="label-chart" aria-labelledby="label-chart-title">
      <h2 id="label-chart-title">Files per label</h2>
      <p className="hint">
        of {counts.files.toLocaleString()} {counts.query ? "matching " : ""}files; click to query
      </p>
      <ul>
        {counts.labels.map((label) => (
          <li key={label.name}>
            <button
              type="button"
              onClick={() => onPick(label.name)}
              aria-label={`${label.name}: ${label.files} files, ${label.instances} instances`}
            >
              <span className="bar-label">{label.name}</span>
              <span className="bar-track">
                <span
                  className="bar"
                  style={{ width: `${(100 * label.files) / max}%`, background: label.colour ?? "#888" }}
                />
              </span>
              <span className="bar-value">{label.files.toLocaleString()}</span>
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
}
