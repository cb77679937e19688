import { StrictMode } from "react";
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

function App() {
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
        </nav>
        <span className="spacer" />
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
