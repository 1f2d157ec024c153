// The live feed: the tenant's events as they are logged. It reads the SSE route
// (GET /api/events/stream) with fetch, so the token goes in a header (EventSource
// cannot send one); Last-Event-ID resumes after a drop. Where that route is absent
// (404) or the token has no stream left (429), it polls GET /api/events?after= instead.
import { query, session } from "./api.js";

const RETRY_MS = 2000;
const POLL_MS = 1000;
const MAX_PAGE = 200; // the API's largest page (src/connmgr/storage/reads/paging.py)

/** Calls onEvent(event) for every event after `after` (null: from now on); returns a stop function. */
export function follow(after, onEvent) {
  const state = { after, stopped: false, controller: new AbortController() };
  run(state, onEvent);
  return () => {
    state.stopped = true;
    state.controller.abort();
  };
}

async function run(state, onEvent) {
  while (!state.stopped) {
    try {
      const streamed = await stream(state, onEvent);
      if (!streamed) await poll(state, onEvent);
    } catch (error) {
      if (state.stopped) return;
    }
    await pause(RETRY_MS, state);
  }
}

function headers(state) {
  const sent = { Authorization: `Bearer ${session.token()}` };
  if (state.after !== null) sent["Last-Event-ID"] = String(state.after);
  return sent;
}

async function stream(state, onEvent) {
  const response = await fetch("/api/events/stream", {
    headers: { ...headers(state), Accept: "text/event-stream" },
    signal: state.controller.signal,
  });
  // 404: no SSE route; 429: this token's streams are all taken (another tab): poll.
  if (response.status === 404 || response.status === 429) return false;
  if (!response.ok) throw new Error(`feed: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return true;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), state, onEvent);
      buffer = buffer.slice(end + 2);
    }
  }
}

function dispatch(block, state, onEvent) {
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("id:")) id = line.slice(3).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return; // a heartbeat or comment
  const event = JSON.parse(data.join("\n"));
  state.after = Number(id ?? event.position ?? state.after ?? 0);
  onEvent(event);
}

async function poll(state, onEvent) {
  if (state.after === null) state.after = await head(state);
  while (!state.stopped) {
    const response = await fetch(`/api/events${query({ after: state.after, limit: MAX_PAGE })}`, {
      headers: { Authorization: `Bearer ${session.token()}` },
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(`feed: HTTP ${response.status}`);
    const page = await response.json();
    for (const event of page.items) {
      state.after = event.position;
      onEvent(event);
    }
    if (!page.has_more) await pause(POLL_MS, state);
  }
}

/** The newest position: pages through without dispatching (the fallback's "from now"). */
async function head(state) {
  let after = 0;
  for (;;) {
    const response = await fetch(`/api/events${query({ after, limit: MAX_PAGE })}`, {
      headers: { Authorization: `Bearer ${session.token()}` },
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(`feed: HTTP ${response.status}`);
    const page = await response.json();
    after = page.next_after;
    if (!page.has_more) return after;
  }
}

function pause(ms, state) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    state.controller.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
