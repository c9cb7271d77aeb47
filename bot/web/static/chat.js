/* The help pages' chat with the help desk assistant.
 *
 * SocketClient is a minimal Socket.IO client (protocol v5 over Engine.IO v4, WebSocket transport
 * only) for Rasa's socketio channel; the rest is the widget around the markup of
 * templates/chat_widget.html. Message text only ever reaches the page through textContent and
 * text nodes, never as markup. The conversation (session id and what was shown) lives in
 * sessionStorage, so it survives reloads and moving between help pages in the same tab.
 */
(function () {
  "use strict";

  const STORAGE_KEY = "helpdesk-chat-v1";
  const MAX_HISTORY = 150;
  const TYPING_TIMEOUT_MS = 15000;
  const MAX_BACKOFF_MS = 30000;
  const LINKABLE =
    /(https?:\/\/[^\s<>"']+)|([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})/g;
  const GOODBYE = /\b(good ?bye|bye|see you|that'?s all|that is all|i'?m done)\b/i;

  /* ------------------------------------------------------------ Socket.IO over a WebSocket */

  /** The WebSocket URL of the Socket.IO endpoint under `chatUrl` (http→ws, https→wss). */
  function socketUrl(chatUrl) {
    const base = new URL(chatUrl, window.location.href);
    const scheme = base.protocol === "https:" ? "wss:" : "ws:";
    const path = base.pathname.replace(/\/+$/, "");
    return scheme + "//" + base.host + path + "/socket.io/?EIO=4&transport=websocket";
  }

  class SocketClient {
    /**
     * @param {string} url WebSocket URL from socketUrl()
     * @param {{onConnect: function(), onEvent: function(string, *), onDown: function(number)}} on
     */
    constructor(url, on) {
      this.url = url;
      this.on = on;
      this.ws = null;
      this.connected = false;
      this.attempts = 0;
      this.retryTimer = null;
      this.watchdog = null;
      this.deadline = 45000;
      window.addEventListener("online", () => {
        if (!this.ws && this.retryTimer) {
          window.clearTimeout(this.retryTimer);
          this.retryTimer = null;
          this.connect();
        }
      });
    }

    connect() {
      if (this.ws) return;
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        this.scheduleRetry();
        return;
      }
      this.ws = ws;
      ws.onmessage = (event) => {
        if (typeof event.data === "string") this.receive(event.data);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.connected = false;
        window.clearTimeout(this.watchdog);
        this.scheduleRetry();
      };
    }

    scheduleRetry() {
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempts) * (0.75 + Math.random() / 4);
      this.attempts += 1;
      this.on.onDown(this.attempts);
      this.retryTimer = window.setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, delay);
    }

    /** No ping within pingInterval + pingTimeout: the connection is dead, start again. */
    armWatchdog() {
      window.clearTimeout(this.watchdog);
      this.watchdog = window.setTimeout(() => {
        if (this.ws) this.ws.close();
      }, this.deadline);
    }

    /** One Engine.IO packet: 0 open, 1 close, 2 ping, 4 message (a Socket.IO packet), 6 noop. */
    receive(packet) {
      const type = packet.charAt(0);
      if (type === "0") {
        try {
          const open = JSON.parse(packet.slice(1));
          this.deadline = (open.pingInterval || 25000) + (open.pingTimeout || 20000);
        } catch (error) { /* keep the default deadline */ }
        this.armWatchdog();
        this.ws.send("40"); // Socket.IO CONNECT to the default namespace
      } else if (type === "2") {
        this.ws.send("3");
        this.armWatchdog();
      } else if (type === "1") {
        this.ws.close();
      } else if (type === "4") {
        this.receiveSocketIO(packet.slice(1));
      }
    }

    /** One Socket.IO packet: 0 connected, 1 disconnected, 2 event, 4 connect error. */
    receiveSocketIO(packet) {
      const type = packet.charAt(0);
      if (type === "0") {
        this.connected = true;
        this.attempts = 0;
        this.on.onConnect();
      } else if (type === "1" || type === "4") {
        this.ws.close();
      } else if (type === "2") {
        // 2[/namespace,][ack id][JSON array]: skip what we do not use, parse the array.
        const start = packet.indexOf("[");
        if (start < 0) return;
        let data;
        try {
          data = JSON.parse(packet.slice(start));
        } catch (error) {
          return;
        }
        if (Array.isArray(data) && typeof data[0] === "string") this.on.onEvent(data[0], data[1]);
      }
    }

    /** Send an event now; false when not connected (the caller keeps it for later). */
    emit(name, data) {
      if (!this.connected || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.ws.send("42" + JSON.stringify([name, data]));
      return true;
    }
  }

  /* ------------------------------------------------------------ state kept for the tab */

  function loadState() {
    const fresh = {
      sessionId: null, greeted: false, open: false, userSent: false, answered: false,
      rated: null, askOnClose: false, history: [], live: null,
    };
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && typeof saved === "object" && Array.isArray(saved.history)) {
        return Object.assign(fresh, saved);
      }
    } catch (error) { /* storage off or corrupt: start afresh */ }
    return fresh;
  }

  function saveState(state) {
    state.history = state.history.slice(-MAX_HISTORY);
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (error) { /* storage off or full: the conversation just won't survive a reload */ }
  }

  /* ------------------------------------------------------------ building DOM safely */

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function trimUrl(url) {
    while (url && (".,;:!?".includes(url.slice(-1)) ||
                   (url.slice(-1) === ")" && url.split("(").length < url.split(")").length))) {
      url = url.slice(0, -1);
    }
    return url;
  }

  /** Append `text` to `parent`: http(s) URLs and e-mail addresses become links. */
  function appendLinked(parent, text) {
    let position = 0;
    LINKABLE.lastIndex = 0;
    let match;
    while ((match = LINKABLE.exec(text)) !== null) {
      const isUrl = Boolean(match[1]);
      const found = isUrl ? trimUrl(match[0]) : match[0];
      if (match.index > position) {
        parent.appendChild(document.createTextNode(text.slice(position, match.index)));
      }
      const link = element("a", "", found);
      link.href = isUrl ? found : "mailto:" + found;
      if (isUrl) {
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.appendChild(element("span", "chat-who", " (opens in a new tab)"));
      }
      parent.appendChild(link);
      position = match.index + found.length;
      LINKABLE.lastIndex = position;
    }
    if (position < text.length) parent.appendChild(document.createTextNode(text.slice(position)));
  }

  /** The answer's section on the help pages, as a same-origin path, or null. */
  function sourcePath(custom) {
    let path = custom.source_url;
    if (typeof path !== "string" &&
        typeof custom.document_id === "string" && typeof custom.section_id === "string") {
      path = "/help/" + encodeURIComponent(custom.document_id) +
             "#" + encodeURIComponent(custom.section_id);
    }
    if (typeof path !== "string") return null;
    try {
      const url = new URL(path, window.location.origin);
      if (url.origin !== window.location.origin) return null;
      return url.pathname + url.search + url.hash;
    } catch (error) {
      return null;
    }
  }

  /* ------------------------------------------------------------ the widget */

  function start(root) {
    const $ = (id) => document.getElementById(id);
    const opener = $("chat-open");
    const panel = $("chat-panel");
    const closer = $("chat-close");
    const log = $("chat-log");
    const status = $("chat-status");
    const typing = $("chat-typing");
    const form = $("chat-form");
    const input = $("chat-input");
    const footerRating = $("chat-rating");
    const closedRating = $("chat-rating-closed");
    const ratingUrl = root.dataset.ratingUrl || "/api/rating";
    const state = loadState();
    const outbox = []; // messages typed while the connection was down
    let typingTimer = null;
    let ratingError = "";
    let ready = false; // in the session's room: what the bot says now reaches this tab
    let askAfterReply = null; // the user said goodbye: ask for a rating once the bot replied

    const client = new SocketClient(socketUrl(root.dataset.chatUrl), {
      onConnect() {
        client.emit("session_request", { session_id: state.sessionId });
      },
      onEvent(name, data) {
        if (name === "session_confirm") confirmSession(data);
        else if (name === "bot_uttered") receive(data);
      },
      onDown(attempts) {
        ready = false;
        setStatus(attempts > 1 || state.sessionId
          ? "The connection to the assistant was lost. Reconnecting…"
          : "Connecting to the assistant…");
      },
    });

    function setStatus(text) {
      if (status.textContent !== text) status.textContent = text;
    }

    /* ---- the conversation log */

    function render(entry) {
      let node;
      if (entry.type === "user" || entry.type === "bot") {
        node = element("p", "chat-msg chat-msg-" + entry.type);
        node.appendChild(element("span", "chat-who", entry.type === "user" ? "You: " : "Assistant: "));
        appendLinked(node, String(entry.text));
      } else if (entry.type === "source") {
        node = element("p", "chat-source", "Source: ");
        if (typeof entry.url === "string" && /^\/(?!\/)/.test(entry.url)) { // a path here
          const link = element("a", "", entry.label);
          link.href = entry.url;
          node.appendChild(link);
        } else {
          node.appendChild(document.createTextNode(entry.label));
        }
      } else if (entry.type === "replies") {
        if (entry.used || !Array.isArray(entry.buttons)) return;
        node = element("div", "chat-replies");
        node.setAttribute("role", "group");
        node.setAttribute("aria-label", "Suggested replies");
        entry.buttons.forEach((button) => {
          const choice = element("button", "chat-reply", button.title);
          choice.type = "button";
          choice.addEventListener("click", () => {
            send(button.payload, button.title);
            input.focus();
          });
          node.appendChild(choice);
        });
      } else if (entry.type === "agent" || entry.type === "desk") {
        // Live chat with a person: the agent's messages and the help desk's notices.
        node = element("p", "chat-msg chat-msg-" + entry.type);
        const who = entry.type === "agent" ? String(entry.name || "Help desk") + " (help desk): "
          : "Help desk: ";
        node.appendChild(element("span", "chat-who", who));
        appendLinked(node, String(entry.text));
      } else if (entry.type === "note") {
        node = element("p", "chat-msg chat-msg-note", entry.text);
      } else {
        return;
      }
      log.appendChild(node);
      log.scrollTop = log.scrollHeight;
    }

    function add(entry) {
      state.history.push(entry);
      saveState(state);
      render(entry);
    }

    /** Suggested replies are for the message they came with: drop them once the user answers. */
    function retireReplies() {
      state.history.forEach((entry) => {
        if (entry.type === "replies") entry.used = true;
      });
      log.querySelectorAll(".chat-replies").forEach((node) => node.remove());
    }

    function showTyping() {
      typing.hidden = false;
      window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(() => {
        hideTyping();
        setStatus("The assistant has not answered. Please try again in a moment.");
      }, TYPING_TIMEOUT_MS);
    }

    function hideTyping() {
      window.clearTimeout(typingTimer);
      typing.hidden = true;
    }

    /* ---- talking to the bot */

    function confirmSession(sessionId) {
      if (typeof sessionId === "string" && sessionId) state.sessionId = sessionId;
      ready = state.sessionId !== null;
      saveState(state);
      setStatus("");
      if (!state.greeted) {
        if (transmit("/greet")) {
          state.greeted = true;
          saveState(state);
          showTyping();
        }
      }
      while (outbox.length && transmit(outbox[0])) outbox.shift();
    }

    function transmit(message) {
      return ready &&
        client.emit("user_uttered", { message: message, session_id: state.sessionId });
    }

    /** Send `message` to the bot and show `shown` (a button's title) as what the user said. */
    function send(message, shown) {
      retireReplies();
      add({ type: "user", text: shown });
      state.userSent = true;
      saveState(state);
      if (!transmit(message)) {
        outbox.push(message);
        client.connect();
        if (client.attempts > 0) {
          setStatus("Not connected: your message will be sent when the connection is back.");
        }
      }
      if (!state.live) showTyping(); // a person answers in their own time
      if (GOODBYE.test(shown) && state.answered && state.rated === null) askAfterReply = 0;
    }

    /** A message of a live chat with a person (bot/rasa_plugins/live_relay.py). */
    function receiveLive(data, live) {
      hideTyping();
      state.live = live.state === "over" ? null : String(live.state || "active");
      if (typeof data.text === "string" && data.text.trim()) {
        add(live.from === "agent" ? { type: "agent", text: data.text, name: live.name }
          : { type: "desk", text: data.text });
      }
      root.dataset.live = state.live || "";
      saveState(state);
    }

    function receive(data) {
      if (!data || typeof data !== "object") return;
      if (data.live && typeof data.live === "object") {
        receiveLive(data, data.live);
        return;
      }
      if (data.custom && data.custom.live && typeof data.custom.live === "object") {
        state.live = String(data.custom.live.state || "waiting");
        root.dataset.live = state.live;
        saveState(state);
      }
      hideTyping();
      if (ready) setStatus("");
      if (typeof data.text === "string" && data.text.trim()) {
        add({ type: "bot", text: data.text });
        const offered = Array.isArray(data.quick_replies) && data.quick_replies.length
          ? data.quick_replies : data.buttons;
        const buttons = (Array.isArray(offered) ? offered : [])
          .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
          .map((b) => ({ title: b.title, payload: b.payload }));
        if (buttons.length) add({ type: "replies", buttons: buttons, used: false });
      }
      const image = data.attachment && data.attachment.payload && data.attachment.payload.src;
      if (typeof image === "string" && /^https?:\/\//.test(image)) add({ type: "bot", text: image });
      // The answer's source: {"custom": {...}}, or the payload itself as the event's data.
      const custom = data.custom && typeof data.custom === "object" ? data.custom
        : (typeof data.source === "string" ? data : null);
      if (custom && typeof custom.source === "string") {
        add({ type: "source", label: custom.source, url: sourcePath(custom) });
      }
      if (state.userSent && !state.answered) {
        state.answered = true;
        saveState(state);
        updateRating();
      }
      if (askAfterReply !== null) { // after the last message of the reply
        window.clearTimeout(askAfterReply);
        askAfterReply = window.setTimeout(() => {
          askAfterReply = null;
          if (state.rated === null) askForRating();
        }, 800);
      }
    }

    /* ---- rating the conversation */

    function ratingBox(container, prefix, dismissible) {
      container.replaceChildren();
      container.setAttribute("role", "group");
      container.setAttribute("aria-labelledby", prefix + "-question");
      if (state.rated !== null) {
        const thanks = element("p", "", "Thank you for your feedback.");
        thanks.id = prefix + "-question";
        thanks.tabIndex = -1;
        thanks.setAttribute("role", "status");
        container.appendChild(thanks);
        return thanks;
      }
      const question = element("p", "", "Was this conversation helpful?");
      question.id = prefix + "-question";
      container.appendChild(question);
      [["Yes", true], ["No", false]].forEach(([label, helpful]) => {
        const button = element("button", "chat-rate", label);
        button.type = "button";
        button.id = prefix + (helpful ? "-yes" : "-no");
        button.addEventListener("click", () => rate(helpful, container));
        container.appendChild(button);
      });
      if (dismissible) {
        const later = element("button", "chat-rate chat-rate-dismiss", "Maybe later");
        later.type = "button";
        later.addEventListener("click", dismissClosedRating);
        container.appendChild(later);
      }
      if (ratingError) container.appendChild(element("p", "", ratingError));
      return null;
    }

    function updateRating() {
      footerRating.hidden = !state.answered;
      if (state.answered) ratingBox(footerRating, "chat-rating", false);
      const askNow = state.answered && state.rated === null && state.askOnClose && panel.hidden;
      closedRating.hidden = !askNow;
      if (askNow) ratingBox(closedRating, "chat-rating-closed", true);
    }

    function askForRating() {
      footerRating.classList.add("chat-rating-ask");
      add({ type: "note", text: "Before you go: was this conversation helpful? " +
                                "Answer Yes or No below the message box." });
    }

    function dismissClosedRating() {
      state.askOnClose = false;
      saveState(state);
      closedRating.hidden = true;
      opener.focus();
    }

    async function rate(helpful, container) {
      container.querySelectorAll("button").forEach((button) => { button.disabled = true; });
      let ok = false;
      try {
        const response = await window.fetch(ratingUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ session_id: state.sessionId, helpful: helpful }),
          credentials: "same-origin",
        });
        ok = response.status === 204;
      } catch (error) {
        ok = false;
      }
      ratingError = ok ? "" : "Sorry, your answer could not be saved. Please try again.";
      if (ok) {
        state.rated = helpful;
        state.askOnClose = false;
        saveState(state);
        footerRating.classList.remove("chat-rating-ask");
      }
      const wasClosedBox = container === closedRating;
      updateRating();
      if (ok && wasClosedBox) {
        // Thank the user where they rated, then put the box away.
        closedRating.hidden = false;
        const thanks = ratingBox(closedRating, "chat-rating-closed", false);
        if (thanks) thanks.focus();
        window.setTimeout(() => {
          const hadFocus = closedRating.contains(document.activeElement);
          closedRating.hidden = true;
          if (hadFocus) opener.focus();
        }, 5000);
      } else if (ok) {
        const thanks = footerRating.querySelector("[tabindex='-1']");
        if (thanks) thanks.focus();
      } else {
        const retry = container.querySelector("button");
        if (retry) retry.focus();
      }
    }

    /* ---- opening and closing */

    function open(focusInput) {
      panel.hidden = false;
      opener.hidden = true;
      opener.setAttribute("aria-expanded", "true");
      closedRating.hidden = true;
      state.open = true;
      saveState(state);
      log.scrollTop = log.scrollHeight;
      if (!ready) setStatus("Connecting to the assistant…");
      client.connect();
      if (focusInput) input.focus();
    }

    function close() {
      panel.hidden = true;
      opener.hidden = false;
      opener.setAttribute("aria-expanded", "false");
      hideTyping();
      state.open = false;
      if (state.answered && state.rated === null) state.askOnClose = true;
      saveState(state);
      updateRating();
      opener.focus();
    }

    opener.addEventListener("click", () => open(true));
    closer.addEventListener("click", close);
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    closedRating.addEventListener("keydown", (event) => {
      if (event.key === "Escape") dismissClosedRating();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      send(text, text);
    });

    // "Ask the assistant" buttons on the help pages send their question.
    document.querySelectorAll("button.ask[data-ask]").forEach((button) => {
      button.addEventListener("click", () => {
        open(true);
        send(button.dataset.ask, button.dataset.ask);
      });
    });

    // Restore the conversation of this tab, then the panel as it was.
    state.history.forEach((entry) => {
      try {
        render(entry);
      } catch (error) { /* a damaged entry: skip it */ }
    });
    opener.hidden = false;
    updateRating();
    if (state.open) open(false);
  }

  const root = document.getElementById("chat");
  if (root && root.dataset.chatUrl && "WebSocket" in window) start(root);
}());
