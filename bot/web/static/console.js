/* The agents' console, made livelier where a browser runs scripts (every page works without).

   - The queue (#queue-live) follows the server-sent events of /console/queue/events: each
     event carries the counts and tickets as the server renders them (escaped there), which
     replace the old ones; tickets filed since the page opened are counted in the title
     ("(2) Ticket queue") and a notice, until "Mark as seen". When the session ends the
     stream says so and stops.
   - On a ticket, "Insert into the reply" puts the chosen canned reply (already filled for
     the ticket) at the cursor in the reply box instead of reloading the page.
*/
(function () {
  "use strict";

  function liveQueue(live) {
    var baseTitle = document.title;
    var news = document.getElementById("queue-news");
    var newsText = document.getElementById("queue-news-text");
    var announce = document.getElementById("queue-announce");
    var seen = document.getElementById("queue-seen");
    var since = live.getAttribute("data-since");
    var latest = since;
    var shown = 0;
    var source = null;

    function streamUrl() {
      var params = new URLSearchParams(window.location.search);
      params.set("since", since);
      return "/console/queue/events?" + params.toString();
    }

    function showNew(count) {
      document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
      news.hidden = count === 0;
      newsText.textContent = count === 1 ? "1 new ticket since you opened this page."
        : count + " new tickets since you opened this page.";
      if (count > shown) {
        announce.textContent = count - shown === 1 ? "A new ticket arrived."
          : (count - shown) + " new tickets arrived.";
      }
      shown = count;
    }

    function replace(html) {
      var focused = live.contains(document.activeElement) ? document.activeElement : null;
      var href = focused ? focused.getAttribute("href") : null;
      var parsed = new DOMParser().parseFromString(html, "text/html");
      var nodes = Array.prototype.map.call(parsed.body.childNodes, function (node) {
        return document.importNode(node, true);
      });
      live.replaceChildren.apply(live, nodes);
      if (href) {
        var again = Array.prototype.find.call(live.querySelectorAll("a[href]"), function (a) {
          return a.getAttribute("href") === href;
        });
        if (again) { again.focus(); }
      }
    }

    function connect() {
      source = new EventSource(streamUrl());
      source.addEventListener("queue", function (event) {
        var data = JSON.parse(event.data);
        replace(data.html);
        latest = String(data.latest);
        showNew(data.new);
      });
      source.addEventListener("ended", function () {
        source.close();
        document.title = baseTitle;
        news.hidden = false;
        newsText.textContent = "Your session has ended, so the list no longer updates: " +
          "reload the page to sign in again.";
        seen.hidden = true;
      });
    }

    seen.addEventListener("click", function () {
      since = latest;
      shown = 0;
      showNew(0);
      source.close();
      connect();
    });
    connect();
  }

  function cannedReplies(form) {
    var choice = document.getElementById("canned");
    var reply = document.getElementById("reply");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var option = choice.options[choice.selectedIndex];
      var text = option ? option.getAttribute("data-text") : "";
      var start = reply.selectionStart, end = reply.selectionEnd;
      reply.value = reply.value.slice(0, start) + text + reply.value.slice(end);
      reply.focus();
      reply.setSelectionRange(start + text.length, start + text.length);
    });
  }

  /* Live chats: the board and one chat follow their server-sent events (console_live.py);
     the board counts waiting chats in the title ("(1) Live chats"); a message typed in a
     chat is posted without reloading the page. */
  function follow(container, name, onData) {
    var source = new EventSource(container.getAttribute("data-events"));
    source.addEventListener(name, function (event) {
      var data = JSON.parse(event.data);
      var parsed = new DOMParser().parseFromString(data.html, "text/html");
      var nodes = Array.prototype.map.call(parsed.body.childNodes, function (node) {
        return document.importNode(node, true);
      });
      container.replaceChildren.apply(container, nodes);
      onData(data);
    });
    source.addEventListener("ended", function () {
      source.close();
      var note = document.createElement("p");
      note.setAttribute("role", "alert");
      note.textContent = "Your session has ended: reload the page to sign in again.";
      container.prepend(note);
    });
  }

  function liveBoard(board) {
    var baseTitle = document.title;
    var announce = document.getElementById("live-announce");
    var shown = 0;
    follow(board, "board", function (data) {
      document.title = data.waiting > 0 ? "(" + data.waiting + ") " + baseTitle : baseTitle;
      if (data.waiting > shown) { announce.textContent = "A user is waiting for a live chat."; }
      shown = data.waiting;
    });
  }

  function liveChat(messages) {
    var actions = document.getElementById("live-actions");
    var form = document.getElementById("live-send");
    var text = document.getElementById("live-text");
    var problem = document.getElementById("live-send-problem");
    function scrollDown() {
      var list = messages.querySelector(".live-messages");
      if (list) { list.scrollTop = list.scrollHeight; }
    }
    follow(messages, "chat", function (data) {
      actions.hidden = !data.mine;
      scrollDown();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new URLSearchParams(new FormData(form));
      problem.textContent = "";
      window.fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-Requested-With": "live-chat" }
      }).then(function (response) {
        if (response.status === 204) {
          text.value = "";
          text.focus();
        } else {
          return response.text().then(function (why) {
            problem.textContent = why || "The message was not sent.";
          });
        }
      }).catch(function () {
        problem.textContent = "The message was not sent: check the connection and try again.";
      });
    });
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    scrollDown();
  }

  var board = document.getElementById("live-board");
  if (board && window.EventSource && window.DOMParser) { liveBoard(board); }
  var liveMessages = document.getElementById("live-messages");
  if (liveMessages && window.EventSource && window.DOMParser && window.fetch) {
    liveChat(liveMessages);
  }

  var live = document.getElementById("queue-live");
  if (live && window.EventSource && window.DOMParser) { liveQueue(live); }
  var canned = document.getElementById("canned-form");
  if (canned) { cannedReplies(canned); }
})();
