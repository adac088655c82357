// Which rows of a fixed-height list are drawn: those in the viewport and a few on each
// side, so scrolling 10,000 rows keeps a few dozen nodes in the DOM.

export interface Slice {
  /** The first row drawn. */
  first: number;
  /** One past the last row drawn. */
  end: number;
  /** Where the first row drawn sits, in pixels from the list's top. */
  top: number;
}

export function slice(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 4): Slice {
  if (count === 0 || rowHeight <= 0) {
    return { first: 0, end: 0, top: 0 };
  }
  const firstInView = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const inView = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  const first = Math.min(count - 1, Math.max(0, firstInView - overscan));
  const end = Math.min(count, firstInView + inView + overscan);
  return { first, end, top: first * rowHeight };
}

/** The scroll position that brings row `index` into view (unchanged if it is). */
export function scrollFor(index: number, scrollTop: number, viewport: number, rowHeight: number): number {
  const top = index * rowHeight;
  if (top < scrollTop) {
    return top;
  }
  if (top + rowHeight > scrollTop + viewport) {
    return top + rowHeight - viewport;
  }
  return scrollTop;
}
