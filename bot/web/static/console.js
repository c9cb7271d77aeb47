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

  var live = document.getElementById("queue-live");
  if (live && window.EventSource && window.DOMParser) { liveQueue(live); }
  var canned = document.getElementById("canned-form");
  if (canned) { cannedReplies(canned); }
})();
