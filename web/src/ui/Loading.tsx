/**
 * A quiet placeholder while something loads: data, or a part of the app fetched on first use.
 * `floating` centres it over the page (for dialogs, which have no place in the layout).
 */
export function Loading({ label = 'Loading', floating = false }: { label?: string; floating?: boolean }) {
  return <div className={floating ? 'loading floating' : 'loading'} role="status" aria-label={label} />;
}
