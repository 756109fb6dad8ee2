import type { ComponentType } from "react";
import { createBrowserRouter, Navigate, Outlet, useLocation } from "react-router";

import { Layout } from "./components/Layout";
import { NotFound } from "./pages/NotFound";
import { Projects } from "./pages/Projects";
import { SignIn } from "./pages/SignIn";
import { useSession } from "./services";

/** A screen loaded on first visit (each is its own chunk; the sign-in page and the layout load at once). */
function page<M extends Record<string, unknown>>(load: () => Promise<M>, name: keyof M & string) {
  return async () => ({ Component: (await load())[name] as ComponentType });
}

function RequireSession() {
  const session = useSession();
  const location = useLocation();
  if (!session) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/signin?next=${next}`} replace />;
  }
  return <Outlet />;
}

export const router = createBrowserRouter([
  { path: "/signin", element: <SignIn /> },
  {
    element: <RequireSession />,
    children: [
      {
        element: <Layout />,
        children: [
          { path: "/", element: <Projects /> },
          { path: "/p/:project", element: <Navigate to="datasets" replace /> },
          { path: "/p/:project/datasets", lazy: page(() => import("./pages/Datasets"), "Datasets") },
          { path: "/p/:project/datasets/:dataset", lazy: page(() => import("./pages/Explorer"), "Explorer") },
          { path: "/p/:project/datasets/:dataset/upload", lazy: page(() => import("./pages/DatasetUpload"), "DatasetUpload") },
          { path: "/p/:project/files/:fileId", lazy: page(() => import("./pages/FileEditor"), "FileEditor") },
          { path: "/p/:project/schema", lazy: page(() => import("./pages/SchemaEditor"), "SchemaEditor") },
          { path: "/p/:project/settings", lazy: page(() => import("./pages/Settings"), "Settings") },
          { path: "/p/:project/jobs", lazy: page(() => import("./pages/Jobs"), "Jobs") },
          { path: "/p/:project/jobs/:jobId", lazy: page(() => import("./pages/JobPage"), "JobPage") },
          { path: "/p/:project/models", lazy: page(() => import("./pages/Models"), "Models") },
          { path: "/p/:project/runs/:runId", lazy: page(() => import("./pages/Run"), "Run") },
          { path: "/p/:project/tasks", lazy: page(() => import("./pages/TaskQueue"), "TaskQueue") },
          { path: "/p/:project/tasks/:taskId", lazy: page(() => import("./pages/TaskWork"), "TaskWork") },
          { path: "/p/:project/snapshots", lazy: page(() => import("./pages/Snapshots"), "Snapshots") },
          { path: "/p/:project/snapshots/:snapshot", lazy: page(() => import("./pages/SnapshotPage"), "SnapshotPage") },
          { path: "/p/:project/exports", lazy: page(() => import("./pages/Exports"), "Exports") },
          { path: "*", element: <NotFound /> },
        ],
      },
    ],
  },
]);
