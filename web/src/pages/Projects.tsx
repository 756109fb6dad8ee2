import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { useProjects } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

export function Projects() {
  const api = useApi();
  const refresh = useRefresh();
  const navigate = useNavigate();
  const projects = useProjects();
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/projects", { body: { project_string_id: id.trim(), name: name.trim() } })),
    onSuccess: async (project) => {
      await refresh(keys.projects());
      navigate(`/p/${project.project_string_id}/datasets`);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  return (
    <section>
      <PageTitle>Projects</PageTitle>
      {projects.isPending ? <Loading what="projects" /> : null}
      <ErrorNotice error={projects.error} />
      {projects.data ? (
        projects.data.projects.length === 0 ? (
          <p>You are not a member of any project yet. Create one below.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Project</th>
                <th>Id</th>
                <th>Your role</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.data.projects.map((project) => (
                <tr key={project.project_string_id}>
                  <td>
                    <Link to={`/p/${project.project_string_id}/datasets`}>{project.name}</Link>
                  </td>
                  <td>
                    <code>{project.project_string_id}</code>
                  </td>
                  <td>{project.role}</td>
                  <td>{formatDate(project.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
      <form className="card inline-form" onSubmit={submit} aria-label="Create project">
        <h2>New project</h2>
        <label>
          Id
          <input
            value={id}
            onChange={(e) => setId(e.target.value)}
            pattern="[a-z0-9][a-z0-9-]{1,62}"
            title="2-63 lowercase letters, digits or '-'"
            placeholder="street-scenes"
            required
          />
        </label>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Street scenes" required />
        </label>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create project
        </button>
        <ErrorNotice error={create.error} />
      </form>
    </section>
  );
}
