/** The slice a snapshot pins: a dataset and an optional query, chosen the same way wherever one is taken. */
import { useState } from "react";

import { type ApiClient, call } from "../api/client";
import { useDatasets } from "../hooks/project";

export interface SliceChoice {
  datasets: { dataset_id: string; name: string }[];
  /** The chosen dataset's name: the first dataset until one is picked. */
  dataset: string;
  setDataset: (name: string) => void;
  query: string;
  setQuery: (query: string) => void;
}

export function useSliceChoice(project: string): SliceChoice {
  const datasets = useDatasets(project);
  const [dataset, setDataset] = useState("");
  const [query, setQuery] = useState("");
  const list = datasets.data?.datasets ?? [];
  return { datasets: list, dataset: dataset || list[0]?.name || "", setDataset, query, setQuery };
}

export function DatasetSelect({ choice }: { choice: SliceChoice }) {
  return (
    <label>
      Dataset
      <select value={choice.dataset} onChange={(e) => choice.setDataset(e.target.value)}>
        {choice.datasets.map((d) => (
          <option key={d.dataset_id} value={d.name}>
            {d.name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function QueryField({ choice }: { choice: SliceChoice }) {
  return (
    <label>
      Query (empty: every ready file)
      <input value={choice.query} onChange={(e) => choice.setQuery(e.target.value)} placeholder="labels.car >= 1" />
    </label>
  );
}

/** Take a snapshot of the chosen slice; small ones come back ready, large ones pending. */
export function takeSnapshot(api: ApiClient, project: string, choice: SliceChoice, name: string) {
  return call(
    api.POST("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/snapshots", {
      params: { path: { project_string_id: project, dataset_name: choice.dataset } },
      body: { name, query: choice.query.trim() || null },
    }),
  );
}
