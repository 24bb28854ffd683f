// Package otelsession reports the sessions of a session.Manager to
// OpenTelemetry: counters of their life events, a span and a duration per
// store call, and the number of records a store holds.
//
// # Quick start
//
//	memory := session.NewMemoryStore()
//	store, err := otelsession.WrapStore(memory, tp, mp) // nil providers: the global ones
//	...
//	hooks, err := otelsession.Hooks(mp)
//	...
//	reg, err := otelsession.ObserveLen(mp, memory)
//	...
//	m, err := session.New(session.WithStore(store), session.WithHooks(otelsession.Chain(appHooks, hooks)))
//
// [Chain] keeps the application's own hooks; [WrapStore]'s result has a
// [session.UserIndex] exactly when the wrapped store has one. To export to
// Prometheus, give mp a reader from go.opentelemetry.io/otel/exporters/prometheus
// and serve promhttp's handler (see the Prometheus example).
//
// # Names
//
// Metrics:
//
//	sessionid.session.created            Counter          {session}  a new session was stored
//	sessionid.session.renewed            Counter          {session}  a session got a new ID
//	sessionid.session.invalidated        Counter          {session}  a session was ended before its deadline
//	sessionid.session.expired            Counter          {session}  the manager found a session past its deadline
//	sessionid.session.rejected           Counter          {cookie}   a cookie was not adopted, by sessionid.session.reject_reason
//	sessionid.store.operation.duration   Histogram        s          a store call, by sessionid.store.operation.name and .outcome
//	sessionid.store.record.count         UpDownCounter    {record}   records a store holds, asynchronous (ObserveLen)
//
// Spans, one per store call: "load session", "create session", "update
// session", "delete session", "renew session", "list user sessions",
// "delete user sessions" (kind internal). Span events, added to the span in
// a hook's context: the counters' names.
//
// The names follow the OpenTelemetry naming guidance: lower case,
// dot-separated namespaces, snake_case words, units in UCUM with
// {annotations} for counts, no "total" suffix (a Prometheus exporter adds
// _total to counters and _seconds to the histogram). They sit under the
// project's own namespace, "sessionid", as the guidance asks of names a
// project defines itself: "session." is a semantic-convention namespace
// (session.id, session.previous_id, for client-side sessions) and
// "http.server." another, and a name of one's own under either could clash
// with a future convention. A convention is used where one fits: enduser.id
// for the user, session.id and session.previous_id for the tags.
//
// # Privacy
//
// By default no metric or span holds a session ID, a store key, a tag or a
// user. [WithUser] adds the user (enduser.id) to the counters, to the span
// events and to the user-index spans: personal data, and a time series per
// user. [WithTags] adds the tags, one-way fingerprints of session IDs (the
// "tag" of the manager's log lines), to span events only; never to metrics,
// where every session would be a series of its own. A store error's message
// goes into its span; the stores of this repository put neither keys nor
// users in their errors.
package otelsession
