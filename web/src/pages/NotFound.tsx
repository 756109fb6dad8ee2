import { Link } from "react-router";

export function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to your projects</Link>
      </p>
    </section>
  );
}
