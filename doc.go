// Package session gives net/http applications server-side sessions: a random
// session ID in a cookie, the session's data in a [Store] on the server, and
// the rules (timeouts, renewal, binding, invalidation) that keep the ID from
// being stolen, guessed or fixed.
//
// # Quick start
//
// Create one [Manager], wrap the handler chain with [Manager.Handler], and use
// the request's [Session] inside handlers:
//
//	m, err := session.New(session.WithCookieName("JSESSIONID"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer m.Close()
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
//		s := session.FromContext(r.Context())
//		cart, _ := session.Value[[]string](s, "cart")
//		if err := s.Set("cart", append(slices.Clip(cart), r.FormValue("item"))); err != nil {
//			http.Error(w, "cart not saved", http.StatusBadRequest) // too large, say
//		}
//	})
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		user, ok := checkPassword(r.FormValue("user"), r.FormValue("password"))
//		if !ok {
//			http.Error(w, "wrong user or password", http.StatusUnauthorized)
//			return
//		}
//		if err := session.FromContext(r.Context()).Login(user); err != nil { // a new ID: no fixation
//			http.Error(w, "login failed", http.StatusInternalServerError)
//		}
//	})
//	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
//		// ... place the order ...
//		if err := session.FromContext(r.Context()).Invalidate(); err != nil { // the ID is dead at once
//			http.Error(w, "checkout failed", http.StatusInternalServerError)
//		}
//	})
//	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
//
// Beyond values, a [Session] offers what logins need: [Session.RememberMe]
// with the timeouts of [WithRememberMe], [Session.ExpiresAt] for an "expires
// soon" warning, [Pop] for flash messages, [Session.InvalidateOthers] to sign
// out other devices, and [Manager.Open] with [Session.Save] for sessions
// outside a request (WebSockets, server-sent events, jobs).
//
// A session is created lazily, on the first write: a visitor who stores
// nothing gets no cookie and costs no store record. Changes are saved when
// the response starts (the first Write, WriteHeader or Flush), as a delta of
// the keys that changed, so two concurrent requests that change different
// keys both keep their change; of two that change the same key, the last one
// saved wins. A read-only request does not rewrite the session; it pushes
// the idle deadline to the store at most once per touch interval (see
// [WithIdleTimeout]).
//
// # Choosing a store
//
// Without [WithStore], a Manager keeps sessions in a [MemoryStore], bounded
// with [WithMaxSessions] but private to one process. Applications that run
// more than one instance need a shared store: any type that implements
// [Store] will do. Implementing [UserIndex] as well enables
// [Manager.UserSessions], [Manager.InvalidateUser], [Manager.Revoke] and
// [WithMaxSessionsPerUser].
//
// A store is given keys that are the SHA-256 of session IDs, never the IDs,
// and values already encoded by the Manager's [Codec]. Update never creates a
// record and Renew moves one atomically: those two rules keep a session that
// was invalidated or renewed from being brought back by a request that was
// still in flight.
//
// # Security notes
//
//   - IDs are 256 bits from crypto/rand. An ID the server did not issue
//     (unknown, expired, invalidated, forged) is never adopted: the client
//     gets a fresh session and, once it writes, a fresh ID.
//   - Only the cookie carries the ID (or, with [WithTokenHeader], one request
//     and response header instead, for clients that are not browsers: a
//     token a script holds is exposed to cross-site scripting). The cookie
//     is always HttpOnly, SameSite=Lax by default, and Secure whenever the
//     request came over TLS. A name starting with "__Host-" makes it Secure
//     with Path=/ and no Domain, and [New] rejects options that contradict
//     that. [WithNoStore] keeps every response of a request with a session,
//     the page after a logout included, out of every cache;
//     [WithPartitioned] adds the Partitioned (CHIPS) attribute for a
//     session inside a cross-site frame.
//   - Idle (default 30 minutes) and absolute (default 12 hours) timeouts are
//     enforced by the Manager with its own clock, whatever the store does.
//   - Call [Session.Login] (or [Session.Renew]) whenever privilege changes.
//     After Login the old ID is dead at once; after Renew or [WithRotation]
//     it may keep leading to the new session for a short grace period
//     ([WithRenewGrace]). A later use of an old ID is reported as
//     [RejectStaleID], a hijack signal. A Login or Renew ends with a new ID
//     that only its own response carries, or fails: it never raises the
//     privileges of an older ID.
//   - Behind reverse proxies, list them with [WithTrustedProxies] and name
//     the one header they write with [WithProxyHeader]; no other header is
//     read.
//   - [WithIPBinding] ties a session to its creator's network prefix. It
//     breaks for users whose address changes (mobile networks, some NATs and
//     privacy relays) unless the prefix is wide, and does not stop an
//     attacker behind the same NAT: treat it as an extra signal, not as
//     authentication.
//   - [WithSigningKeys] adds an HMAC to the cookie, so forged cookies are
//     refused without a store lookup and keys can be rotated.
//   - Logs and hooks identify sessions by a one-way tag, never by the ID or
//     its store key.
package session
