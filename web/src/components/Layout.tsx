import { NavLink, Outlet, useNavigate, useParams } from "react-router";

import { useServices, useSession } from "../services";

const PROJECT_LINKS = [
  { to: "datasets", label: "Datasets" },
  { to: "tasks", label: "Tasks" },
  { to: "jobs", label: "Jobs" },
  { to: "snapshots", label: "Snapshots" },
  { to: "exports", label: "Exports" },
  { to: "models", label: "Models" },
  { to: "schema", label: "Label schema" },
  { to: "settings", label: "Settings" },
];

export function Layout() {
  const { auth } = useServices();
  const session = useSession();
  const navigate = useNavigate();
  const { project } = useParams();

  async function signOut() {
    await auth.signOut();
    navigate("/signin");
  }

  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/" className="brand" end>
          Annolake
        </NavLink>
        {project ? (
          <nav aria-label="Project">
            <span className="project-name" title="Project">
              {project}
            </span>
            {PROJECT_LINKS.map((link) => (
              <NavLink key={link.to} to={`/p/${project}/${link.to}`}>
                {link.label}
              </NavLink>
            ))}
          </nav>
        ) : (
          <nav aria-label="Main">
            <NavLink to="/" end>
              Projects
            </NavLink>
          </nav>
        )}
        <div className="user">
          <span aria-label="Signed in as">{session?.username}</span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
