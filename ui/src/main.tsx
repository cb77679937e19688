import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, NavLink, Route, Routes } from "react-router";
import "./styles.css";
import { Dashboard } from "./pages/Dashboard";
import { Workflows } from "./pages/Workflows";
import { WorkflowPage } from "./pages/Workflow";
import { RunPage } from "./pages/Run";
import { ItemsPage } from "./pages/Items";
import { LogPage } from "./pages/Log";
import { QueuesPage } from "./pages/Queues";
import { WorkersPage } from "./pages/Workers";
import { WebhooksPage } from "./pages/Webhooks";

type Theme = "light" | "dark";
const THEME_KEY = "plait-theme";
const systemDark = () => window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;

/** The theme: the one chosen with the toggle (kept in this browser), else the system's. */
function useTheme(): [Theme, () => void] {
  const chosen = () => localStorage.getItem(THEME_KEY) as Theme | null;
  const [theme, setTheme] = useState<Theme>(() => chosen() ?? (systemDark() ? "dark" : "light"));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  useEffect(() => {
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const follow = () => {
      if (!chosen()) setTheme(media.matches ? "dark" : "light");
    };
    media?.addEventListener("change", follow);
    return () => media?.removeEventListener("change", follow);
  }, []);
  const toggle = () => {
    const next: Theme = theme === "dark" ? "light" : "dark";
    if ((next === "dark") === systemDark()) localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  };
  return [theme, toggle];
}

function App() {
  const [theme, toggleTheme] = useTheme();
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="logo">▤</span> plait
        </Link>
        <nav>
          <NavLink to="/" end>
            Dashboard
          </NavLink>
          <NavLink to="/workflows">Workflows</NavLink>
          <NavLink to="/queues">Queues</NavLink>
          <NavLink to="/workers">Workers</NavLink>
          <NavLink to="/webhooks">Webhooks</NavLink>
        </nav>
        <span className="spacer" />
        <button
          className="theme-toggle small"
          onClick={toggleTheme}
          aria-label={theme === "dark" ? "light theme" : "dark theme"}
          title="the system's theme is the default; this switches for this browser"
        >
          {theme === "dark" ? "☀ light" : "☾ dark"}
        </button>
        <a href="/api/docs" className="muted small" target="_blank" rel="noreferrer">
          API docs
        </a>
      </header>
      <main className="content">
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/workflows" element={<Workflows />} />
          <Route path="/workflows/*" element={<WorkflowPage />} />
          <Route path="/runs/:runId" element={<RunPage />} />
          <Route path="/runs/:runId/steps/:step/items" element={<ItemsPage />} />
          <Route path="/runs/:runId/steps/:step/log" element={<LogPage />} />
          <Route path="/queues" element={<QueuesPage />} />
          <Route path="/workers" element={<WorkersPage />} />
          <Route path="/webhooks" element={<WebhooksPage />} />
          <Route
            path="*"
            element={
              <div className="card">
                <h1>Not found</h1>
                <p>
                  There is no page here. <Link to="/">Back to the dashboard</Link>.
                </p>
              </div>
            }
          />
        </Routes>
      </main>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
);
