// Numbers as a photographer reads them.

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** Bytes in decimal units (as disks and uplinks are sold): 1.5 MB, 820 KB. */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A rate: 2.4 MB/s; nothing while nothing moves. */
export function rate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${bytes(bytesPerSecond)}/s` : "";
}

/** Time left: 45 s, 12 min, 2 h 05 min; nothing when unknown. */
export function eta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  const s = Math.ceil(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}
