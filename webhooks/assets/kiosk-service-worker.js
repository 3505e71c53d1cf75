// The kiosk's service worker, served as /kiosk/service-worker.js so that its scope is
// /kiosk/ (every location's kiosk page) without a Service-Worker-Allowed header.
//
// It keeps what a kiosk needs to start while the server cannot be reached: the kiosk pages,
// their static files, and each kiosk's configuration (GET /api/v1/kiosk/{location}).
// Nothing else is kept: answers about visitors and hosts, and every other request, go to the
// network only. What is kept is used only when the network fails (network first), and is
// marked `x-frontdesk-offline: 1` so that the page knows it is offline.
"use strict";

const CACHE = "frontdesk-kiosk-1";
const SHELL = ["/assets/frontdesk.css", "/assets/kiosk.js", "/assets/kiosk-icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("frontdesk-kiosk-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function keepable(url) {
  if (url.origin !== self.location.origin) {
    return false;
  }
  if (SHELL.includes(url.pathname)) {
    return true;
  }
  if (/^\/kiosk\/[a-z0-9-]+(\/manifest\.webmanifest)?$/.test(url.pathname)) {
    return true;
  }
  return /^\/api\/v1\/kiosk\/[a-z0-9-]+$/.test(url.pathname) && url.search === "";
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !keepable(new URL(request.url))) {
    return;
  }
  event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const reply = await fetch(request);
    if (reply.ok) {
      await cache.put(request, reply.clone());
    }
    return reply;
  } catch (unreachable) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (!kept) {
      throw unreachable;
    }
    const headers = new Headers(kept.headers);
    headers.set("x-frontdesk-offline", "1");
    return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
  }
}
