import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { call } from "../api/client";
import type { JobSpec } from "../api/types";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { useJobs } from "../hooks/jobs";
import { keys } from "../hooks/keys";
import { useDatasets, useSchema } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

function names(text: string): string[] {
  return text
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
}

export function Jobs() {
  const api = useApi();
  const refresh = useRefresh();
  const navigate = useNavigate();
  const project = useParams().project ?? "";
  const jobs = useJobs(project);
  const datasets = useDatasets(project);
  const schema = useSchema(project);
  const [name, setName] = useState("");
  const [instructions, setInstructions] = useState("");
  const [chosenDatasets, setChosenDatasets] = useState<string[]>([]);
  const [labels, setLabels] = useState<string[]>([]);
  const [reviewPercent, setReviewPercent] = useState(100);
  const [consensus, setConsensus] = useState(1);
  const [annotators, setAnnotators] = useState("");
  const [reviewers, setReviewers] = useState("");
  const [mode, setMode] = useState<JobSpec["mode"]>("sync");
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/jobs", {
          params: { path: { project_string_id: project } },
          body: {
            name: name.trim(),
            instructions,
            datasets: chosenDatasets,
            label_names: labels,
            review_rate: reviewPercent / 100,
            consensus,
            annotators: names(annotators),
            reviewers: names(reviewers),
            mode,
          },
        }),
      ),
    onSuccess: async (job) => {
      await refresh(keys.jobs(project));
      navigate(`/p/${project}/jobs/${job.job_id}`);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  const toggle = (list: string[], value: string, on: boolean) => (on ? [...list, value] : list.filter((v) => v !== value));

  return (
    <section>
      <PageTitle actions={<Link to={`/p/${project}/tasks`}>Task queue</Link>}>Jobs</PageTitle>
      {jobs.isPending ? <Loading what="jobs" /> : null}
      <ErrorNotice error={jobs.error} />
      {jobs.data && jobs.data.jobs.length === 0 ? <p>No jobs yet: create one below.</p> : null}
      {jobs.data && jobs.data.jobs.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>Job</th>
              <th>Status</th>
              <th>Datasets</th>
              <th>Files</th>
              <th>Review</th>
              <th>Consensus</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.jobs.map((job) => (
              <tr key={job.job_id}>
                <td>
                  <Link to={`/p/${project}/jobs/${job.job_id}`}>{job.name}</Link>
                </td>
                <td>
                  <span className={`status ${job.status}`}>{job.status}</span>
                </td>
                <td>{job.datasets.join(", ")}</td>
                <td>{job.files_total}</td>
                <td>{Math.round(job.review_rate * 100)}%</td>
                <td>{job.consensus}</td>
                <td>{formatDate(job.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form className="card job-form" onSubmit={submit} aria-label="Create job">
        <h2>New job</h2>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Instructions for annotators
          <textarea rows={3} value={instructions} onChange={(e) => setInstructions(e.target.value)} />
        </label>
        <fieldset>
          <legend>Datasets the job watches</legend>
          {datasets.data?.datasets.map((d) => (
            <label key={d.dataset_id} className="check">
              <input
                type="checkbox"
                checked={chosenDatasets.includes(d.name)}
                onChange={(e) => setChosenDatasets(toggle(chosenDatasets, d.name, e.target.checked))}
              />
              {d.name}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Labels (none ticked: all)</legend>
          {schema.data?.labels.map((l) => (
            <label key={l.name} className="check">
              <input
                type="checkbox"
                checked={labels.includes(l.name)}
                onChange={(e) => setLabels(toggle(labels, l.name, e.target.checked))}
              />
              {l.name}
            </label>
          ))}
        </fieldset>
        <div className="row">
          <label>
            Files reviewed (%)
            <input
              type="number"
              min={0}
              max={100}
              value={reviewPercent}
              onChange={(e) => setReviewPercent(Number(e.target.value))}
            />
          </label>
          <label>
            Annotators per file (consensus)
            <input type="number" min={1} max={5} value={consensus} onChange={(e) => setConsensus(Number(e.target.value))} />
          </label>
          <label>
            Files
            <select value={mode} onChange={(e) => setMode(e.target.value as JobSpec["mode"])}>
              <option value="sync">existing and new files</option>
              <option value="copy_once">existing files only</option>
            </select>
          </label>
        </div>
        <div className="row">
          <label>
            Annotators (usernames, comma-separated; empty: any annotator)
            <input value={annotators} onChange={(e) => setAnnotators(e.target.value)} />
          </label>
          <label>
            Reviewers (empty: any reviewer)
            <input value={reviewers} onChange={(e) => setReviewers(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="primary" disabled={create.isPending || chosenDatasets.length === 0}>
          Create job
        </button>
        <ErrorNotice error={create.error} />
      </form>
    </section>
  );
}
