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
  // URLs, e-mail addresses and US phone numbers ("781-338-3020", "(781) 338-6600").
  const LINKABLE = new RegExp(
    "(https?:\\/\\/[^\\s<>\"']+)" +
    "|([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})" +
    "|((?:\\+?1[-. ]?)?(?:\\(\\d{3}\\) ?|\\b\\d{3}[-.])\\d{3}[-.]\\d{4}\\b)", "g");
  const GOODBYE = /\b(good ?bye|bye|see you|that'?s all|that is all|i'?m done)\b/i;
  const LONG_ANSWER = 360; // longer answers show their first part with "More"
  const FIRST_PART = 300; // about this much, cut at the end of a sentence
  // A ticket reference in a reply: the bot did something, not only talked.
  const REFERENCE = /\bHD-\d{4}-\d{6}\b/;
  const PERSON = { title: "Talk to a person", payload: "/human_handoff" };
  // The panel fills the screen (chat.css uses the same query): it is then a modal dialog.
  const FULL_SCREEN = "(max-width: 40em), (max-height: 32em)";
  const TOUCH = "(hover: none) and (pointer: coarse)";

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
      rated: null, asked: false, closedRating: null, history: [], live: null,
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

  /** "tel:+17813383020" for a US number as written in an answer. */
  function telHref(number) {
    const digits = number.replace(/\D/g, "");
    return "tel:+" + (digits.length === 10 ? "1" + digits : digits);
  }

  /** Append `text` to `parent`: http(s) URLs, e-mail addresses and phone numbers become links. */
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
      link.href = isUrl ? found : (match[2] ? "mailto:" + found : telHref(found));
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

  /**
   * Where to cut a long answer: after the last sentence ending within about FIRST_PART
   * characters (or the first one after it), never inside a URL or an address. Returns the
   * length of the first part, or text.length when the answer is short enough as it is.
   */
  function firstPartLength(text) {
    if (text.length <= LONG_ANSWER) return text.length;
    const ends = [];
    const sentenceEnd = /[.!?]["')\]]?\s+(?=[A-Z0-9"'(])/g;
    let match;
    while ((match = sentenceEnd.exec(text)) !== null) {
      const cut = match.index + match[0].length;
      if (!/\S$/.test(text.slice(0, match.index + 1)) || /\w\.\w/.test(text.slice(match.index - 1, match.index + 2))) continue;
      ends.push(cut);
    }
    const before = ends.filter((cut) => cut >= 80 && cut <= FIRST_PART + 40);
    if (before.length) return before[before.length - 1];
    const after = ends.find((cut) => cut > FIRST_PART && cut < text.length - 60);
    return after || text.length;
  }

  /**
   * The text as blocks: paragraphs, and lists where the text has them: lines starting with
   * "- ", "* " or "1. ", or one sentence naming three or more things ("one of these browsers:
   * A, B, C, or D.").
   */
  function blocks(text) {
    const result = [];
    let paragraph = [];
    let list = null;
    const flush = () => {
      if (paragraph.length) result.push({ kind: "p", text: paragraph.join("\n") });
      paragraph = [];
    };
    text.split("\n").forEach((line) => {
      const item = /^\s*(?:([-*•])|(\d+)[.)])\s+(.*)$/.exec(line);
      if (item) {
        const kind = item[1] ? "ul" : "ol";
        flush();
        if (!list || list.kind !== kind) {
          list = { kind: kind, items: [] };
          result.push(list);
        }
        list.items.push(item[3]);
      } else {
        list = null;
        paragraph.push(line);
      }
    });
    flush();
    // A short reply stays one bubble of text; a long one shows its series as a list.
    if (text.length < 200) return result;
    return result.flatMap((block) => (block.kind === "p" ? inlineList(block.text) : [block]));
  }

  /** "Intro: A, B, C, or D. Rest" as a paragraph, a list and a paragraph; else the paragraph. */
  function inlineList(text) {
    const found =
      /(^|[.!?]\s+)([^.!?:]{8,}:)\s+((?:[^.!?:;]|\.(?=\d))+?)(\.(?:\s+|$))/.exec(text);
    if (found) {
      const series = found[3];
      let items = series.split(",").map((part) => part.trim());
      const tail = /^(?:and|or)\s+(.*)$/.exec(items[items.length - 1]);
      if (tail) {
        items[items.length - 1] = tail[1]; // "A, B, or C"
      } else { // "A, B or C"
        const pair = /^(.*?)\s+(?:and|or)\s+(.*)$/.exec(items[items.length - 1]);
        if (pair) items = items.slice(0, -1).concat([pair[1], pair[2]]);
      }
      if (items.length >= 3 && items.every((part) => part && part.length <= 60)) {
        const intro = text.slice(0, found.index + found[1].length) + found[2];
        const rest = text.slice(found.index + found[0].length);
        const out = [{ kind: "p", text: intro }, { kind: "ul", items: items }];
        if (rest.trim()) out.push({ kind: "p", text: rest });
        return out;
      }
    }
    return [{ kind: "p", text: text }];
  }

  /** Append the blocks of `text` to `parent`: paragraphs as text, lists as real lists. */
  function appendBlocks(parent, text) {
    blocks(text).forEach((block) => {
      if (block.kind === "p") {
        const part = element("p", "chat-para");
        appendLinked(part, block.text);
        parent.appendChild(part);
      } else {
        const list = element(block.kind, "chat-list");
        block.items.forEach((item) => {
          const li = element("li");
          appendLinked(li, item);
          list.appendChild(li);
        });
        parent.appendChild(list);
      }
    });
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
    const closedRating = $("chat-rating-closed");
    const ratingUrl = root.dataset.ratingUrl || "/api/rating";
    const state = loadState();
    const outbox = []; // messages typed while the connection was down
    let typingTimer = null;
    let ratingError = "";
    let ready = false; // in the session's room: what the bot says now reaches this tab
    let askAfterReply = null; // the user said goodbye: ask for a rating once the bot replied
    let restCount = 0;
    let fullScreenOpen = false;

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

    let replyStart = null; // the first node of the bot's reply to the user's last message
    let privacyLinked = false; // the privacy notice is linked where a date of birth is asked

    function botMessage(entry) {
      const text = String(entry.text);
      const node = element("div", "chat-msg chat-msg-bot");
      const who = element("span", "chat-who", "Assistant: ");
      const cut = entry.expanded ? text.length : firstPartLength(text);
      const first = element("div", "chat-part");
      first.appendChild(who);
      appendBlocks(first, text.slice(0, cut).trim());
      node.appendChild(first);
      if (cut < text.length) {
        const rest = element("div", "chat-part chat-rest");
        rest.id = "chat-rest-" + (++restCount);
        rest.hidden = true;
        rest.tabIndex = -1;
        appendBlocks(rest, text.slice(cut).trim());
        const more = element("button", "chat-more", "More");
        more.type = "button";
        more.setAttribute("aria-expanded", "false");
        more.setAttribute("aria-controls", rest.id);
        more.addEventListener("click", () => {
          rest.hidden = false;
          more.remove();
          entry.expanded = true;
          saveState(state);
          rest.focus();
        });
        node.appendChild(more);
        node.appendChild(rest);
      }
      // Where the bot first asks for a date of birth (a question, not a mention of one).
      if (!privacyLinked && /\bdate of birth\b[^.!]*\?/i.test(text) && root.dataset.privacyUrl) {
        privacyLinked = true;
        const note = element("p", "chat-privacy", "Why we ask, and what we keep: ");
        const link = element("a", "", "our privacy notice");
        link.href = root.dataset.privacyUrl;
        link.target = "_blank";
        link.rel = "noopener";
        link.appendChild(element("span", "chat-who", " (opens in a new tab)"));
        note.appendChild(link);
        node.appendChild(note);
      }
      return node;
    }

    /** Keep the newest message in view, but never scroll the start of a reply out of it. */
    function scrollToNewest() {
      const bottom = log.scrollHeight - log.clientHeight;
      if (replyStart && replyStart.isConnected) {
        log.scrollTop = Math.min(bottom, Math.max(0, replyStart.offsetTop - 8));
      } else {
        log.scrollTop = bottom;
      }
    }

    function render(entry) {
      let node;
      if (entry.type === "bot") {
        node = botMessage(entry);
      } else if (entry.type === "user") {
        node = element("p", "chat-msg chat-msg-user");
        node.appendChild(element("span", "chat-who", "You: "));
        appendLinked(node, String(entry.text));
      } else if (entry.type === "rating") {
        node = ratingNode(entry);
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
      if (entry.type === "user") replyStart = null;
      else if (!replyStart) replyStart = node;
      scrollToNewest();
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
      if (GOODBYE.test(shown) && state.answered && !state.asked) askAfterReply = 0;
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
      // An answer from the documents, or a request done (a reference): something to rate.
      // A refusal alone ("not something I can help with") is not.
      const answered = (custom && typeof custom.source === "string") ||
        (typeof data.text === "string" && REFERENCE.test(data.text));
      if (state.userSent && !state.answered && answered) {
        state.answered = true;
        saveState(state);
      }
      if (askAfterReply !== null) { // after the last message of the reply
        window.clearTimeout(askAfterReply);
        askAfterReply = window.setTimeout(() => {
          askAfterReply = null;
          askInChat();
        }, 800);
      }
    }

    /* ---- rating the conversation: asked once, at its end */

    /** The rating's content in `container`: the question, the thanks, or after "No" a person. */
    function fillRating(container, entry, dismissible) {
      container.replaceChildren();
      container.setAttribute("role", "group");
      const question = element("p", "chat-rating-question");
      question.id = container.id ? container.id + "-question" : "chat-rating-q-" + (++restCount);
      question.tabIndex = -1;
      container.setAttribute("aria-labelledby", question.id);
      container.appendChild(question);
      if (state.rated === null) {
        question.textContent = "Did this conversation help?";
        [["Yes, it helped", true], ["No, it didn't help", false]].forEach(([label, helpful]) => {
          const button = element("button", "chat-rate", label);
          button.type = "button";
          button.addEventListener("click", () => rate(helpful, container, entry, dismissible));
          container.appendChild(button);
        });
        if (dismissible) {
          const later = element("button", "chat-rate chat-rate-dismiss", "Not now");
          later.type = "button";
          later.addEventListener("click", dismissClosedRating);
          container.appendChild(later);
        }
        if (ratingError) container.appendChild(element("p", "chat-rating-error", ratingError));
      } else if (state.rated) {
        question.textContent = "Thank you for your feedback.";
      } else {
        question.textContent = "Thank you for telling us. Sorry it didn't help: " +
          "a person at the help desk can take it from here.";
        if (!entry.personAsked) {
          const person = element("button", "chat-rate", PERSON.title);
          person.type = "button";
          person.addEventListener("click", () => {
            entry.personAsked = true;
            saveState(state);
            person.remove();
            if (panel.hidden) open(true);
            closedRating.hidden = true;
            send(PERSON.payload, PERSON.title);
            input.focus();
          });
          container.appendChild(person);
        }
      }
      return question;
    }

    function ratingNode(entry) {
      const node = element("div", "chat-rating chat-rating-inline");
      fillRating(node, entry, false);
      return node;
    }

    /** Ask in the conversation (after a goodbye), once. */
    function askInChat() {
      if (state.asked || state.rated !== null || !state.answered) return;
      state.asked = true;
      add({ type: "rating" });
    }

    /** Ask in a small box by the opener (the chat was closed after an answer), once. */
    function askOnClose() {
      if (state.asked || state.rated !== null || !state.answered) return;
      state.asked = true;
      state.closedRating = {};
      saveState(state);
      closedRating.hidden = false;
      fillRating(closedRating, state.closedRating, true);
    }

    function dismissClosedRating() {
      state.closedRating = null;
      saveState(state);
      closedRating.hidden = true;
      opener.focus();
    }

    async function rate(helpful, container, entry, dismissible) {
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
        saveState(state);
      }
      const shown = fillRating(container, entry, dismissible);
      if (ok) shown.focus();
      else {
        const retry = container.querySelector("button");
        if (retry) retry.focus();
      }
      if (ok && helpful && container === closedRating) {
        window.setTimeout(() => { // thank the user where they rated, then put the box away
          const hadFocus = closedRating.contains(document.activeElement);
          closedRating.hidden = true;
          state.closedRating = null;
          saveState(state);
          if (hadFocus) opener.focus();
        }, 5000);
      }
    }

    /* ---- opening and closing; full screen on a phone, where it is a modal dialog */

    function others() {
      return Array.from(document.body.children).filter((node) => node !== root &&
        node.tagName !== "SCRIPT");
    }

    function setFullScreen(on) {
      fullScreenOpen = on;
      if (on) panel.setAttribute("aria-modal", "true");
      else panel.removeAttribute("aria-modal");
      others().forEach((node) => { node.inert = on; });
      document.documentElement.classList.toggle("chat-full-screen", on);
    }

    function focusables() {
      return Array.from(panel.querySelectorAll(
        "a[href], button:not([disabled]), input:not([disabled]), [tabindex='0']"))
        .filter((node) => !node.closest("[hidden]") && node.getClientRects().length);
    }

    function open(focusInput) {
      panel.hidden = false;
      opener.hidden = true;
      opener.setAttribute("aria-expanded", "true");
      closedRating.hidden = true;
      state.open = true;
      saveState(state);
      setFullScreen(fullScreen.matches);
      scrollToNewest();
      if (!ready) setStatus("Connecting to the assistant…");
      client.connect();
      if (focusInput) {
        // On a touch screen the keyboard would cover the greeting: focus the dialog's title.
        if (touch.matches) title.focus();
        else input.focus();
      }
    }

    function close() {
      panel.hidden = true;
      opener.hidden = false;
      opener.setAttribute("aria-expanded", "false");
      hideTyping();
      setFullScreen(false);
      state.open = false;
      saveState(state);
      opener.focus();
      askOnClose();
    }

    const fullScreen = window.matchMedia(FULL_SCREEN);
    const touch = window.matchMedia(TOUCH);
    const title = $("chat-title");
    title.tabIndex = -1;
    fullScreen.addEventListener("change", () => {
      if (!panel.hidden) setFullScreen(fullScreen.matches);
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key !== "Tab" || !fullScreenOpen) return;
      const nodes = focusables();
      if (!nodes.length) return;
      const first = nodes[0];
      const last = nodes[nodes.length - 1];
      if (event.shiftKey && (document.activeElement === first || !panel.contains(document.activeElement) || document.activeElement === title)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    const skip = document.getElementById("skip-to-chat");
    if (skip) {
      skip.hidden = false;
      skip.addEventListener("click", (event) => {
        event.preventDefault();
        if (panel.hidden) opener.focus();
        else input.focus();
      });
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
    if (state.closedRating && !state.open) {
      closedRating.hidden = false;
      fillRating(closedRating, state.closedRating, true);
    }
    if (state.open) open(false);
  }

  const root = document.getElementById("chat");
  if (root && root.dataset.chatUrl && "WebSocket" in window) start(root);
}());
