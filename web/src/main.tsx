import { render } from "preact";

function App() {
  return <h1>edge-pyroscope</h1>;
}

render(<App />, document.getElementById("app")!);
