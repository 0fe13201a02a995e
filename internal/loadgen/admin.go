package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// identity is what one worker is registered as: a resource server, whose
// credentials introspect, and a client allowed tokens for it. Secrets
// live here only, and are never printed.
type identity struct {
	resourceID   string // admin API ID, for deletion
	resource     string // the identifier, the tokens' audience
	rsID, rsKey  string // introspection credentials
	clientID     string
	clientSecret string
}

// adminParallel bounds the admin requests in flight during set-up and
// clean-up: enough to register hundreds of workers in a second or two,
// few enough not to compete with the server for long.
const adminParallel = 8

// register creates an identity per worker. On error it returns those it
// created, for clean-up.
func (r *runner) register(ctx context.Context) ([]*identity, error) {
	run := make([]byte, 6)
	_, _ = rand.Read(run)
	tag := hex.EncodeToString(run)

	ids := make([]*identity, r.cfg.Concurrency)
	err := r.parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		id, err := r.registerOne(ctx, fmt.Sprintf("https://veil-bench.test/%s/%d", tag, i))
		ids[i] = id
		return err
	})
	var created []*identity
	for _, id := range ids {
		if id != nil {
			created = append(created, id)
		}
	}
	if err != nil {
		return created, err
	}
	return ids, nil
}

// registerOne creates a resource server and a client for it. If the
// client cannot be created, the identity returned still names the resource.
func (r *runner) registerOne(ctx context.Context, identifier string) (*identity, error) {
	var res struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	err := r.adminJSON(ctx, http.MethodPost, "/admin/resources", map[string]any{
		"identifier": identifier, "name": "veil bench", "scopes": []string{"read"},
	}, &res)
	if err != nil {
		return nil, fmt.Errorf("register a resource: %w", err)
	}
	id := &identity{resourceID: res.ID, resource: identifier, rsID: res.ClientID, rsKey: res.ClientSecret}

	var cl struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	err = r.adminJSON(ctx, http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "veil bench", "grant_types": []string{"client_credentials"}, "scope": "read",
		"token_endpoint_auth_method": "client_secret_basic", "resources": []string{identifier},
	}, &cl)
	if err != nil {
		return id, fmt.Errorf("register a client: %w", err)
	}
	id.clientID, id.clientSecret = cl.ClientID, cl.ClientSecret
	if id.rsID == "" || id.rsKey == "" || id.clientID == "" || id.clientSecret == "" {
		return id, fmt.Errorf("%w: a registration answer lacks its credentials", ErrAdmin)
	}
	return id, nil
}

// cleanUp deletes what register created, unless the run keeps it. Each
// client goes first, with its token records, so that deleting the
// resource has few tokens left to revoke. It runs even when ctx was
// cancelled (an interrupted run), within a bound of its own.
func (r *runner) cleanUp(ctx context.Context, ids []*identity) error {
	if r.cfg.Keep || len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	err := r.parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		id := ids[i]
		if id.clientID != "" {
			if err := r.adminJSON(ctx, http.MethodDelete, "/admin/clients/"+id.clientID, nil, nil); err != nil {
				return err
			}
		}
		return r.adminJSON(ctx, http.MethodDelete, "/admin/resources/"+id.resourceID, nil, nil)
	})
	if err != nil {
		return fmt.Errorf("delete the run's clients and resources: %w", err)
	}
	return nil
}

// parallel calls fn for 0..n-1, adminParallel at a time, and returns the
// first error; after one, the calls not yet started are skipped.
func (r *runner) parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, adminParallel)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// adminJSON calls the admin API and decodes its answer into out, if not
// nil. Any status but 2xx is an error naming the status and the API's error
// code, which says what was wrong without repeating what was sent.
func (r *runner) adminJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode admin request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.admin+path, body)
	if err != nil {
		return fmt.Errorf("build admin request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.AdminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAdmin, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: read %s %s answer: %w", ErrAdmin, method, path, err)
	}

	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w: the admin token was refused (401); check VEIL_ADMIN_TOKEN", ErrAdmin)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%w: %s %s = %d %s %s", ErrAdmin, method, path, resp.StatusCode, e.Error, e.Description)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%w: %s %s: the answer is not the JSON expected: %w", ErrAdmin, method, path, err)
		}
	}
	return nil
}

// fillPools gets each worker's pool of tokens, workers in parallel. A
// token that cannot be obtained stops the run: introspecting nothing
// would measure nothing.
func (r *runner) fillPools(ctx context.Context, workers []*worker) error {
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.fillPool(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("obtain the tokens to introspect: %w", err)
		}
	}
	return nil
}
