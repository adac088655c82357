import { mount } from "svelte";
import App from "./App.svelte";

// Dark or light as the system says, where the webview knows (WebKitGTK on Linux does not:
// the app will tell it from the Rust side).
if (window.matchMedia("(prefers-color-scheme: dark)").matches) {
  document.documentElement.dataset.theme = "dark";
}

const target = document.getElementById("app");
if (!target) {
  throw new Error("index.html has no #app element");
}
export default mount(App, { target });
