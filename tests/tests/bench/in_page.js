// The chat benchmarks' measurements, run inside the window (`bench/chat.rs` installs this
// through WebDriver). Times are `performance.now()`; "shown" is the start of the first
// animation frame after the DOM reflects the change, the frame that paints it.
//
// WebDriver only runs synchronous scripts here, so a measurement is started with
// `__sbBench.start(name, args)` and its outcome read with `__sbBench.poll()`:
// `{running: true}`, `{value}` or `{error}`.
(() => {
  if (window.__sbBench) {
    return;
  }
  const tid = (name) => `[data-testid="${name}"]`;
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
  const task = () => new Promise((resolve) => setTimeout(resolve, 0));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const ROW_HEIGHT = 44; // `.attach-row` in attach.css
  const round1 = (ms) => Math.round(ms * 10) / 10;
  // A key typed into a text input as typing does: keydown, the text, input, keyup. `bubbles`
  // false keeps the window's own (delegated) handlers out of it.
  const pressKey = (input, key, bubbles) => {
    input.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles, cancelable: true }));
    input.value += key;
    input.dispatchEvent(new InputEvent("input", { data: key, inputType: "insertText", bubbles }));
    input.dispatchEvent(new KeyboardEvent("keyup", { key, bubbles, cancelable: true }));
  };

  // The start of the first frame after `ready()` holds; checked now and at every change of
  // the DOM under `root`.
  const frameWhen = (root, ready, limitMs, what) =>
    new Promise((resolve, reject) => {
      let done = false;
      const finish = () => {
        if (done) {
          return;
        }
        done = true;
        observer.disconnect();
        clearTimeout(timer);
        requestAnimationFrame(() => resolve(performance.now()));
      };
      const observer = new MutationObserver(() => {
        if (ready()) {
          finish();
        }
      });
      observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
      const timer = setTimeout(() => {
        if (!done) {
          done = true;
          observer.disconnect();
          reject(new Error(`waited ${limitMs} ms for ${what}`));
        }
      }, limitMs);
      if (ready()) {
        finish();
      }
    });

  // Whether the message list is scrolled to its end (the newest text in view).
  const atEnd = () => {
    const list = document.querySelector(tid("messages"));
    return !!list && list.scrollHeight - list.scrollTop - list.clientHeight < 2;
  };

  const B = { state: null };
  window.__sbBench = B;
  B.start = (name, args) => {
    B.state = { running: true };
    B[name](...args).then(
      (value) => {
        B.state = { value };
      },
      (error) => {
        B.state = { error: String((error && error.stack) || error) };
      },
    );
    return true;
  };
  B.poll = () => B.state;

  const closeMenu = async () => {
    if (document.querySelector(tid("attach-menu"))) {
      document.querySelector(tid("paperclip")).click();
      await frameWhen(document.body, () => !document.querySelector(tid("attach-menu")), 30000, "the menu to close");
    }
  };

  // Dispatches `key` into a text input as typing does, then waits for the frames that show
  // what it changed under `root`: → {ms: key → the frame that shows it, work: key → the
  // last change (or, when nothing changed, the end of the filter's task), changed}.
  const typeKey = async (input, root, key) => {
    let changes = 0;
    let lastChange = -1;
    // When the DOM changed after the key, and where: [ms, what] for each batch of changes.
    const trace = [];
    let k0 = 0;
    const where = (node) => {
      const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      if (!element) {
        return "?";
      }
      const named = element.closest("[data-testid], [class]");
      return named
        ? named.getAttribute("data-testid") || `.${named.getAttribute("class").split(" ")[0]}`
        : element.tagName.toLowerCase();
    };
    const observer = new MutationObserver((records) => {
      changes += records.length;
      lastChange = performance.now();
      const places = [...new Set(records.map((r) => `${r.type} ${where(r.target)}`))];
      trace.push([round1(lastChange - k0), places.slice(0, 4).join(", ")]);
    });
    observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
    // A key arrives in a task of its own, not inside the frame just started (whose layout
    // and paint would count against it).
    await task();
    // The timers the key's handlers start, if any: when each callback began and
    // returned, so its own code can be told from what the window does between tasks. The
    // window's code looks `setTimeout` up at each call, so wrapping it for the key's
    // handlers is enough.
    const timerRuns = [];
    const setTimeoutAsIs = window.setTimeout;
    window.setTimeout = (callback, ms, ...rest) =>
      setTimeoutAsIs(
        (...args) => {
          const began = performance.now();
          try {
            return callback(...args);
          } finally {
            timerRuns.push([round1(began - k0), round1(performance.now() - k0)]);
          }
        },
        ms,
        ...rest,
      );
    k0 = performance.now();
    try {
      pressKey(input, key, true);
    } finally {
      window.setTimeout = setTimeoutAsIs;
    }
    // The key's own handlers have run (they run inside dispatchEvent).
    const handled = performance.now();
    // What runs after them: the microtasks they queued (the window's reactive updates; this
    // probe hops a few times, so updates that queue more updates are done too), any timers,
    // and frames (each one's callbacks run as it begins, before its style, layout and paint).
    let microtasksDone = null;
    const hop = (left) => {
      if (left === 0) {
        microtasksDone = performance.now();
      } else {
        queueMicrotask(() => hop(left - 1));
      }
    };
    queueMicrotask(() => hop(4));
    const frames = [];
    let counting = true;
    const everyFrame = () => {
      frames.push(performance.now());
      if (counting) {
        requestAnimationFrame(everyFrame);
      }
    };
    requestAnimationFrame(everyFrame);
    // A timer queued now runs after any the key's handlers queued before it.
    await task();
    const timerAfter = performance.now();
    // The key has settled once three frames in a row change nothing (at most a second).
    for (let quiet = 0, n = 0; quiet < 3 && n < 60; n++) {
      const before = lastChange;
      await frame();
      quiet = lastChange === before ? quiet + 1 : 0;
    }
    counting = false;
    observer.disconnect();
    // The window's work for the key: its last change to the page, or, when it changed
    // nothing, its reactive updates (or a timer's work, whichever came later).
    const timersDone = timerRuns.reduce((end, run) => Math.max(end, run[1] + k0), 0);
    const worked =
      changes > 0 ? lastChange : Math.max(microtasksDone ?? timerAfter, timersDone);
    // Shown by the first frame that began once the work was done.
    const shownAt = frames.find((t) => t >= worked) ?? performance.now();
    return {
      ms: shownAt - k0,
      work: worked - k0,
      changed: changes > 0,
      timerAfter: timerAfter - k0,
      handled: handled - k0,
      trace: trace.slice(0, 8),
      timerRuns,
      microtasksDone: microtasksDone === null ? null : round1(microtasksDone - k0),
      frameBegan: frames.length ? round1(frames[0] - k0) : null,
    };
  };

  // One round of the paperclip menu: click → first option shown, then `query` typed one key
  // at a time, each key → the frame that shows its filtered list. The menu stays open (for
  // a screenshot); the next round closes it first.
  B.menuRound = async (query, limitMs) => {
    await closeMenu();
    await sleep(200);
    const clip = document.querySelector(tid("paperclip"));
    const t0 = performance.now();
    clip.click();
    const shown = await frameWhen(
      document.body,
      () => document.querySelector(tid("attach-option")) !== null,
      limitMs,
      "the first option",
    );
    const open = shown - t0;
    const spacer = document.querySelector(".attach-spacer");
    const rows = Math.round(parseFloat(spacer.style.height) / ROW_HEIGHT);
    const optionsInPage = document.querySelectorAll(tid("attach-option")).length;
    const menu = document.querySelector(tid("attach-menu"));
    const input = document.querySelector(tid("attach-search"));
    input.focus();
    // Let the opening settle (the list measures itself, focus moves); meanwhile, how often
    // the window paints when nothing happens.
    const idleFrames = [];
    let previous = await frame();
    for (let i = 0; i < 10; i++) {
      const t = await frame();
      idleFrames.push(t - previous);
      previous = t;
    }
    // How long a bare timer task (setTimeout 0) takes to run in this window, typing aside.
    const timers = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await task();
      timers.push(performance.now() - t);
    }
    // The same, after a key typed into inputs of the page's own, which no handler of the
    // window's listens to: what the window itself does between a key and a timer. Plain and
    // unfocused; focused; focused and marked up as the menu's search is (a combobox).
    const plainTimers = {};
    for (const kind of ["unfocused", "focused", "combobox"]) {
      const plain = document.createElement("input");
      plain.style.cssText = "position:absolute;left:8px;bottom:8px;width:120px";
      if (kind === "combobox") {
        for (const [name, value] of Object.entries({
          role: "combobox",
          "aria-expanded": "true",
          "aria-autocomplete": "list",
          "aria-controls": input.getAttribute("aria-controls") || "",
          "aria-activedescendant": input.getAttribute("aria-activedescendant") || "",
          autocomplete: "off",
          spellcheck: "false",
        })) {
          plain.setAttribute(name, value);
        }
      }
      menu.appendChild(plain);
      if (kind !== "unfocused") {
        plain.focus();
      }
      await frame();
      const times = [];
      for (const key of "budget") {
        await task();
        const t = performance.now();
        pressKey(plain, key, false);
        await task();
        times.push(performance.now() - t);
        await frame();
      }
      plainTimers[kind] = times;
      plain.remove();
    }
    input.focus();
    await frame();
    const keys = [];
    for (const key of query) {
      keys.push(await typeKey(input, menu, key));
    }
    const results = (document.querySelector(".attach-sr-only") || {}).textContent || "";
    const first = document.querySelector(tid("attach-option"));
    return {
      open,
      idleFrames,
      timers,
      plainTimers,
      rows,
      optionsInPage,
      keys,
      typed: input.value,
      results,
      firstOption: first ? first.getAttribute("data-name") : null,
    };
  };

  B.closeMenu = async () => {
    await closeMenu();
    return true;
  };

  // A streamed reply, from before it is sent: the first text rendered in the streaming reply,
  // the text ending with `sentinel` present (in the streaming reply, or in the saved reply
  // that replaces it), and every frame's duration meanwhile.
  B.stream = async (sentinel, limitMs) => {
    const frames = [];
    let running = true;
    let previous = performance.now();
    const loop = () => {
      const now = performance.now();
      frames.push([now, now - previous]);
      previous = now;
      if (running) {
        requestAnimationFrame(loop);
      }
    };
    requestAnimationFrame(loop);
    let sent = null;
    const onKey = (event) => {
      if (sent === null && event.key === "Enter" && event.target.matches(tid("composer-input"))) {
        sent = performance.now();
      }
    };
    document.addEventListener("keydown", onKey, true);
    const markdownIn = (element) => element && element.querySelector(tid("markdown"));
    const ends = (markdown) => {
      const last = markdown && markdown.lastElementChild;
      return !!last && last.textContent.includes(sentinel);
    };
    let first = null;
    let streamedEnd = null;
    let savedEnd = null;
    let chars = 0;
    let firstChars = 0;
    let updates = 0;
    await new Promise((resolve, reject) => {
      const check = () => {
        const now = performance.now();
        const live = markdownIn(document.querySelector(tid("streaming-reply")));
        if (live && live.firstElementChild) {
          updates++;
          if (first === null) {
            first = now;
            firstChars = live.textContent.length;
          }
          if (streamedEnd === null && ends(live)) {
            streamedEnd = now;
            chars = live.textContent.length;
          }
        }
        const replies = document.querySelectorAll(tid("assistant-message"));
        const saved = markdownIn(replies[replies.length - 1]);
        if (ends(saved)) {
          savedEnd = now;
          if (!chars) {
            chars = saved.textContent.length;
          }
          if (first === null) {
            first = now;
          }
          observer.disconnect();
          clearTimeout(timer);
          resolve();
        }
      };
      const observer = new MutationObserver(check);
      // The whole page: the message list may be rendered anew once the chat is saved.
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      const timer = setTimeout(() => {
        observer.disconnect();
        reject(new Error(`waited ${limitMs} ms for the reply's end; first text at ${first}, ${updates} updates`));
      }, limitMs);
    });
    // The frames after, while the saved reply replaces the streamed one.
    for (let i = 0; i < 10; i++) {
      await frame();
    }
    running = false;
    document.removeEventListener("keydown", onKey, true);
    const end = streamedEnd === null ? savedEnd : streamedEnd;
    // The frames from the first text through the one that paints the last.
    const painted = frames.findIndex(([t]) => t > end);
    const through = painted < 0 ? frames.length : painted + 1;
    const during = frames.slice(0, through).filter(([t]) => t > first);
    return {
      sent,
      first,
      firstChars,
      streamedEnd,
      savedEnd,
      chars,
      updates,
      during: during.map(([, d]) => d),
      lastFrame: painted < 0 ? null : frames[painted][1],
      atEnd: atEnd(),
    };
  };

  // One round of a connector's Tools tab, from the list of connectors: click on the first
  // connector → its first tool shown; `query` typed into the filter a key at a time, each →
  // the frame that shows the filtered list; the filter emptied; then `flips` times the first
  // tool's Allow (or Ask, turn about) clicked → the frame that shows it chosen (the core has
  // saved it by then: the window shows what the core answers).
  B.toolsRound = async (query, flips, limitMs) => {
    document.querySelector(tid("nav-connectors")).click();
    await frameWhen(
      document.body,
      () => document.querySelector(tid("connector-row")) && !document.querySelector(tid("tool-list")),
      limitMs,
      "the list of connectors",
    );
    await sleep(200);
    const t0 = performance.now();
    document.querySelector(tid("connector-row")).click();
    const shown = await frameWhen(
      document.body,
      () => document.querySelector(tid("tool-item")) !== null,
      limitMs,
      "the first tool",
    );
    const open = shown - t0;
    const itemsInPage = document.querySelectorAll(tid("tool-item")).length;
    for (let i = 0; i < 10; i++) {
      await frame();
    }
    const input = document.querySelector(tid("detail-filter"));
    const list = document.querySelector(tid("tool-list"));
    input.focus();
    const keys = [];
    for (const key of query) {
      keys.push(await typeKey(input, list, key));
    }
    const matched = document.querySelectorAll(tid("tool-item")).length;
    input.value = "";
    input.dispatchEvent(new InputEvent("input", { inputType: "deleteContent", bubbles: true }));
    await frameWhen(list, () => document.querySelectorAll(tid("tool-item")).length > matched, limitMs, "the whole list");
    const flipped = [];
    for (let i = 0; i < flips; i++) {
      const row = document.querySelector(tid("tool-item"));
      const button = row.querySelector(tid(i % 2 === 0 ? "tool-mode-allow" : "tool-mode-ask"));
      await task();
      const f0 = performance.now();
      button.click();
      const at = await frameWhen(list, () => button.getAttribute("aria-checked") === "true", limitMs, "the flip");
      flipped.push(at - f0);
      await sleep(100);
    }
    return { open, itemsInPage, keys, matched, flips: flipped, first: document.querySelector(tid("tool-item")).getAttribute("data-name") };
  };

  // The first connector's page, from the list of connectors → its Resources tab: the click
  // on the tab → the frame that shows the first resource; then the filter typed a key at a
  // time (each key: the list updated, the frame showing it).
  B.resourcesRound = async (query, limitMs) => {
    document.querySelector(tid("nav-connectors")).click();
    await frameWhen(
      document.body,
      () => document.querySelector(tid("connector-row")) && !document.querySelector(tid("detail-filter")),
      limitMs,
      "the list of connectors",
    );
    document.querySelector(tid("connector-row")).click();
    await frameWhen(document.body, () => document.querySelector(tid("tab-resources")) !== null, limitMs, "the connector's page");
    await sleep(200);
    const t0 = performance.now();
    document.querySelector(tid("tab-resources")).click();
    const shown = await frameWhen(
      document.body,
      () => document.querySelector(tid("resource-item")) !== null,
      limitMs,
      "the first resource",
    );
    const open = shown - t0;
    for (let i = 0; i < 10; i++) {
      await frame();
    }
    const itemsInPage = document.querySelectorAll(tid("resource-item")).length;
    const panel = document.querySelector(".tabpanel");
    const input = document.querySelector(tid("detail-filter"));
    input.focus();
    const keys = [];
    for (const key of query) {
      keys.push(await typeKey(input, panel, key));
    }
    const matched = document.querySelectorAll(tid("resource-item")).length;
    const note = (document.querySelector(tid("list-note")) || {}).textContent || "";
    input.value = "";
    input.dispatchEvent(new InputEvent("input", { inputType: "deleteContent", bubbles: true }));
    await frameWhen(panel, () => document.querySelectorAll(tid("resource-item")).length > matched, limitMs, "the whole list");
    return { open, itemsInPage, keys, matched, note };
  };

  // A message sent from the composer (as Enter does) → the frame that shows the approval
  // card for the tool call the model answers with; then Deny, and the reply's end.
  B.cardRound = async (text, limitMs) => {
    const input = document.querySelector(tid("composer-input"));
    input.focus();
    input.value = text;
    input.dispatchEvent(new InputEvent("input", { inputType: "insertText", bubbles: true }));
    await frame();
    const before = document.querySelectorAll(tid("assistant-message")).length;
    const t0 = performance.now();
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    const shown = await frameWhen(document.body, () => document.querySelector(tid("approval-card")) !== null, limitMs, "the card");
    document.querySelector(tid("approval-deny")).click();
    await frameWhen(
      document.body,
      () => !document.querySelector(tid("approval-card")) && !document.querySelector(tid("stop-reply"))
        && document.querySelectorAll(tid("assistant-message")).length >= before + 2,
      limitMs,
      "the reply after Deny",
    );
    return { ms: shown - t0 };
  };

  // Opens the conversation titled `title` from the sidebar: click → the frame that shows its
  // last message (`count` messages, the last containing `sentinel`).
  B.openChat = async (title, count, sentinel, limitMs) => {
    const selector = `${tid("chat-item")}[data-title="${CSS.escape(title)}"] ${tid("open-chat")}`;
    const button = document.querySelector(selector);
    if (!button) {
      throw new Error(`no ${selector}`);
    }
    const all = () => document.querySelectorAll(`${tid("user-message")}, ${tid("assistant-message")}`);
    const t0 = performance.now();
    button.click();
    const shown = await frameWhen(
      document.body,
      () => {
        const list = all();
        return list.length >= count && list[list.length - 1].textContent.includes(sentinel);
      },
      limitMs,
      "the conversation's last message",
    );
    for (let i = 0; i < 5; i++) {
      await frame();
    }
    return { ms: shown - t0, messages: all().length, atEnd: atEnd() };
  };
})();
