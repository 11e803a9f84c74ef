import { Component } from 'react';
import type { ErrorInfo, ReactNode } from 'react';

/** A render failure shows a way out instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    // Kept for whoever opens the console; the page says it in plain words.
    console.error('Concord failed to show this page', error, info.componentStack);
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <main className="welcome" role="alert">
        <h1>Something went wrong</h1>
        <p className="muted">This page hit a problem it could not recover from. Reloading usually fixes it.</p>
        <button className="primary" onClick={() => location.reload()}>
          Reload
        </button>
      </main>
    );
  }
}
