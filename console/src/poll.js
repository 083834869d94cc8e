/**
 * Live data by polling: a hook that loads, then reloads every few seconds while the tab is visible (paused
 * while hidden, reloaded at once when it shows again), and keeps the last good data through a failed reload.
 *
 * @module
 */
import { useCallback, useEffect, useRef, useState } from "./html.js";

/** Milliseconds between reloads. */
export const POLL_MS = 4000;

/**
 * Loads `load()` now and every `intervalMs` while the page is visible.
 * @template T
 * @param {() => Promise<T>} load
 * @param {unknown[]} deps reload from scratch when these change
 * @param {{intervalMs?: number, enabled?: boolean}} [options]
 * @returns {{data: T | undefined, error: Error | undefined, loading: boolean, reload: () => Promise<void>}}
 */
export function usePoll(load, deps, options = {}) {
  const intervalMs = options.intervalMs ?? POLL_MS;
  const enabled = options.enabled ?? true;
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const mine = generation.current;
    try {
      const data = await loadRef.current();
      if (mine === generation.current) setState({ data, error: undefined, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((old) => ({ data: old.data, error, loading: false }));
    }
  }, []);

  useEffect(() => {
    generation.current += 1;
    setState({ data: undefined, error: undefined, loading: true });
    if (!enabled) return;
    reload();
    const timer = setInterval(() => {
      if (!document.hidden) reload();
    }, intervalMs);
    const onVisible = () => {
      if (!document.hidden) reload();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      generation.current += 1;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [...deps, enabled, intervalMs]);

  return { ...state, reload };
}
