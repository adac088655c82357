import { describe, expect, it } from "vitest";
import { apply, resolve, store, stored } from "./theme";

function memory(): Storage {
  const items = new Map<string, string>();
  return {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
    clear: () => items.clear(),
    key: (i) => [...items.keys()][i] ?? null,
    get length() {
      return items.size;
    },
  };
}

describe("theme", () => {
  it("follows the system until the photographer picks one", () => {
    const storage = memory();
    expect(stored(storage)).toBe("system");
    expect(resolve(stored(storage), "dark")).toBe("dark");
    expect(resolve(stored(storage), null)).toBe("light");
    store(storage, "light");
    expect(resolve(stored(storage), "dark")).toBe("light");
  });

  it("ignores a stored value it does not know", () => {
    const storage = memory();
    storage.setItem("wedsync.theme", "purple");
    expect(stored(storage)).toBe("system");
  });

  it("draws the theme on the root element", () => {
    apply(document.documentElement, "dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
  });
});
