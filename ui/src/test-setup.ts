// jsdom lays nothing out, so it has no ResizeObserver (Svelte's bind:clientHeight uses
// one): an observer that never reports stands in, and components keep their defaults.
class NoLayoutResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
globalThis.ResizeObserver ??= NoLayoutResizeObserver;
