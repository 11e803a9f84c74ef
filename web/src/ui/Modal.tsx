import { useEffect, useRef } from 'react';
import type { ReactNode } from 'react';
import { Close } from './icons';

/** Open modals, innermost last: Escape closes the innermost only. */
const open: Array<{ close: () => void }> = [];

function onEscape(event: KeyboardEvent): void {
  const top = open[open.length - 1];
  if (event.key !== 'Escape' || !top) return;
  // Handled here (wherever focus is) rather than by the browser's own close request, which a
  // browser may skip for a dialog opened without a fresh user gesture.
  event.preventDefault();
  top.close();
}

/**
 * A modal dialog on the native <dialog>: focus moves into it and stays there, Escape closes it,
 * and focus returns to where it was when it closes.
 */
export function Modal({
  title,
  onClose,
  children,
  wide,
  testId,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  const entry = useRef({ close: () => close.current() });
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const before = document.activeElement as HTMLElement | null;
    dialog.showModal();
    const mine = entry.current;
    open.push(mine);
    if (open.length === 1) document.addEventListener('keydown', onEscape);
    return () => {
      open.splice(open.indexOf(mine), 1);
      if (open.length === 0) document.removeEventListener('keydown', onEscape);
      dialog.close();
      before?.focus?.();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      className={wide ? 'modal wide' : 'modal'}
      aria-label={title}
      data-testid={testId}
      onCancel={(event) => {
        // Closing is ours to do (see onEscape), so that React stays in charge of what is shown.
        event.preventDefault();
        if (open[open.length - 1] === entry.current) close.current();
      }}
      onClick={(event) => {
        // A click on the backdrop (the dialog element itself, outside its content) closes it.
        if (event.target === ref.current) onClose();
      }}
    >
      <div className="modal-body">
        <header className="modal-header">
          <h2>{title}</h2>
          <button className="icon-button" type="button" aria-label="Close" onClick={onClose}>
            <Close />
          </button>
        </header>
        {children}
      </div>
    </dialog>
  );
}

/** Text for people when something failed, where it happened. */
export function ErrorText({ error, testId }: { error: string | null; testId?: string }) {
  if (!error) return null;
  return (
    <p className="error" role="alert" data-testid={testId}>
      {error}
    </p>
  );
}
