import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useParams } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { useDatasets } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

export function Datasets() {
  const api = useApi();
  const project = useParams().project ?? "";
  const refresh = useRefresh();
  const path = { project_string_id: project };
  const datasets = useDatasets(project);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/datasets", {
          params: { path },
          body: { name: name.trim(), description },
        }),
      ),
    onSuccess: async () => {
      setName("");
      setDescription("");
      await refresh(keys.datasets(project));
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  return (
    <section>
      <PageTitle>Datasets</PageTitle>
      {datasets.isPending ? <Loading what="datasets" /> : null}
      <ErrorNotice error={datasets.error} />
      {datasets.data ? (
        <table className="table">
          <thead>
            <tr>
              <th>Dataset</th>
              <th>Description</th>
              <th>Created</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {datasets.data.datasets.map((dataset) => (
              <tr key={dataset.dataset_id}>
                <td>
                  <Link to={`/p/${project}/datasets/${encodeURIComponent(dataset.name)}`}>{dataset.name}</Link>
                </td>
                <td>{dataset.description}</td>
                <td>{formatDate(dataset.created_at)}</td>
                <td>
                  <Link to={`/p/${project}/datasets/${encodeURIComponent(dataset.name)}/upload`}>
                    Upload to {dataset.name}
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form className="card inline-form" onSubmit={submit} aria-label="Create dataset">
        <h2>New dataset</h2>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="train" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create dataset
        </button>
        <ErrorNotice error={create.error} />
      </form>
    </section>
  );
}
