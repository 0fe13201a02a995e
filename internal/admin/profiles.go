package admin

import (
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"
)

// Profiles are Go's runtime profiles, for measuring a running Veil with
// `go tool pprof`. They show which code runs and how much memory it holds,
// never request data, keys or secrets, but they are still no one else's
// business: they sit behind the admin token like every route, and only
// when Config.Profiling is set.
//
// The package runtime/pprof is used rather than net/http/pprof, which
// would register its handlers on http.DefaultServeMux as a side effect.

// maxCPUProfile bounds a CPU profile. Every admin request has a deadline
// of a few seconds anyway (the listener's); a profile stops at whichever
// comes first, and longer ones are made by merging several.
const maxCPUProfile = 30 * time.Second

var (
	errProfileUnknown = &apiError{http.StatusNotFound, codeNotFound, "no such profile"}
	errProfileBusy    = &apiError{http.StatusConflict, codeConflict, "a CPU profile is already being taken"}
	errProfileSeconds = invalidRequest("seconds must be a whole number from 1 to %d", int(maxCPUProfile.Seconds()))
)

// routeProfiles serves a CPU profile at /admin/debug/pprof/profile and
// the runtime's named profiles (heap, allocs, goroutine, block, mutex,
// threadcreate) at /admin/debug/pprof/NAME, in pprof's format.
func (h *handler) routeProfiles(mux *http.ServeMux) {
	h.route(mux, "/admin/debug/pprof/{name}", routes{http.MethodGet: func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("name") == "profile" {
			return cpuProfile(w, r)
		}
		return namedProfile(w, r)
	}})
}

// cpuProfile profiles the CPU for ?seconds= (default 4), or until the
// request's deadline, and sends the profile.
func cpuProfile(w http.ResponseWriter, r *http.Request) error {
	d := 4 * time.Second
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || time.Duration(n)*time.Second > maxCPUProfile {
			return errProfileSeconds
		}
		d = time.Duration(n) * time.Second
	}

	profileHeaders(w, "cpu")
	if err := pprof.StartCPUProfile(w); err != nil {
		w.Header().Del("Content-Disposition")
		return errProfileBusy
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
	return nil
}

// namedProfile sends one of the runtime's named profiles.
func namedProfile(w http.ResponseWriter, r *http.Request) error {
	p := pprof.Lookup(r.PathValue("name"))
	if p == nil {
		return errProfileUnknown
	}
	profileHeaders(w, p.Name())
	return p.WriteTo(w, 0)
}

func profileHeaders(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pprof"`)
}
