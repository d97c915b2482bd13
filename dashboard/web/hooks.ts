// Small shared hooks: a ticking clock, a feed subscription, and fitting the wall board to the screen.

import { useEffect, useLayoutEffect, useState, type Inputs } from 'preact/hooks';
import type { RefObject } from 'preact';
import type { AlertFeed, FeedSnapshot } from './feed.js';

/** The time now, refreshed every `intervalMs` (countdowns and clocks). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function useFeed(feed: AlertFeed): FeedSnapshot {
  const [snap, setSnap] = useState(() => feed.snapshot());
  useEffect(() => {
    setSnap(feed.snapshot());
    return feed.subscribe(() => setSnap(feed.snapshot()));
  }, [feed]);
  return snap;
}

/**
 * Sets the element's font size to the largest (between min and max px) at which its content fits without
 * scrolling; everything inside is sized in em, so the whole board scales. Re-fits when `inputs` change and
 * when the window is resized.
 */
export function useFitText(ref: RefObject<HTMLElement | null>, min: number, max: number, inputs: Inputs): void {
  const [resized, setResized] = useState(0);
  useEffect(() => {
    const onResize = () => setResized((n) => n + 1);
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null) return;
    const fits = () => el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1;
    let lo = min;
    let hi = max;
    el.style.fontSize = `${hi}px`;
    if (fits()) return;
    // Binary search to half a pixel: a handful of layouts, before the browser paints.
    while (hi - lo > 0.5) {
      const mid = (lo + hi) / 2;
      el.style.fontSize = `${mid}px`;
      if (fits()) lo = mid;
      else hi = mid;
    }
    el.style.fontSize = `${lo}px`;
  }, [...inputs, resized, min, max]);
}
